"""JSON push over WebSocket (/ws, protocol v1) with a real WebSocket client (python3-websockets):
snapshot then live updates with sequence numbers, unsubscribe, publish, errors, abuse, slow
clients (conflation of state telemetry, 1013 past the hard bound) and connection churn."""
import asyncio
import json
import os
import socket

import websockets

from clients import Paho
from prom import parse, scrape_ok, value


def ws_url(v):
    return f"ws://127.0.0.1:{v.http_port}/ws"


class Reader:
    """Splits WebSocket frames into the JSON objects they carry (one per line)."""

    def __init__(self, ws):
        self.ws = ws
        self.pending = []

    async def next(self, timeout=20):
        while not self.pending:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            self.pending = [json.loads(line) for line in frame.split("\n")]
        return self.pending.pop(0)


def reader(ws):
    r = getattr(ws, "vigil_reader", None)
    if r is None:
        r = ws.vigil_reader = Reader(ws)
    return r


async def request(ws, **req):
    await ws.send(json.dumps(req))


async def recv(ws, timeout=20):
    return await reader(ws).next(timeout)


async def next_op(ws, op):
    """The next object whose op is `op` (objects of other ops before it are returned too)."""
    seen = []
    while True:
        f = await recv(ws)
        seen.append(f)
        if f["op"] == op:
            return f, seen


def test_snapshot_then_live_updates_with_sequence_numbers(broker):
    pub = Paho(broker.port, "car-1")
    pub.publish("devices/car-1/location", '{"lat": 1}', 1)
    pub.publish("devices/car-1/status", "online", 1, retain=True)
    pub.publish("devices/car-1/events", "retained event", 1, retain=True)

    async def run():
        async with websockets.connect(ws_url(broker)) as ws:
            await request(ws, op="subscribe", id="s1", filters=["devices/+/location", "devices/car-1/#"])
            sub, _ = await next_op(ws, "subscribed")
            assert sub["id"] == "s1" and sub["filters"] == ["devices/+/location", "devices/car-1/#"]
            snap, _ = await next_op(ws, "snapshot")
            assert snap["id"] == "s1" and snap["last"] is True
            got = {m["topic"]: m["payload"] for m in snap["messages"]}
            assert got == {"devices/car-1/location": {"lat": 1}, "devices/car-1/status": "online",
                           "devices/car-1/events": "retained event"}
            for i in range(5):
                pub.publish("devices/car-1/location", json.dumps({"lat": i}), 1)
            frames = [await recv(ws) for _ in range(5)]
            assert [f["seq"] for f in frames] == [1, 2, 3, 4, 5]
            assert [f["payload"]["lat"] for f in frames] == [0, 1, 2, 3, 4]
            assert all(f["op"] == "message" and f["topic"] == "devices/car-1/location" and f["time"] > 0 for f in frames)
            # Unsubscribed: this connection's own publish comes back only as "published".
            await request(ws, op="unsubscribe", id="u1", filters=["devices/+/location", "devices/car-1/#"])
            await next_op(ws, "unsubscribed")
            await request(ws, op="publish", id="p1", topic="devices/car-1/location", payload={"lat": 9})
            reply, seen = await next_op(ws, "published")
            assert reply["id"] == "p1" and len(seen) == 1
            await request(ws, op="ping", id="pp")
            assert (await next_op(ws, "pong"))[0]["id"] == "pp"
    asyncio.run(run())
    pub.stop()


def test_publish_reaches_mqtt_devices(broker):
    device = Paho(broker.port, "car-5")
    device.subscribe("devices/car-5/commands", 1)

    async def run():
        async with websockets.connect(ws_url(broker)) as ws:
            await request(ws, op="publish", id="c1", topic="devices/car-5/commands", payload={"do": "stop"})
            assert (await next_op(ws, "published"))[0]["id"] == "c1"
            await request(ws, op="publish", id="c2", topic="devices/car-5/commands", payload="plain text")
            await next_op(ws, "published")
    asyncio.run(run())
    got = [device.get(), device.get()]
    assert json.loads(got[0].payload) == {"do": "stop"} and got[0].qos == 1
    assert got[1].payload == b"plain text"
    device.stop()


def test_bad_requests_get_error_frames_naming_them(broker):
    async def run():
        async with websockets.connect(ws_url(broker)) as ws:
            cases = [
                ("not json", "", "not a JSON object"),
                (json.dumps({"id": "a"}), "a", 'missing "op"'),
                (json.dumps({"op": "fly", "id": "b"}), "b", 'unknown op "fly"'),
                (json.dumps({"op": "subscribe", "id": "c"}), "c", '"filters"'),
                (json.dumps({"op": "subscribe", "id": "d", "filters": ["a/#/b"]}), "d", "valid MQTT topic filter"),
                (json.dumps({"op": "publish", "id": "e", "topic": "$SYS/x", "payload": 1}), "e", "outside $SYS"),
                (json.dumps({"op": "publish", "id": "f", "topic": "a/+", "payload": 1}), "f", "valid topic name"),
                (json.dumps({"op": "publish", "id": "g", "topic": "a"}), "g", 'missing "payload"'),
            ]
            for text, rid, what in cases:
                await ws.send(text)
                err, _ = await next_op(ws, "error")
                assert err["id"] == rid and what in err["error"], err
            await ws.send(b"\x00binary")
            err, _ = await next_op(ws, "error")
            assert "JSON text" in err["error"]
            # Still serving.
            await request(ws, op="ping", id="alive")
            assert (await next_op(ws, "pong"))[0]["id"] == "alive"
            # A frame over 64 KiB closes the socket with 1009.
            await ws.send("x" * 70_000)
            try:
                while True:
                    await recv(ws)
            except websockets.ConnectionClosed as e:
                assert e.rcvd.code == 1009
    asyncio.run(run())


def test_ws_without_upgrade_is_a_json_error(broker):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", broker.http_port, timeout=10)
    c.request("GET", "/ws")
    r = c.getresponse()
    assert r.status == 426 and json.loads(r.read())["error"]["status"] == 426


def slow_socket(port):
    """A connected socket with a tiny receive buffer, so the server's sends back up quickly."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    return s


def flood(port, topics, count, size, qos=0):
    """mosquitto_pub would take minutes: one paho client publishing as fast as it can."""
    p = Paho(port, "flooder")
    payload = "x" * size
    for i in range(count):
        p.publish(topics[i % len(topics)], json.dumps({"n": i, "pad": payload}), qos, wait=False)
    p.publish("flood/done", "1", 1)  # acknowledged after everything above was routed
    p.stop()


def test_slow_client_gets_newest_state_values_not_a_backlog(broker):
    topics = [f"devices/car-{i}/location" for i in range(20)]
    count = 40_000  # about 12 MB of frames: far past the socket buffers and the soft bound

    async def run():
        async with websockets.connect(ws_url(broker), sock=slow_socket(broker.http_port), max_queue=1) as ws:
            await request(ws, op="subscribe", id="s", filters=["devices/+/location"])
            await next_op(ws, "snapshot")
            await asyncio.get_running_loop().run_in_executor(None, flood, broker.port, topics, count, 256)
            last = {t: None for t in topics}
            frames = conflated = 0
            seqs = []
            want = {topics[i % len(topics)]: i for i in range(count - len(topics), count)}
            while any(last[t] != want[t] for t in topics):
                f = await recv(ws, 30)
                frames += 1
                seqs.append(f["seq"])
                last[f["topic"]] = f["payload"]["n"]
                conflated += f.get("conflated", 0)
            assert conflated > 0, "the slow client was never conflated"
            assert frames + conflated == count  # every value either sent or counted as replaced
            assert seqs == list(range(1, len(seqs) + 1))  # no gap in what was sent
            assert frames < count
            return conflated
    conflated = asyncio.run(run())
    assert broker.alive()
    # /metrics counts each replaced value once, exactly as the frames told the client.
    assert value(parse(scrape_ok(broker.http_port)), "vigil_messages_dropped_total", reason="conflated") == conflated


def test_event_backlog_past_the_hard_bound_closes_with_1013(broker):
    async def run():
        async with websockets.connect(ws_url(broker), sock=slow_socket(broker.http_port), max_queue=1) as ws:
            await request(ws, op="subscribe", id="s", filters=["devices/+/events"])
            await next_op(ws, "snapshot")
            # Events are never conflated: 3,000 x 10 KB = 30 MB waits until the hard bound.
            await asyncio.get_running_loop().run_in_executor(None, flood, broker.port, ["devices/car-1/events"], 3000, 10_000)
            try:
                while True:
                    await recv(ws, 30)
            except websockets.ConnectionClosed as e:
                assert e.rcvd is not None and e.rcvd.code == 1013
    asyncio.run(run())
    assert broker.alive()
    assert value(parse(scrape_ok(broker.http_port)), "vigil_ws_closed_too_slow_total") == 1


def test_websocket_churn_returns_memory(broker):
    """20 cycles of 1,000 WebSocket connections opened (each subscribed) and closed: RSS
    returns to within 10% of its first-cycle level. Under TSan the RSS is TSan's own
    bookkeeping (it keeps growing a little per cycle while a release build stays flat), so
    there the cycles run for the race detector and the RSS bound is not asserted."""
    async def cycle():
        conns = await asyncio.gather(*(websockets.connect(ws_url(broker)) for _ in range(1000)))
        for i, ws in enumerate(conns):
            await request(ws, op="subscribe", id="s", filters=[f"devices/c{i}/location"])
        for ws in conns:
            await next_op(ws, "snapshot")
        await asyncio.gather(*(ws.close() for ws in conns))

    async def run():
        levels = []
        for _ in range(20):
            await cycle()
            levels.append(broker.rss_kib())
        return levels
    levels = asyncio.run(run())
    assert len(levels) == 20 and broker.alive()
    if "TSAN_OPTIONS" not in os.environ:
        assert levels[-1] <= levels[0] * 1.10, levels


def test_a_flood_of_bad_requests_closes_with_1008(broker):
    async def run():
        async with websockets.connect(ws_url(broker)) as ws:
            for _ in range(101):
                await ws.send("{")
            try:
                while True:
                    f = await recv(ws)
                    assert f["op"] == "error"
            except websockets.ConnectionClosed as e:
                assert e.rcvd.code == 1008
    asyncio.run(run())


def test_sigterm_closes_dashboards_with_going_away(start_vigil, workers):
    """Stopping vigil closes dashboards at once with 1001 (going away), not by dropping them
    when the grace period runs out, and keep-alive HTTP clients do not hold it up."""
    import http.client
    import signal
    v = start_vigil(workers)
    keep_alive = http.client.HTTPConnection("127.0.0.1", v.http_port, timeout=10)
    keep_alive.request("GET", "/healthz")
    assert keep_alive.getresponse().read()

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{v.http_port}/ws") as ws:
            await request(ws, op="subscribe", id="s", filters=["devices/#"])
            await next_op(ws, "snapshot")
            v.proc.send_signal(signal.SIGTERM)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as e:
                return e.code
    assert asyncio.run(run()) == 1001
    assert v.stop() == 0
    assert not v.wait_for_log(r"shutdown grace period over", timeout=0)
    keep_alive.close()
