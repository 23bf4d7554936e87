"""Clean and persistent sessions (§3.1.2.4, §4.4)."""
import mqtt_raw as raw
from clients import Paho


def test_persistent_session_receives_qos1_while_offline(broker):
    s = Paho(broker.port, "offline-sub", clean_session=False)
    s.subscribe("car/+/events", 1)
    s.stop()
    assert s.disconnected.wait(10)
    pub = Paho(broker.port, "offline-pub")
    for i in range(10):
        pub.publish(f"car/{i}/events", f"e{i}", 1)
    pub.publish("car/x/events", "q0 is not queued offline", 0)
    pub.stop()
    back = Paho(broker.port, "offline-sub", clean_session=False)
    assert back.connack[0] == 1  # session present
    got = [m.payload.decode() for m in back.expect(10)]
    assert got == [f"e{i}" for i in range(10)]
    back.stop()


def test_unacknowledged_qos1_is_redelivered_with_dup(broker):
    c = raw.RawClient(broker.port)
    c.connect("redeliver", clean=False)
    c.send(raw.subscribe(1, ("rd", 1)))
    assert c.recv_packet().type == 9
    pub = Paho(broker.port, "rd-pub")
    pub.publish("rd", "must arrive", 1)
    p = c.recv_packet()
    assert p.qos == 1 and not p.dup
    c.close()  # no PUBACK, no DISCONNECT
    c2 = raw.RawClient(broker.port)
    # The broker may still be closing the old connection: takeover covers both orders.
    ack = c2.connect("redeliver", clean=False)
    assert ack.body == b"\x01\x00"
    again = c2.recv_packet()
    assert again.type == 3 and again.dup and again.pid == p.pid and again.payload == b"must arrive"
    c2.send(raw.ack("puback", again.pid))
    pub.stop()


def test_unfinished_qos2_resumes_with_pubrel(broker):
    c = raw.RawClient(broker.port)
    c.connect("q2-resume", clean=False)
    c.send(raw.subscribe(1, ("q2r", 2)))
    assert c.recv_packet().type == 9
    pub = Paho(broker.port, "q2r-pub")
    pub.publish("q2r", "x", 2)
    p = c.recv_packet()
    c.send(raw.ack("pubrec", p.pid))
    assert c.recv_packet().type == 6
    c.close()  # PUBREL not completed
    c2 = raw.RawClient(broker.port)
    assert c2.connect("q2-resume", clean=False).body == b"\x01\x00"
    rel = c2.recv_packet()
    assert rel.type == 6 and rel.pid == p.pid
    c2.send(raw.ack("pubcomp", p.pid))
    pub.stop()


def test_clean_session_discards_state(broker):
    s = Paho(broker.port, "cleaner", clean_session=False)
    s.subscribe("cl/t", 1)
    s.stop()
    assert s.disconnected.wait(10)
    fresh = Paho(broker.port, "cleaner", clean_session=True)
    assert fresh.connack[0] == 0
    pub = Paho(broker.port, "cl-pub")
    pub.publish("cl/t", "old subscription is gone", 1)
    fresh.subscribe("cl/marker", 1)
    pub.publish("cl/marker", "m", 1)
    assert fresh.get().topic == "cl/marker"
    assert fresh.messages.empty()
    fresh.stop()
    pub.stop()


def test_inflight_window_limits_unacked_messages(start_vigil, workers):
    v = start_vigil(workers, "[limits]\nmax_inflight = 3\n")
    c = raw.RawClient(v.port)
    c.connect("window")
    c.send(raw.subscribe(1, ("w", 1)))
    assert c.recv_packet().type == 9
    pub = Paho(v.port, "window-pub")
    for i in range(6):
        pub.publish("w", str(i), 1)
    first = [c.recv_packet() for _ in range(3)]
    assert [p.payload for p in first] == [b"0", b"1", b"2"]
    c.send(raw.PINGREQ)
    assert c.recv_packet().type == 13  # nothing beyond the window came before the PINGRESP
    c.send(raw.ack("puback", first[0].pid))
    assert c.recv_packet().payload == b"3"
    pub.stop()


def test_offline_queue_is_bounded_by_max_queued(start_vigil, workers):
    v = start_vigil(workers, "[limits]\nmax_queued = 5\n")
    s = Paho(v.port, "bounded", clean_session=False)
    s.subscribe("bq", 1)
    s.stop()
    assert s.disconnected.wait(10)
    pub = Paho(v.port, "bounded-pub")
    for i in range(12):
        pub.publish("bq", str(i), 1)
    pub.stop()
    assert v.wait_for_log(r"client 'bounded' is offline with 5 queued messages")
    back = Paho(v.port, "bounded", clean_session=False)
    got = [m.payload.decode() for m in back.expect(5)]
    assert got == ["0", "1", "2", "3", "4"]  # the oldest kept, newer ones dropped and counted
    back.subscribe("bq-marker", 1)
    marker = Paho(v.port, "bounded-marker")
    marker.publish("bq-marker", "end", 1)
    assert back.get().topic == "bq-marker"
    assert back.messages.empty()
    back.stop()
    marker.stop()
