#!/usr/bin/env python3
"""Restart time with N retained messages (default 1,000,000), and RSS per 100,000 retained.

Loads N retained QoS 0 messages (64-byte payloads) into a fresh vigil over one socket, waits
for a QoS 1 publish behind them (so all are routed and committed), reads the RSS, stops vigil
with SIGTERM and starts it again on the same data_dir, timing exec -> "listening" and reading
vigil's own "recovered in" figure.

Usage: python3 bench/durability/restart.py [--binary build/release/src/vigil] [--count 1000000]
"""
import argparse
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from proc_status import rss_kib  # noqa: E402


def enc_len(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic, payload, qos=0, retain=True, pid=1):
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + (struct.pack("!H", pid) if qos else b"") + payload
    return bytes([0x30 | (qos << 1) | (1 if retain else 0)]) + enc_len(len(body)) + body


def start(binary, cfg):
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "--config", cfg], stderr=subprocess.PIPE, text=True)
    port = recovered = None
    for line in p.stderr:
        m = re.search(r"recovered in (\d+) ms: (\d+) retained", line)
        if m:
            recovered = (int(m.group(1)), int(m.group(2)))
        m = re.search(r"listening for MQTT on [^ ]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    ready = time.monotonic() - t0
    return p, port, ready, recovered


def stop(p):
    p.terminate()
    p.wait(60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/release/src/vigil")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "vigil.toml")
        with open(cfg, "w") as f:
            # One loader sets them all: its identity's retained quota is raised to the count.
            f.write(f'workers = {a.workers}\nlog_level = "info"\ndata_dir = "{tmp}/var"\n'
                    f'[limits]\nmax_retained = {max(a.count, 1)}\nmax_retained_per_identity = {max(a.count, 1)}\n'
                    f'max_retained_bytes_per_identity = "{max(a.count * 200 >> 20, 64)}MiB"\n'
                    '[[listener]]\nbind = "127.0.0.1"\nport = 0\n')
        p, port, ready, _ = start(a.binary, cfg)
        base = rss_kib(p.pid)
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x00\x00\x00")
        assert s.recv(4) == b"\x20\x02\x00\x00"
        payload = b"x" * 64
        t0 = time.monotonic()
        chunk = 50_000
        for start_i in range(0, a.count, chunk):
            s.sendall(b"".join(publish(f"retained/{i // 1000}/{i % 1000}", payload)
                               for i in range(start_i, min(start_i + chunk, a.count))))
        s.sendall(publish("sync", b"x", qos=1, retain=False))
        assert s.recv(4)[0] == 0x40
        load_s = time.monotonic() - t0
        loaded = rss_kib(p.pid)
        s.close()
        stop(p)
        du = subprocess.run(["du", "-sk", f"{tmp}/var"], capture_output=True, text=True).stdout.split()[0]
        p, port, ready, recovered = start(a.binary, cfg)
        after = rss_kib(p.pid)
        stop(p)
        print(f"retained={a.count} load={load_s:.1f}s ({a.count / load_s:,.0f}/s) "
              f"store_on_disk={int(du) / 1024:.0f}MiB")
        print(f"restart: exec->listening {ready:.2f}s, vigil recovery {recovered[0]} ms "
              f"({recovered[1]} retained restored)")
        print(f"RSS: empty {base / 1024:.0f}MiB, loaded {loaded / 1024:.0f}MiB, after restart {after / 1024:.0f}MiB; "
              f"per 100,000 retained: {(loaded - base) / 1024 / (a.count / 100_000):.1f}MiB "
              f"(after restart {(after - base) / 1024 / (a.count / 100_000):.1f}MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
