#!/usr/bin/env python3
"""How long a scrape of GET /metrics takes, and how large it is, with N idle MQTT connections
holding S subscriptions each and O persistent sessions left offline with one subscription each,
against none: the exposition must not grow with the clients, and gathering it (which walks the
sessions) must stay fast.

    python3 bench/monitoring/scrape_size.py [--vigil build/release/src/vigil] [--connections 9000]
                                            [--subscriptions 11] [--offline 100000] [--scrapes 50]

This machine allows 20,000 open files per process, so connections stay below that (each one
costs vigil a descriptor; the generator needs one too)."""
import argparse
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../test/integration"))
import mqtt_raw as raw  # noqa: E402


def scrape(port, n):
    times, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
        times.append((time.perf_counter() - t0) * 1e3)
        size = len(body)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1], times[-1], size


def subscribed(port, prefix, ids, subs, clean):
    """Connects a client per id, each subscribing to `subs` topics; returns the sockets once every
    CONNACK and SUBACK has been read (the subscriptions are in place)."""
    sel = selectors.DefaultSelector()
    socks = []
    for i in ids:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(raw.connect(f"{prefix}-{i}", clean=clean) + raw.subscribe(1, *((f"devices/{prefix}-{i}/{j}", 1) for j in range(subs))))
        socks.append(s)
    want = {s: 4 + 4 + subs for s in socks}  # CONNACK, SUBACK
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    while want:
        for key, _ in sel.select(timeout=30):
            got = key.fileobj.recv(65536)
            want[key.fileobj] -= len(got)
            if want[key.fileobj] <= 0:
                sel.unregister(key.fileobj)
                del want[key.fileobj]
    sel.close()
    return socks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default="build/release/src/vigil")
    ap.add_argument("--connections", type=int, default=9000)
    ap.add_argument("--subscriptions", type=int, default=11)
    ap.add_argument("--offline", type=int, default=0, help="persistent sessions with one subscription, left offline")
    ap.add_argument("--scrapes", type=int, default=50)
    a = ap.parse_args()
    d = tempfile.mkdtemp()
    cfg = os.path.join(d, "vigil.toml")
    with open(cfg, "w") as f:
        f.write(f'log_level = "info"\ndata_dir = "{d}/var"\nprobe.interval = "off"\nsys_interval = "off"\n'
                '[limits]\nmax_connections = 1000000\n[[listener]]\nbind = "127.0.0.1"\nport = 0\n'
                '[[http.listener]]\nbind = "127.0.0.1"\nport = 0\n')
    v = subprocess.Popen([a.vigil, "--config", cfg], stderr=subprocess.PIPE, text=True)
    ports = {}
    for line in v.stderr:
        m = re.search(r"listening for (MQTT|HTTP) on [^ ]+:(\d+)", line)
        if m:
            ports[m.group(1)] = int(m.group(2))
        if len(ports) == 2:
            break
    threading.Thread(target=v.stderr.read, daemon=True).start()  # keep the pipe drained
    try:
        empty = scrape(ports["HTTP"], a.scrapes)
        t0 = time.monotonic()
        for start in range(0, a.offline, 5000):  # persistent sessions left offline, in waves
            wave = subscribed(ports["MQTT"], "offline", range(start, min(start + 5000, a.offline)), 1, clean=False)
            for sock in wave:
                sock.setblocking(True)
                sock.sendall(b"\xe0\x00")  # DISCONNECT
                sock.close()
        socks = subscribed(ports["MQTT"], "idle", range(a.connections), a.subscriptions, clean=True)
        setup = time.monotonic() - t0
        full = scrape(ports["HTTP"], a.scrapes)
        gauges = urllib.request.urlopen(f"http://127.0.0.1:{ports['HTTP']}/metrics").read().decode()
        for name in ("vigil_subscriptions", "vigil_sessions_persistent", "vigil_mqtt_connections{transport=\"mqtt\"}"):
            print("  " + "; ".join(l for l in gauges.splitlines() if l.startswith(name)))
        print(f"{a.connections} connections with {a.subscriptions} subscriptions each "
              f"({a.connections * a.subscriptions} in all) and {a.offline} offline persistent sessions with 1 each, "
              f"set up in {setup:.1f} s")
        for label, (med, p99, mx, size) in (("no clients", empty), ("with them", full)):
            print(f"{label:10s}: scrape median {med:.2f} ms, p99 {p99:.2f} ms, max {mx:.2f} ms; {size} bytes")
    finally:
        v.terminate()
        v.wait(timeout=30)


if __name__ == "__main__":
    main()
