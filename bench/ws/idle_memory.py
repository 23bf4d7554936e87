#!/usr/bin/env python3
"""Idle memory per WebSocket dashboard: RSS of a running vigil before and after N /ws
connections, each subscribed to one filter, are open and idle.

Usage: /usr/bin/python3 bench/ws/idle_memory.py --http-port 8080 --server-pid PID [--count 1000]
"""
import argparse
import asyncio
import json
import os
import sys

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from proc_status import rss_kib  # noqa: E402


async def main(a):
    url = f"ws://127.0.0.1:{a.http_port}/ws"
    before = rss_kib(a.server_pid)
    conns = []
    for i in range(0, a.count, 200):
        conns += await asyncio.gather(*(websockets.connect(url) for _ in range(min(200, a.count - i))))
    for i, ws in enumerate(conns):
        await ws.send(json.dumps({"op": "subscribe", "id": "s", "filters": [f"devices/d{i}/location"]}))
    for ws in conns:
        while '"snapshot"' not in await ws.recv():
            pass
    after = rss_kib(a.server_pid)
    print(f"{a.count} idle subscribed WebSockets: RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB, "
          f"{(after - before) * 1024 / a.count / 1024:.1f} KiB per connection")
    await asyncio.gather(*(ws.close() for ws in conns))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--http-port", type=int, default=8080)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=1000)
    asyncio.run(main(ap.parse_args()))
