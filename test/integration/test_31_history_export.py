"""History as NDJSON and CSV: GET /api/v1/history?format=ndjson|csv streams a range of any size
(chunked, a page at a time), within the token's rights; `vigil archive export` writes the same
records offline, also while vigil runs."""
import csv
import http.client
import io
import json
import subprocess
import time
import urllib.parse

import mqtt_raw as raw
from clients import Paho
from test_19_tokens import issue
from test_29_history import FAST

N = 12_000  # more than one page of the JSON API (10,000) and several streamed chunks


def stream(port, token=None, **params):
    """The status, Transfer-Encoding, Content-Type and body of a streamed history query."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = "/api/v1/history?" + urllib.parse.urlencode(params, safe="/")
    c.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Transfer-Encoding"), r.getheader("Content-Type"), body


def publish_many(port, n):
    """`n` numbered QoS 0 events from one device, in one burst; returns when the broker has read them."""
    c = raw.RawClient(port)
    assert c.connect("bulk-device").body[1] == 0
    c.send(b"".join(raw.publish(f"devices/bulk-{i % 10}/events", json.dumps({"n": i})) for i in range(n)))
    c.send(raw.PINGREQ)
    assert c.recv_packet().type == 13  # PINGRESP: everything before it was routed
    c.close()


def everything(**extra):
    return {"topic": "devices/+/events", "from": "0", "to": str(int(time.time() * 1000) + 60_000), **extra}


def until_streamed(port, n):
    deadline = time.monotonic() + 20
    while True:
        status, _, _, body = stream(port, format="ndjson", **everything())
        assert status == 200, body
        lines = body.splitlines()
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_ndjson_streams_a_whole_range_in_order_and_honours_limit(start_vigil):
    v = start_vigil(2, FAST)
    publish_many(v.port, N)
    lines = until_streamed(v.http_port, N)
    recs = [json.loads(line) for line in lines]
    assert len(recs) == N
    assert sorted(r["payload"]["n"] for r in recs) == list(range(N))
    assert [r["time"] for r in recs] == sorted(r["time"] for r in recs)
    assert recs[0]["client"] == "bulk-device" and recs[0]["qos"] == 0
    status, te, ctype, body = stream(v.http_port, format="ndjson", **everything(limit="25", order="desc"))
    assert status == 200 and te == "chunked" and ctype == "application/x-ndjson"
    newest = [json.loads(line) for line in body.splitlines()]
    assert [r["time"] for r in newest] == sorted((r["time"] for r in recs), reverse=True)[:25]
    # The JSON API still caps a page; the streamed formats take any limit.
    assert stream(v.http_port, **everything(limit="20000"))[0] == 400
    assert stream(v.http_port, format="ndjson", **everything(limit="20000"))[0] == 200
    assert stream(v.http_port, format="xml", **everything())[0] == 400


def test_csv_quotes_what_needs_quoting_and_keeps_binary_payloads(start_vigil, vigil_binary, tmp_path):
    data = str(tmp_path / "var")
    v = start_vigil(1, FAST, data_dir=data)
    car = Paho(v.port, "car,\"1\"")
    texts = ['{"kind": "door", "note": "a, b"}', 'line one\nline "two"', "plain"]
    for t in texts:
        car.publish("devices/car-1/events", t, 1)
    car.publish("devices/car-1/events", b"\x00\x01\xfe\xff", 1)
    car.stop()
    until_streamed(v.http_port, 4)
    status, te, ctype, body = stream(v.http_port, format="csv", **everything())
    assert status == 200 and te == "chunked" and ctype.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert [r["payload"] for r in rows] == texts + ["\\x0001feff"]
    assert all(r["client"] == 'car,"1"' and r["topic"] == "devices/car-1/events" and r["qos"] == "1" for r in rows)
    assert rows[0]["time"].endswith("Z") and int(rows[0]["time_ms"]) > 0

    # The same records offline, while vigil runs, as CSV and NDJSON.
    out = subprocess.run([vigil_binary, "archive", "export", "--data-dir", data, "--topic", "devices/+/events", "--format", "csv"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert list(csv.DictReader(io.StringIO(out.stdout, newline=""))) == rows
    assert "4 records" in out.stderr
    out = subprocess.run([vigil_binary, "archive", "export", "--data-dir", data, "--topic", "devices/car-1/#", "--from", "0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and [json.loads(line)["payload"] for line in out.stdout.splitlines()][:2] == [json.loads(texts[0]), texts[1]]
    for bad, why in [(["--topic", "a/#/b"], "--topic"), (["--topic", "a", "--from", "soon"], "--from"),
                     (["--topic", "a", "--format", "xml"], "--format"), (["--topic"], "needs a value"), ([], "required")]:
        out = subprocess.run([vigil_binary, "archive", "export", "--data-dir", data, *bad], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and why in out.stderr, (bad, out.stderr)
    out = subprocess.run([vigil_binary, "archive", "export", "--data-dir", str(tmp_path / "nothing"), "--topic", "a"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "cannot open" in out.stderr


def test_a_stream_shows_only_the_tokens_topics(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    car1_only = issue(vigil_binary, tokens, "car1", "--subscribe", "devices/bulk-1/#")
    v = start_vigil(1, FAST + f'[http]\ntokens_file = "{tokens}"\n')
    publish_many(v.port, 200)
    deadline = time.monotonic() + 20
    while True:
        status, _, _, body = stream(v.http_port, car1_only, format="ndjson", **everything())
        assert status == 200
        topics = [json.loads(line)["topic"] for line in body.splitlines()]
        if len(topics) >= 20 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert topics == ["devices/bulk-1/events"] * 20
    assert stream(v.http_port, car1_only, format="csv", topic="devices/bulk-2/#")[0] == 403
    assert stream(v.http_port, None, format="csv", topic="devices/+/events")[0] == 401
