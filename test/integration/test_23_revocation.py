"""Revocation reaches open connections (issue 12, point 6): after SIGHUP, an ACL change stops
what open and persistent sessions receive, a revoked certificate or a removed or changed
password closes its connections, a removed token closes its dashboards; a CRL near or past its
next-update date is reported, and a refused handshake says why. Each test keeps a control
connection that must be unaffected."""
import asyncio
import signal
import subprocess

import websockets

import mqtt_raw as raw
from pki import make_crl, make_pki
from test_07_auth import make_users
from test_09_tls import TlsRaw, tls_client
from test_18_push import next_op, request
from test_19_tokens import issue
from test_22_authorization import (ACL, connected, leave, publish_acked, received_until, resume, secured, suback,
                                   until_pingresp)


def reload(v):
    """SIGHUP, then waits for this reload's "reload done" (the shards run the re-checks it
    posted before anything a test sends afterwards)."""
    def done():
        return sum("reload done" in line for line in v.lines)
    with v._cond:
        before = done()
    v.proc.send_signal(signal.SIGHUP)
    with v._cond:
        assert v._cond.wait_for(lambda: done() > before, timeout=10)


def test_an_acl_change_reaches_open_and_persistent_sessions(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, workers=2)
    live = connected(v.port, "dispatcher", "dispatcher")
    assert suback(live, 1, ("devices/+/status", 1)) == b"\x01"
    away = connected(v.port, "dispatcher-away", "dispatcher", clean=False)
    assert suback(away, 1, ("devices/+/status", 1)) == b"\x01"
    car1 = connected(v.port, "car-1", "car-1")
    car2 = connected(v.port, "car-2", "car-2")
    publish_acked(car2, "devices/car-2/status", "before", 1)
    assert received_until(live, "devices/car-2/status") == ["devices/car-2/status"]
    assert received_until(away, "devices/car-2/status") == ["devices/car-2/status"]
    leave(away)
    # The dispatcher may no longer read car-2.
    (tmp_path / "acl").write_text(ACL + "user dispatcher\ntopic deny devices/car-2/#\n")
    reload(v)
    assert v.wait_for_log(r"client 'dispatcher' \(identity 'dispatcher'\): 1 of 1 subscriptions limited by the ACL")
    publish_acked(car2, "devices/car-2/status", "after", 2)
    publish_acked(car1, "devices/car-1/status", "marker", 1)
    assert received_until(live, "devices/car-1/status") == ["devices/car-1/status"]
    away = resume(v.port, "dispatcher-away", "dispatcher")
    assert until_pingresp(away) == ["devices/car-1/status"]


def test_a_queued_message_no_longer_readable_is_dropped_on_reload(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, workers=2)
    away = connected(v.port, "dispatcher-away", "dispatcher", clean=False)
    assert suback(away, 1, ("devices/+/status", 1)) == b"\x01"
    leave(away)
    car1 = connected(v.port, "car-1", "car-1")
    car2 = connected(v.port, "car-2", "car-2")
    publish_acked(car2, "devices/car-2/status", "queued before", 1)
    publish_acked(car1, "devices/car-1/status", "queued too", 1)
    (tmp_path / "acl").write_text(ACL + "user dispatcher\ntopic deny devices/car-2/#\n")
    reload(v)
    assert v.wait_for_log(r"client 'dispatcher-away' .* 1 queued messages no longer readable dropped")
    away = resume(v.port, "dispatcher-away", "dispatcher")
    assert until_pingresp(away) == ["devices/car-1/status"]


def test_a_revoked_certificate_closes_its_connection(start_vigil, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    crl = make_crl(pki, "ca", revoked=())
    v = start_vigil(2, f"""
[[listener]]
bind = "127.0.0.1"
port = 0
allow_anonymous = false
tls.cert = "{pki / 'server.crt'}"
tls.key = "{pki / 'server.key'}"
tls.ca = "{pki / 'ca.crt'}"
tls.crl = "{crl}"
tls.require_certificate = true
tls.use_identity_as_username = true
""")
    car7 = TlsRaw(tls_client(pki, "car7", v.tls_port))
    assert car7.connect("car7", will=("devices/car7/status", "offline", 0, False)).body[1] == 0
    car8 = TlsRaw(tls_client(pki, "car8", v.tls_port))
    assert car8.connect("car8").body[1] == 0
    watch = raw.RawClient(v.port)
    assert watch.connect("watch").body[1] == 0
    assert suback(watch, 1, ("devices/+/status", 0)) == b"\x00"
    make_crl(pki, "ca", revoked=("car7",))
    reload(v)
    assert car7.closed_by_peer()
    assert v.wait_for_log(r"closing the connection of client 'car7' \(identity 'car7'\): its client certificate no longer verifies: certificate revoked")
    car8.send(raw.PINGREQ)
    assert car8.recv_packet().type == 13  # the other device stays
    # The revoked device's will is not published, and it cannot come back.
    car8.send(raw.publish("devices/car8/status", "marker"))
    assert received_until(watch, "devices/car8/status") == ["devices/car8/status"]
    try:
        again = TlsRaw(tls_client(pki, "car7", v.tls_port))
        again.send(raw.connect("car7"))
        again.recv_packet()
        refused = False
    except (OSError, ConnectionError):
        refused = True
    assert refused
    assert v.wait_for_log(r"TLS handshake failed: client certificate refused: certificate revoked")


def test_a_crl_near_or_past_its_next_update_is_reported(start_vigil, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    crl = make_crl(pki, "ca", days=2)
    v = start_vigil(1, f"""
[[listener]]
bind = "127.0.0.1"
port = 0
tls.cert = "{pki / 'server.crt'}"
tls.key = "{pki / 'server.key'}"
tls.ca = "{pki / 'ca.crt'}"
tls.crl = "{crl}"
""")
    assert v.wait_for_log(r"ca\.crl: the CRL's next-update date is in [12] days")
    make_crl(pki, "ca", days=-1)
    reload(v)
    assert v.wait_for_log(r"ca\.crl: the CRL's next-update date has passed")


def test_a_removed_or_changed_password_closes_its_connections(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, workers=2)
    car1 = connected(v.port, "car-1", "car-1")
    car2 = connected(v.port, "car-2", "car-2")
    disp = connected(v.port, "dispatcher", "dispatcher")
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"car-1": "a-new-password"})       # changed
    r = subprocess.run([vigil_binary, "passwd", "-D", str(pw), "car-2"], capture_output=True)
    assert r.returncode == 0                                        # removed
    reload(v)
    assert car1.closed_by_peer() and car2.closed_by_peer()
    assert v.wait_for_log(r"closing the connection of client 'car-1' \(identity 'car-1'\): the password of user 'car-1' was removed or changed")
    disp.send(raw.PINGREQ)
    assert disp.recv_packet().type == 13


def test_a_removed_token_closes_its_dashboards(start_vigil, tmp_path, vigil_binary):
    tokens = tmp_path / "tokens"
    doomed = issue(vigil_binary, tokens, "doomed", "--subscribe", "devices/#")
    kept = issue(vigil_binary, tokens, "kept", "--subscribe", "devices/#")
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\n')

    async def run():
        url = f"ws://127.0.0.1:{v.http_port}/ws?access_token="
        async with websockets.connect(url + doomed) as d, websockets.connect(url + kept) as k:
            for ws in (d, k):
                await request(ws, op="subscribe", id="s", filters=["devices/#"])
                await next_op(ws, "snapshot")
            lines = [l for l in tokens.read_text().splitlines() if not l.startswith("doomed ")]
            tokens.write_text("\n".join(lines) + "\n")
            v.proc.send_signal(signal.SIGHUP)
            try:
                while True:
                    await asyncio.wait_for(d.recv(), 10)
            except websockets.ConnectionClosed as e:
                assert e.code == 1008
            await request(k, op="ping", id="p")
            assert (await next_op(k, "pong"))[0]["id"] == "p"
    asyncio.run(run())
    assert v.wait_for_log(r"closing a dashboard using token 'doomed': the token was removed \(1008\)")
