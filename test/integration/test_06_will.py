"""Last will (§3.1.2.5, §3.1.2.8-10)."""
import socket
import subprocess
import sys

import mqtt_raw as raw
from clients import Paho


def watcher(port, name):
    w = Paho(port, name)
    w.subscribe("will/#", 2)
    return w


def test_will_on_network_failure(broker):
    w = watcher(broker.port, "w-net")
    c = raw.RawClient(broker.port)
    c.connect("dying", will=("will/dying", b"gone", 1, False))
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()  # RST, no DISCONNECT
    m = w.get()
    assert (m.topic, m.payload, m.qos, m.retain) == ("will/dying", b"gone", 1, 0)
    w.stop()


KILLED_CLIENT = """
import sys, threading
import paho.mqtt.client as paho
c = paho.Client(client_id="paho-dying", protocol=paho.MQTTv311)
c.will_set("will/paho", "offline", 2, False)
ready = threading.Event()
c.on_connect = lambda *a: ready.set()
c.connect("127.0.0.1", int(sys.argv[1]), 60)
c.loop_start()
ready.wait(10)
print("connected", flush=True)
sys.stdin.read()
"""


def test_will_of_a_killed_paho_client(broker):
    w = watcher(broker.port, "w-paho")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, str(broker.port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "connected"
    proc.kill()  # SIGKILL: no DISCONNECT, the kernel closes the socket
    proc.wait()
    m = w.get()
    assert (m.topic, m.payload, m.qos) == ("will/paho", b"offline", 2)
    w.stop()


def test_no_will_after_disconnect(broker):
    w = watcher(broker.port, "w-clean")
    c = raw.RawClient(broker.port)
    c.connect("polite", will=("will/polite", b"should not appear", 0, False))
    c.send(raw.DISCONNECT)
    assert c.closed_by_peer()
    marker = Paho(broker.port, "w-marker")
    marker.publish("will/marker", "m", 1)
    assert w.get().topic == "will/marker"  # [MQTT-3.1.2-10]
    assert w.messages.empty()
    w.stop()
    marker.stop()


def test_will_on_keep_alive_expiry(broker):
    w = watcher(broker.port, "w-ka")
    c = raw.RawClient(broker.port)
    c.connect("silent", keep_alive=1, will=("will/silent", b"timeout", 0, False))
    m = w.get(timeout=10)  # after 1.5 s of silence [MQTT-3.1.2-24]
    assert (m.topic, m.payload) == ("will/silent", b"timeout")
    assert c.closed_by_peer()
    assert broker.wait_for_log(r"keep-alive expired")
    w.stop()


def test_will_on_protocol_violation(broker):
    w = watcher(broker.port, "w-viol")
    c = raw.RawClient(broker.port)
    c.connect("violator", will=("will/violator", b"bad", 0, False))
    c.send(raw.publish("a/+", "wildcard in a topic name"))
    assert c.closed_by_peer()
    assert w.get().payload == b"bad"
    w.stop()


def test_retained_will(broker):
    c = raw.RawClient(broker.port)
    c.connect("ret-will", will=("will/retained", b"last words", 1, True))
    c.close()
    w = Paho(broker.port, "w-ret-check")
    w.subscribe("will/retained", 1)  # may arrive live or as retained, depending on timing
    m = w.get()
    assert m.payload == b"last words"
    w2 = Paho(broker.port, "w-ret-check2")
    w2.subscribe("will/retained", 1)
    m2 = w2.get()
    assert m2.payload == b"last words" and m2.retain == 1
    w.stop()
    w2.stop()


def test_will_on_takeover_unless_a_persistent_session_continues(broker):
    """[MQTT-3.1.2-8]: the old connection ended without DISCONNECT, so its will goes out, as
    in Mosquitto 2.x - except when both connections use a persistent session."""
    w = watcher(broker.port, "w-take")
    marker = Paho(broker.port, "w-take-marker")
    for n, (old_clean, new_clean, published) in enumerate([(True, True, True), (False, True, True),
                                                           (True, False, True), (False, False, False)]):
        first = raw.RawClient(broker.port)
        first.connect(f"taken-{n}", clean=old_clean, will=(f"will/taken-{n}", b"gone", 1, False))
        second = raw.RawClient(broker.port)
        second.connect(f"taken-{n}", clean=new_clean)
        assert first.closed_by_peer()
        marker.publish("will/marker", str(n), 1)
        got = [w.get().topic for _ in range(2 if published else 1)]
        assert got == ([f"will/taken-{n}", "will/marker"] if published else ["will/marker"]), (n, got)
    assert w.messages.empty()
    w.stop()
    marker.stop()
