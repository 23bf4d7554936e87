"""The admin API (issue 16, point 3): only a token with the admin right reaches it, every call
is audited; connected clients and sessions are listed and looked up, a client is disconnected
(its will goes out; with discard_session its session is gone), retained messages are browsed
and deleted (for good), tokens are listed without their hashes and revoked (an open dashboard
using one is closed). `vigil token` refuses a duplicate name, lists and revokes offline."""
import asyncio
import http.client
import json
import os
import stat
import subprocess
import threading

import pytest
import websockets

import mqtt_raw as raw
from clients import Paho
from prom import parse, scrape_ok, value
from test_07_auth import make_users
from test_18_push import next_op, request
from test_19_tokens import issue


def call(port, method, path, token=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
    r = c.getresponse()
    body = json.loads(r.read() or b"null")
    c.close()
    return r.status, body


@pytest.fixture
def site(start_vigil, vigil_binary, tmp_path):
    """Passwords for devices, a dashboard token and an operator token."""
    users = tmp_path / "passwd"
    make_users(vigil_binary, users, {"car7": "pw7", "car8": "pw8", "dispatch": "pwd"})
    tokens = tmp_path / "tokens"
    secrets = {
        "dash": issue(vigil_binary, tokens, "dash", "--subscribe", "devices/#"),
        "wide": issue(vigil_binary, tokens, "wide", "--subscribe", "#", "--publish", "#"),
        "ops": issue(vigil_binary, tokens, "ops", "--admin"),
    }
    v = start_vigil(2, f'allow_anonymous = false\n[auth]\npassword_file = "{users}"\n[http]\ntokens_file = "{tokens}"\n')
    return v, secrets, tokens


ROUTES = [("GET", "/api/v1/admin/clients"), ("GET", "/api/v1/admin/sessions/car7"), ("DELETE", "/api/v1/admin/clients/car7"),
          ("GET", "/api/v1/admin/retained?topic=%23"), ("DELETE", "/api/v1/admin/retained?topic=devices/car7/status"),
          ("GET", "/api/v1/admin/tokens"), ("DELETE", "/api/v1/admin/tokens/ops")]


def test_only_an_admin_token_reaches_the_admin_api_and_refusals_are_audited(site):
    v, secrets, _ = site
    car = Paho(v.port, "car7", clean_session=False, username="car7", password="pw7")
    for method, path in ROUTES:
        assert call(v.http_port, method, path)[0] == 401, path
        for name in ("dash", "wide"):  # a token that may read and publish everything is still no admin
            status, body = call(v.http_port, method, path, secrets[name])
            assert status == 403 and "no admin right" in body["error"]["message"], (path, body)
    assert v.wait_for_log(r"admin: DELETE /api/v1/admin/clients/car7 by 127\.0\.0\.1:\d+ \(token 'wide'\): 403")
    # Nothing happened: car7 is still connected, ops is still a token.
    car.client.publish("devices/car7/status", "up", 1).wait_for_publish(5)
    status, body = call(v.http_port, "GET", "/api/v1/admin/tokens", secrets["ops"])
    assert status == 200 and [t["name"] for t in body["tokens"]] == ["dash", "ops", "wide"]
    car.stop()


def test_clients_are_listed_and_looked_up_with_identity_address_and_queue(site):
    v, secrets, _ = site
    ops = secrets["ops"]
    car7 = Paho(v.port, "car7", clean_session=False, username="car7", password="pw7")
    assert car7.subscribe("devices/car7/commands", 1) == (1,)
    disp = Paho(v.port, "dispatch-1", username="dispatch", password="pwd")
    status, body = call(v.http_port, "GET", "/api/v1/admin/clients", ops)
    assert status == 200, body
    by_id = {c["client_id"]: c for c in body["clients"]}
    assert set(by_id) == {"car7", "dispatch-1"} and body["count"] == 2
    c = by_id["car7"]
    assert (c["identity"], c["online"], c["persistent"], c["transport"], c["listener"]) == ("car7", True, True, "mqtt", 0)
    assert c["address"].startswith("127.0.0.1:") and c["connected_since"].endswith("Z")
    assert c["subscriptions"] == [{"filter": "devices/car7/commands", "qos": 1}]
    assert by_id["dispatch-1"]["identity"] == "dispatch" and not by_id["dispatch-1"]["persistent"]
    assert call(v.http_port, "GET", "/api/v1/admin/clients?limit=1", ops)[1]["count"] == 1
    assert call(v.http_port, "GET", "/api/v1/admin/clients?limit=0", ops)[0] == 400
    # Offline, with two commands queued for it.
    car7.stop()
    for n in range(2):
        disp.publish("devices/car7/commands", f"cmd {n}", 1)
    status, s = call(v.http_port, "GET", "/api/v1/admin/sessions/car7", ops)
    assert status == 200 and (s["online"], s["persistent"], s["queued"], s["identity"]) == (False, True, 2, "car7"), s
    assert "address" not in s
    assert call(v.http_port, "GET", "/api/v1/admin/sessions/nobody", ops)[0] == 404
    status, body = call(v.http_port, "GET", "/api/v1/admin/sessions/bad%00id", ops)
    assert status == 400 and "escape" in body["error"]["message"], body
    assert v.wait_for_log(r"admin: GET /api/v1/admin/sessions/car7 by 127\.0\.0\.1:\d+ \(token 'ops'\): 200")
    disp.stop()


def test_disconnect_publishes_the_will_and_can_discard_the_session(site):
    v, secrets, _ = site
    ops = secrets["ops"]
    watcher = Paho(v.port, "dispatch-1", username="dispatch", password="pwd")
    watcher.subscribe("devices/+/status", 1)
    car7 = Paho(v.port, "car7", clean_session=False, username="car7", password="pw7", will=("devices/car7/status", "offline", 1, False))
    assert car7.subscribe("devices/car7/commands", 1) == (1,)
    status, body = call(v.http_port, "DELETE", "/api/v1/admin/clients/car7", ops)
    assert (status, body) == (200, {"client_id": "car7", "disconnected": True, "session_discarded": False})
    assert car7.disconnected.wait(5)
    m = watcher.get()
    assert (m.topic, m.payload) == ("devices/car7/status", b"offline")
    assert v.wait_for_log(r"client 'car7' .*disconnected: admin")
    s = parse(scrape_ok(v.http_port, ops))
    assert value(s, "vigil_mqtt_disconnects_total", reason="admin") == 1
    # The persistent session stayed; now discard it (offline).
    car7.stop(graceful=False)
    assert call(v.http_port, "GET", "/api/v1/admin/sessions/car7", ops)[1]["persistent"]
    status, body = call(v.http_port, "DELETE", "/api/v1/admin/clients/car7?discard_session=true", ops)
    assert status == 200 and body["session_discarded"] is True
    assert call(v.http_port, "GET", "/api/v1/admin/sessions/car7", ops)[0] == 404
    back = Paho(v.port, "car7", clean_session=False, username="car7", password="pw7")
    assert back.connack == (0, 0)  # no session present
    back.stop()
    assert call(v.http_port, "DELETE", "/api/v1/admin/clients/nobody", ops)[0] == 404
    assert call(v.http_port, "DELETE", "/api/v1/admin/clients/car7?discard_session=yes", ops)[0] == 400
    assert call(v.http_port, "POST", "/api/v1/admin/clients/car7", ops)[0] == 405
    watcher.stop()


def test_retained_messages_are_browsed_and_deleted_for_good(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    ops = issue(vigil_binary, tokens, "ops", "--admin")
    dash = issue(vigil_binary, tokens, "dash", "--subscribe", "devices/#")
    data = tmp_path / "data"
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\n', data_dir=str(data))
    pub = Paho(v.port, "car")
    pub.publish("devices/car7/status", '{"battery": 71}', 1, retain=True)
    pub.publish("devices/car8/status", "plain text", 1, retain=True)
    pub.stop()
    status, body = call(v.http_port, "GET", "/api/v1/admin/retained?topic=devices/%2B/status", ops)
    assert status == 200, body
    assert body["retained"] == [{"topic": "devices/car7/status", "qos": 1, "payload": {"battery": 71}},
                                {"topic": "devices/car8/status", "qos": 1, "payload": "plain text"}]
    watcher = Paho(v.port, "watcher")
    watcher.subscribe("devices/car7/+", 1)
    assert watcher.get().payload == b'{"battery": 71}'
    assert call(v.http_port, "DELETE", "/api/v1/admin/retained?topic=devices/car7/status", ops) == (200, {"deleted": "devices/car7/status"})
    # Nothing is delivered: the next message the watcher sees is the next one published.
    Paho(v.port, "car7").publish("devices/car7/events", "after", 1)
    assert watcher.get().payload == b"after"
    # The last value stays (the device's status is still known), and so does the history.
    status, device = call(v.http_port, "GET", "/api/v1/devices/car7", dash)
    assert status == 200 and device["values"]["status"]["payload"] == {"battery": 71}, device
    assert call(v.http_port, "DELETE", "/api/v1/admin/retained?topic=devices/car7/status", ops)[0] == 404
    for bad in ("devices/%2B/status", "%23", "%24SYS/broker/version", ""):
        assert call(v.http_port, "DELETE", f"/api/v1/admin/retained?topic={bad}", ops)[0] == 400, bad
    watcher.stop()
    assert v.stop() == 0
    again = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\n', data_dir=str(data))
    body = call(again.http_port, "GET", "/api/v1/admin/retained?topic=%23", ops)[1]
    assert [r["topic"] for r in body["retained"]] == ["devices/car8/status"]


def test_a_revoked_token_closes_its_dashboard_and_leaves_the_file(site, vigil_binary):
    v, secrets, tokens = site
    ops = secrets["ops"]
    status, body = call(v.http_port, "GET", "/api/v1/admin/tokens", ops)
    assert status == 200 and "sha256" not in json.dumps(body)
    assert {t["name"]: (t["admin"], t["subscribe"], t["publish"], t["source"]) for t in body["tokens"]} == {
        "dash": (False, ["devices/#"], [], "tokens_file"), "ops": (True, [], [], "tokens_file"), "wide": (False, ["#"], ["#"], "tokens_file")}

    async def run():
        url = f"ws://127.0.0.1:{v.http_port}/ws?access_token="
        async with websockets.connect(url + secrets["dash"]) as d, websockets.connect(url + secrets["wide"]) as w:
            for ws in (d, w):
                await request(ws, op="subscribe", id="s", filters=["devices/#"])
                await next_op(ws, "snapshot")
            status, body = await asyncio.to_thread(call, v.http_port, "DELETE", "/api/v1/admin/tokens/dash", ops)
            assert (status, body) == (200, {"revoked": "dash"})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(d.recv(), 10)
            assert closed.value.code == 1008
            await request(w, op="ping", id="p")
            assert (await next_op(w, "pong"))[0]["id"] == "p"
    asyncio.run(run())
    assert call(v.http_port, "GET", "/api/v1/devices", secrets["dash"])[0] == 401
    assert "dash " not in tokens.read_text() and "wide " in tokens.read_text()
    assert call(v.http_port, "DELETE", "/api/v1/admin/tokens/dash", ops)[0] == 404
    assert v.wait_for_log(r"admin: DELETE /api/v1/admin/tokens/dash by 127\.0\.0\.1:\d+ \(token 'ops'\): 200")


def test_an_inline_token_is_not_revoked_through_the_api(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    ops = issue(vigil_binary, tokens, "ops", "--admin")
    line = subprocess.run([vigil_binary, "token", str(tmp_path / "other"), "inline1"], capture_output=True, text=True, check=True)
    inline = (tmp_path / "other").read_text().strip()
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\ntokens = ["{inline}"]\n')
    status, body = call(v.http_port, "DELETE", "/api/v1/admin/tokens/inline1", ops)
    assert status == 409 and "inline" in body["error"]["message"], body
    status, body = call(v.http_port, "GET", "/healthz", line.stdout.strip())
    assert status == 200 and "store" in body  # still a valid token: the full answer


def test_vigil_token_refuses_a_duplicate_name_lists_and_revokes(vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    issue(vigil_binary, tokens, "dash", "--subscribe", "devices/#")
    issue(vigil_binary, tokens, "ops", "--admin")
    dup = subprocess.run([vigil_binary, "token", str(tokens), "dash"], capture_output=True, text=True)
    assert dup.returncode == 1 and "already has a token named 'dash'" in dup.stderr, dup.stderr
    listed = subprocess.run([vigil_binary, "token", "--list", str(tokens)], capture_output=True, text=True)
    assert listed.returncode == 0
    rows = [line.split()[:2] for line in listed.stdout.splitlines()[1:]]
    assert rows == [["dash", "no"], ["ops", "yes"]], listed.stdout
    assert "sha256" not in listed.stdout
    gone = subprocess.run([vigil_binary, "token", "--revoke", str(tokens), "dash"], capture_output=True, text=True)
    assert gone.returncode == 0 and "removed" in gone.stderr
    assert "dash " not in tokens.read_text() and "ops " in tokens.read_text()
    again = subprocess.run([vigil_binary, "token", "--revoke", str(tokens), "dash"], capture_output=True, text=True)
    assert again.returncode == 1 and "no token named 'dash'" in again.stderr
    # A file with a name twice (edited by hand) is refused with both lines named.
    tokens.write_text(tokens.read_text() + "ops sha256:" + "0" * 64 + "\n")
    check = subprocess.run([vigil_binary, "token", "--list", str(tokens)], capture_output=True, text=True)
    assert check.returncode == 1 and "token name 'ops' is already used on line 1" in check.stderr, check.stderr


def test_every_admin_call_is_audited_and_secrets_stay_out_of_the_log(site):
    v, secrets, _ = site
    ops = secrets["ops"]
    for method, path, status in (("POST", "/api/v1/admin/clients", 405), ("GET", "/api/v1/admin/clients?limit=0", 400),
                                 ("GET", "/api/v1/admin/nope", 404), ("GET", "/api/v1/admin/clients?limit=1&limit=2", 400)):
        assert call(v.http_port, method, path, ops)[0] == status, path
        assert v.wait_for_log(rf"admin: {method} {path.replace('?', '[?]')} by 127\.0\.0\.1:\d+ \(token 'ops'\): {status}"), path
    assert call(v.http_port, "GET", f"/api/v1/admin/clients?access_token={ops}&limit=5")[0] == 200
    assert v.wait_for_log(r"admin: GET /api/v1/admin/clients\?access_token=\*\*\*&limit=5 by .*: 200")
    assert not any(ops in line for line in v.lines)


def test_the_first_clients_by_id_are_listed_with_the_total(site):
    v, secrets, _ = site
    cars = [Paho(v.port, f"car{n}", username=f"car{n}", password=f"pw{n}") for n in (8, 7)]
    disp = [Paho(v.port, f"dispatch-{n:02}", username="dispatch", password="pwd") for n in range(6)]
    status, body = call(v.http_port, "GET", "/api/v1/admin/clients?limit=3", secrets["ops"])
    assert status == 200 and [c["client_id"] for c in body["clients"]] == ["car7", "car8", "dispatch-00"], body
    assert (body["count"], body["total"], body["complete"]) == (3, 8, True)
    for c in cars + disp:
        c.stop()


def test_the_last_admin_token_is_not_revoked(site):
    v, secrets, _ = site
    status, body = call(v.http_port, "DELETE", "/api/v1/admin/tokens/ops", secrets["ops"])
    assert status == 409 and "last admin token" in body["error"]["message"], body
    assert call(v.http_port, "GET", "/api/v1/admin/tokens", secrets["ops"])[0] == 200


def test_concurrent_revocations_and_issues_all_take_effect(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    ops = issue(vigil_binary, tokens, "ops", "--admin")
    names = [f"t{n:02}" for n in range(30)]
    for n in names:
        issue(vigil_binary, tokens, n)
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\n')
    by_api, by_cli = names[::2], names[1::2]
    failures = []

    def api():
        for n in by_api:
            status, body = call(v.http_port, "DELETE", f"/api/v1/admin/tokens/{n}", ops)
            if status != 200:
                failures.append((n, status, body))

    def cli():
        for n in by_cli:
            r = subprocess.run([vigil_binary, "token", "--revoke", str(tokens), n], capture_output=True, text=True)
            if r.returncode != 0:
                failures.append((n, r.stderr))
        for n in range(10):
            issue(vigil_binary, tokens, f"new{n}")
    threads = [threading.Thread(target=api), threading.Thread(target=cli)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    left = {line.split()[0] for line in tokens.read_text().splitlines() if line.strip()}
    assert left == {"ops"} | {f"new{n}" for n in range(10)}, sorted(left)
    v.proc.send_signal(__import__("signal").SIGHUP)
    assert v.wait_for_log(r"reload: API tokens: 11")
    listed = {t["name"] for t in call(v.http_port, "GET", "/api/v1/admin/tokens", ops)[1]["tokens"]}
    assert listed == left


def test_a_revocation_keeps_the_file_s_mode_owner_and_symlink(start_vigil, vigil_binary, tmp_path):
    real = tmp_path / "real-tokens"
    ops = issue(vigil_binary, real, "ops", "--admin")
    issue(vigil_binary, real, "dash")
    os.chmod(real, 0o640)
    os.chown(real, 0, 65534)
    link = tmp_path / "tokens"
    link.symlink_to(real)
    v = start_vigil(2, f'[http]\ntokens_file = "{link}"\n')
    assert call(v.http_port, "DELETE", "/api/v1/admin/tokens/dash", ops)[0] == 200
    assert link.is_symlink() and "dash " not in real.read_text()
    st = os.stat(real)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, 65534)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".real-tokens")] == []  # no temporary file left


def test_without_tokens_the_admin_api_answers_only_local_non_browser_requests(start_vigil):
    v = start_vigil(2)

    def ask(headers):
        c = http.client.HTTPConnection("127.0.0.1", v.http_port, timeout=10)
        c.request("GET", "/api/v1/admin/clients", headers=headers)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    assert ask({}) == 200  # Host: 127.0.0.1:PORT
    assert ask({"Host": f"localhost:{v.http_port}"}) == 200
    assert ask({"Host": "attacker.example"}) == 403  # a rebound DNS name
    assert ask({"Host": "127.attacker.example"}) == 403
    assert ask({"Origin": "http://attacker.example"}) == 403  # a page of another site
    assert ask({"Origin": f"http://127.0.0.1:{v.http_port}"}) == 403  # any browser page
