"""CONNECT / CONNACK rules (MQTT 3.1.1 §3.1, §3.2)."""
import paho.mqtt.client as paho

import mqtt_raw as raw
from clients import Paho


def test_connect_accepted_with_and_without_client_id(broker):
    c = raw.RawClient(broker.port)
    ack = c.connect("dev-1")
    assert ack.body == b"\x00\x00"
    c.close()
    anon = raw.RawClient(broker.port)
    assert anon.connect("", clean=True).body == b"\x00\x00"  # [MQTT-3.1.3-6]
    anon.close()


def test_empty_client_id_without_clean_session_rejected(broker):
    c = raw.RawClient(broker.port)
    ack = c.connect("", clean=False)
    assert ack.body == b"\x00\x02"  # identifier rejected [MQTT-3.1.3-8]
    assert c.closed_by_peer()


def test_unsupported_protocol_level_gets_0x01(broker):
    # [MQTT-3.1.2-2] "MQTT" with 3.1's level 3, and 3.1's name with 3.1.1's level 4, are neither.
    for name, level in (("MQTT", 3), ("MQIsdp", 4), ("MQTT", 5)):
        c = raw.RawClient(broker.port)
        c.send(raw.connect("old", level=level, name=name))
        p = c.recv_packet()
        assert (p.type, p.body) == (2, b"\x00\x01"), (name, level)
        assert c.closed_by_peer()


def test_mqtt_3_1_clients_are_accepted(broker):
    """MQTT 3.1 ("MQIsdp", level 3), which older device firmware speaks, as Mosquitto accepts it:
    a client id of 1 to 23 characters (else 0x02), and no session-present flag in CONNACK."""
    c = raw.RawClient(broker.port)
    c.send(raw.connect("legacy-31", clean=False, level=3, name="MQIsdp"))
    assert c.recv_packet().body == b"\x00\x00"
    c.close()
    again = raw.RawClient(broker.port)
    again.send(raw.connect("legacy-31", clean=False, level=3, name="MQIsdp"))
    assert again.recv_packet().body == b"\x00\x00"  # the session is there, but 3.1 has no flag for it
    for bad in ("", "x" * 24):
        r = raw.RawClient(broker.port)
        r.send(raw.connect(bad, level=3, name="MQIsdp"))
        assert r.recv_packet().body == b"\x00\x02", bad
    # A real 3.1 client both ways.
    sub = Paho(broker.port, "paho-31", protocol=paho.MQTTv31)
    assert sub.subscribe("legacy/t", 1) == (1,)
    pub = Paho(broker.port, "paho-31-pub", protocol=paho.MQTTv31)
    pub.publish("legacy/t", "from 3.1", 1)
    assert sub.get().payload == b"from 3.1"
    sub.stop()
    pub.stop()


def test_first_packet_must_be_connect(broker):
    c = raw.RawClient(broker.port)
    c.send(raw.PINGREQ)
    assert c.closed_by_peer()  # [MQTT-3.1.0-1]
    assert broker.wait_for_log(r"protocol violation")


def test_second_connect_is_a_protocol_violation(broker):
    c = raw.RawClient(broker.port)
    c.connect("twice")
    c.send(raw.connect("twice"))
    assert c.closed_by_peer()  # [MQTT-3.1.0-2]


def test_connect_timeout_closes_silent_connections(start_vigil, workers):
    v = start_vigil(workers, '[limits]\nconnect_timeout = "300ms"\n')
    c = raw.RawClient(v.port)
    assert c.closed_by_peer()
    assert v.wait_for_log(r"no CONNECT within the connect timeout")


def test_session_present_flag(broker):
    c = raw.RawClient(broker.port)
    assert c.connect("persist-1", clean=False).body == b"\x00\x00"
    c.send(raw.DISCONNECT)
    assert c.closed_by_peer()
    c2 = raw.RawClient(broker.port)
    assert c2.connect("persist-1", clean=False).body == b"\x01\x00"  # [MQTT-3.2.2-2]
    c2.close()
    c3 = raw.RawClient(broker.port)
    assert c3.connect("persist-1", clean=True).body == b"\x00\x00"  # [MQTT-3.2.2-1]
    c3.close()


def test_takeover_closes_the_older_connection(broker):
    first = raw.RawClient(broker.port)
    first.connect("same-id")
    second = raw.RawClient(broker.port)
    assert second.connect("same-id").body == b"\x00\x00"
    assert first.closed_by_peer()  # [MQTT-3.1.4-2]
    second.send(raw.PINGREQ)
    assert second.recv_packet().type == 13


def test_pingreq_gets_pingresp(broker):
    c = raw.RawClient(broker.port)
    c.connect("pinger")
    c.send(raw.PINGREQ)
    assert c.recv_packet().type == 13  # [MQTT-3.12.4-1]


def test_paho_connects(broker):
    p = Paho(broker.port, "paho-1")
    assert p.connack == (0, 0)
    p.stop()
