"""History: what is published on the [archive] topics is kept and answered by
GET /api/v1/history (by topic or filter and time, a page at a time, within the token's rights);
bad parameters get 400; a graceful stop loses nothing; a damaged archive leaves live traffic
running and /healthz says why."""
import http.client
import json
import os
import subprocess
import time
import urllib.parse

from clients import MosquittoSub, Paho, mosquitto_pub
from test_19_tokens import issue

FAST = '[archive]\nflush_interval = "50ms"\n'


def get(port, path, token=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return r.status, body


def history(port, token=None, **params):
    return get(port, "/api/v1/history?" + urllib.parse.urlencode(params, safe="/"), token)


def until_records(port, n, token=None, timeout=10, **params):
    """Queries until `n` records are there (the compactor writes every flush_interval)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = history(port, token, **params)
        assert status == 200, body
        if len(body["records"]) >= n or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_published_messages_are_kept_and_queried_by_topic_filter_and_time(start_vigil):
    v = start_vigil(2, FAST)
    t_before = int(time.time() * 1000) - 1
    car1 = Paho(v.port, "car-1")
    car2 = Paho(v.port, "car-2")
    car1.publish("devices/car-1/events", '{"kind": "door", "n": 1}', 1)
    car2.publish("devices/car-2/events", "siren on", 0)
    car1.publish("devices/car-1/location", '{"lat": 59.3, "lon": 18.0}', 1)
    car1.publish("devices/car-1/events", '{"kind": "door", "n": 2}', 2, retain=True)
    car1.publish("fleet/not-archived", "x", 1)
    body = until_records(v.http_port, 3, topic="devices/+/events")
    recs = body["records"]
    assert [r["time"] for r in recs] == sorted(r["time"] for r in recs) and recs[0]["time"] >= t_before
    # car-2's message may arrive before or after car-1's (two connections); each is there once.
    by_payload = {json.dumps(r["payload"]): r for r in recs}
    first = by_payload[json.dumps({"kind": "door", "n": 1})]
    assert first["topic"] == "devices/car-1/events" and first["client"] == "car-1" and first["qos"] == 1
    siren = by_payload[json.dumps("siren on")]
    assert siren["topic"] == "devices/car-2/events" and siren["client"] == "car-2" and siren["qos"] == 0
    second = by_payload[json.dumps({"kind": "door", "n": 2})]
    assert second["retain"] is True and second["qos"] == 2 and second["time"] >= first["time"]
    assert body["complete"] is True and body["next"] is None

    # One topic, newest first; everything of car-1 through '#'; nothing from other topics.
    _, newest = history(v.http_port, topic="devices/car-1/events", order="desc", limit=1)
    assert [r["payload"]["n"] for r in newest["records"]] == [2] and newest["next"]
    _, everything = history(v.http_port, topic="devices/car-1/#")
    assert {r["topic"] for r in everything["records"]} == {"devices/car-1/events", "devices/car-1/location"}
    _, other = history(v.http_port, topic="fleet/#")
    assert other["records"] == []
    # A time range that ends before the first message is empty; RFC 3339 works as well as ms.
    _, none = history(v.http_port, topic="devices/+/events", to=str(t_before - 1))
    assert none["records"] == []
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_before / 1000 - 5))
    _, since = history(v.http_port, topic="devices/+/events", **{"from": iso})
    assert len(since["records"]) == 3
    car1.stop()
    car2.stop()


def test_pages_joined_by_cursor_return_each_record_once(start_vigil):
    v = start_vigil(2, FAST)
    n = 57
    car = Paho(v.port, "car-9")
    for i in range(n):
        car.publish("devices/car-9/location", json.dumps({"i": i}), 1)
    until_records(v.http_port, n, topic="devices/car-9/location", limit=1000)
    for order in ("asc", "desc"):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"topic": "devices/car-9/location", "limit": 10, "order": order}
            if cursor:
                params["cursor"] = cursor
            status, body = history(v.http_port, **params)
            assert status == 200 and len(body["records"]) <= 10
            seen += [r["payload"]["i"] for r in body["records"]]
            pages += 1
            cursor = body["next"]
            if not cursor:
                break
        assert seen == (list(range(n)) if order == "asc" else list(reversed(range(n))))
        assert pages == 6
    car.stop()


def test_bad_parameters_get_400_with_the_reason(broker):
    cases = {
        "topic=": "'topic'",
        "topic=a/%23/b": "'topic'",
        "topic=%24SYS/%23": "'topic'",
        "topic=a&from=yesterday": "'from'",
        "topic=a&to=2026-13-01T00:00:00Z": "'to'",
        "topic=a&from=2000&to=1000": "after",
        "topic=a&limit=0": "'limit'",
        "topic=a&limit=10001": "'limit'",
        "topic=a&order=up": "'order'",
        "topic=a&cursor=nope": "'cursor'",
        "topic=a&topic=b": "twice",
        "topic=a&colour=red": "unknown parameter",
        "topic=a%zz": "escape",
    }
    for query, why in cases.items():
        status, body = get(broker.http_port, "/api/v1/history?" + query)
        assert status == 400 and why in body["error"]["message"], (query, body)
    c = http.client.HTTPConnection("127.0.0.1", broker.http_port, timeout=10)
    c.request("POST", "/api/v1/history?topic=a")
    assert c.getresponse().status == 405
    c.close()
    assert get(broker.http_port, "/healthz")[0] == 200  # and the server is fine


def test_tokens_see_only_their_topics(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    car1_only = issue(vigil_binary, tokens, "car1", "--subscribe", "devices/car-1/#")
    ops = issue(vigil_binary, tokens, "ops", "--subscribe", "#")
    v = start_vigil(1, FAST + f'[http]\ntokens_file = "{tokens}"\n')
    car1 = Paho(v.port, "car-1")
    car2 = Paho(v.port, "car-2")
    car1.publish("devices/car-1/events", "mine", 1)
    car2.publish("devices/car-2/events", "not yours", 1)
    until_records(v.http_port, 2, token=ops, topic="devices/+/events")
    status, body = history(v.http_port, car1_only, topic="devices/+/events")
    assert status == 200 and [r["payload"] for r in body["records"]] == ["mine"]
    status, _ = history(v.http_port, car1_only, topic="devices/car-2/#")
    assert status == 403
    assert history(v.http_port, None, topic="devices/+/events")[0] == 401
    car1.stop()
    car2.stop()


def test_a_graceful_stop_loses_nothing_pending(start_vigil, vigil_binary, tmp_path):
    data = str(tmp_path / "var")
    slow = '[archive]\nflush_interval = "1h"\n'  # nothing is written before the stop
    v = start_vigil(2, slow, data_dir=data)
    car = Paho(v.port, "car-5")
    for i in range(20):
        car.publish("devices/car-5/events", str(i), 1)
    car.stop()
    v.stop()
    check = subprocess.run([vigil_binary, "archive", "check", data], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "checksums verified" in check.stdout and " 20 records" in check.stdout, check
    v = start_vigil(2, slow, data_dir=data)
    status, body = history(v.http_port, topic="devices/car-5/events")
    assert status == 200 and [r["payload"] for r in body["records"]] == list(range(20))


def test_wills_are_history_too(start_vigil):
    v = start_vigil(1, FAST)
    car = Paho(v.port, "car-3", will=("devices/car-3/status", "offline", 1, True))
    car.publish("devices/car-3/status", "online", 1, retain=True)
    car.stop(graceful=False)
    car.client.socket().close()
    body = until_records(v.http_port, 2, topic="devices/car-3/status")
    assert [(r["payload"], r["retain"], r["client"]) for r in body["records"]] == [("online", True, "car-3"), ("offline", True, "car-3")]


def test_archive_off_or_damaged_leaves_live_traffic_running(start_vigil, vigil_binary, tmp_path):
    v = start_vigil(1, "[archive]\ntopics = []\n")
    assert history(v.http_port, topic="devices/#")[0] == 503
    assert get(v.http_port, "/healthz")[1]["archive"] == "off"
    v.stop()

    data = tmp_path / "var"
    v = start_vigil(1, FAST, data_dir=str(data))
    v.stop()
    with open(data / "archive" / "CURRENT", "w") as f:
        f.write("MANIFEST-999999\n")  # points at a manifest that does not exist
    check = subprocess.run([vigil_binary, "archive", "check", str(data)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 1 and "cannot open the archive" in check.stderr, check
    v = start_vigil(1, FAST, data_dir=str(data))
    assert v.wait_for_log(r"archive .*cannot open.*runs without history")
    status, health = get(v.http_port, "/healthz")
    assert status == 200 and health["store"] == "ok" and health["archive"].startswith("degraded: ")
    assert history(v.http_port, topic="devices/#")[0] == 503
    sub = MosquittoSub(v.port, "devices/car-1/events", qos=1)
    mosquitto_pub(v.port, "-t", "devices/car-1/events", "-m", "still live", "-q", "1")
    assert sub.messages() == ["devices/car-1/events still live"]
    assert os.path.exists(data / "archive" / "CURRENT")  # left for the operator, not discarded


def test_a_devices_track_is_geojson_simplified_to_max_points(start_vigil):
    v = start_vigil(1, FAST + 'lat_field = "latitude"\nlon_field = "longitude"\n')
    car = Paho(v.port, "car-7")
    # East for 31 points, then north for 30: an L whose corner must survive simplification.
    path = [(59.0, round(18.0 + i * 0.01, 6)) for i in range(31)] + [(round(59.0 + i * 0.01, 6), 18.3) for i in range(1, 31)]
    for lat, lon in path:
        car.publish("devices/car-7/location", json.dumps({"latitude": lat, "longitude": lon, "speed": 50}), 1)
    car.publish("devices/car-7/location", "no fix", 1)  # skipped: not a position
    until_records(v.http_port, len(path) + 1, topic="devices/car-7/location")
    c = http.client.HTTPConnection("127.0.0.1", v.http_port, timeout=10)
    c.request("GET", "/api/v1/devices/car-7/track?max_points=3")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "application/geo+json"
    track = json.loads(r.read())
    c.close()
    assert track["type"] == "Feature" and track["geometry"]["type"] == "LineString"
    coords = track["geometry"]["coordinates"]
    assert coords == [[18.0, 59.0], [18.3, 59.0], [18.3, 59.3]]  # lon, lat: start, corner, end
    props = track["properties"]
    assert props["device"] == "car-7" and props["points"] == 3 and props["total_points"] == len(path)
    assert props["times"] == sorted(props["times"]) and len(props["times"]) == 3
    _, full = get(v.http_port, "/api/v1/devices/car-7/track")
    assert len(full["geometry"]["coordinates"]) == len(path)
    assert get(v.http_port, "/api/v1/devices/car-7/track?max_points=1")[0] == 400
    assert get(v.http_port, "/api/v1/devices/car-7/track?limit=5")[0] == 400
    assert get(v.http_port, "/api/v1/devices/a%2Fb/track")[0] == 400
    _, empty = get(v.http_port, "/api/v1/devices/nobody/track")
    assert empty["geometry"]["coordinates"] == [] and empty["properties"]["total_points"] == 0
    car.stop()
