"""QoS 2 latency in durable mode: publish -> PUBREC at the publisher, and publish -> PUBLISH at
a persistent QoS 2 subscriber, for one or more vigil builds and Debian's mosquitto (which does not
persist), in the same run. One publisher sends numbered QoS 2 messages at a fixed rate with up
to 20 in flight; the subscriber completes every flow.

    python3 bench/durability/qos2.py [--rate 500] [--seconds 5] VIGIL [VIGIL ...]
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "integration"))
import mqtt_raw as raw  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(kind, binary, work):
    port = free_port()
    shutil.rmtree(os.path.join(work, "var"), ignore_errors=True)
    if kind == "mosquitto":
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 100\n")
        proc = subprocess.Popen(["mosquitto", "-c", conf], stderr=subprocess.DEVNULL)
    else:
        conf = os.path.join(work, "vigil.toml")
        with open(conf, "w") as f:
            f.write(f'log_level = "warn"\ndata_dir = "{work}/var"\ndurability = "durable"\n'
                    f'[[listener]]\nbind = "127.0.0.1"\nport = {port}\n'
                    f'[[http.listener]]\nbind = "127.0.0.1"\nport = 0\n')
        proc = subprocess.Popen([binary, "--config", conf], stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} did not start")


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))] * 1000 if v else float("nan")


def measure(port, rate, seconds):
    sent, acked, delivered = {}, {}, {}
    sub = raw.RawClient(port)
    sub.connect("qos2-sub", clean=False)
    sub.send(raw.subscribe(1, ("q2/#", 2)))
    assert sub.recv_packet().type == 9
    total = int(rate * seconds)

    def read_sub():
        while len(delivered) < total:
            p = sub.recv_packet()
            if p.type == 3:
                delivered.setdefault(int(p.payload), time.monotonic())
                sub.send(raw.ack("pubrec", p.pid))
            elif p.type == 6:
                sub.send(raw.ack("pubcomp", p.pid))

    reader = threading.Thread(target=read_sub, daemon=True)
    reader.start()
    pub = raw.RawClient(port)
    pub.connect("qos2-pub", clean=False)
    inflight = {}
    t0 = time.monotonic()
    n = 0
    while n < total or inflight:
        due = t0 + n / rate
        if n < total and len(inflight) < 20 and time.monotonic() >= due:
            pid = n % 65535 + 1
            inflight[pid] = n
            sent[n] = time.monotonic()
            pub.send(raw.publish(f"q2/{n % 8}", str(n), qos=2, pid=pid))
            n += 1
            continue
        pub.sock.settimeout(max(0.0005, due - time.monotonic()) if n < total and len(inflight) < 20 else 5)
        try:
            p = pub.recv_packet()
        except socket.timeout:
            continue
        if p.type == 5:
            acked.setdefault(inflight.get(p.pid, -1), time.monotonic())
            pub.send(raw.ack("pubrel", p.pid))
        elif p.type == 7:
            inflight.pop(p.pid, None)
    reader.join(30)
    pubrec = [acked[k] - sent[k] for k in sent if k in acked]
    delivery = [delivered[k] - sent[k] for k in sent if k in delivered]
    return pubrec, delivery, total - len(delivery)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("vigil", nargs="+")
    a = ap.parse_args()
    brokers = [(f"vigil:{b}", b) for b in a.vigil] + [("mosquitto", None)]
    with tempfile.TemporaryDirectory() as work:
        for r in range(a.rounds):
            for name, binary in brokers:
                proc, port = start("mosquitto" if binary is None else "vigil", binary, work)
                try:
                    pubrec, delivery, lost = measure(port, a.rate, a.seconds)
                finally:
                    proc.terminate()
                    proc.wait()
                print(f"round {r + 1} {name}: PUBREC p50 {pct(pubrec, 50):.2f} p99 {pct(pubrec, 99):.2f} ms | "
                      f"delivery p50 {pct(delivery, 50):.2f} p99 {pct(delivery, 99):.2f} ms | lost {lost}", flush=True)


if __name__ == "__main__":
    main()
