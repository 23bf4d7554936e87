"""Quotas (issue 12, point 10): retained messages per identity and in all, the disk's free-space
mark, subscriptions per client, persistent sessions per identity, a packet left unfinished, and
snapshots larger than the slow-dashboard bound. Each test tries to get past the quota and
checks what was refused never took effect, next to what was allowed."""
import asyncio
import json
import os

import websockets

import mqtt_raw as raw
from test_16_store_errors import Tmpfs
from test_18_push import next_op, request
from test_22_authorization import connected, secured, until_pingresp

ACL = "pattern readwrite #\n"


def retained_of(port, topic_filter, user="dispatcher"):
    """{topic: payload} of the retained messages matching `topic_filter`, read as `user`.
    Small messages only: all of them come before the PINGRESP (large ones are paced)."""
    c = connected(port, "", user)
    c.send(raw.subscribe(1, (topic_filter, 0)))
    assert c.recv_packet().type == 9
    c.send(raw.PINGREQ)
    out = {}
    while (p := c.recv_packet()).type != 13:
        out[p.topic] = p.payload
    c.close()
    return out


def retained_topics(port, topic_filter):
    return set(retained_of(port, topic_filter))


def test_retained_quota_per_identity(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, acl=ACL,
                extra_limits="max_retained_per_identity = 5\nmax_retained_bytes_per_identity = \"64KiB\"\n")
    car = connected(v.port, "car-1", "car-1")
    car.send(b"".join(raw.publish(f"devices/car-1/r{i}", "x", qos=0, retain=True) for i in range(8)))
    car.send(raw.publish("devices/car-1/r0", "replaced", qos=1, pid=1, retain=True))  # a replacement is no new one
    assert car.recv_packet().type == 4
    other = connected(v.port, "car-2", "car-2")
    other.send(raw.publish("devices/car-2/r0", "mine", qos=1, pid=1, retain=True))
    assert other.recv_packet().type == 4
    assert retained_topics(v.port, "devices/car-1/#") == {f"devices/car-1/r{i}" for i in range(5)}
    assert retained_of(v.port, "devices/car-1/r0")["devices/car-1/r0"] == b"replaced"
    assert retained_topics(v.port, "devices/car-2/#") == {"devices/car-2/r0"}
    assert v.wait_for_log(r"from identity 'car-1' not stored: over max_retained_per_identity \(5\)")
    # Bytes: 60 kB retained messages stop at the identity's 64 KiB.
    big = "y" * 30_000
    car.send(raw.publish("devices/car-1/r1", big, qos=1, pid=2, retain=True))
    car.send(raw.publish("devices/car-1/r2", big, qos=1, pid=3, retain=True))
    car.send(raw.publish("devices/car-1/r3", big, qos=1, pid=4, retain=True))
    for _ in range(3):
        assert car.recv_packet().type == 4
    snap = retained_of(v.port, "devices/car-1/#")
    assert sum(len(p) for p in snap.values()) <= 64 * 1024
    assert snap["devices/car-1/r3"] == b"x"  # the third did not fit: the old value stands


def test_anonymous_clients_have_a_retained_quota_each(start_vigil):
    v = start_vigil(1, "[limits]\nmax_retained_per_identity = 2\n")
    for cid in ("anon-a", "anon-b"):
        c = raw.RawClient(v.port)
        assert c.connect(cid).body[1] == 0
        for i in range(3):
            c.send(raw.publish(f"r/{cid}/{i}", "x", qos=1, pid=i + 1, retain=True))
            assert c.recv_packet().type == 4
    assert set(raw.retained_snapshot(v.port, "r/#")) == {f"r/{c}/{i}" for c in ("anon-a", "anon-b") for i in range(2)}
    assert v.wait_for_log(r"from anonymous client 'anon-a' not stored")


def test_a_retained_flood_is_bounded_and_dashboards_are_served(start_vigil, tmp_path, vigil_binary):
    """The reported attack: one device storing thousands of 60 KB retained messages, after which
    every new dashboard on devices/# was closed (1013) by its own snapshot."""
    v = secured(start_vigil, tmp_path, vigil_binary, acl=ACL, extra_limits='max_retained_bytes_per_identity = "4MiB"\n')
    base = v.rss_kib()
    car = connected(v.port, "car-1", "car-1")
    payload = "z" * 60_000
    for i in range(0, 1000, 100):
        car.send(b"".join(raw.publish(f"devices/car-1/blob{j}", payload, qos=0, retain=True) for j in range(i, i + 100)))
    car.send(raw.publish("devices/car-1/status", "done", qos=1, pid=1))
    assert car.recv_packet().type == 4
    assert v.rss_kib() - base < 100_000, "retained data past the quota was kept"
    assert v.wait_for_log(r"from identity 'car-1' not stored: over max_retained_per_identity")

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{v.http_port}/ws", max_size=None) as ws:
            await request(ws, op="subscribe", id="all", filters=["devices/#"])
            count = 0
            while True:
                f, _ = await next_op(ws, "snapshot")
                count += len(f["messages"])
                if f["last"]:
                    return count
    # A new dashboard gets the whole snapshot (no 1013): what fits in the identity's 4 MiB.
    assert 60 <= asyncio.run(run()) <= 4 * 1024 * 1024 // 60_000 + 1  # and the status's last value


def test_retained_total_quota(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, acl=ACL, extra_limits="max_retained = 3\n")
    for n, car in enumerate(("car-1", "car-2")):
        c = connected(v.port, car, car)
        for i in range(2):
            c.send(raw.publish(f"t/{car}/{i}", "x", qos=1, pid=i + 1, retain=True))
            assert c.recv_packet().type == 4
    assert len(retained_topics(v.port, "t/#")) == 3
    assert v.wait_for_log(r"over max_retained \(3\)")
    c = connected(v.port, "car-1b", "car-1")
    c.send(raw.publish("t/car-1/0", "", qos=1, pid=9, retain=True))  # clearing is always allowed
    assert c.recv_packet().type == 4
    c.send(raw.publish("t/car-1/new", "x", qos=1, pid=10, retain=True))
    assert c.recv_packet().type == 4
    assert "t/car-1/new" in retained_topics(v.port, "t/#")


def test_retained_refused_below_the_free_space_mark(start_vigil, tmp_path):
    fs = Tmpfs(32)
    try:
        v = start_vigil(2, '[limits]\nmin_free_disk = "12MiB"\n', data_dir=os.path.join(fs.path, "var"))
        kept = raw.RawClient(v.port)
        assert kept.connect("before").body[1] == 0
        kept.send(raw.publish("devices/kept/status", "stored", qos=1, pid=1, retain=True))
        assert kept.recv_packet().type == 4
        fs.fill(6 * 1024 * 1024)
        assert v.wait_for_log(r"below min_free_disk \(12 MiB\): new retained messages are refused")
        watch = raw.RawClient(v.port)
        assert watch.connect("watch").body[1] == 0
        watch.send(raw.subscribe(1, ("devices/+/status", 0)))
        assert watch.recv_packet().type == 9
        assert watch.recv_packet().payload == b"stored"  # retained from before
        kept.send(raw.publish("devices/late/status", "live only", qos=1, pid=2, retain=True))
        assert kept.recv_packet().type == 4
        p = watch.recv_packet()
        assert (p.topic, p.payload) == ("devices/late/status", b"live only")  # delivered live
        assert retained_topics(v.port, "devices/+/status") == {"devices/kept/status"}
        fs.unfill()
        assert v.wait_for_log(r"free again: retained messages are stored again")
        assert v.stop() == 0
    finally:
        fs.close()


def test_subscriptions_per_client(start_vigil):
    v = start_vigil(1, "[limits]\nmax_subscriptions = 3\n")
    c = raw.RawClient(v.port)
    assert c.connect("many").body[1] == 0
    c.send(raw.subscribe(1, ("a", 0), ("b", 0), ("c", 1), ("d", 0)))
    assert c.recv_packet().body == b"\x00\x01\x00\x00\x01\x80"
    c.send(raw.subscribe(2, ("c", 0)))  # replacing one is no new one
    assert c.recv_packet().body == b"\x00\x02\x00"
    assert v.wait_for_log(r"has max_subscriptions \(3\) filters: 'd' refused")


def test_persistent_sessions_per_identity(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, acl=ACL, extra_limits="max_sessions_per_identity = 2\n")
    for i in range(2):
        c = connected(v.port, f"car-1-{i}", "car-1", clean=False)
        c.send(raw.DISCONNECT)
    c, code, _ = login_code(v.port, "car-1-2", "car-1", clean=False)
    assert code == 5
    assert v.wait_for_log(r"identity 'car-1' has max_sessions_per_identity \(2\) persistent sessions")
    assert login_code(v.port, "car-1-2", "car-1", clean=True)[1] == 0  # clean sessions are not counted
    assert login_code(v.port, "car-2-0", "car-2", clean=False)[1] == 0  # another identity is not affected
    assert login_code(v.port, "car-1-0", "car-1", clean=False)[1] == 0  # its own existing session
    # Ending one session (clean session on its id) makes room for another.
    assert login_code(v.port, "car-1-1", "car-1", clean=True)[1] == 0
    assert login_code(v.port, "car-1-3", "car-1", clean=False)[1] == 0


def test_anonymous_persistent_sessions_are_not_capped_together(start_vigil):
    """Anonymous clients share no identity: the per-identity cap does not count them as one."""
    v = start_vigil(1, "[limits]\nmax_sessions_per_identity = 2\n")
    for i in range(4):
        c = raw.RawClient(v.port)
        assert c.connect(f"anon-{i}", clean=False).body[1] == 0


def login_code(port, client_id, user, clean):
    c = raw.RawClient(port)
    c.send(raw.connect(client_id, clean, username=user, password=f"{user}-pass"))
    p = c.recv_packet()
    return c, p.body[1], p.body[0] & 1


def test_a_packet_left_unfinished_after_connect_is_closed(start_vigil):
    v = start_vigil(1, '[limits]\npacket_timeout = "1s"\n')
    slow = raw.RawClient(v.port, timeout=15)
    assert slow.connect("trickle", keep_alive=0).body[1] == 0
    whole = raw.publish("t", "x" * 1000, qos=0)
    slow.send(whole[:100])  # and never the rest
    assert slow.closed_by_peer()
    assert v.wait_for_log(r"client 'trickle' left a packet unfinished for packet_timeout")
    # Control: packets that finish are never affected, whatever the pause between them.
    ok = raw.RawClient(v.port, timeout=15)
    assert ok.connect("steady", keep_alive=0).body[1] == 0
    ok.send(raw.PINGREQ)
    assert ok.recv_packet().type == 13


def test_a_snapshot_larger_than_the_slow_client_bound_is_sent_whole(start_vigil):
    v = start_vigil(2)
    pub = raw.RawClient(v.port, timeout=60)
    assert pub.connect("loader").body[1] == 0
    n = 9_000
    payload = "p" * 2000  # 9,000 x ~2 KB of JSON: past the 16 MiB close of a slow dashboard
    for i in range(0, n, 500):
        pub.send(b"".join(raw.publish(f"fleet/{j:05d}/status", payload, qos=0, retain=True) for j in range(i, i + 500)))
    pub.send(raw.publish("fleet/marker", "m", qos=1, pid=1))
    assert pub.recv_packet().type == 4

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{v.http_port}/ws", max_size=None) as ws:
            await request(ws, op="subscribe", id="big", filters=["fleet/+/status"])
            await next_op(ws, "subscribed")
            topics = set()
            while True:
                f, _ = await next_op(ws, "snapshot")
                topics.update(m["topic"] for m in f["messages"])
                if f["last"]:
                    return topics
    topics = asyncio.run(run())
    assert len(topics) == n
