"""SUBSCRIBE / UNSUBSCRIBE and topic wildcards (§3.8-3.11, §4.7)."""
import threading

import mqtt_raw as raw
from clients import MosquittoSub, Paho, mosquitto_pub


def test_wildcards_and_dollar_topics(broker):
    sub = Paho(broker.port, "wild")
    assert sub.subscribe("#", 0) == (0,)
    assert sub.subscribe("devices/+/location", 1) == (1,)
    pub = Paho(broker.port, "wild-pub")
    pub.publish("$SYS/x", "not for #", 1)       # [MQTT-4.7.2-1]
    pub.publish("devices/7/location", "loc", 1)
    m = sub.get()
    assert (m.topic, m.payload, m.qos) == ("devices/7/location", b"loc", 1)  # once, max QoS
    pub.publish("marker", "end", 1)
    assert sub.get().topic == "marker"
    assert sub.messages.empty()
    sub.stop()
    pub.stop()


def test_hash_matches_parent_level(broker):
    sub = Paho(broker.port, "parent")
    sub.subscribe("a/#", 0)
    pub = Paho(broker.port, "parent-pub")
    pub.publish("a", "parent", 0)
    assert sub.get().topic == "a"
    sub.stop()
    pub.stop()


def test_unsubscribe_stops_delivery(broker):
    sub = Paho(broker.port, "unsub")
    sub.subscribe("u/1", 1)
    sub.subscribe("u/2", 1)
    pub = Paho(broker.port, "unsub-pub")
    pub.publish("u/1", "a", 1)
    assert sub.get().payload == b"a"
    unsubacked = threading.Event()
    sub.client.on_unsubscribe = lambda c, u, m: unsubacked.set()
    result, _ = sub.client.unsubscribe("u/1")
    assert result == 0
    assert unsubacked.wait(10)
    pub.publish("u/1", "b", 1)
    pub.publish("u/2", "c", 1)
    assert sub.get().payload == b"c"
    assert sub.messages.empty()
    sub.stop()
    pub.stop()


def test_invalid_filter_closes_connection(broker):
    c = raw.RawClient(broker.port)
    c.connect("badfilter")
    c.send(raw.subscribe(1, ("a/#/b", 0)))
    assert c.closed_by_peer()


def test_suback_grants_requested_qos(broker):
    c = raw.RawClient(broker.port)
    c.connect("granted")
    c.send(raw.subscribe(5, ("x", 0), ("y", 1), ("z", 2)))
    ack = c.recv_packet()
    assert ack.type == 9 and ack.body == b"\x00\x05\x00\x01\x02"


def test_mosquitto_clients_fan_out(broker):
    subs = [MosquittoSub(broker.port, "fan/+", count=3) for _ in range(3)]
    for i in range(3):
        mosquitto_pub(broker.port, "-t", f"fan/{i}", "-m", f"m{i}")
    for s in subs:
        assert s.messages() == ["fan/0 m0", "fan/1 m1", "fan/2 m2"]
