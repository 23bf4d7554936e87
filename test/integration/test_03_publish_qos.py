"""QoS 0, 1 and 2 in both directions (§4.3), delivery at min(published, granted)."""
import mqtt_raw as raw
from clients import MosquittoSub, Paho, mosquitto_pub


def test_qos_downgrade_matrix(broker):
    subs = {q: Paho(broker.port, f"sub-q{q}") for q in (0, 1, 2)}
    for q, s in subs.items():
        assert s.subscribe("m/x", q) == (q,)
    pub = Paho(broker.port, "pub-matrix")
    for pq in (0, 1, 2):
        pub.publish("m/x", f"p{pq}", pq)
        for sq, s in subs.items():
            m = s.get()
            assert m.payload == f"p{pq}".encode()
            assert m.qos == min(pq, sq)  # [MQTT-3.8.4-6]
    for s in subs.values():
        s.stop()
    pub.stop()


def test_qos2_end_to_end_with_mosquitto_clients(broker):
    sub = MosquittoSub(broker.port, "q2/t", qos=2, count=5)
    for i in range(5):
        mosquitto_pub(broker.port, "-t", "q2/t", "-q", "2", "-m", f"n{i}")
    assert sub.messages() == [f"q2/t n{i}" for i in range(5)]


def test_qos2_inbound_flow_bytes(broker):
    watcher = Paho(broker.port, "q2-watch")
    watcher.subscribe("q2/raw", 2)
    c = raw.RawClient(broker.port)
    c.connect("q2-raw")
    c.send(raw.publish("q2/raw", "once", qos=2, pid=7))
    rec = c.recv_packet()
    assert rec.type == 5 and rec.pid == 7
    # A duplicate before PUBREL is acknowledged but not delivered again [MQTT-4.3.3-2].
    c.send(raw.publish("q2/raw", "once", qos=2, pid=7, dup=True))
    assert c.recv_packet().type == 5
    c.send(raw.ack("pubrel", 7))
    comp = c.recv_packet()
    assert comp.type == 7 and comp.pid == 7
    assert watcher.get().payload == b"once"
    c.send(raw.publish("q2/raw", "marker", qos=1, pid=8))
    assert c.recv_packet().type == 4
    assert watcher.get().payload == b"marker"
    assert watcher.messages.empty()
    watcher.stop()


def test_qos2_outbound_flow_bytes(broker):
    c = raw.RawClient(broker.port)
    c.connect("q2-out")
    c.send(raw.subscribe(1, ("q2/out", 2)))
    assert c.recv_packet().type == 9
    pub = Paho(broker.port, "q2-out-pub")
    pub.publish("q2/out", "hello", 2)
    p = c.recv_packet()
    assert p.type == 3 and p.qos == 2 and p.payload == b"hello" and p.pid != 0
    c.send(raw.ack("pubrec", p.pid))
    rel = c.recv_packet()
    assert rel.type == 6 and rel.flags == 2 and rel.pid == p.pid  # PUBREL flags 0010
    c.send(raw.ack("pubcomp", p.pid))
    pub.stop()


def test_qos1_puback_and_ordering(broker):
    sub = Paho(broker.port, "order-sub")
    sub.subscribe("ord", 1)
    c = raw.RawClient(broker.port)
    c.connect("order-pub")
    for i in range(1, 201):
        c.send(raw.publish("ord", str(i), qos=1, pid=i))
    acks = [c.recv_packet() for _ in range(200)]
    assert [a.pid for a in acks] == list(range(1, 201))
    got = [int(m.payload) for m in sub.expect(200)]
    assert got == list(range(1, 201))  # per-publisher order [MQTT-4.6.0]
    sub.stop()


def test_large_payload_round_trip(broker):
    sub = Paho(broker.port, "big-sub")
    sub.subscribe("big", 1)
    pub = Paho(broker.port, "big-pub")
    payload = bytes(range(256)) * 800  # 204,800 bytes, under the 256 KiB default limit
    pub.publish("big", payload, 1)
    assert sub.get().payload == payload
    sub.stop()
    pub.stop()


def test_a_stalled_subscriber_gets_every_byte_in_order(start_vigil, workers):
    """Small packets are copied into one write and large payloads sent from the message; a
    subscriber that stops reading makes the kernel take only part of a write, and the rest
    must follow intact. Sizes straddle the copy threshold (2,048 bytes); ~5.5 MB in all,
    more than the kernel buffers of both ends hold."""
    v = start_vigil(workers, "[limits]\nmax_outbound_bytes = 16777216\n")
    sub = raw.RawClient(v.port, timeout=30)
    sub.connect("stalled")
    sub.send(raw.subscribe(1, ("burst/+", 0)))
    assert sub.recv_packet().type == 9
    pub = raw.RawClient(v.port)
    pub.connect("burster")
    sizes = [0, 1, 60, 2047, 2048, 2049, 9000, 70000]
    sent = []
    for i in range(64 * len(sizes)):
        n = sizes[i % len(sizes)]
        body = (f"{i}:".encode() + bytes([i % 251]) * n)[:n]
        topic = f"burst/{i % 3}"
        sent.append((topic, body))
        pub.send(raw.publish(topic, body))
    pub.send(raw.publish("burst/end", "end", qos=1, pid=1))
    assert pub.recv_packet().type == 4  # routed: all of it waits for the stalled reader
    got = []
    while True:
        p = sub.recv_packet()
        assert p.type == 3
        if p.topic == "burst/end":
            break
        got.append((p.topic, p.payload))
    assert len(got) == len(sent)
    assert got == sent
    pub.close()
    sub.close()


def test_acknowledgements_must_match_the_flow(start_vigil):
    """As Mosquitto 2.0.12 and later: a QoS 1 delivery answered with PUBREC or PUBCOMP, or a
    QoS 2 delivery answered with PUBACK or with PUBCOMP before PUBREC, closes the connection;
    a PUBREC for nothing in flight is answered with PUBREL."""
    v = start_vigil(1)
    pub = raw.RawClient(v.port)
    assert pub.connect("acks-pub").body[1] == 0
    for n, (q, wrong) in enumerate([(1, "pubrec"), (1, "pubcomp"), (2, "puback"), (2, "pubcomp")]):
        sub = raw.RawClient(v.port)
        assert sub.connect(f"acks-{n}").body[1] == 0
        sub.send(raw.subscribe(1, (f"acks/{n}", q)))
        assert sub.recv_packet().type == 9
        pub.send(raw.publish(f"acks/{n}", "x", qos=q, pid=n + 1))
        assert pub.recv_packet().type in (4, 5)
        if q == 2:
            pub.send(raw.ack("pubrel", n + 1))
            assert pub.recv_packet().type == 7
        p = sub.recv_packet()
        assert (p.type, p.qos) == (3, q)
        sub.send(raw.ack(wrong, p.pid))
        assert sub.closed_by_peer(), (q, wrong)
    c = raw.RawClient(v.port)
    assert c.connect("acks-unsolicited").body[1] == 0
    c.send(raw.ack("pubrec", 4321))
    p = c.recv_packet()
    assert (p.type, p.pid) == (6, 4321)  # PUBREL
    c.send(raw.ack("puback", 4321))  # nothing in flight: ignored
    c.send(raw.PINGREQ)
    assert c.recv_packet().type == 13
