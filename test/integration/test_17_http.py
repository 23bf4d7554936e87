"""The HTTP API: /healthz and /api/v1/devices from the last-value cache, JSON errors with the
right status for everything else, and bad requests that never hurt the server."""
import http.client
import json
import socket

from clients import Paho


def get(port, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), json.loads(data) if data else None


def test_healthz(broker):
    status, ctype, body = get(broker.http_port, "/healthz")
    assert status == 200 and ctype == "application/json"
    # every open connection counts, this HTTP request's own included
    assert body["status"] == "ok" and body["store"] == "ok" and body["connections"] == 1


def test_devices_from_last_values_and_wills(broker):
    car = Paho(broker.port, "car-7", will=("devices/car-7/status", "offline", 1, True))
    car.publish("devices/car-7/status", "online", 1, retain=True)
    car.publish("devices/car-7/location", '{"lat": 59.33, "lon": 18.06}', 1)
    other = Paho(broker.port, "car-8")
    other.publish("devices/car-8/location", "not json", 1)
    other.publish("fleet/ignored", "x", 1)
    status, _, body = get(broker.http_port, "/api/v1/devices")
    assert status == 200
    devices = {d["id"]: d for d in body["devices"]}
    assert set(devices) == {"car-7", "car-8"}
    assert devices["car-7"]["online"] is True
    assert devices["car-7"]["values"]["location"]["payload"] == {"lat": 59.33, "lon": 18.06}
    assert devices["car-8"]["online"] is None
    assert devices["car-8"]["values"]["location"]["payload"] == "not json"

    watcher = Paho(broker.port, "watcher")
    watcher.subscribe("devices/car-7/status", 1)
    assert watcher.get().payload == b"online"  # the retained status
    car.stop(graceful=False)
    car.client.socket().close()  # the device vanishes: its will says offline
    assert watcher.get().payload == b"offline"  # routed, so the last value is updated too
    status, _, one = get(broker.http_port, "/api/v1/devices/car-7")
    assert status == 200 and one["online"] is False
    assert one["values"]["status"]["payload"] == "offline"
    other.stop()
    watcher.stop()


def test_errors_are_json_with_the_right_status(broker):
    assert get(broker.http_port, "/api/v1/devices/nobody")[0] == 404
    status, _, body = get(broker.http_port, "/api/v1/devices/a%2Fb")
    assert status == 400 and "one topic level" in body["error"]["message"]
    assert get(broker.http_port, "/api/v1/devices/%zz")[0] == 400
    assert get(broker.http_port, "/api/v1/devices/%2")[0] == 400
    status, _, body = get(broker.http_port, "/healthz", method="POST", body="x")
    assert status == 405 and body["error"]["status"] == 405
    status, _, body = get(broker.http_port, "/no/such/route")
    assert status == 404 and body["error"]["status"] == 404
    status, _, body = get(broker.http_port, "/healthz", method="PUT", body="x" * 100_000)
    assert status == 413 and body["error"]["status"] == 413


def test_malformed_requests_and_keep_alive(broker):
    s = socket.create_connection(("127.0.0.1", broker.http_port), timeout=10)
    s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 400") and b'"status":400' in data
    s.close()
    s = socket.create_connection(("127.0.0.1", broker.http_port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 413")
    s.close()
    # Several requests on one connection.
    c = http.client.HTTPConnection("127.0.0.1", broker.http_port, timeout=10)
    for _ in range(5):
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert r.status == 200 and json.loads(r.read())["status"] == "ok"
    c.close()
    assert broker.alive()
