"""Durability: what the broker acknowledged survives SIGKILL; recovery restores retained
messages, persistent sessions (subscriptions, queued and in-flight messages, QoS 2 state),
wills and last values."""
import json
import threading
import urllib.request

import mqtt_raw as raw
from clients import Paho


def restart(start_vigil, v, workers, data_dir, kill=True, **kw):
    if kill:
        v.kill()
    else:
        assert v.stop() == 0
    return start_vigil(workers, data_dir=data_dir, **kw)


def recovered(v):
    m = v.wait_for_log(r"recovered in \d+ ms: (\d+) retained messages, (\d+) last values, (\d+) persistent "
                       r"sessions with (\d+) subscriptions and (\d+) queued or in-flight messages; (\d+) wills")
    assert m, "\n".join(v.lines)
    keys = ("retained", "last_values", "sessions", "subscriptions", "messages", "wills")
    return dict(zip(keys, map(int, m.groups())))


def retained_now(port, topic_filter):
    return {t: p.decode() for t, p in raw.retained_snapshot(port, topic_filter).items()}


def test_retained_and_persistent_session_survive_sigkill(start_vigil, workers, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(workers, data_dir=data)
    sub = Paho(v.port, "dispatch-7", clean_session=False)
    sub.subscribe("devices/+/events", 1)
    sub.stop()
    assert sub.disconnected.wait(10)
    pub = Paho(v.port, "car-1")
    for i in range(50):
        pub.publish(f"devices/car{i % 5}/events", f"incident {i}", 1)  # waits for PUBACK
    pub.publish("devices/car1/status", "online", 1, retain=True)
    pub.publish("devices/car2/status", "offline", 1, retain=True)
    pub.publish("devices/car2/status", "", 1, retain=True)  # cleared
    pub.stop()

    v = restart(start_vigil, v, workers, data)
    r = recovered(v)
    assert r["retained"] == 1 and r["sessions"] == 1 and r["subscriptions"] == 1 and r["messages"] == 50
    assert retained_now(v.port, "devices/+/status") == {"devices/car1/status": "online"}
    back = Paho(v.port, "dispatch-7", clean_session=False)
    assert back.connack[0] == 1  # session present after the crash
    got = [m.payload.decode() for m in back.expect(50)]
    assert got == [f"incident {i}" for i in range(50)]
    # The subscription itself survived: new messages still reach the session.
    pub = Paho(v.port, "car-1")
    pub.publish("devices/car9/events", "after restart", 1)
    assert back.get().payload == b"after restart"
    pub.stop()
    back.stop()


def test_in_flight_qos1_and_qos2_are_redelivered_after_a_crash(start_vigil, workers, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(workers, data_dir=data)
    c = raw.RawClient(v.port)
    c.connect("slow-reader", clean=False)
    c.send(raw.subscribe(1, ("alarm/#", 2)))
    assert c.recv_packet().type == 9
    pub = Paho(v.port, "alarm-pub")
    pub.publish("alarm/1", "qos1 unacked", 1)
    pub.publish("alarm/2", "qos2 unreceived", 2)
    pub.publish("alarm/3", "qos2 released", 2)
    first = [c.recv_packet() for _ in range(3)]
    assert [p.qos for p in first] == [1, 2, 2]
    c.send(raw.ack("pubrec", first[2].pid))  # PUBREC for the third only
    assert c.recv_packet().type == 6  # PUBREL
    # The PUBREC must be on disk before the crash: a durable QoS 1 publish behind it is the
    # barrier (the store commits in order).
    pub.publish("alarm/barrier", "x", 0)
    pub.publish("sync", "x", 1)
    pub.stop()

    v = restart(start_vigil, v, workers, data)
    c.close()
    c2 = raw.RawClient(v.port)
    assert c2.connect("slow-reader", clean=False).body == b"\x01\x00"
    again = [c2.recv_packet() for _ in range(3)]
    assert again[0].type == 3 and again[0].dup and again[0].pid == first[0].pid and again[0].payload == b"qos1 unacked"
    assert again[1].type == 3 and again[1].dup and again[1].pid == first[1].pid and again[1].qos == 2
    assert again[2].type == 6 and again[2].pid == first[2].pid  # PUBREL again, no message
    c2.close()


def test_qos2_receive_state_survives_a_crash(start_vigil, workers, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(workers, data_dir=data)
    watcher = Paho(v.port, "watcher", clean_session=False)
    watcher.subscribe("cmd/#", 2)
    watcher.stop()
    assert watcher.disconnected.wait(10)
    c = raw.RawClient(v.port)
    c.connect("exactly-once", clean=False)
    c.send(raw.publish("cmd/1", "once", qos=2, pid=77))
    assert c.recv_packet().type == 5  # PUBREC: routed and on disk
    v = restart(start_vigil, v, workers, data)
    c.close()
    c2 = raw.RawClient(v.port)
    c2.connect("exactly-once", clean=False)
    c2.send(raw.publish("cmd/1", "once", qos=2, dup=True, pid=77))  # the client did not see the PUBREC
    rec = c2.recv_packet()
    assert rec.type == 5 and rec.pid == 77
    c2.send(raw.ack("pubrel", 77))
    assert c2.recv_packet().type == 7
    c2.send(raw.publish("cmd/2", "after", qos=1, pid=78))
    assert c2.recv_packet().type == 4
    back = Paho(v.port, "watcher", clean_session=False)
    got = [m.payload for m in back.expect(2)]
    assert sorted(got) == [b"after", b"once"]  # not routed twice (paho hands QoS 2 over after PUBREL)
    assert back.messages.empty()
    back.stop()
    c2.close()


def test_will_of_a_connected_persistent_session_is_published_after_a_crash(start_vigil, workers, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(workers, data_dir=data)
    device = Paho(v.port, "car-42", clean_session=False, will=("devices/car-42/status", "offline", 1, True))
    device.publish("devices/car-42/status", "online", 1, retain=True)
    # car-43 had a will, then came back without one: its stored session has none. Its QoS 1
    # publish is acknowledged after the session record (same shard, committed in order).
    first = Paho(v.port, "car-43", clean_session=False, will=("devices/car-43/status", "offline", 1, True))
    first.stop(graceful=False)
    second = Paho(v.port, "car-43", clean_session=False)
    second.publish("devices/car-43/status", "online", 1, retain=True)
    v = restart(start_vigil, v, workers, data)
    assert recovered(v)["wills"] == 1
    assert retained_now(v.port, "devices/+/status") == {
        "devices/car-42/status": "offline", "devices/car-43/status": "online"}
    device.stop(graceful=False)
    second.stop(graceful=False)


def test_last_values_are_restored(start_vigil, workers, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(workers, data_dir=data)
    pub = Paho(v.port, "lv-pub")
    for i in range(20):
        pub.publish(f"devices/car{i}/location", f'{{"lat":{i}}}', 1)
    pub.publish("devices/car0/location", '{"lat":100}', 1)
    pub.publish("other/topic", "not a state topic", 1)
    pub.stop()
    v.wait_for_log(r"stats: .*last values 20")
    # Last values are written through every 200 ms and at shutdown (no ack depends on them).
    v = restart(start_vigil, v, workers, data, kill=False)
    assert recovered(v)["last_values"] == 20
    assert v.wait_for_log(r"stats: .*last values 20;")
    assert lat(v, "car0") == 100  # the newest of the two
    # A restored value that changes is written through again (at shutdown at the latest).
    pub = Paho(v.port, "lv-pub")
    pub.publish("devices/car0/location", '{"lat":200}', 1)
    pub.publish("devices/car1/location", '{"lat":201}', 1)
    pub.stop()
    assert lat(v, "car0") == 200
    v = restart(start_vigil, v, workers, data, kill=False)
    assert recovered(v)["last_values"] == 20
    assert (lat(v, "car0"), lat(v, "car1"), lat(v, "car2")) == (200, 201, 2)


def lat(v, device):
    with urllib.request.urlopen(f"http://127.0.0.1:{v.http_port}/api/v1/devices/{device}", timeout=5) as r:
        return json.load(r)["values"]["location"]["payload"]["lat"]


def test_clean_session_erases_the_stored_session(start_vigil, workers, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(workers, data_dir=data)
    s = Paho(v.port, "forget-me", clean_session=False)
    s.subscribe("x/#", 1)
    s.stop()
    assert s.disconnected.wait(10)
    pub = Paho(v.port, "p")
    pub.publish("x/1", "queued", 1)
    pub.stop()
    again = Paho(v.port, "forget-me", clean_session=True)
    assert again.connack[0] == 0
    again.stop()
    v = restart(start_vigil, v, workers, data, kill=False)
    r = recovered(v)
    assert r["sessions"] == 0 and r["subscriptions"] == 0 and r["messages"] == 0


def test_wildcard_subscribe_receives_every_retained_message(start_vigil, workers):
    """No hidden cap: 100,000 retained topics, QoS 1, paced by the inflight window."""
    v = start_vigil(workers, "[limits]\nmax_queued = 1000\nmax_retained_per_identity = 100000\n")  # one client sets them all
    n = 100_000
    c = raw.RawClient(v.port, timeout=60)
    c.connect("loader")
    data = b"".join(raw.publish(f"fleet/{i // 1000}/{i % 1000}", str(i), qos=1, retain=True, pid=i % 65535 + 1)
                    for i in range(n))
    sender = threading.Thread(target=c.send, args=(data,))
    sender.start()  # the broker stops reading while acks pile up: read them meanwhile
    for _ in range(n):
        assert c.recv_packet().type == 4
    sender.join()
    c.close()
    s = raw.RawClient(v.port, timeout=60)
    s.connect("reader")
    s.send(raw.subscribe(1, ("fleet/#", 1)))
    got = set()
    suback = False
    while len(got) < n:
        p = s.recv_packet()
        if p.type == 9:
            suback = True
            continue
        assert p.type == 3 and p.retain and p.qos == 1
        got.add(p.topic)
        s.send(raw.ack("puback", p.pid))
    assert suback and len(got) == n
    s.close()


def test_fast_mode_acknowledges_and_persists(start_vigil, workers, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(workers, data_dir=data, top='durability = "fast"')
    assert v.wait_for_log(r"store .*\(fast\)")
    pub = Paho(v.port, "fast-pub")
    pub.publish("devices/f/status", "kept", 1, retain=True)
    pub.stop()
    # Fast mode acknowledges before writing, so only a graceful stop is sure to keep it.
    v = restart(start_vigil, v, workers, data, kill=False, top='durability = "fast"')
    assert retained_now(v.port, "devices/#") == {"devices/f/status": "kept"}


def test_persistent_sessions_of_vanished_devices_expire(start_vigil, workers, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(workers, '[limits]\nsession_expiry = "1s"\n', data_dir=data)
    gone = Paho(v.port, "gone-device", clean_session=False)
    gone.subscribe("x/#", 1)
    gone.stop()
    assert gone.disconnected.wait(10)
    staying = Paho(v.port, "staying-device", clean_session=False)
    staying.subscribe("y/#", 1)
    pub = Paho(v.port, "pub")
    pub.publish("x/1", "queued for a device that never comes back", 1)
    pub.stop()
    assert v.wait_for_log(r"expired 1 persistent sessions away longer than session_expiry", timeout=30)
    back = Paho(v.port, "gone-device", clean_session=False)
    assert back.connack[0] == 0  # a new session: the old one and its queue are gone
    assert back.messages.empty()
    # The connected device kept its session (a takeover finds it present).
    again = Paho(v.port, "staying-device", clean_session=False)
    assert again.connack[0] == 1
    # Both stay connected into a graceful stop (no sweep runs once stopping): the store holds
    # exactly the two live sessions, one subscription (y/#) and no trace of the expired queue.
    v = restart(start_vigil, v, workers, data, kill=False, extra='[limits]\nsession_expiry = "1h"\n')
    r = recovered(v)
    assert r["sessions"] == 2 and r["subscriptions"] == 1 and r["messages"] == 0
    for c in (back, again, staying):
        c.stop(graceful=False)
