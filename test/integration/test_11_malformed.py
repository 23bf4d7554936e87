"""Malformed and hostile input: the connection closes, everyone else is served."""
import random
import socket

import mqtt_raw as raw
from clients import Paho

BAD_PACKETS = {
    "reserved type 0": b"\x00\x00",
    "reserved type 15": b"\xf0\x00",
    "publish qos 3": raw.packet(0x36, raw.enc_str("t") + b"\x00\x01"),
    "publish wildcard +": raw.publish("a/+", "x"),
    "publish wildcard #": raw.publish("a/#", "x"),
    "publish empty topic": raw.packet(0x30, raw.enc_str("")),
    "publish invalid utf8": raw.packet(0x30, raw.enc_str(b"\xc0\xaf")),
    "publish U+0000": raw.packet(0x30, raw.enc_str(b"a\x00b")),
    "publish qos0 dup": raw.packet(0x38, raw.enc_str("t")),
    "publish pid 0": raw.publish("t", "x", qos=1, pid=0),
    "subscribe bad flags": raw.packet(0x80, b"\x00\x01" + raw.enc_str("a") + b"\x00"),
    "subscribe no filters": raw.packet(0x82, b"\x00\x01"),
    "subscribe qos 3": raw.packet(0x82, b"\x00\x01" + raw.enc_str("a") + b"\x03"),
    "unsubscribe no filters": raw.packet(0xA2, b"\x00\x01"),
    "pubrel bad flags": raw.packet(0x60, b"\x00\x01"),
    "five byte length": b"\x30\xff\xff\xff\xff\x01",
    "server-only connack": raw.packet(0x20, b"\x00\x00"),
    "server-only suback": raw.packet(0x90, b"\x00\x01\x00"),
    "trailing bytes": raw.packet(0x40, b"\x00\x01\x00"),
}


def test_each_malformed_packet_closes_only_its_connection(broker):
    healthy = Paho(broker.port, "healthy")
    healthy.subscribe("ok", 1)
    for name, data in BAD_PACKETS.items():
        c = raw.RawClient(broker.port)
        c.connect(f"bad-{len(name)}-{abs(hash(name)) % 10000}")
        c.send(data)
        assert c.closed_by_peer(), name
        healthy.publish("ok", name, 1)
        assert healthy.get().payload.decode() == name
    assert broker.alive()
    healthy.stop()


def test_bad_connect_variants_close(broker):
    variants = [
        raw.connect("x", name="MQTX"),
        raw.packet(0x10, raw.enc_str("MQTT") + bytes([4, 0x03, 0, 60]) + raw.enc_str("x")),  # reserved flag
        raw.packet(0x10, raw.enc_str("MQTT") + bytes([4, 0x42, 0, 60]) + raw.enc_str("x") + raw.enc_str("p")),
        raw.packet(0x10, raw.enc_str("MQTT") + bytes([4, 0x1e, 0, 60]) + raw.enc_str("x")),  # will qos 3
        raw.connect("bad\x00id"),
    ]
    for data in variants:
        c = raw.RawClient(broker.port)
        c.send(data)
        assert c.closed_by_peer(), data


def test_oversized_packet_closes_before_body_arrives(start_vigil, workers):
    v = start_vigil(workers, "[limits]\nmax_packet_size = 1024\n")
    c = raw.RawClient(v.port)
    c.connect("big")
    c.send(b"\x30" + raw.enc_len(10_000_000))  # header only: refused at once
    assert c.closed_by_peer()
    assert v.wait_for_log(r"packet too large")


def test_random_garbage_never_crashes(broker, seed):
    rng = random.Random(seed).randbytes
    for i in range(50):
        c = raw.RawClient(broker.port, timeout=5)
        try:
            if i % 2:
                c.connect(f"g{i}")
            c.send(rng(1 + i * 37 % 700))
            # Half-close: garbage that is a valid prefix would otherwise wait for more bytes.
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the broker already closed on the CONNECT or the first bad byte
        assert c.closed_by_peer()
        c.close()
    assert broker.alive()
    p = Paho(broker.port, "after-garbage")
    p.stop()


def test_slow_subscriber_does_not_grow_memory_or_block_others(start_vigil, workers):
    v = start_vigil(workers, "[limits]\nmax_outbound_bytes = 65536\n")
    slow = raw.RawClient(v.port)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect("slow")
    slow.send(raw.subscribe(1, ("flood", 0)))
    assert slow.recv_packet().type == 9
    # slow never reads again
    fast = Paho(v.port, "fast")
    fast.subscribe("flood", 1)  # QoS 0 floods stay QoS 0; the final QoS 1 marker cannot be dropped
    pub = raw.RawClient(v.port)
    pub.connect("flooder")
    payload = b"x" * 1000
    base = v.rss_kib()
    chunk = raw.publish("flood", payload) * 100
    for _ in range(200):  # 20,000 messages, 20 MB toward the slow client
        pub.send(chunk)
    pub.send(raw.publish("flood", "last", qos=1, pid=1))
    assert pub.recv_packet().type == 4
    got = 0
    while True:
        m = fast.get(timeout=30)
        got += 1
        if m.payload == b"last":
            break
    assert got >= 1  # the marker reached the reading client while the other one stalled
    assert v.wait_for_log(r"outbound queue full, dropping QoS 0")
    assert v.rss_kib() - base < 50_000  # bounded: not 20 MB of backlog per slow client
    fast.stop()


def test_connection_flood_past_the_fd_limit(vigil_binary, tmp_path, workers):
    """Idle connections beyond the process's descriptor limit: accept backs off and logs,
    idle sockets are closed by the connect timeout, and a real client gets in afterwards."""
    import subprocess
    from conftest import Vigil, config
    # prlimit caps vigil at 64 descriptors (hard limit, so vigil cannot raise it).
    wrapper = tmp_path / "vigil-limited"
    wrapper.write_text(f"#!/bin/sh\nexec prlimit --nofile=64:64 {vigil_binary} \"$@\"\n")
    wrapper.chmod(0o755)
    v = Vigil(str(wrapper), config(workers, '[limits]\nconnect_timeout = "1s"\n', str(tmp_path / "var")), str(tmp_path))
    try:
        idle = []
        for _ in range(120):
            s = socket.create_connection(("127.0.0.1", v.port), timeout=5)
            idle.append(s)
        assert v.wait_for_log(r"accept failed: Too many open files", timeout=10)
        assert v.wait_for_log(r"no CONNECT within the connect timeout", timeout=10)
        for s in idle:
            s.close()
        p = Paho(v.port, "after-flood")
        p.publish("flood/ok", "1", 1)
        p.stop()
        assert v.alive()
    finally:
        assert v.stop() == 0
