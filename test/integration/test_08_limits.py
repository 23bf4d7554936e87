"""Limits: connections, connection rate, publish rate, failed-login slowdown (issue 3, point 5).
Time is only ever asserted as a lower bound (a limit must slow things down), which a slow
machine cannot break."""
import time

import mqtt_raw as raw
from clients import Paho
from test_07_auth import make_users


def count_refused(port, attempts):
    """Connects `attempts` times in a row; returns how many were closed without a CONNACK."""
    refused = 0
    for _ in range(attempts):
        c = raw.RawClient(port)
        c.send(raw.connect("rate"))
        try:
            c.recv_packet()
        except ConnectionError:
            refused += 1
        c.close()
    return refused


def test_max_connections(start_vigil, workers):
    v = start_vigil(workers, "[limits]\nmax_connections = 5\n")
    held = []
    for i in range(5):
        c = raw.RawClient(v.port)
        c.connect(f"held-{i}")
        held.append(c)
    extra = raw.RawClient(v.port)
    assert extra.closed_by_peer()  # refused at accept: no CONNACK at all
    assert v.wait_for_log(r"refusing new connections: over max_connections \(5\)")
    held.pop().close()
    # A slot frees up once the broker has seen the close; connect until it has.
    deadline = time.monotonic() + 10
    while True:
        c = raw.RawClient(v.port)
        try:
            c.connect("after-free")
            break
        except (ConnectionError, AssertionError):
            assert time.monotonic() < deadline, "the freed slot was never reusable"


def test_max_connection_rate(start_vigil):
    v = start_vigil(1, "max_connection_rate = 3\n")
    refused = count_refused(v.port, 20)
    assert refused > 0
    assert v.wait_for_log(r"max_connection_rate")


def test_max_publish_rate_slows_without_dropping(start_vigil, workers):
    v = start_vigil(workers, "[limits]\nmax_publish_rate = 100\n")
    sub = Paho(v.port, "rate-sub")
    sub.subscribe("rate/t", 1)
    c = raw.RawClient(v.port, timeout=30)
    c.connect("rate-pub")
    t0 = time.monotonic()
    n = 250
    c.send(b"".join(raw.publish("rate/t", str(i), qos=1, pid=i + 1) for i in range(n)))
    acks = [c.recv_packet() for _ in range(n)]
    elapsed = time.monotonic() - t0
    assert all(a.type == 4 for a in acks)
    assert elapsed >= 1.2  # 100 of burst, then 150 more at 100/s
    assert [int(m.payload) for m in sub.expect(n)] == list(range(n))  # nothing lost
    assert v.wait_for_log(r"over max_publish_rate: reading paused")
    sub.stop()


def test_repeated_failed_logins_are_slowed_down(start_vigil, workers, tmp_path, vigil_binary):
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"dev": "right"})
    v = start_vigil(workers, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\n')
    times = []
    for i in range(4):
        c = raw.RawClient(v.port)
        t0 = time.monotonic()
        c.send(raw.connect(f"guess-{i}", username="dev", password=f"guess{i}"))
        ack = c.recv_packet()
        times.append(time.monotonic() - t0)
        assert ack.body == b"\x00\x04"
        c.close()
    assert times[3] >= 0.35  # waits before hashing: 0, 100, 200, 400 ms
    good = raw.RawClient(v.port)
    assert good.connect("legit", username="dev", password="right").body == b"\x00\x00"


def test_counters_are_logged(start_vigil, workers):
    """Every limit has a counter; a periodic stats line makes them visible."""
    v = start_vigil(workers, "max_connection_rate = 1\n")
    refused = count_refused(v.port, 10)
    assert refused > 0
    assert v.wait_for_log(rf"stats: .*refused {refused};", timeout=10)
