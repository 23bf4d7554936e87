#!/usr/bin/env python3
"""Subscription churn at scale, vigil against Debian's mosquitto in the same run.

One client subscribes N filters `devices/<i>/commands` (one SUBSCRIBE each, pipelined), then
unsubscribes them; a second client subscribes and closes its connection while holding N (the
broker drops them all at once). Meanwhile a probe client on the same broker sends a PINGREQ
every 5 ms and records the longest wait for its PINGRESP: how long the broker stalled.
Prints subscribes/s, unsubscribes/s and the stalls for each broker.

Usage: python3 bench/churn/churn.py [--binary build/release/src/vigil] [--count 100000]
                                    [--workers 1] [--brokers vigil,mosquitto]
"""
import argparse
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time


def enc_len(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + enc_len(len(body)) + body


def s16(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def connect(cid, clean=True):
    return packet(0x10, s16("MQTT") + bytes([4, 0x02 if clean else 0]) + b"\x00\x00" + s16(cid))


def subscribe(pid, f):
    return packet(0x82, struct.pack("!H", pid) + s16(f) + b"\x00")


def unsubscribe(pid, f):
    return packet(0xA2, struct.pack("!H", pid) + s16(f))


class Conn:
    def __init__(self, port, cid):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.s.sendall(connect(cid))
        assert self.read_packet()[0] >> 4 == 2

    def read_packet(self):
        while True:
            if len(self.buf) >= 2:
                mult, n, i = 1, 0, 1
                while i < len(self.buf):
                    b = self.buf[i]
                    n += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        if len(self.buf) >= i + n:
                            first, body = self.buf[0], self.buf[i:i + n]
                            self.buf = self.buf[i + n:]
                            return first, body
                        break
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def churn(self, make, n, ack_type):
        """Sends n packets (pipelined by a writer thread) and waits for n acks; seconds taken."""
        data = b"".join(make(i % 65535 + 1, f"devices/{i}/commands") for i in range(n))
        t0 = time.monotonic()
        w = threading.Thread(target=self.s.sendall, args=(data,))
        w.start()
        for _ in range(n):
            first, _ = self.read_packet()
            assert first >> 4 == ack_type, first
        w.join()
        return time.monotonic() - t0


class Probe(threading.Thread):
    """PINGREQ every 5 ms; `worst()` is the longest PINGRESP wait since the last reset."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.c = Conn(port, "probe")
        self.lock = threading.Lock()
        self.max = 0.0
        self.running = True

    def run(self):
        while self.running:
            t0 = time.monotonic()
            self.c.s.sendall(b"\xc0\x00")
            assert self.c.read_packet()[0] >> 4 == 13
            with self.lock:
                self.max = max(self.max, time.monotonic() - t0)
            time.sleep(0.005)

    def worst(self):
        with self.lock:
            m, self.max = self.max, 0.0
        return m


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port):
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not listen")


def start(broker, binary, workers, count, tmp):
    port = free_port()
    if broker == "vigil":
        cfg = os.path.join(tmp, "vigil.toml")
        with open(cfg, "w") as f:
            f.write(f'workers = {workers}\nlog_level = "warn"\ndata_dir = "{tmp}/var"\n'
                    f'[limits]\nmax_subscriptions = {count + 10}\n'
                    f'[[listener]]\nbind = "127.0.0.1"\nport = {port}\n[[http.listener]]\nbind = "127.0.0.1"\nport = 0\n')
        p = subprocess.Popen([binary, "--config", cfg], stderr=subprocess.DEVNULL)
    else:
        cfg = os.path.join(tmp, "mosquitto.conf")
        with open(cfg, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        p = subprocess.Popen(["mosquitto", "-c", cfg], stderr=subprocess.DEVNULL)
    wait_port(port)
    return p, port


def measure(broker, binary, workers, count):
    with tempfile.TemporaryDirectory() as tmp:
        p, port = start(broker, binary, workers, count, tmp)
        try:
            probe = Probe(port)
            probe.start()
            a = Conn(port, "churner")
            probe.worst()
            sub_s = a.churn(subscribe, count, 9)
            stall_sub = probe.worst()
            unsub_s = a.churn(unsubscribe, count, 11)
            stall_unsub = probe.worst()
            b = Conn(port, "holder")
            b.churn(subscribe, count, 9)
            probe.worst()
            b.s.close()  # the broker drops all its subscriptions at once
            time.sleep(1.0)  # the probe keeps measuring while the broker works through the close
            stall_close = probe.worst()
            probe.running = False
            return {"subscribe/s": count / sub_s, "unsubscribe/s": count / unsub_s,
                    "stall subscribing ms": stall_sub * 1e3, "stall unsubscribing ms": stall_unsub * 1e3,
                    "stall on close ms": stall_close * 1e3}
        finally:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/release/src/vigil")
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--brokers", default="vigil,mosquitto")
    a = ap.parse_args()
    results = {b: measure(b, a.binary, a.workers, a.count) for b in a.brokers.split(",")}
    keys = next(iter(results.values())).keys()
    print(f"{a.count} filters, vigil workers={a.workers}")
    print(f"{'':26}" + "".join(f"{b:>14}" for b in results))
    for k in keys:
        print(f"{k:26}" + "".join(f"{r[k]:>14.1f}" for r in results.values()))


if __name__ == "__main__":
    main()
