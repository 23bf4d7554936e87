"""API tokens and the Origin allow-list: `vigil token` issues them; the API and /ws refuse
requests without one (401), tokens limit subscribe and publish filters, /ws refuses foreign
browser origins (403), /healthz stays open."""
import asyncio
import http.client
import json
import signal
import subprocess

import websockets

from clients import Paho
from test_18_push import next_op, request


def issue(vigil_binary, path, name, *args):
    r = subprocess.run([vigil_binary, "token", str(path), name, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def get(port, path, headers=None, ctx=None):
    """GET over HTTP, or HTTPS with the ssl context `ctx`: (status, JSON body)."""
    c = (http.client.HTTPSConnection("localhost", port, timeout=10, context=ctx) if ctx
         else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return r.status, body


def test_tokens_and_origins(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    wall = issue(vigil_binary, tokens, "wall", "--subscribe", "devices/+/location,devices/+/status",
                 "--publish", "devices/+/commands")
    ops = issue(vigil_binary, tokens, "ops", "--subscribe", "#")
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"
    assert wall not in tokens.read_text()
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\nallowed_origins = ["https://dispatch.example"]\n')
    assert v.wait_for_log(r"API tokens: 2 ")
    port = v.http_port

    assert get(port, "/healthz")[0] == 200  # load balancers need no token
    status, body = get(port, "/api/v1/devices")
    assert status == 401 and body["error"]["status"] == 401
    assert get(port, "/api/v1/devices", {"Authorization": "Bearer nope"})[0] == 401
    assert get(port, "/api/v1/devices", {"Authorization": f"Bearer {ops}"})[0] == 200
    assert get(port, f"/api/v1/devices?access_token={ops}")[0] == 200
    # The API shows a token only the topics it may read.
    pub = Paho(v.port, "car-1-feeder")
    for kind in ("location", "status", "events"):
        pub.publish(f"devices/car-1/{kind}", f'{{"k":"{kind}"}}', 1, retain=True)
    pub.stop()
    status, body = get(port, "/api/v1/devices", {"Authorization": f"Bearer {ops}"})
    assert status == 200 and set(body["devices"][0]["values"]) == {"location", "status"}  # state.topics
    locations = issue(vigil_binary, tokens, "locations", "--subscribe", "devices/+/location")
    alarms = issue(vigil_binary, tokens, "alarms", "--subscribe", "alarms/#")
    v.proc.send_signal(signal.SIGHUP)
    assert v.wait_for_log(r"API tokens: 4")
    for path in ("/api/v1/devices", "/api/v1/devices/car-1"):
        status, body = get(port, path, {"Authorization": f"Bearer {locations}"})
        device = body["devices"][0] if "devices" in body else body
        assert status == 200 and set(device["values"]) == {"location"}, body
    assert get(port, "/api/v1/devices", {"Authorization": f"Bearer {alarms}"})[0] == 403  # no devices/# topic
    # Without a token, /healthz says ok or not, and nothing more.
    assert get(port, "/healthz") == (200, {"status": "ok"})
    assert "connections" in get(port, "/healthz", {"Authorization": f"Bearer {ops}"})[1]

    async def run():
        url = f"ws://127.0.0.1:{port}/ws"
        try:
            await websockets.connect(url)
            raise AssertionError("a WebSocket without a token was accepted")
        except websockets.InvalidStatusCode as e:
            assert e.status_code == 401
        try:
            await websockets.connect(f"{url}?access_token={ops}", origin="https://evil.example")
            raise AssertionError("a foreign origin was accepted")
        except websockets.InvalidStatusCode as e:
            assert e.status_code == 403
        # A browser's way: the token as a subprotocol next to vigil.v1, which is chosen.
        async with websockets.connect(url, subprotocols=["vigil.v1", f"token.{wall}"],
                                      origin="https://dispatch.example") as ws:
            assert ws.subprotocol == "vigil.v1"
            await request(ws, op="subscribe", id="ok", filters=["devices/+/location"])
            assert (await next_op(ws, "subscribed"))[0]["id"] == "ok"
            await request(ws, op="subscribe", id="elsewhere", filters=["alarms/#"])
            err, _ = await next_op(ws, "error")
            assert err["id"] == "elsewhere" and "may not read any topic" in err["error"]
            await request(ws, op="publish", id="cmd", topic="devices/car-1/commands", payload={"do": "stop"})
            assert (await next_op(ws, "published"))[0]["id"] == "cmd"
            await request(ws, op="publish", id="spoof", topic="devices/car-1/location", payload={"lat": 0})
            err, _ = await next_op(ws, "error")
            assert err["id"] == "spoof" and "may not publish" in err["error"]
    asyncio.run(run())


def test_non_loopback_http_needs_tokens(vigil_binary, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[http.listener]]\nbind = "0.0.0.0"\nport = 0\n')
    r = subprocess.run([vigil_binary, "--check-config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "tokens_file" in r.stderr


def test_token_cli_rejects_bad_input(vigil_binary, tmp_path):
    r = subprocess.run([vigil_binary, "token", str(tmp_path / "t"), "x", "--subscribe", "a/#/b"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "a/#/b" in r.stderr
    (tmp_path / "broken").write_text("garbage line\n")
    r = subprocess.run([vigil_binary, "token", str(tmp_path / "broken"), "x"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "broken:1" in r.stderr
    assert (tmp_path / "broken").read_text() == "garbage line\n"  # never appended to
