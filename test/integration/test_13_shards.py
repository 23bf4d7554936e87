"""Cross-shard routing: many clients spread over shards, order and fan-out preserved."""
import threading

import mqtt_raw as raw
from clients import Paho


def test_fan_out_across_shards_keeps_per_publisher_order(start_vigil):
    v = start_vigil(4)
    subs = [Paho(v.port, f"fan-sub-{i}") for i in range(12)]
    for s in subs:
        s.subscribe("devices/+/location", 1)
    pubs = []
    for p in range(6):
        c = raw.RawClient(v.port)
        c.connect(f"device-{p}")
        pubs.append(c)
    n = 100

    def run(i, c):
        for k in range(1, n + 1):
            c.send(raw.publish(f"devices/{i}/location", f"{i}:{k}", qos=1, pid=k))
        for _ in range(n):
            assert c.recv_packet().type == 4

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(pubs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in subs:
        seen = {}
        for m in s.expect(6 * n):
            dev, k = m.payload.decode().split(":")
            assert int(k) == seen.get(dev, 0) + 1, "per-publisher order broken"
            seen[dev] = int(k)
        assert all(seen[str(i)] == n for i in range(6))
        s.stop()


def test_persistent_sessions_live_on_their_home_shard(start_vigil):
    v = start_vigil(4)
    for i in range(16):
        s = Paho(v.port, f"home-{i}", clean_session=False)
        s.subscribe(f"home/{i}", 1)
        s.stop()
        assert s.disconnected.wait(10)
    pub = Paho(v.port, "home-pub")
    for i in range(16):
        pub.publish(f"home/{i}", f"for {i}", 1)
    for i in range(16):
        s = Paho(v.port, f"home-{i}", clean_session=False)
        assert s.connack[0] == 1
        assert s.get().payload == f"for {i}".encode()
        s.stop()
    pub.stop()
