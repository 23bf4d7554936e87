"""A clean disconnect on every transport (issue 13, point 1): a client that publishes and then
sends DISCONNECT loses nothing and leaves no will, over plain TCP, TLS, WebSocket and TLS
WebSocket, with real clients (mosquitto_pub, MQTT.js). Over TLS the last PUBLISH, the DISCONNECT
and the close_notify often arrive in one read; everything before the close is handled first."""
import subprocess

import pytest

from clients import Paho
from jsclients import Node
from pki import make_pki

ROUNDS = 10


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_keys(pki):
    return f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n'


def expect_all_and_no_will(watch, sent):
    got = [watch.get() for _ in range(sent)]
    assert sorted(m.payload.decode() for m in got) == sorted(str(i) for i in range(sent))
    assert all(m.topic == "clean/data" for m in got)
    watch.publish("clean/data", "marker", 1)  # anything else would come before it
    assert watch.get().payload == b"marker"
    assert watch.messages.empty()


def test_mosquitto_pub_over_tls_disconnects_cleanly(start_vigil, pki):
    v = start_vigil(2, f"""
[[listener]]
bind = "127.0.0.1"
port = 0
{tls_keys(pki)}""")
    watch = Paho(v.port, "watch")
    watch.subscribe("clean/#", 1)
    for i in range(ROUNDS):
        r = subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(v.tls_port), "--cafile", str(pki / "ca.crt"),
                            "-t", "clean/data", "-m", str(i), "--will-topic", "clean/will", "--will-payload", "x"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
    expect_all_and_no_will(watch, ROUNDS)


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_mqtt_js_over_websocket_disconnects_cleanly(start_vigil, pki, tls):
    v = start_vigil(2, http=tls_keys(pki) if tls else "")
    watch = Paho(v.port, "watch")
    watch.subscribe("clean/#", 1)
    url = f"{'wss' if tls else 'ws'}://localhost:{v.http_port}/mqtt"
    for i in range(ROUNDS):
        opts = {"url": url, "clientId": f"js-{i}", "will": {"topic": "clean/will", "payload": "x", "qos": 1},
                "publish": [{"topic": "clean/data", "payload": str(i), "qos": 0}], "finish": "end"}
        if tls:
            opts["ca"] = str(pki / "ca.crt")
        js = Node("mqtt_client.js", opts)
        js.next("done")
        assert js.wait() == 0
    expect_all_and_no_will(watch, ROUNDS)
