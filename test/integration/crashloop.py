"""The crash test: SIGKILL vigil at random moments while a publisher sends numbered QoS 1
messages (to topics a persistent subscriber holds) and retained updates; after every restart
each PUBACKed message must reach the subscriber (duplicates allowed, loss never) and each
retained topic must hold its last acknowledged value or a later one.

Used by test_15_crash.py (20 cycles in CI) and by bench/crash/crash_cycles.py (1,000)."""
import os
import random
import tempfile
import threading
import time

import mqtt_raw as raw
from conftest import Vigil, config

RETAINED_TOPICS = 8
WINDOW = 64


class Publisher(threading.Thread):
    """Sends numbered QoS 1 messages, WINDOW in flight, until the broker goes away.
    Every 10th message is a retained update of crash/r/<k>."""

    def __init__(self, port, start_number):
        super().__init__(daemon=True)
        self.port = port
        self.next = start_number
        self.acked = set()             # numbers of acknowledged queue messages
        self.acked_retained = {}       # topic -> highest acknowledged value
        self.sent_retained = {}        # topic -> highest value sent

    def run(self):
        try:
            c = raw.RawClient(self.port, timeout=5)
            c.connect("crash-pub", clean=True)
            inflight = {}  # pid -> (number, retained topic or None)
            while True:
                while len(inflight) < WINDOW:
                    n = self.next
                    self.next += 1
                    pid = n % 65535 + 1
                    if n % 10 == 0:
                        topic = f"crash/r/{(n // 10) % RETAINED_TOPICS}"
                        c.send(raw.publish(topic, str(n), qos=1, retain=True, pid=pid))
                        self.sent_retained[topic] = n
                        inflight[pid] = (n, topic)
                    else:
                        c.send(raw.publish(f"crash/q/{n % 4}", str(n), qos=1, pid=pid))
                        inflight[pid] = (n, None)
                p = c.recv_packet()
                assert p.type == 4, p
                n, topic = inflight.pop(p.pid)
                if topic is None:
                    self.acked.add(n)
                else:
                    self.acked_retained[topic] = max(self.acked_retained.get(topic, -1), n)
        except (OSError, ConnectionError):
            return  # the broker was killed


class Subscriber:
    """The persistent subscriber: acknowledges everything it gets."""

    def __init__(self):
        self.received = set()
        self.conn = None

    def connect(self, port, first=False):
        self.conn = raw.RawClient(port, timeout=30)
        ack = self.conn.connect("crash-sub", clean=False)
        assert ack.body[1] == 0, ack
        if first:
            self.conn.send(raw.subscribe(1, ("crash/q/#", 1)))
            assert self.conn.recv_packet().type == 9
        else:
            assert ack.body[0] == 1, "the persistent session was lost"

    def drain_until(self, wanted, deadline):
        """Receives until every number in `wanted` has arrived."""
        missing = wanted - self.received
        while missing:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:10]}")
            p = self.conn.recv_packet()
            if p.type == 3:
                n = int(p.payload)
                self.received.add(n)
                missing.discard(n)
                if p.qos:
                    self.conn.send(raw.ack("puback", p.pid))

    def read_until_closed(self):
        """Reads and acknowledges while the broker runs (the online half of the cycles)."""
        try:
            while True:
                p = self.conn.recv_packet()
                if p.type == 3:
                    self.received.add(int(p.payload))
                    if p.qos:
                        self.conn.send(raw.ack("puback", p.pid))
        except (OSError, ConnectionError):
            return

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def retained_values(port):
    return {t: int(p) for t, p in raw.retained_snapshot(port, "crash/r/#").items()}


def run_cycles(binary, cycles, workers=2, seed=None, log=None, durability="durable"):
    """Runs `cycles` kill/restart cycles; returns a summary dict. Raises AssertionError on loss."""
    rng = random.Random(seed)
    acked = set()
    acked_retained = {}
    sent_retained = {}
    number = 0
    total_kill_to_ready = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "var")
        # max_queued is raised so that the queue limit (which drops, counted, by design) never
        # stands in for a loss the crash caused.
        cfg = config(workers, "[limits]\nmax_queued = 10000000\n", data_dir=data,
                     top=f'durability = "{durability}"\nlog_level = "info"')
        cfg = cfg.replace('log_level = "debug"\n', "")
        sub = Subscriber()
        v = Vigil(binary, cfg, tmp)
        sub.connect(v.port, first=True)
        for cycle in range(cycles):
            online = cycle % 2 == 1  # every other cycle the subscriber reads during the crash
            if not online:
                sub.close()
            pub = Publisher(v.port, number)
            pub.start()
            reader = None
            if online:
                reader = threading.Thread(target=sub.read_until_closed, daemon=True)
                reader.start()
            time.sleep(rng.uniform(0.02, 0.4))  # a random moment to crash: the point of the test
            v.kill()
            t_kill = time.monotonic()
            pub.join(10)
            assert not pub.is_alive(), "publisher did not notice the crash"
            if reader:
                reader.join(10)
                assert not reader.is_alive(), "subscriber did not notice the crash"
            number = pub.next
            acked |= pub.acked
            for t, n in pub.acked_retained.items():
                acked_retained[t] = max(acked_retained.get(t, -1), n)
            for t, n in pub.sent_retained.items():
                sent_retained[t] = max(sent_retained.get(t, -1), n)
            sub.close()
            v = Vigil(binary, cfg, tmp)
            total_kill_to_ready += time.monotonic() - t_kill
            now = retained_values(v.port)
            for t, n in acked_retained.items():
                assert t in now and n <= now[t] <= sent_retained[t], \
                    f"cycle {cycle}: retained {t} = {now.get(t)}, last acknowledged {n}"
            sub.connect(v.port)
            sub.drain_until(acked, time.monotonic() + 60)
            if log:
                log(f"cycle {cycle + 1}/{cycles}: {len(pub.acked)} acked this cycle, "
                    f"{len(acked)} in all, all received; retained ok")
        sub.close()
        v.stop()
    return {
        "cycles": cycles,
        "acked": len(acked),
        "received": len(sub.received),
        "duplicates_or_unacked_extra": len(sub.received - acked),
        "mean_restart_s": total_kill_to_ready / max(cycles, 1),
    }
