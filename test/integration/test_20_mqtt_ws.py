"""MQTT over WebSocket on /mqtt (issue 5, point 1 and 7): the browser's MQTT client (MQTT.js from
npm) against the same broker as TCP clients, and a raw RFC 6455 client for framing edge cases."""
import base64
import os
import socket
import struct
import subprocess

import mqtt_raw as raw
from clients import Paho
from jsclients import Node


class WsRaw(raw.RawClient):
    """MQTT over a hand-made WebSocket: every send() goes out as binary frames of `frame_size`
    bytes (a fragmented message when smaller than the data)."""

    def __init__(self, port, path="/mqtt", protocols="mqtt", origin=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.frame_size = 1 << 20
        self.close_code = None
        self.pongs = []
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if protocols:
            req += f"Sec-WebSocket-Protocol: {protocols}\r\n"
        if origin:
            req += f"Origin: {origin}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            head += chunk
        head, _, self.wire = head.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])
        self.headers = head.decode().lower()

    @staticmethod
    def frame(opcode, data, fin=True):
        mask = os.urandom(4)
        n = len(data)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    def send(self, data):
        chunks = [data[i:i + self.frame_size] for i in range(0, len(data), self.frame_size)] or [b""]
        out = b""
        for i, c in enumerate(chunks):
            out += self.frame(0x2 if i == 0 else 0x0, c, fin=i == len(chunks) - 1)
        self.sock.sendall(out)

    def _fill(self):
        while True:
            while len(self.wire) >= 2:
                b0, b1 = self.wire[0], self.wire[1]
                assert not b1 & 0x80, "a server frame must not be masked"
                n, at = b1 & 0x7F, 2
                if n == 126:
                    n, at = struct.unpack("!H", self.wire[2:4])[0], 4
                elif n == 127:
                    n, at = struct.unpack("!Q", self.wire[2:10])[0], 10
                if len(self.wire) < at + n:
                    break
                payload, self.wire = self.wire[at:at + n], self.wire[at + n:]
                op = b0 & 0x0F
                if op == 0x8:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    raise ConnectionError(f"WebSocket closed with {self.close_code}")
                if op == 0xA:
                    self.pongs.append(payload)
                    continue
                assert op in (0x2, 0x0), f"unexpected opcode {op}"
                self.buf += payload
                return
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by broker")
            self.wire += chunk

    def wait_close(self):
        """The close code the server sends (after whatever it still had to say)."""
        try:
            while True:
                self._fill()
        except ConnectionError:
            return self.close_code


def mqttjs(url, **options):
    return Node("mqtt_client.js", {"url": url, **options})


def test_mqttjs_pubsub_with_tcp_clients(start_vigil, workers):
    v = start_vigil(workers)
    url = f"ws://127.0.0.1:{v.http_port}/mqtt"
    tcp = Paho(v.port, "tcp-side")
    tcp.subscribe("js/#", 2)
    tcp.publish("js/retained", b"kept", qos=1, retain=True)
    assert tcp.get().payload == b"kept"

    js = mqttjs(url, clientId="browser-1", subscribe=[{"filter": "js/#", "qos": 2}], expect=5, publish=[
        {"topic": "js/q0", "payload": "zero", "qos": 0},
        {"topic": "js/q1", "payload": "one", "qos": 1},
        {"topic": "js/q2", "payload": "two", "qos": 2},
        {"topic": "js/big", "size": 200000, "qos": 1},  # many TCP reads, one WebSocket frame
    ])
    js.next("done")  # after the 5 messages (events arrive in the order they happen)
    assert js.seen[0] == {"event": "connect", "sessionPresent": False}
    assert [e["granted"] for e in js.seen if e["event"] == "subscribed"] == [[2]]
    got = [e for e in js.seen if e["event"] == "message"]
    assert got[0]["topic"] == "js/retained" and got[0]["retain"] and got[0]["payload"] == "kept"
    by_topic = {m["topic"]: m for m in got[1:]}
    assert {t: (m["qos"], m["len"]) for t, m in by_topic.items()} == {
        "js/q0": (0, 4), "js/q1": (1, 3), "js/q2": (2, 3), "js/big": (1, 200000)}
    assert js.wait() == 0
    # The TCP subscriber got what the browser published, and the browser what TCP published.
    seen = {tcp.get().topic: None for _ in range(4)}
    assert set(seen) == {"js/q0", "js/q1", "js/q2", "js/big"}

    follower = mqttjs(url, clientId="browser-2", subscribe=[{"filter": "cmd/+", "qos": 1}], expect=1)
    follower.next("subscribed")
    tcp.publish("cmd/stop", b"now", qos=1)
    assert follower.next("message")["payload"] == "now"
    assert follower.wait() == 0, (follower.seen, follower.proc.stderr.read())


def test_will_on_a_dropped_websocket_and_not_after_disconnect(start_vigil, workers):
    v = start_vigil(workers)
    url = f"ws://127.0.0.1:{v.http_port}/mqtt"
    watcher = Paho(v.port, "watcher")
    watcher.subscribe("status/#", 1)
    will = {"topic": "status/car-9", "payload": "offline", "qos": 1, "retain": False}

    polite = mqttjs(url, clientId="car-8", will={**will, "topic": "status/car-8"})
    polite.next("connect")
    polite.next("done")  # end(): DISCONNECT, then the WebSocket closes
    assert polite.wait() == 0
    dropped = mqttjs(url, clientId="car-9", will=will, finish="drop")
    dropped.next("connect")
    dropped.next("done")
    m = watcher.get()
    assert (m.topic, m.payload) == ("status/car-9", b"offline")  # and none for car-8 before it
    assert dropped.wait() == 0


def test_persistent_session_over_websocket(start_vigil, workers):
    v = start_vigil(workers)
    url = f"ws://127.0.0.1:{v.http_port}/mqtt"
    first = mqttjs(url, clientId="console-1", clean=False, subscribe=[{"filter": "alerts/#", "qos": 1}])
    first.next("subscribed")
    first.next("done")
    assert first.wait() == 0
    Paho(v.port, "alarm").publish("alerts/zone-3", b"intrusion", qos=1)
    again = mqttjs(url, clientId="console-1", clean=False, expect=1)
    assert again.next("connect")["sessionPresent"] is True
    m = again.next("message")
    assert (m["topic"], m["payload"], m["qos"]) == ("alerts/zone-3", "intrusion", 1)
    assert again.wait() == 0


def test_passwords_and_anonymous_policy_on_mqtt_websocket(start_vigil, vigil_binary, tmp_path):
    pw = tmp_path / "passwd"
    r = subprocess.run([vigil_binary, "passwd", "--stdin", "--iterations", "1000", str(pw), "console"],
                       input="s3cret\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    v = start_vigil(2, f'[auth]\npassword_file = "{pw}"\n', http="allow_anonymous = false")
    url = f"ws://127.0.0.1:{v.http_port}/mqtt"
    ok = mqttjs(url, clientId="c1", username="console", password="s3cret")
    ok.next("connect")
    assert ok.wait() == 0
    bad = mqttjs(url, clientId="c2", username="console", password="wrong")
    assert "Bad username or password" in bad.next("error")["message"]
    anon = mqttjs(url, clientId="c3")
    assert "Not authorized" in anon.next("error")["message"]


def test_framing_edge_cases(start_vigil, workers):
    v = start_vigil(workers)
    port = v.http_port
    # One byte per frame (a fragmented message), then pings between packets.
    c = WsRaw(port)
    assert c.status == 101 and "sec-websocket-protocol: mqtt" in c.headers
    c.frame_size = 1
    assert c.connect("frag", True).body[1] == 0
    c.frame_size = 1 << 20
    c.sock.sendall(WsRaw.frame(0x9, b"are you there"))
    c.send(raw.subscribe(1, ("frag/t", 1)))
    assert c.recv_packet().type == 9
    assert c.pongs == [b"are you there"]
    # Two packets in one frame, and a packet split across frames.
    c.send(raw.publish("frag/t", b"a", qos=1, pid=5) + raw.publish("frag/t", b"b", qos=0))
    packets = [c.recv_packet() for _ in range(3)]
    assert sorted((p.type, p.payload if p.type == 3 else b"") for p in packets) == [(3, b"a"), (3, b"b"), (4, b"")]
    c.send(raw.DISCONNECT)
    assert c.wait_close() == 1000

    # A text frame is refused with 1003 (MQTT over WebSocket is binary only).
    t = WsRaw(port)
    t.sock.sendall(WsRaw.frame(0x1, raw.connect("text")))
    assert t.wait_close() == 1003
    # Unmasked client frames and garbage inside good frames: 1002, and the broker goes on.
    u = WsRaw(port)
    u.sock.sendall(b"\x82\x02\x10\x00")
    assert u.wait_close() == 1002
    g = WsRaw(port)
    g.send(b"\xff\xff\xff\xff\xff")
    assert g.wait_close() == 1002
    assert WsRaw(port).connect("still-fine").body[1] == 0


def test_upgrade_refusals(start_vigil):
    v = start_vigil(1, '[http]\nallowed_origins = ["https://dispatch.example"]\n')
    port = v.http_port
    assert WsRaw(port, protocols=None).status == 400  # the mqtt subprotocol is required
    assert WsRaw(port, protocols="mqtt", origin="https://evil.example").status == 403
    assert WsRaw(port, protocols="mqtt", origin="https://dispatch.example").status == 101
    assert WsRaw(port, protocols="mqttv3.1, mqtt").status == 101
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 426")
