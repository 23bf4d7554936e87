"""A full archive disk at runtime: live MQTT and /ws traffic go on, /healthz reports the archive
degraded with the cause, acknowledged messages wait (the store keeps them), and once space
returns the archive resumes by itself and writes them."""
import asyncio
import json
import os
import time

import websockets

from clients import MosquittoSub, Paho
from conftest import config
from test_16_store_errors import Tmpfs
from test_18_push import next_op, request, ws_url
from test_29_history import FAST, get, history, until_records


def until_health(port, pred, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        _, body = get(port, "/healthz")
        if pred(body["archive"]) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_a_full_archive_disk_leaves_live_traffic_running_and_resumes_by_itself(start_vigil, tmp_path):
    data = tmp_path / "var"
    fs = Tmpfs(32, str(data / "archive"))  # the archive's own disk
    try:
        v = start_vigil(2, FAST + 'min_free_disk = "4MiB"\n', data_dir=str(data))
        car = Paho(v.port, "car-1")
        car.publish("devices/car-1/events", json.dumps({"n": "before"}), 1)
        until_records(v.http_port, 1, topic="devices/car-1/events")

        fs.fill(1 << 20)  # below min_free_disk: the compactor stops short of a full disk
        sub = MosquittoSub(v.port, "devices/car-1/#", qos=1, count=81)
        pad = "x" * 2000
        for i in range(40):
            car.publish("devices/car-1/events", json.dumps({"n": i, "pad": pad}), 1)  # acknowledged
            car.publish("devices/car-1/location", json.dumps({"n": i, "pad": pad}), 0)
        health = until_health(v.http_port, lambda a: a != "ok")
        assert health["archive"].startswith("degraded: ") and "min_free_disk" in health["archive"], health
        assert health["status"] == "ok" and health["store"] == "ok"
        # Live traffic is untouched: MQTT and /ws.
        car.publish("devices/car-1/status", "still live", 1)
        assert "devices/car-1/status still live" in sub.messages()

        async def dashboard():
            async with websockets.connect(ws_url(v)) as ws:
                await request(ws, op="subscribe", id="s", filters=["devices/car-1/events"])
                await next_op(ws, "subscribed")
                car.publish("devices/car-1/events", json.dumps({"n": "live"}), 1)
                m, _ = await next_op(ws, "message")
                return m["payload"]
        assert asyncio.run(dashboard()) == {"n": "live"}

        fs.unfill()  # space returns: the archive resumes by itself
        health = until_health(v.http_port, lambda a: a == "ok", timeout=30)
        assert health["archive"] == "ok", health
        body = until_records(v.http_port, 42, topic="devices/car-1/events", timeout=20)
        got = [r["payload"]["n"] for r in body["records"]]
        assert got == ["before"] + list(range(40)) + ["live"], got
        assert v.wait_for_log(r"archive .*writing again")
        car.stop()
        v.stop()
    finally:
        fs.close()


def test_a_write_the_disk_refuses_stops_the_archive_not_the_broker_and_loses_nothing_acknowledged(start_vigil, tmp_path):
    data = tmp_path / "var"
    fs = Tmpfs(32, str(data / "archive"))
    try:
        # No reserve: RocksDB itself meets the full disk.
        v = start_vigil(2, FAST + "min_free_disk = 0\n", data_dir=str(data))
        car = Paho(v.port, "car-2")
        car.publish("devices/car-2/events", json.dumps({"n": "before"}), 1)
        until_records(v.http_port, 1, topic="devices/car-2/events")
        fs.fill(0)
        sub = MosquittoSub(v.port, "devices/car-2/events", qos=1, count=30)
        for i in range(30):
            car.publish("devices/car-2/events", json.dumps({"n": i, "pad": "x" * 2000}), 1)  # acknowledged
        assert len(sub.messages()) == 30  # live traffic goes on
        health = until_health(v.http_port, lambda a: "restart" in a)
        assert health["archive"].startswith("degraded: ") and "No space left" in health["archive"], health
        car.stop()
        v.stop()  # exits cleanly (the fixture checks the status)
        fs.unfill()
        # The acknowledged messages the archive could not write waited in the store; the next
        # start writes them (those written before the disk refused, into space RocksDB had
        # already allocated, were released: so at least one, at most all 31).
        v = start_vigil(2, FAST + "min_free_disk = 0\n", data_dir=str(data))
        m = v.wait_for_log(r"; (\d+) staged messages written to the history")
        assert m and 1 <= int(m.group(1)) <= 31, "\n".join(v.lines[-40:])
        body = until_records(v.http_port, 31, topic="devices/car-2/events")
        assert [r["payload"]["n"] for r in body["records"]] == ["before"] + list(range(30))
        assert get(v.http_port, "/healthz")[1]["archive"] == "ok"
        v.stop()
    finally:
        fs.close()
