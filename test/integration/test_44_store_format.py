"""Data written by an earlier vigil still opens and means the same: a data_dir made once and kept
in the tree (test/fixtures/data-format-1) is copied, opened by the vigil under test, and every
kind of record in it is checked from outside: a persistent session with its subscriptions and
queued QoS 1/2 messages, a QoS 2 message received but not yet released, a retained message,
a device's last value, and archived history.

A change of the store's or the archive's format that existing data dirs cannot be read with
fails here. Such a change needs a new format version and a migration; the old fixture stays,
and a new one is made beside it with `python3 test/integration/test_44_store_format.py --vigil
BINARY --make test/fixtures/data-format-N`."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import mqtt_raw as raw
from conftest import Vigil, config

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "data-format-1")

# The archive's default retention would drop the fixture's history once it is 30 days old.
ARCHIVE = '[archive]\nretention = "36500d"\n'

SUBSCRIBER = "fx-sub"
SUBSCRIPTIONS = (("fx/q/#", 2), ("fx/one", 1))
QUEUED = [("fx/q/a", b"queued-1", 1), ("fx/q/b", b"queued-2", 2), ("fx/one", b"queued-3", 1)]
# Leaves a QoS 2 message received (PUBREC sent) and not yet released; vigil delivers on receipt,
# so it is queued for the subscriber too, and a resend after the restart must not deliver it again.
PUBLISHER = "fx-pub"
UNRELEASED = ("fx/q/c", b"unreleased", 7)
RETAINED = ("fx/retained", b"kept")
DEVICE = "fx-1"
STATUS = {"online": True, "battery": 80}
EVENTS = [{"type": "panic", "n": 1}, {"type": "door", "n": 2}]


def make(binary, out):
    """Writes the fixture: a vigil runs, clients leave one of each kind of record, vigil stops."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "var")
        v = Vigil(binary, config(1, ARCHIVE, data_dir=data), tmp)
        sub = raw.RawClient(v.port)
        sub.connect(SUBSCRIBER, clean=False)
        sub.send(raw.subscribe(1, *SUBSCRIPTIONS))
        assert sub.recv_packet().type == 9
        sub.send(raw.packet(0xE0))
        assert sub.closed_by_peer()
        pub = raw.RawClient(v.port)
        pub.connect("fx-maker")
        for pid, (topic, payload, qos) in enumerate(QUEUED, start=1):
            pub.send(raw.publish(topic, payload, qos, pid=pid))
            assert pub.recv_packet().type == (4 if qos == 1 else 5)
            if qos == 2:
                pub.send(raw.ack("pubrel", pid))
                assert pub.recv_packet().type == 7
        pub.send(raw.publish(RETAINED[0], RETAINED[1], 1, retain=True, pid=10))
        assert pub.recv_packet().type == 4
        pub.send(raw.publish(f"devices/{DEVICE}/status", json.dumps(STATUS), 1, pid=11))
        assert pub.recv_packet().type == 4
        for i, e in enumerate(EVENTS):
            pub.send(raw.publish(f"devices/{DEVICE}/events", json.dumps(e), 1, pid=12 + i))
            assert pub.recv_packet().type == 4
        pub.send(raw.packet(0xE0))
        q2 = raw.RawClient(v.port)
        q2.connect(PUBLISHER, clean=False)
        topic, payload, pid = UNRELEASED
        q2.send(raw.publish(topic, payload, 2, pid=pid))
        assert q2.recv_packet().type == 5
        q2.send(raw.packet(0xE0))
        assert q2.closed_by_peer()
        assert v.stop() == 0, "\n".join(v.lines[-40:])
        shutil.copytree(data, out, ignore=shutil.ignore_patterns("LOG*", "LOCK", "*.pid", "vigil.lock"))


def receive(sub, n):
    """Reads `n` PUBLISHes, acknowledging each (QoS 2 through to PUBCOMP); returns them."""
    got = []
    releases = 0
    while len(got) < n or releases < sum(1 for p in got if p.qos == 2):
        p = sub.recv_packet()
        if p.type == 3:
            got.append(p)
            sub.send(raw.ack("puback" if p.qos == 1 else "pubrec", p.pid))
        else:
            assert p.type == 6, p  # PUBREL
            sub.send(raw.ack("pubcomp", p.pid))
            releases += 1
    return got


def get_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


def test_a_data_dir_of_format_1_opens_with_every_record(vigil_binary, tmp_path):
    data = tmp_path / "var"
    shutil.copytree(FIXTURE, data)
    check = subprocess.run([vigil_binary, "db", "check", str(data)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    counts = dict(re.findall(r"^  (\w+) +(\d+) entries$", check.stdout, re.M))
    assert counts == {"sessions": "2", "subscriptions": "2", "queue": "4", "inbound": "1", "retained": "1",
                      "last_value": "1", "meta": "1", "history": "0"}, check.stdout

    v = Vigil(vigil_binary, config(2, ARCHIVE, data_dir=str(data)), str(tmp_path))
    try:
        # The persistent session: present, and its queued messages delivered in order.
        sub = raw.RawClient(v.port)
        assert sub.connect(SUBSCRIBER, clean=False).body == b"\x01\x00"
        topic, payload, pid = UNRELEASED
        want = QUEUED + [(topic, payload, 2)]
        assert [(p.topic, p.payload, p.qos) for p in receive(sub, len(want))] == want

        # The QoS 2 message waiting for its PUBREL: a resend is recognised, the release completes.
        q2 = raw.RawClient(v.port)
        assert q2.connect(PUBLISHER, clean=False).body == b"\x01\x00"
        q2.send(raw.publish(topic, payload, 2, dup=True, pid=pid))
        rec = q2.recv_packet()
        assert rec.type == 5 and rec.pid == pid
        q2.send(raw.ack("pubrel", pid))
        comp = q2.recv_packet()
        assert comp.type == 7 and comp.pid == pid

        # The subscriptions survived, and the resend was not delivered again: the next message
        # the subscriber gets is a new one.
        fresh = raw.RawClient(v.port)
        fresh.connect("fx-fresh")
        fresh.send(raw.publish("fx/one", b"after", 1, pid=1))
        assert fresh.recv_packet().type == 4
        assert [(p.topic, p.payload) for p in receive(sub, 1)] == [("fx/one", b"after")]

        # Nothing else was queued: a PINGREQ is answered with nothing before it.
        sub.send(raw.packet(0xC0))
        assert sub.recv_packet().type == 13

        # The retained message.
        r = raw.RawClient(v.port)
        r.connect("fx-retained")
        r.send(raw.subscribe(1, (RETAINED[0], 1)))
        assert r.recv_packet().type == 9
        p = r.recv_packet()
        assert (p.topic, p.payload, p.retain) == (RETAINED[0], RETAINED[1], True)

        # The device's last value and its archived events.
        devices = get_json(v.http_port, "/api/v1/devices")
        device = next(d for d in devices["devices"] if d["id"] == DEVICE)
        assert device["values"]["status"]["payload"] == STATUS, device
        now = int(time.time() * 1000)
        history = get_json(v.http_port, f"/api/v1/history?topic=devices/{DEVICE}/events&from=0&to={now}")
        assert [r["payload"] for r in history["records"]] == EVENTS, history
    finally:
        assert v.stop() == 0, "\n".join(v.lines[-40:])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Makes a data_dir fixture for this test.")
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--make", required=True, help="the fixture directory to create")
    a = ap.parse_args()
    if os.path.exists(a.make):
        sys.exit(f"{a.make} exists: a fixture is never remade; make a new one beside it")
    make(os.path.abspath(a.vigil), a.make)
    print(f"made {a.make}")
