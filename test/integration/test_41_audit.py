"""The audit trail (issue 16, point 4): every login, refused login and disconnect (with its
reason) at info with client id, identity and address; `log_format = "json"` writes one JSON
object per line, valid whatever bytes a client sent."""
import json

import mqtt_raw as raw
from test_07_auth import make_users
from test_23_revocation import reload


def messages(v):
    """The msg of every line so far, each line checked to be one JSON object."""
    out = []
    for line in list(v.lines):
        obj = json.loads(line)
        assert set(obj) == {"time", "level", "msg"}, line
        out.append((obj["level"], obj["msg"]))
    return out


def test_logins_refusals_and_disconnects_are_audited_as_json(start_vigil, tmp_path, vigil_binary):
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"car7": "car7-pass", 'dis"patch\\er': "d-pass"})
    v = start_vigil(2, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\n', top='log_format = "json"\n')
    first = raw.RawClient(v.port)
    assert first.connect('car-"7"\\x', username="car7", password="car7-pass").body[1] == 0
    bad = raw.RawClient(v.port)
    assert bad.connect("guess", username="car7", password="wrong").body[1] == 4
    # The same client id again: the first connection is taken over.
    second = raw.RawClient(v.port)
    assert second.connect('car-"7"\\x', username="car7", password="car7-pass").body[1] == 0
    assert first.closed_by_peer()
    odd = raw.RawClient(v.port)
    assert odd.connect("dispatch-1", username='dis"patch\\er', password="d-pass").body[1] == 0
    odd.send(raw.DISCONNECT)
    assert odd.closed_by_peer()
    assert v.wait_for_log(r"client 'dispatch-1' .*disconnected: clean")
    msgs = messages(v)
    infos = [m for lvl, m in msgs if lvl == "info"]
    peer = r"127.0.0.1:"
    connected = [m for m in infos if "connected (identity 'car7', mqtt, clean=true" in m]
    assert len(connected) == 2 and all(m.startswith(peer) and "client 'car-\"7\"\\x'" in m for m in connected), connected
    assert any("login of client 'guess' refused: bad username or password for user 'car7'" in m for m in infos), infos
    assert any("client 'car-\"7\"\\x' (identity 'car7') disconnected: takeover" in m for m in infos), infos
    assert any("client 'dispatch-1' (identity 'dis\"patch\\er') disconnected: clean" in m for m in infos), infos


def test_the_log_format_follows_a_reload(start_vigil):
    v = start_vigil(2)
    with open(v.config_path) as f:
        text = f.read()
    with open(v.config_path, "w") as f:
        f.write(text.replace('log_level = "debug"', 'log_level = "debug"\nlog_format = "json"', 1))
    reload(v)
    c = raw.RawClient(v.port)
    assert c.connect("after-reload").body[1] == 0
    assert v.wait_for_log(r'^\{"time":"[^"]+","level":"info","msg":"127\.0\.0\.1:\d+: client \'after-reload\' connected \(identity anonymous, mqtt')


def test_dashboards_are_audited_with_their_token(start_vigil, tmp_path, vigil_binary):
    import asyncio
    import websockets
    from test_19_tokens import issue
    tokens = tmp_path / "tokens"
    secret = issue(vigil_binary, tokens, "dispatch-room-3", "--subscribe", "devices/#")
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\n')

    async def visit():
        async with websockets.connect(f"ws://127.0.0.1:{v.http_port}/ws?access_token={secret}") as ws:
            await ws.send('{"op":"subscribe","id":"s","filters":["devices/+/status"]}')
            await ws.recv()
    asyncio.run(visit())
    assert v.wait_for_log(r"127\.0\.0\.1:\d+: dashboard connected \(/ws, token 'dispatch-room-3'\)")
    assert v.wait_for_log(r"127\.0\.0\.1:\d+: dashboard disconnected \(/ws, token 'dispatch-room-3'\)")
