"""$SYS/broker/... with Mosquitto's names: retained, published every sys_interval, counting
clients' traffic; `#` never reaches them, and the ACL decides who reads which."""
import time

from clients import Paho

FAST = 'sys_interval = "100ms"\n'


def sys_values(sub, wanted, timeout=10):
    """Reads $SYS messages from `sub` until every topic in `wanted` (topic -> predicate on the
    payload) has had a payload that satisfies it; returns the last payload of each topic."""
    seen = {}
    deadline = time.monotonic() + timeout
    while any(t not in seen or not ok(seen[t]) for t, ok in wanted.items()):
        left = deadline - time.monotonic()
        assert left > 0, f"$SYS values not reached within {timeout} s: {seen}"
        m = sub.get(timeout=left)
        seen[m.topic] = m.payload.decode()
    return seen


def test_mosquitto_names_retained_and_counting(start_vigil):
    v = start_vigil(2, top=FAST)
    sub = Paho(v.port, "sys-reader")
    sub.subscribe("$SYS/broker/#")
    # Retained: a subscriber gets the current values at once.
    first = sys_values(sub, {"$SYS/broker/version": lambda p: True, "$SYS/broker/uptime": lambda p: True})
    assert first["$SYS/broker/version"].startswith("vigil ")
    assert first["$SYS/broker/uptime"].endswith(" seconds")

    # A persistent session left offline, holding one subscription and, soon, 5 messages.
    sleeper = Paho(v.port, "sys-sleeper", clean_session=False)
    sleeper.subscribe("fleet/#", 1)
    sleeper.stop()
    pub = Paho(v.port, "sys-writer")
    for i in range(5):
        pub.publish(f"fleet/car-{i}", "x" * 10, 1)
    # The 5 PUBLISHes (and no $SYS message of its own) are counted; 2 clients are connected.
    after = sys_values(sub, {"$SYS/broker/messages/received": lambda p: p == "5",
                             "$SYS/broker/clients/connected": lambda p: p == "2",
                             "$SYS/broker/clients/disconnected": lambda p: p == "1",
                             "$SYS/broker/clients/total": lambda p: p == "3",
                             "$SYS/broker/subscriptions/count": lambda p: p == "2",
                             "$SYS/broker/store/messages/count": lambda p: p == "5",
                             "$SYS/broker/load/messages/received/1min": lambda p: float(p) > 0})
    assert int(after["$SYS/broker/bytes/received"]) > 50
    assert float(after["$SYS/broker/load/messages/received/15min"]) <= float(after["$SYS/broker/load/messages/received/1min"])
    pub.stop()
    sub.stop()


def test_hash_does_not_reach_sys_and_clients_cannot_publish_there(start_vigil):
    v = start_vigil(2, top=FAST)
    everything = Paho(v.port, "everything")
    everything.subscribe("#")
    sys = Paho(v.port, "sys-only")
    sys.subscribe("$SYS/broker/uptime")
    sys.expect(2)  # the retained value and at least one update since: $SYS was published meanwhile
    writer = Paho(v.port, "writer")
    writer.publish("$SYS/broker/version", "fake", 1)  # acknowledged, never routed
    writer.publish("fleet/marker", "m", 1)
    assert everything.get().topic == "fleet/marker"  # the first and only message '#' got
    check = Paho(v.port, "check")
    check.subscribe("$SYS/broker/version")
    assert check.get().payload.decode().startswith("vigil ")


def test_the_acl_decides_who_reads_which_sys_topic(start_vigil, tmp_path):
    (tmp_path / "acl").write_text("topic read $SYS/broker/uptime\ntopic read fleet/#\n")
    v = start_vigil(2, f'[auth]\nacl_file = "{tmp_path / "acl"}"\n', top=FAST)
    c = Paho(v.port, "limited")
    assert c.subscribe("$SYS/broker/version") == (128,)
    assert c.subscribe("$SYS/#") == (0,)  # granted, and filtered where messages leave
    got = [c.get() for _ in range(4)]  # the retained uptime and three updates
    assert {m.topic for m in got} == {"$SYS/broker/uptime"}


def test_sys_interval_off_publishes_nothing(start_vigil):
    v = start_vigil(2, top='sys_interval = "off"\n')
    c = Paho(v.port, "nothing")
    c.subscribe("$SYS/#")
    c.subscribe("fleet/#")
    Paho(v.port, "marker").publish("fleet/marker", "m", 1)
    assert c.get().topic == "fleet/marker"  # no retained $SYS value came first
