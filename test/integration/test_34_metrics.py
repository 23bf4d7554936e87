"""GET /metrics: Prometheus' text format (checked by Debian's promtool), counters that follow what
clients do, behind an API token when tokens are configured, the expiry of every served TLS
file, the archive's progress, and Debian's prometheus scraping a running Vigil."""
import asyncio
import datetime
import http.client
import json
import re
import socket
import ssl
import subprocess
import time

import pytest
import websockets
from cryptography import x509

import mqtt_raw as raw
from clients import MosquittoSub, Paho
from pki import make_crl, make_pki
from prom import parse, scrape, scrape_ok, value
from test_07_auth import make_users
from test_19_tokens import issue
from test_18_push import next_op, request
from test_20_mqtt_ws import WsRaw

def promtool_accepts(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    # promtool prints lint findings (names, units, counters without _total) and still exits 0
    # for some of them: there must be none.
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


def test_counters_follow_traffic_and_promtool_accepts_the_format(start_vigil):
    v = start_vigil(2)
    text = scrape_ok(v.http_port)
    promtool_accepts(text)
    before = parse(text)
    assert value(before, "vigil_build_info", version=re.search(r'version="([^"]+)"', text).group(1)) == 1
    assert value(before, "process_resident_memory_bytes") > 1 << 20
    assert value(before, "process_open_fds") > 3
    assert value(before, "vigil_store_up") == 1
    assert value(before, "vigil_shards_unresponsive") == 0

    sub = MosquittoSub(v.port, "fleet/#", qos=1, count=25)
    pub = Paho(v.port, "metrics-pub")
    for i in range(25):
        pub.publish(f"fleet/car-{i}", f"p{i}", 1)
    assert len(sub.messages()) == 25
    pub.stop()
    after = parse(scrape_ok(v.http_port))

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("vigil_messages_received_total") == 25
    assert delta("vigil_messages_delivered_total") == 25
    assert delta("vigil_connects_total") == 2
    assert delta("vigil_messages_dropped_total", reason="slow_client") == 0
    # The histogram's +Inf bucket is its count, and the buckets never decrease.
    h = "vigil_store_commit_duration_seconds"
    assert value(after, h + "_bucket", le="+Inf") == value(after, h + "_count")
    buckets = sorted(((float(dict(k[1])["le"]), val) for k, val in after.items() if k[0] == h + "_bucket"))
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    assert value(after, "process_cpu_seconds_total") >= value(before, "process_cpu_seconds_total")
    # Each of the 2 shards reports its loop: its thread used CPU, and its 250 ms heartbeat runs.
    for shard in ("0", "1"):
        assert value(after, "vigil_shard_cpu_seconds_total", shard=shard) > 0
    assert ("vigil_shard_loop_lag_seconds_count", frozenset({("shard", "2")})) not in after
    deadline = time.monotonic() + 10
    while min(value(after, "vigil_shard_loop_lag_seconds_count", shard=s) for s in ("0", "1")) < 2:
        assert time.monotonic() < deadline, "no shard heartbeat within 10 s"
        time.sleep(0.05)
        after = parse(scrape_ok(v.http_port))


def until_metrics(port, check, what, timeout=10):
    """Scrapes until check(samples) holds (the broker counts a disconnect when it sees it)."""
    deadline = time.monotonic() + timeout
    while True:
        s = parse(scrape_ok(port))
        if check(s):
            return s
        assert time.monotonic() < deadline, f"no {what} within {timeout} s: " + repr({k: v for k, v in s.items() if k[0].startswith("vigil_mqtt")})
        time.sleep(0.05)


def test_traffic_by_transport_and_qos_and_disconnects_by_reason(start_vigil):
    v = start_vigil(2)
    before = parse(scrape_ok(v.http_port))

    def grew(s, name, **labels):
        return value(s, name, **labels) - value(before, name, **labels)

    # Plain MQTT: QoS 0, 1 and 2 in, QoS 1 out; a DISCONNECT is a clean end.
    sub = Paho(v.port, "by-transport-sub")
    sub.subscribe("fleet/#", 1)
    pub = Paho(v.port, "by-transport-pub")
    for q in (0, 1, 1, 2, 2, 2):
        pub.publish("fleet/car", "x" * 100, q)
    sub.expect(6)
    s = until_metrics(v.http_port, lambda s: grew(s, "vigil_mqtt_messages_received_total", transport="mqtt", qos="2") == 3, "QoS 2 count")
    assert [grew(s, "vigil_mqtt_messages_received_total", transport="mqtt", qos=q) for q in "012"] == [1, 2, 3]
    # Delivered at min(published, granted 1): one QoS 0 and five QoS 1.
    assert [grew(s, "vigil_mqtt_messages_sent_total", transport="mqtt", qos=q) for q in "012"] == [1, 5, 0]
    assert grew(s, "vigil_mqtt_received_bytes_total", transport="mqtt") > 600
    assert grew(s, "vigil_mqtt_sent_bytes_total", transport="mqtt") > 600
    assert value(s, "vigil_mqtt_connections", transport="mqtt") == 2
    assert value(s, "vigil_mqtt_connections", transport="mqtt-ws") == 0
    assert value(s, "vigil_mqtt_listener_connections", listener=f"127.0.0.1:{v.port}", tls="false") == 2
    pub.stop()
    until_metrics(v.http_port, lambda s: grew(s, "vigil_mqtt_disconnects_total", reason="clean") == 1, "clean disconnect")

    # A takeover by the same client id, garbage (a protocol error), a dropped socket.
    again = Paho(v.port, "by-transport-sub")
    bad = raw.RawClient(v.port)
    bad.send(b"\xff\x00")
    assert bad.closed_by_peer()
    lost = raw.RawClient(v.port)
    lost.connect("lost-one")
    lost.close()
    s = until_metrics(v.http_port, lambda s: grew(s, "vigil_mqtt_disconnects_total", reason="connection_lost") == 1, "lost connection")
    assert grew(s, "vigil_mqtt_disconnects_total", reason="takeover") == 1
    assert grew(s, "vigil_mqtt_disconnects_total", reason="protocol_error") == 1
    assert grew(s, "vigil_mqtt_disconnects_total", reason="keepalive_timeout") == 0

    # MQTT over WebSocket is its own transport.
    ws = WsRaw(v.http_port)
    ws.connect("by-transport-ws")
    ws.send(raw.publish("fleet/ws", b"hello", qos=0))
    s = until_metrics(v.http_port, lambda s: grew(s, "vigil_mqtt_messages_received_total", transport="mqtt-ws", qos="0") == 1, "WebSocket publish")
    assert value(s, "vigil_mqtt_connections", transport="mqtt-ws") == 1
    assert value(s, "vigil_mqtt_listener_connections", listener=f"127.0.0.1:{v.port}", tls="false") == 1  # /mqtt is not an MQTT listener's
    assert grew(s, "vigil_mqtt_received_bytes_total", transport="mqtt-ws") > 0
    assert grew(s, "vigil_mqtt_messages_received_total", transport="mqtt", qos="0") == 1  # unchanged
    ws.close()
    again.stop()


def test_dashboards_are_counted(start_vigil):
    v = start_vigil(2)

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{v.http_port}/ws") as ws:
            await request(ws, op="subscribe", id="s", filters=["devices/+/status"])
            await next_op(ws, "snapshot")
            assert value(parse(scrape_ok(v.http_port)), "vigil_ws_connections") == 1
            pub = Paho(v.port, "ws-metrics-pub")
            for i in range(5):
                pub.publish(f"devices/car-{i}/status", "online", 1)
            pub.stop()
            for _ in range(5):
                await next_op(ws, "message")
        s = parse(scrape_ok(v.http_port))
        assert value(s, "vigil_ws_messages_sent_total") == 5
        assert value(s, "vigil_ws_closed_too_slow_total") == 0
    asyncio.run(run())
    until_metrics(v.http_port, lambda s: value(s, "vigil_ws_connections") == 0, "the dashboard's close counted")


def test_metrics_need_a_token_when_tokens_are_configured(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    scraper = issue(vigil_binary, tokens, "prometheus", "--subscribe", "devices/+/status")
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\n')
    status, _, body = scrape(v.http_port)
    assert status == 401 and "token" in body
    status, _, body = scrape(v.http_port, token="not-" + scraper)
    assert status == 401
    promtool_accepts(scrape_ok(v.http_port, token=scraper))


def not_after(path):
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()


def test_every_served_tls_file_reports_when_it_expires(start_vigil, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    make_crl(pki, "ca", days=7)
    crl = x509.load_pem_x509_crl((pki / "ca.crl").read_bytes())
    tls = (f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n'
           f'tls.ca = "{pki / "ca.crt"}"\ntls.crl = "{pki / "ca.crl"}"\n')
    v = start_vigil(2, tls, http=f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n')
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    text = scrape_ok(v.http_port, ctx=ctx)
    promtool_accepts(text)
    s = parse(text)
    name = "vigil_tls_expiry_timestamp_seconds"
    # The server certificate is served by both listeners and reported once.
    assert value(s, name, kind="certificate", file=str(pki / "server.crt")) == not_after(pki / "server.crt")
    assert value(s, name, kind="ca", file=str(pki / "ca.crt")) == not_after(pki / "ca.crt")
    next_update = crl.next_update.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert value(s, name, kind="crl", file=str(pki / "ca.crl")) == next_update
    assert value(s, "vigil_tls_files_unreadable") == 0
    assert len([k for k in s if k[0] == name]) == 3
    # A publish over TLS counts as mqtt-tls.
    r = subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(v.tls_port), "--cafile", str(pki / "ca.crt"),
                        "--cert", str(pki / "car7.crt"), "--key", str(pki / "car7.key"), "-t", "fleet/tls", "-m", "x", "-q", "1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    after = parse(scrape_ok(v.http_port, ctx=ctx))
    assert value(after, "vigil_mqtt_messages_received_total", transport="mqtt-tls", qos="1") == 1
    assert value(after, "vigil_mqtt_messages_received_total", transport="mqtt", qos="1") == 0
    assert value(after, "vigil_mqtt_received_bytes_total", transport="mqtt-tls") > 0
    assert value(after, "vigil_mqtt_tls_handshakes_total", result="ok") == 1
    assert value(after, "vigil_mqtt_tls_handshakes_total", result="failed") == 0
    assert value(after, "vigil_mqtt_listener_connections", listener=f"127.0.0.1:{v.tls_port}", tls="true") == 0
    # Plain text to the TLS port is a failed handshake.
    with socket.create_connection(("127.0.0.1", v.tls_port), timeout=10) as plain:
        plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert plain.recv(100) is not None  # the alert, then the close
    deadline = time.monotonic() + 10
    while value(after, "vigil_mqtt_tls_handshakes_total", result="failed") == 0:
        assert time.monotonic() < deadline, "no failed handshake counted within 10 s"
        time.sleep(0.05)
        after = parse(scrape_ok(v.http_port, ctx=ctx))
    assert value(after, "vigil_mqtt_tls_handshakes_total", result="failed") == 1
    assert value(after, "vigil_mqtt_tls_handshakes_total", result="ok") == 1


def test_archive_progress_is_counted(start_vigil):
    v = start_vigil(2, '[archive]\nflush_interval = "50ms"\n')
    before = parse(scrape_ok(v.http_port))
    assert value(before, "vigil_archive_up") == 1
    pub = Paho(v.port, "archive-pub")
    for i in range(10):
        pub.publish(f"devices/car-{i}/events", "door", 1)
    pub.stop()
    deadline = time.monotonic() + 10
    while True:
        after = parse(scrape_ok(v.http_port))
        written = value(after, "vigil_archive_records_written_total") - value(before, "vigil_archive_records_written_total")
        if written >= 10 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert written == 10
    assert value(after, "vigil_archive_records_dropped_total") == 0
    assert value(after, "vigil_archive_size_bytes") > 0
    assert value(after, "vigil_archive_partitions") >= 1  # today (and yesterday, past midnight UTC)


def test_sessions_queues_caches_and_the_store_are_gauged(start_vigil, vigil_binary, tmp_path):
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"car7": "car7-pass"})
    v = start_vigil(2, f'[auth]\npassword_file = "{pw}"\n')
    before = parse(scrape_ok(v.http_port))
    assert value(before, "vigil_sessions_persistent", state="online") == 0
    assert value(before, "vigil_store_size_bytes") >= 0

    # A persistent subscriber with 3 subscriptions goes offline; 4 QoS 1 messages queue for it.
    car7 = {"username": "car7", "password": "car7-pass"}
    sleeper = Paho(v.port, "sleeper", clean_session=False, **car7)
    for f in ("fleet/a", "fleet/b", "fleet/#"):
        sleeper.subscribe(f, 1)
    s = until_metrics(v.http_port, lambda s: value(s, "vigil_subscriptions") == 3, "3 subscriptions")
    assert value(s, "vigil_sessions_persistent", state="online") == 1
    sleeper.stop()
    until_metrics(v.http_port, lambda s: value(s, "vigil_sessions_persistent", state="offline") == 1, "the session offline")
    pub = Paho(v.port, "gauges-pub", **car7)
    for i in range(4):
        pub.publish("fleet/c", "q" * 10, 1)
    # A retained message and a last value: their topics and payloads are counted.
    pub.publish("fleet/retained", "r" * 50, 1, retain=True)
    pub.publish("devices/car-7/status", "s" * 20, 1)
    s = until_metrics(v.http_port, lambda s: value(s, "vigil_messages_queued") == 5, "5 queued messages")
    assert value(s, "vigil_messages_queued_bytes") == 4 * 10 + 50
    assert value(s, "vigil_messages_inflight") == 0
    assert value(s, "vigil_retained_messages") - value(before, "vigil_retained_messages") == 1
    assert value(s, "vigil_retained_bytes") - value(before, "vigil_retained_bytes") == len("fleet/retained") + 50
    assert value(s, "vigil_last_values") - value(before, "vigil_last_values") == 1
    assert value(s, "vigil_last_value_bytes") - value(before, "vigil_last_value_bytes") == len("devices/car-7/status") + 20
    # Every hashed password check was timed.
    hashed = value(s, "vigil_password_checks_total", result="hashed")
    assert hashed >= 1 and value(s, "vigil_password_check_duration_seconds_count") == hashed
    assert value(s, "vigil_password_check_duration_seconds_sum") > 0
    pub.stop()

    # Durable mode: every acknowledged QoS 1 message was fsynced, each fsync timed; the
    # commits' sizes are counted; the store has bytes.
    s = parse(scrape_ok(v.http_port))
    assert value(s, "vigil_store_fsync_duration_seconds_count") == value(s, "vigil_store_fsyncs_total") > 0
    assert value(s, "vigil_store_commit_writes_count") == value(s, "vigil_store_commits_total")
    assert value(s, "vigil_store_commit_writes_sum") == value(s, "vigil_store_writes_total")
    assert value(s, "vigil_store_size_bytes") > 0
    for shard in ("0", "1"):
        assert value(s, "vigil_shard_remote_queued_messages", shard=shard) == 0

    # Back online: the queue drains into the session and out.
    back = Paho(v.port, "sleeper", clean_session=False, **car7)
    back.expect(5)
    s = until_metrics(v.http_port, lambda s: value(s, "vigil_messages_queued") == 0 and value(s, "vigil_messages_inflight") == 0, "the queue drained")
    assert value(s, "vigil_sessions_persistent", state="online") == 1
    back.stop()


def test_drops_for_full_queues_and_offline_sessions_are_counted(start_vigil):
    v = start_vigil(2, '[limits]\nmax_queued = 2\n')
    sleeper = Paho(v.port, "full-queue", clean_session=False)
    sleeper.subscribe("q/#", 1)
    sleeper.subscribe("z/#", 0)
    sleeper.stop()
    until_metrics(v.http_port, lambda s: value(s, "vigil_sessions_persistent", state="offline") == 1, "the session offline")
    pub = Paho(v.port, "full-queue-pub")
    for i in range(5):
        pub.publish("q/1", f"m{i}", 1)  # 2 queued, 3 over max_queued
    pub.publish("z/1", "zero", 0)        # QoS 0 is not kept for an offline session
    pub.publish("q/marker", "m", 1)      # routed after the QoS 0 one
    s = until_metrics(v.http_port, lambda s: value(s, "vigil_messages_dropped_total", reason="queue_full") == 4, "4 queue-full drops")
    assert value(s, "vigil_messages_dropped_total", reason="offline_qos0") == 1
    assert value(s, "vigil_messages_queued") == 2
    pub.stop()


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_metrics_are_read_only(broker, method):
    c = http.client.HTTPConnection("127.0.0.1", broker.http_port, timeout=10)
    c.request(method, "/metrics")
    r = c.getresponse()
    assert r.status == 405
    r.read()
    c.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prometheus_query(port, path):
    """(200, the JSON answer), or (None, None) while Prometheus is not listening or not ready
    (it answers 503 "Service Unavailable" in plain text while it starts)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return (r.status, json.loads(body)) if r.status == 200 else (None, None)
    except (ConnectionError, OSError):
        return None, None
    finally:
        c.close()


def test_a_real_prometheus_scrapes_vigil(start_vigil, vigil_binary, tmp_path):
    """Debian's prometheus, scraping every 200 ms with a bearer token, sees the target up and
    the received-messages counter grow."""
    tokens = tmp_path / "tokens"
    token = issue(vigil_binary, tokens, "prometheus", "--subscribe", "devices/+/status")
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\n')
    (tmp_path / "token").write_text(token)
    (tmp_path / "prometheus.yml").write_text(f"""global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: vigil
    authorization:
      credentials_file: {tmp_path / "token"}
    static_configs:
      - targets: ["127.0.0.1:{v.http_port}"]
""")
    port = free_port()
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def until(check, what):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                found = check()
                if found is not None:
                    return found
                assert prom.poll() is None, "prometheus exited: " + prom.stderr.read()
                time.sleep(0.1)
            raise AssertionError(f"prometheus: no {what} within 30 s")

        def target_up():
            status, body = prometheus_query(port, "/api/v1/targets")
            if status != 200:
                return None
            active = body["data"]["activeTargets"]
            return active[0] if active and active[0]["health"] == "up" else None

        assert until(target_up, "healthy target")["labels"]["job"] == "vigil"

        def received():
            status, body = prometheus_query(port, "/api/v1/query?query=vigil_messages_received_total")
            result = body["data"]["result"] if status == 200 else []
            return float(result[0]["value"][1]) if result else None

        first = until(received, "vigil_messages_received_total sample")
        pub = Paho(v.port, "prometheus-pub")
        for i in range(7):
            pub.publish(f"fleet/car-{i}", "x", 1)
        pub.stop()
        assert until(lambda: received() if received() >= first + 7 else None, "growth by 7") == first + 7
    finally:
        prom.terminate()
        prom.wait(timeout=10)


def test_http_responses_and_https_handshakes_are_counted(start_vigil, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    v = start_vigil(2, http=f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n')
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    s = parse(scrape_ok(v.http_port, ctx=ctx))  # this scrape is the first handshake
    ok0 = value(s, "vigil_http_tls_handshakes_total", result="ok")
    assert ok0 == 1 and value(s, "vigil_http_tls_handshakes_total", result="failed") == 0
    two0 = value(s, "vigil_http_responses_total", code="2xx")
    for path in ("/healthz", "/nope", "/api/v1/devices/a%2Fb"):
        c = http.client.HTTPSConnection("localhost", v.http_port, timeout=10, context=ctx)
        c.request("GET", path)
        c.getresponse().read()
        c.close()
    with socket.create_connection(("127.0.0.1", v.http_port), timeout=10) as plain:  # plaintext to HTTPS
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        plain.recv(100)
    untrusted = ssl.create_default_context()  # the server's CA is not trusted: the client gives up
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", v.http_port), timeout=10) as raw_sock:
            untrusted.wrap_socket(raw_sock, server_hostname="localhost")

    def counted(after):
        return value(after, "vigil_http_tls_handshakes_total", result="failed") == 2
    after, n = until_metrics_tls(v.http_port, ctx, counted)
    # A scrape's handshake is counted before it renders, its response after.
    assert value(after, "vigil_http_tls_handshakes_total", result="ok") == ok0 + 3 + n  # three requests, n scrapes
    assert value(after, "vigil_http_responses_total", code="2xx") == two0 + 1 + 1 + (n - 1)  # first scrape, /healthz, earlier ones
    assert value(after, "vigil_http_responses_total", code="4xx") == 2  # 404, 400
    assert value(after, "vigil_http_responses_total", code="5xx") == 0
    promtool_accepts(scrape_ok(v.http_port, ctx=ctx))


def until_metrics_tls(port, ctx, check, timeout=10):
    """Scrapes over HTTPS until `check` holds: (the samples, how many scrapes it took)."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        s = parse(scrape_ok(port, ctx=ctx))
        n += 1
        if check(s):
            return s, n
        assert time.monotonic() < deadline, "the expected counts did not appear within 10 s"
        time.sleep(0.05)
