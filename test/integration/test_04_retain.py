"""Retained messages (§3.3.1.3)."""
import mqtt_raw as raw
from clients import Paho, mosquitto_pub


def test_retained_store_replace_clear(broker):
    mosquitto_pub(broker.port, "-t", "r/a", "-m", "one", "-r", "-q", "1")
    mosquitto_pub(broker.port, "-t", "r/a", "-m", "two", "-r", "-q", "1")
    mosquitto_pub(broker.port, "-t", "r/b", "-m", "bee", "-r", "-q", "1")
    s = Paho(broker.port, "ret-1")
    s.subscribe("r/#", 1)
    got = sorted((m.topic, m.payload, m.retain) for m in s.expect(2))
    assert got == [("r/a", b"two", 1), ("r/b", b"bee", 1)]  # [MQTT-3.3.1-6], [MQTT-3.3.1-8]
    s.stop()
    mosquitto_pub(broker.port, "-t", "r/a", "-r", "-n", "-q", "1")  # empty payload clears [MQTT-3.3.1-10]
    s2 = Paho(broker.port, "ret-2")
    s2.subscribe("r/#", 1)
    m = s2.get()
    assert (m.topic, m.payload) == ("r/b", b"bee")
    pub = Paho(broker.port, "ret-pub")
    pub.publish("marker", "x", 1)
    s2.subscribe("marker", 1)
    pub.publish("marker", "y", 1)
    assert s2.get().topic == "marker"
    assert s2.messages.empty()
    s2.stop()
    pub.stop()


def test_live_messages_have_retain_cleared(broker):
    s = Paho(broker.port, "ret-live")
    s.subscribe("live/t", 0)
    pub = Paho(broker.port, "ret-live-pub")
    pub.publish("live/t", "now", 1, retain=True)
    m = s.get()
    assert m.payload == b"now" and m.retain == 0  # [MQTT-3.3.1-9]
    s.stop()
    pub.stop()


def test_retained_sent_on_every_subscribe_with_max_qos(broker):
    mosquitto_pub(broker.port, "-t", "rq/t", "-m", "v", "-r", "-q", "2")
    c = raw.RawClient(broker.port)
    c.connect("rq")
    c.send(raw.subscribe(1, ("rq/t", 1)))
    assert c.recv_packet().type == 9
    p = c.recv_packet()
    assert p.type == 3 and p.retain and p.qos == 1 and p.payload == b"v"
    c.send(raw.ack("puback", p.pid))
    c.send(raw.subscribe(2, ("rq/t", 0)))  # re-subscribing sends retained again [MQTT-3.8.4-3]
    assert c.recv_packet().type == 9
    p2 = c.recv_packet()
    assert p2.type == 3 and p2.retain and p2.qos == 0
