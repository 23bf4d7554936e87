"""QoS 2 is exactly once across SIGKILL (durable mode): a persistent publisher sends numbered
QoS 2 messages to persistent QoS 2 subscribers while vigil is killed at random moments; both
sides keep their MQTT state across the restarts and resume it, as real clients do. In the end
every number reaches every subscriber once: no duplicate, no loss.

The subscribers hand a message to the application on PUBREL (as paho and libmosquitto do), so a
duplicate means the broker routed a re-sent PUBLISH it had already delivered, or re-sent a
PUBLISH after it had released it."""
import collections
import os
import random
import socket
import tempfile
import threading
import time

import mqtt_raw as raw
from conftest import Vigil, config

WINDOW = 32
SUBSCRIBERS = 3  # client ids hash to different shards: deliveries cross shards


class Publisher:
    """A persistent QoS 2 publisher; its flows survive the broker's restarts."""

    def __init__(self):
        self.next = 0
        self.await_rec = {}   # pid -> number: PUBLISH sent, no PUBREC yet
        self.await_comp = {}  # pid -> number: PUBREL sent, no PUBCOMP yet
        self.completed = set()
        self.last_pid = 0

    def busy(self):
        return bool(self.await_rec or self.await_comp)

    def _pid(self):
        while True:
            self.last_pid = self.last_pid % 65535 + 1
            if self.last_pid not in self.await_rec and self.last_pid not in self.await_comp:
                return self.last_pid

    def run(self, port, send_new, stop):
        """Resumes its flows, then (if send_new) keeps WINDOW in flight until the broker goes
        away or stop() is true."""
        try:
            c = raw.RawClient(port, timeout=0.2)
            ack = c.connect("eo-pub", clean=False)
            assert ack.body[1] == 0, ack
            for pid, n in self.await_rec.items():
                c.send(raw.publish(f"eo/{n % 4}", str(n), qos=2, dup=True, pid=pid))
            for pid in self.await_comp:
                c.send(raw.ack("pubrel", pid))
            while not stop():
                while send_new and len(self.await_rec) + len(self.await_comp) < WINDOW:
                    n, pid = self.next, self._pid()
                    self.next += 1
                    self.await_rec[pid] = n
                    c.send(raw.publish(f"eo/{n % 4}", str(n), qos=2, pid=pid))
                try:
                    p = c.recv_packet()
                except socket.timeout:
                    continue
                if p.type == 5:  # PUBREC
                    if p.pid in self.await_rec:
                        self.await_comp[p.pid] = self.await_rec.pop(p.pid)
                    c.send(raw.ack("pubrel", p.pid))
                elif p.type == 7 and p.pid in self.await_comp:  # PUBCOMP
                    self.completed.add(self.await_comp.pop(p.pid))
            c.close()
        except (OSError, ConnectionError):
            return  # the broker was killed


class Subscriber:
    """A persistent QoS 2 subscriber that hands a message over on PUBREL."""

    def __init__(self, name):
        self.name = name
        self.pending = {}  # pid -> number: PUBLISH received, PUBREL not yet
        self.delivered = collections.Counter()
        self.errors = []

    def subscribe(self, port):
        c = raw.RawClient(port)
        assert c.connect(self.name, clean=False).body[1] == 0
        c.send(raw.subscribe(1, ("eo/#", 2)))
        assert c.recv_packet().type == 9
        c.send(raw.DISCONNECT)
        c.close()

    def has(self, wanted):
        return not self.pending and self.delivered.keys() >= wanted

    def run(self, port, stop):
        try:
            c = raw.RawClient(port, timeout=0.2)
            ack = c.connect(self.name, clean=False)
            if ack.body != b"\x01\x00":
                self.errors.append(f"the persistent session was lost: {ack}")
                return
            while not stop():
                try:
                    p = c.recv_packet()
                except socket.timeout:
                    continue
                if p.type == 3:
                    if p.qos != 2:
                        self.errors.append(f"delivered at QoS {p.qos}")
                    self.pending[p.pid] = int(p.payload)
                    c.send(raw.ack("pubrec", p.pid))
                elif p.type == 6:  # PUBREL
                    if p.pid in self.pending:
                        self.delivered[self.pending.pop(p.pid)] += 1
                    c.send(raw.ack("pubcomp", p.pid))
            c.close()
        except (OSError, ConnectionError):
            return


def start(target, *args):
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


def test_qos2_sigkill_cycles_deliver_each_message_once(vigil_binary, seed):
    cycles = int(os.environ.get("VIGIL_CRASH_CYCLES", "20"))
    rng = random.Random(seed)
    pub = Publisher()
    subs = [Subscriber(f"eo-sub-{i}") for i in range(SUBSCRIBERS)]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(2, "[limits]\nmax_queued = 10000000\n", data_dir=os.path.join(tmp, "var"),
                     top='durability = "durable"').replace('log_level = "debug"\n', "")
        v = Vigil(vigil_binary, cfg, tmp)
        for s in subs:
            s.subscribe(v.port)  # before anything is published: every number is theirs
        for cycle in range(cycles):
            readers = [start(s.run, v.port, lambda: False) for s in subs]
            writer = start(pub.run, v.port, True, lambda: False)
            time.sleep(rng.uniform(0.05, 0.4))  # a random moment to crash: the point of the test
            v.kill()
            for t in readers + [writer]:
                t.join(10)
                assert not t.is_alive(), f"cycle {cycle}: a client did not notice the crash"
            v = Vigil(vigil_binary, cfg, tmp)
        # The last run: the publisher completes what is in flight, the subscribers drain.
        writer = start(pub.run, v.port, False, lambda: not pub.busy())
        writer.join(60)
        assert not pub.busy(), f"publisher flows left: {len(pub.await_rec)} + {len(pub.await_comp)}"
        wanted = set(range(pub.next))
        readers = [start(s.run, v.port, lambda s=s: s.has(wanted)) for s in subs]
        for t in readers:
            t.join(60)
        v.stop()
    assert pub.next > cycles * WINDOW and pub.completed == wanted
    for s in subs:
        duplicates = sorted(n for n, k in s.delivered.items() if k > 1)
        lost = sorted(wanted - set(s.delivered))
        assert not s.errors, f"{s.name}: {s.errors[:3]}"
        print(f"{s.name}: {len(s.delivered)} of {len(wanted)} delivered, {len(duplicates)} duplicated, {len(lost)} lost")
        assert not duplicates and not lost, f"{s.name}: duplicates {duplicates[:10]}, lost {lost[:10]} (seed {seed})"
