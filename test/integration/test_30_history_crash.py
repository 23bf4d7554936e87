"""No acknowledged message is lost from the history across SIGKILL (durable mode): a device
publishes numbered QoS 1 events while vigil is killed at random moments, before, during and
after the compactor's writes. In the end every event whose PUBACK arrived is in the history,
and none is there twice (a staged copy written again keeps its key)."""
import collections
import os
import random
import socket
import tempfile
import threading
import time

import mqtt_raw as raw
from conftest import Vigil, config
from test_29_history import history

WINDOW = 32
# A short interval, so the kills fall before, during and after compactor writes alike.
ARCHIVE = '[archive]\ntopics = ["devices/+/events"]\nflush_interval = "150ms"\n'


class Device:
    """Publishes numbered QoS 1 events; a new clean session after each crash, so an event it
    never saw acknowledged is not sent again (it may be in the history once, or not at all)."""

    def __init__(self):
        self.next = 0
        self.acked = set()

    def run(self, port):
        try:
            c = raw.RawClient(port, timeout=0.2)
            assert c.connect("history-device").body[1] == 0
            in_flight = {}
            pid = 0
            while True:
                while len(in_flight) < WINDOW:
                    pid = pid % 65535 + 1
                    n, self.next = self.next, self.next + 1
                    in_flight[pid] = n
                    c.send(raw.publish(f"devices/dev-{n % 8}/events", f'{{"n": {n}}}', qos=1, pid=pid))
                try:
                    p = c.recv_packet()
                except socket.timeout:
                    continue
                if p.type == 4 and p.pid in in_flight:  # PUBACK
                    self.acked.add(in_flight.pop(p.pid))
        except (OSError, ConnectionError):
            return  # the broker was killed


def archived_numbers(port):
    """Every event in the history, a page at a time."""
    found = collections.Counter()
    params = {"topic": "devices/+/events", "from": "0", "to": str(int(time.time() * 1000) + 60_000), "limit": "10000"}
    while True:
        status, body = history(port, **params)
        assert status == 200, body
        for r in body["records"]:
            found[r["payload"]["n"]] += 1
        if not body["next"]:
            return found
        params["cursor"] = body["next"]


def test_sigkill_during_compaction_loses_no_acknowledged_event_and_duplicates_none(vigil_binary, seed):
    cycles = int(os.environ.get("VIGIL_CRASH_CYCLES", "20"))
    rng = random.Random(seed)
    device = Device()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(2, ARCHIVE, data_dir=os.path.join(tmp, "var"), top='durability = "durable"').replace('log_level = "debug"\n', "")
        v = Vigil(vigil_binary, cfg, tmp)
        for cycle in range(cycles):
            t = threading.Thread(target=device.run, args=(v.port,), daemon=True)
            t.start()
            time.sleep(rng.uniform(0.05, 0.6))  # a random moment to crash: the point of the test
            v.kill()
            t.join(10)
            assert not t.is_alive(), f"cycle {cycle}: the device did not notice the crash"
            v = Vigil(vigil_binary, cfg, tmp)
        try:
            found = archived_numbers(v.http_port)
        except OSError:
            print("\n".join(v.lines[-200:]))  # why the last vigil did not answer
            raise
        v.stop()
    duplicated = sorted(n for n, k in found.items() if k > 1)
    lost = sorted(device.acked - set(found))
    unknown = sorted(set(found) - set(range(device.next)))
    print(f"{len(device.acked)} of {device.next} events acknowledged over {cycles} crashes; "
          f"{len(found)} in the history, {len(lost)} acknowledged ones missing, {len(duplicated)} duplicated")
    assert len(device.acked) > cycles * WINDOW
    assert not lost, f"acknowledged events missing from the history: {lost[:10]} (seed {seed})"
    assert not duplicated and not unknown, f"duplicated {duplicated[:10]}, unknown {unknown[:10]} (seed {seed})"
