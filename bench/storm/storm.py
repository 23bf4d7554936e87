#!/usr/bin/env python3
"""Reconnect storm: N MQTT clients (TCP or TLS) connect at once; reports the time until every
CONNACK arrived, connect-latency percentiles, and the server's peak RSS and CPU (from /proc).
Client work is split over --procs processes so the generator is less of a bottleneck.
Usage: storm.py --port P [--tls CAFILE] [--clients 5000] [--procs 2] [--server-pid PID]
                [--resume]   (TLS: every client resumes the session of a first, full handshake)
"""
import argparse
import asyncio
import multiprocessing as mp
import os
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from proc_status import rss_kib  # noqa: E402


def mqtt_str(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id, creds=None):
    flags = 0x02 | (0xC0 if creds else 0)
    body = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x00\x00" + mqtt_str(client_id)
    if creds:
        body += mqtt_str(creds[0]) + mqtt_str(creds[1])
    return bytes([0x10, len(body)]) + body


async def one(i, port, ctx, creds, start_at, results):
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    t0 = time.monotonic()
    try:
        kw = {}
        if ctx is not None:
            kw = {"ssl": ctx, "server_hostname": "localhost", "ssl_handshake_timeout": 600}
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, **kw), 600)
        writer.write(connect_packet(f"storm-{i}", creds(i) if creds else None))
        ack = await asyncio.wait_for(reader.readexactly(4), 600)
        ok = ack == b"\x20\x02\x00\x00"
        results.append((time.monotonic() - t0, ok))
        return writer
    except Exception:  # noqa: BLE001 - counted as a failure
        results.append((time.monotonic() - t0, False))
        return None


def worker(ids, port, cafile, start_at, q, creds):
    ctx = None
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
    results = []

    async def run():
        writers = await asyncio.gather(*(one(i, port, ctx, creds, start_at, results) for i in ids))
        q.put(results)
        # hold the connections until the parent has sampled the server
        await asyncio.sleep(1.0)
        for w in writers:
            if w is not None:
                w.close()
    asyncio.run(run())


def device_creds(i):
    return (f"dev-{i}", f"pw-{i}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / 100.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", metavar="CAFILE")
    ap.add_argument("--clients", type=int, default=5000)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--server-pid", type=int, default=0)
    ap.add_argument("--label", default="storm")
    ap.add_argument("--per-device-passwords", action="store_true",
                    help="client i logs in as dev-i / pw-i (see make_passwd.py)")
    a = ap.parse_args()

    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(a.server_pid))
            time.sleep(0.01)
    if a.server_pid:
        base_rss = rss_kib(a.server_pid)
        cpu0 = cpu_seconds(a.server_pid)
        threading.Thread(target=sample, daemon=True).start()

    q = mp.Queue()
    start_at = time.monotonic() + 1.0  # every process has set up before the storm starts
    creds = device_creds if a.per_device_passwords else None
    procs = [mp.Process(target=worker, args=(range(p, a.clients, a.procs), a.port, a.tls, start_at, q, creds))
             for p in range(a.procs)]
    for p in procs:
        p.start()
    results = []
    for _ in procs:
        results += q.get()
    elapsed_all = max(r[0] for r in results)
    failed = sum(1 for r in results if not r[1])
    stop.set()
    for p in procs:
        p.join()
    lat = sorted(r[0] for r in results)
    pct = lambda p: lat[int(p * (len(lat) - 1))] * 1000
    line = (f"{a.label}: {a.clients} clients ({'TLS' if a.tls else 'TCP'}), all CONNACKed in "
            f"{elapsed_all:.2f} s, failed={failed}, connect p50={pct(.5):.0f} ms p99={pct(.99):.0f} ms")
    if a.server_pid:
        line += (f", server peak RSS {peak[0] / 1024:.0f} MiB (+{(peak[0] - base_rss) / 1024:.0f} MiB), "
                 f"server CPU {cpu_seconds(a.server_pid) - cpu0:.2f} s")
    print(line, flush=True)


if __name__ == "__main__":
    main()
