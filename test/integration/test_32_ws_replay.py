"""Replay on /ws: a subscribe with `since` first gets what it missed from the history, in order,
then live messages with no gap and no duplicate at the seam (checked while a device publishes
without pause); `recovered` says whether the history could tell everything, and when it cannot
the snapshot follows. Tokens limit what is replayed."""
import asyncio
import json
import random
import os
import threading
import time

import websockets

import mqtt_raw as raw
from clients import Paho
from test_18_push import next_op, recv, request, ws_url
from test_19_tokens import issue
from test_29_history import FAST, until_records


def now_ms():
    return int(time.time() * 1000)


async def replay_then_live(ws, filters, since, live_until):
    """Subscribes with `since`; returns the replayed messages, the replay's last frame, the
    objects seen before the first live message, and the live messages up to the one for which
    `live_until(message)` is true."""
    await request(ws, op="subscribe", id="r", filters=filters, since=since)
    assert (await recv(ws))["op"] == "subscribed"
    replayed, before_live = [], []
    while True:
        f = await recv(ws)
        before_live.append(f)
        if f["op"] == "replay":
            replayed += f["messages"]
            if f["last"]:
                last = f
                break
        else:
            assert f["op"] != "message", f"a live message before the replay ended: {f}"
    live = []
    while not live or not live_until(live[-1]):
        f = await recv(ws)
        if f["op"] == "message":
            live.append(f)
        else:
            before_live.append(f)
    return replayed, last, before_live, live


def test_a_subscribe_with_since_replays_what_was_missed_then_goes_live(start_vigil):
    v = start_vigil(2, FAST)
    car = Paho(v.port, "car-1")
    t0 = now_ms()
    for i in range(5):
        car.publish("devices/car-1/events", json.dumps({"i": i}), 1)
    car.publish("devices/car-2/location", '{"lat": 1}', 0)  # not on the filter

    async def run():
        async with websockets.connect(ws_url(v)) as ws:
            task = asyncio.ensure_future(replay_then_live(ws, ["devices/car-1/events"], t0, lambda m: m["payload"] == {"i": 5}))
            await asyncio.sleep(0.2)
            car.publish("devices/car-1/events", json.dumps({"i": 5}), 1)
            replayed, last, _, live = await task
            assert [m["payload"]["i"] for m in replayed] == [0, 1, 2, 3, 4]
            assert all(m["topic"] == "devices/car-1/events" and m["time"] >= t0 for m in replayed)
            assert last["recovered"] is True and last["id"] == "r"
            assert [m["payload"]["i"] for m in live] == [5] and live[0]["seq"] == 1
            # RFC 3339 works too; a time in the future replays nothing.
            await request(ws, op="unsubscribe", id="u", filters=["devices/car-1/events"])
            await next_op(ws, "unsubscribed")
            await request(ws, op="subscribe", id="f", filters=["devices/car-1/events"], since="2099-01-01T00:00:00Z")
            end, _ = await next_op(ws, "replay")
            assert end["messages"] == [] and end["last"] is True and end["recovered"] is True
            await request(ws, op="subscribe", id="bad", filters=["devices/car-1/events"], since="yesterday")
            err, _ = await next_op(ws, "error")
            assert err["id"] == "bad" and "since" in err["error"]
    asyncio.run(run())
    car.stop()


def test_no_gap_and_no_duplicate_at_the_seam_while_a_device_publishes(start_vigil, seed):
    rng = random.Random(seed)
    v = start_vigil(2, FAST)
    published = []
    stop = threading.Event()

    def device():
        c = raw.RawClient(v.port)
        assert c.connect("seam-device").body[1] == 0
        n = 0
        while not stop.is_set():
            # Numbered events on four topics, so they land on several shards' subscribers.
            c.send(raw.publish(f"devices/seam-{n % 4}/events", json.dumps({"n": n})))
            published.append(n)
            n += 1
            if n % 5 == 0:
                # At most ~4,000 a second, however fast the client: a slow (sanitizer) build
                # must not fall seconds behind a flood it cannot take.
                time.sleep(0.001)
        c.send(raw.publish("devices/seam-0/events", json.dumps({"n": "end"})))
        c.send(raw.PINGREQ)
        assert c.recv_packet().type == 13
        c.close()

    start = now_ms()
    t = threading.Thread(target=device, daemon=True)
    t.start()

    async def one(k):
        async with websockets.connect(ws_url(v)) as ws:
            await asyncio.sleep(rng.uniform(0.1, 0.4))
            since = max(start, now_ms() - rng.randint(20, 200))  # a moment ago: some replayed, then live
            return since, await replay_then_live(ws, ["devices/+/events"], since, lambda m: m["payload"]["n"] == "end")

    async def run():
        tasks = [asyncio.ensure_future(one(k)) for k in range(4)]
        await asyncio.sleep(0.8)
        stop.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(run())
    t.join(10)
    for since, (replayed, last, _, live) in results:
        assert last["recovered"] is True
        got = [m["payload"]["n"] for m in replayed + live if m["payload"]["n"] != "end"]
        assert replayed and all(m["time"] >= since for m in replayed)
        # One device on one connection: its messages come in the order it sent them, the
        # replay's and then the live ones, each once, none left out at the seam.
        assert got == list(range(got[0], published[-1] + 1)), f"gap or duplicate at the seam (seed {seed})"
        assert [m["seq"] for m in live] == list(range(1, len(live) + 1))
        print(f"since +{since - start} ms: {len(replayed)} replayed, {len(live)} live")


def test_recovered_is_false_with_a_snapshot_when_the_history_cannot_tell_everything(start_vigil):
    v = start_vigil(1, FAST)
    car = Paho(v.port, "car-3")
    car.publish("devices/car-3/location", '{"lat": 3}', 1)
    car.publish("fleet/notice", "not archived", 1, retain=True)
    until_records(v.http_port, 1, topic="devices/car-3/location")

    async def run():
        async with websockets.connect(ws_url(v)) as ws:
            # fleet/# is not an [archive] topic: what it missed cannot be told, the snapshot follows.
            await request(ws, op="subscribe", id="x", filters=["devices/car-3/location", "fleet/#"], since=0)
            end, _ = await next_op(ws, "replay")
            assert end["recovered"] is False and [m["topic"] for m in end["messages"]] == ["devices/car-3/location"]
            snap, _ = await next_op(ws, "snapshot")
            assert {m["topic"] for m in snap["messages"]} == {"devices/car-3/location", "fleet/notice"}
    asyncio.run(run())
    car.stop()


def test_a_replay_shows_only_the_tokens_topics(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    car1_only = issue(vigil_binary, tokens, "car1", "--subscribe", "devices/car-1/#")
    v = start_vigil(1, FAST + f'[http]\ntokens_file = "{tokens}"\n')
    t0 = now_ms()
    car1 = Paho(v.port, "car-1")
    car2 = Paho(v.port, "car-2")
    car1.publish("devices/car-1/events", "mine", 1)
    car2.publish("devices/car-2/events", "not yours", 1)

    async def run():
        async with websockets.connect(ws_url(v) + f"?access_token={car1_only}") as ws:
            await request(ws, op="subscribe", id="t", filters=["devices/+/events"], since=t0)
            end, _ = await next_op(ws, "replay")
            assert [m["payload"] for m in end["messages"]] == ["mine"]
    asyncio.run(run())
    car1.stop()
    car2.stop()
