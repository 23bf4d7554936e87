"""A raw MQTT 3.1.1 client over a socket, for byte-exact and rule-breaking tests."""
import socket
import struct


def enc_len(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def enc_str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("!H", len(s)) + s


def packet(first, body=b""):
    return bytes([first]) + enc_len(len(body)) + body


def connect(client_id="", clean=True, keep_alive=60, will=None, username=None, password=None,
            level=4, name="MQTT"):
    flags = 0x02 if clean else 0
    payload = enc_str(client_id)
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += enc_str(topic) + enc_str(msg)
    if username is not None:
        flags |= 0x80
        payload += enc_str(username)
    if password is not None:
        flags |= 0x40
        payload += enc_str(password)
    body = enc_str(name) + bytes([level, flags]) + struct.pack("!H", keep_alive) + payload
    return packet(0x10, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, pid=1):
    if isinstance(payload, str):
        payload = payload.encode()
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = enc_str(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return packet(first, body)


def subscribe(pid, *filters):
    body = struct.pack("!H", pid)
    for f, q in filters:
        body += enc_str(f) + bytes([q])
    return packet(0x82, body)


def ack(kind, pid):
    first = {"puback": 0x40, "pubrec": 0x50, "pubrel": 0x62, "pubcomp": 0x70}[kind]
    return packet(first, struct.pack("!H", pid))


PINGREQ = packet(0xC0)
DISCONNECT = packet(0xE0)


class Packet:
    def __init__(self, first, body):
        self.first = first
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = body

    # PUBLISH fields
    @property
    def qos(self):
        return (self.flags >> 1) & 3

    @property
    def dup(self):
        return bool(self.flags & 0x08)

    @property
    def retain(self):
        return bool(self.flags & 0x01)

    @property
    def topic(self):
        n = struct.unpack("!H", self.body[:2])[0]
        return self.body[2:2 + n].decode()

    @property
    def pid(self):
        if self.type == 3:
            n = struct.unpack("!H", self.body[:2])[0]
            return struct.unpack("!H", self.body[2 + n:4 + n])[0] if self.qos else 0
        return struct.unpack("!H", self.body[:2])[0]

    @property
    def payload(self):
        n = struct.unpack("!H", self.body[:2])[0]
        return self.body[2 + n + (2 if self.qos else 0):]

    def __repr__(self):
        return f"Packet(type={self.type}, flags={self.flags:#x}, body={self.body!r})"


class RawClient:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by broker")
        self.buf += chunk

    def recv_packet(self):
        while True:
            if len(self.buf) >= 2:
                mult, length, i = 1, 0, 1
                while i < len(self.buf):
                    b = self.buf[i]
                    length += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        if len(self.buf) >= i + length:
                            p = Packet(self.buf[0], self.buf[i:i + length])
                            self.buf = self.buf[i + length:]
                            return p
                        break
            self._fill()

    def connect(self, client_id="", clean=True, **kw):
        self.send(connect(client_id, clean, **kw))
        p = self.recv_packet()
        assert p.type == 2, p
        return p  # body[0] & 1 = session present, body[1] = return code

    def closed_by_peer(self):
        """True once the broker closes the connection (waits up to the socket timeout)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def retained_snapshot(port, topic_filter, timeout=30):
    """Subscribes with a clean session and returns {topic: payload bytes} of the retained
    messages (PINGRESP marks the end: all are sent before the next packet is answered)."""
    c = RawClient(port, timeout=timeout)
    c.connect("", clean=True)
    c.send(subscribe(1, (topic_filter, 0)))
    assert c.recv_packet().type == 9
    c.send(PINGREQ)
    out = {}
    while True:
        p = c.recv_packet()
        if p.type == 13:
            break
        assert p.type == 3 and p.retain, p
        out[p.topic] = p.payload
    c.close()
    return out
