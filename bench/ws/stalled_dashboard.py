#!/usr/bin/env python3
"""A dashboard that stops reading: opens /ws with a 4 KiB receive buffer, subscribes to
`devices/#` and never reads for SECONDS, so vigil's send queue for it fills. Run it beside
vigil-bench's seed scenario to see whether the other dashboards notice.

Usage: /usr/bin/python3 bench/ws/stalled_dashboard.py HTTP_PORT SECONDS
"""
import asyncio
import json
import socket
import sys

import websockets


async def main(port, seconds):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", sock=s, max_queue=1)
    await ws.send(json.dumps({"op": "subscribe", "id": "s", "filters": ["devices/#"]}))
    await asyncio.sleep(seconds)  # the point: never read


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
