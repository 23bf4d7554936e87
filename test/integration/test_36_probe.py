"""The end-to-end probe: Vigil connects to its own listeners as a real MQTT client and /ws
dashboard, through TLS, passwords, the ACL and API tokens like any device or browser; its
latency and verdict show in /metrics and /healthz, and a change of verdict logs one line."""
import http.client
import json
import ssl
import time

import mqtt_raw as raw
from pki import make_pki
from test_07_auth import make_users
from test_19_tokens import issue
from prom import parse, scrape_ok, value

FAST = 'probe.interval = "100ms"\n'


def healthz(port, token=None, ctx=None):
    c = (http.client.HTTPSConnection("localhost", port, timeout=10, context=ctx) if ctx
         else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    c.request("GET", "/healthz", headers={"Authorization": f"Bearer {token}"} if token else {})
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return r.status, body


def until_probe(port, want, token=None, ctx=None, timeout=20):
    """Polls /healthz until its probe field starts with `want`."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = healthz(port, token, ctx)
        if body["probe"].startswith(want):
            return status, body
        assert time.monotonic() < deadline, f"probe not '{want}' within {timeout} s: {body}"
        time.sleep(0.05)


def test_the_probe_measures_every_path_on_an_open_loopback_site(start_vigil):
    v = start_vigil(2, '[archive]\nflush_interval = "50ms"\n', top=FAST)
    status, body = until_probe(v.http_port, "ok")
    assert status == 200 and body["status"] == "ok"
    deadline = time.monotonic() + 20
    while True:
        s = parse(scrape_ok(v.http_port))
        if value(s, "vigil_probe_rounds_total") >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert value(s, "vigil_probe_failures_total") == 0
    assert value(s, "vigil_probe_healthy") == 1
    for path in ("mqtt", "ws", "history"):
        assert value(s, "vigil_probe_latency_seconds_count", path=path) >= 3
        assert 0 < value(s, "vigil_probe_last_latency_seconds", path=path) < 1
    # It went through the front door like a client (a CONNECT accepted each round), and its
    # traffic is counted apart from the users'.
    assert value(s, "vigil_connects_total") >= 3
    assert value(s, "vigil_mqtt_messages_received_total", transport="probe", qos="1") >= 3
    assert value(s, "vigil_mqtt_messages_received_total", transport="mqtt", qos="1") == 0
    assert v.wait_for_log(r"probe: ok \(publish -> MQTT [0-9.]+ ms, -> /ws [0-9.]+ ms, -> history [0-9.]+ ms\)", timeout=1)
    # The probe's topic is archived with the configured ones, and readable like them.
    assert v.wait_for_log(r"archive .*: keeping devices/\+/location, devices/\+/status, devices/\+/events, vigil/probe ", timeout=1)


def test_an_archive_that_does_not_write_makes_the_probe_degraded(start_vigil):
    """The compactor waits for free disk (min_free_disk beyond any disk): the probe's message
    never becomes readable, and the probe names the history path."""
    v = start_vigil(2, '[archive]\nflush_interval = "50ms"\nmin_free_disk = "512TiB"\n', top=FAST)
    _, body = until_probe(v.http_port, "degraded", timeout=30)
    assert "history: not readable 10050 ms after its publish" in body["probe"]
    s = parse(scrape_ok(v.http_port))
    assert value(s, "vigil_probe_failures_total") >= 1
    assert value(s, "vigil_probe_latency_seconds_count", path="history") == 0
    assert value(s, "vigil_probe_latency_seconds_count", path="mqtt") >= 1


def test_without_an_archive_the_probe_has_no_history_path(start_vigil):
    v = start_vigil(2, '[archive]\ntopics = []\n', top=FAST)
    until_probe(v.http_port, "ok")
    s = parse(scrape_ok(v.http_port))
    assert ("vigil_probe_latency_seconds_count", frozenset({("path", "history")})) not in s


def secured_probe(start_vigil, vigil_binary, tmp_path, password, acl_topic="vigil/probe"):
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"probe": "probe-secret", "car-1": "car-pass"})
    (tmp_path / "acl").write_text(f"user probe\ntopic readwrite {acl_topic}\nuser car-1\ntopic readwrite devices/car-1/#\n")
    tokens = tmp_path / "tokens"
    token = issue(vigil_binary, tokens, "probe", "--subscribe", "vigil/probe")
    admin = issue(vigil_binary, tokens, "ops", "--subscribe", "#")
    top = (f'{FAST}probe.username = "probe"\nprobe.password = "{password}"\nprobe.token = "{token}"\n')
    v = start_vigil(2, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\nacl_file = "{tmp_path / "acl"}"\n'
                       f'[http]\ntokens_file = "{tokens}"\n', top=top)
    return v, admin


def test_the_probe_logs_in_with_its_own_identity_and_token(start_vigil, vigil_binary, tmp_path):
    v, admin = secured_probe(start_vigil, vigil_binary, tmp_path, "probe-secret")
    status, body = until_probe(v.http_port, "ok", token=admin)
    assert status == 200 and body["status"] == "ok"
    # A request without a token learns only the verdict.
    assert healthz(v.http_port) == (200, {"status": "ok"})


def test_nobody_else_may_take_the_probes_client_id(start_vigil, vigil_binary, tmp_path):
    v, admin = secured_probe(start_vigil, vigil_binary, tmp_path, "probe-secret")
    until_probe(v.http_port, "ok", token=admin)
    # A device with its own valid login asks for the probe's client id, persistent session and
    # all: refused, so it can neither block the probe nor hide its traffic as the probe's.
    c = raw.RawClient(v.port)
    c.send(raw.connect("vigil-probe", clean=False, username="car-1", password="car-pass"))
    p = c.recv_packet()
    assert p.type == 2 and p.body[1] == 5
    assert v.wait_for_log(r"client id 'vigil-probe' is reserved for Vigil's end-to-end probe", timeout=5)
    s = parse(scrape_ok(v.http_port, token=admin))
    rounds = value(s, "vigil_probe_rounds_total")
    deadline = time.monotonic() + 20
    while value(s, "vigil_probe_rounds_total") < rounds + 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        s = parse(scrape_ok(v.http_port, token=admin))
    assert value(s, "vigil_probe_healthy") == 1


def test_a_refused_login_degrades_and_says_why_once(start_vigil, vigil_binary, tmp_path):
    v, admin = secured_probe(start_vigil, vigil_binary, tmp_path, "wrong-password")
    status, body = until_probe(v.http_port, "degraded", token=admin)
    # Degraded, not failing: a load balancer keeps the node (the store is fine).
    assert status == 200 and body["status"] == "degraded"
    assert "CONNACK refused with code 4" in body["probe"]
    assert healthz(v.http_port) == (200, {"status": "degraded"})
    s = parse(scrape_ok(v.http_port, token=admin))
    assert value(s, "vigil_probe_healthy") == 0
    assert value(s, "vigil_probe_failures_total") >= 1
    # Rounds go on failing; the log says it once.
    deadline = time.monotonic() + 20
    while value(s, "vigil_probe_rounds_total") < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        s = parse(scrape_ok(v.http_port, token=admin))
    assert len([l for l in v.lines if "probe: degraded" in l]) == 1


def test_an_acl_without_the_probe_topic_is_named(start_vigil, vigil_binary, tmp_path):
    v, admin = secured_probe(start_vigil, vigil_binary, tmp_path, "probe-secret", acl_topic="elsewhere/#")
    _, body = until_probe(v.http_port, "degraded", token=admin)
    assert "SUBSCRIBE to 'vigil/probe' refused" in body["probe"]


def test_the_probe_uses_tls_with_a_client_certificate_when_devices_do(start_vigil, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    tls = (f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n'
           f'tls.ca = "{pki / "ca.crt"}"\ntls.require_certificate = true\n')
    top = f'{FAST}probe.ca = "{pki / "ca.crt"}"\nprobe.cert = "{pki / "car7.crt"}"\nprobe.key = "{pki / "car7.key"}"\n'
    v = start_vigil(2, tls, top=top, http=f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n')
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    until_probe(v.http_port, "ok", ctx=ctx)
    s = parse(scrape_ok(v.http_port, ctx=ctx))
    assert value(s, "vigil_mqtt_messages_received_total", transport="probe", qos="1") >= 1
    assert value(s, "vigil_mqtt_received_bytes_total", transport="mqtt-tls") > 0  # its TLS handshake came first


def test_a_probe_that_does_not_trust_the_certificate_says_so(start_vigil, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    tls = f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n'
    v = start_vigil(2, tls, top=f'{FAST}probe.ca = "{pki / "other-ca.crt"}"\n')
    _, body = until_probe(v.http_port, "degraded")
    assert "MQTT: TLS handshake" in body["probe"] and "certificate verify failed" in body["probe"]
