"""HTTPS listeners (the API, /ws and /mqtt over TLS), the npm `ws` client on /ws, and API tokens
inline in the configuration and reloaded on SIGHUP (issue 5, points 1, 5 and 7)."""
import asyncio
import json
import signal
import socket
import ssl
import subprocess

import pytest
import websockets

from clients import Paho
from jsclients import Node
from pki import make_pki
from test_18_push import next_op, request
from test_19_tokens import get, issue


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def https_listener(pki):
    return f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n'


def client_ctx(pki):
    return ssl.create_default_context(cafile=str(pki / "ca.crt"))


def test_https_api_wss_push_and_mqtt(start_vigil, workers, pki):
    v = start_vigil(workers, http=https_listener(pki))
    assert v.wait_for_log(r"listening for HTTPS on")
    port = v.http_port
    ctx = client_ctx(pki)
    assert get(port, "/healthz", ctx=ctx)[0] == 200
    for _ in range(3):  # keep-alive over TLS
        assert get(port, "/api/v1/devices", ctx=ctx)[0] == 200

    # Plaintext on the HTTPS port is dropped, and HTTPS goes on.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    assert answer == b"" or answer[0] == 0x15  # nothing or a TLS alert record, then the close
    s.close()
    assert v.wait_for_log(r"http: connection from 127.0.0.1:\d+ failed: .*(http request|wrong version)")
    assert get(port, "/healthz", ctx=ctx)[0] == 200

    device = Paho(v.port, "car-5")
    device.publish("devices/car-5/location", '{"lat": 5}', 1)

    async def push():
        async with websockets.connect(f"wss://localhost:{port}/ws", ssl=ctx) as ws:
            await request(ws, op="subscribe", id="s", filters=["devices/+/location"])
            snap, before = await next_op(ws, "snapshot")
            assert before[0]["op"] == "subscribed" and snap["messages"][0]["payload"] == {"lat": 5}
            device.publish("devices/car-5/location", '{"lat": 6}', 0)
            live, _ = await next_op(ws, "message")
            assert live["payload"] == {"lat": 6}
    asyncio.run(push())

    js = Node("mqtt_client.js", {"url": f"wss://localhost:{port}/mqtt", "ca": str(pki / "ca.crt"), "clientId": "tls-console",
                                 "subscribe": [{"filter": "devices/+/location", "qos": 1}], "expect": 1})
    js.next("subscribed")
    device.publish("devices/car-5/location", '{"lat": 7}', 1)
    m = js.next("message")
    assert (m["topic"], m["payload"], m["qos"]) == ("devices/car-5/location", '{"lat": 7}', 1)
    assert js.wait() == 0


def test_npm_ws_client_on_push(start_vigil, workers):
    v = start_vigil(workers)
    device = Paho(v.port, "car-1")
    device.publish("devices/car-1/status", '{"online": true}', 1, retain=True)
    device.publish("devices/car-1/location", '{"lat": 1}', 1)
    dash = Node("ws_push_client.js", {
        "url": f"ws://127.0.0.1:{v.http_port}/ws", "protocols": ["vigil.v1"], "expect": 3,
        "requests": [{"op": "subscribe", "id": "all", "filters": ["devices/#"]}, {"op": "nonsense", "id": "x"}, "not json"]})
    assert dash.next("open")["protocol"] == "vigil.v1"

    def frame(op):
        while True:
            f = dash.next("frame")["data"]
            if f["op"] == op:
                return f

    snap = frame("snapshot")
    assert {m["topic"]: m["payload"] for m in snap["messages"]} == {
        "devices/car-1/status": {"online": True}, "devices/car-1/location": {"lat": 1}}
    errors = [frame("error"), frame("error")]
    assert {e["id"] for e in errors} == {"x", ""}  # "" when the request had no id to name
    for i in range(3):
        device.publish("devices/car-1/location", json.dumps({"lat": 10 + i}), 0)
    live = [frame("message") for _ in range(3)]
    assert [m["payload"]["lat"] for m in live] == [10, 11, 12]
    seqs = [f["data"]["seq"] for f in dash.seen if f["event"] == "frame" and "seq" in f["data"]]
    assert seqs == list(range(1, len(seqs) + 1))  # every object numbered, no gap
    assert dash.next("close")["code"] == 1000
    assert dash.wait() == 0

    refused = Node("ws_push_client.js", {"url": f"ws://127.0.0.1:{v.http_port}/nowhere"})
    assert refused.next("refused")["status"] == 404
    assert refused.wait() == 0


def test_inline_tokens_and_reload(start_vigil, vigil_binary, tmp_path):
    file_tokens = tmp_path / "tokens"
    spare = tmp_path / "spare"
    alice = issue(vigil_binary, file_tokens, "alice", "--subscribe", "#")
    wall = issue(vigil_binary, spare, "wall", "--subscribe", "#")
    wall_line = spare.read_text().strip().splitlines()[-1]
    v = start_vigil(2, f'[http]\ntokens_file = "{file_tokens}"\ntokens = ["{wall_line}"]\n')
    assert v.wait_for_log(r"API tokens: 2 \(tokens_file .*, 1 inline\)")
    port = v.http_port
    auth = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731
    assert get(port, "/api/v1/devices", auth(alice))[0] == 200
    assert get(port, "/api/v1/devices", auth(wall))[0] == 200  # from the config itself

    # Revoke alice, add bob: SIGHUP applies it to requests from then on.
    file_tokens.write_text("")
    bob = issue(vigil_binary, file_tokens, "bob", "--subscribe", "devices/#")
    v.proc.send_signal(signal.SIGHUP)
    assert v.wait_for_log(r"reload: API tokens: 2")
    assert get(port, "/api/v1/devices", auth(alice))[0] == 401
    assert get(port, "/api/v1/devices", auth(bob))[0] == 200

    # A broken file keeps what is in force.
    file_tokens.write_text("bob sha256:nothex\n")
    v.proc.send_signal(signal.SIGHUP)
    assert v.wait_for_log(r"keeping the previous API tokens")
    assert get(port, "/api/v1/devices", auth(bob))[0] == 200


def test_bad_http_tls_and_token_config(vigil_binary, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[http.listener]]\nport = 0\ntls.cert = "/nonexistent.crt"\ntls.key = "/nonexistent.key"\n')
    r = subprocess.run([vigil_binary, "--check-config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "/nonexistent.crt" in r.stderr
    cfg.write_text('[http]\ntokens = ["only-a-name"]\n')
    r = subprocess.run([vigil_binary, "--check-config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "[http] tokens entry:1" in r.stderr
    cfg.write_text('[[http.listener]]\nport = 0\ntls.cert = "a"\n')
    r = subprocess.run([vigil_binary, "--check-config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "tls.key" in r.stderr
