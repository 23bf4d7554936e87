"""Limits before and after login (issue 12, points 7-9): WebSocket control frames, HTTP
connections in the connection bounds, per-address bounds, accept at the descriptor limit, and
the password-check queue. Every flood is bounded in count and time and stays on loopback; a
second address (127.0.0.2, also loopback) plays the attacker or the bystander."""
import os
import select
import socket
import struct
import time

import mqtt_raw as raw
from test_07_auth import make_users, run
from test_19_tokens import issue


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ws_upgrade(port, path="/mqtt", rcvbuf=None):
    """A raw WebSocket to /mqtt (subprotocol mqtt), past its 101."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connecting: a small window
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: mqtt\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def client_frame(opcode, payload):
    key = b"\x01\x02\x03\x04"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + masked


def flood_pings(s, seconds):
    """Sends Ping frames without reading for `seconds` (what the kernel takes); returns bytes sent."""
    s.setblocking(False)
    burst = client_frame(0x9, b"p" * 125) * 256  # each Pong as large as its Ping
    sent = 0
    at = 0  # frames stay whole: a partial send goes on where it stopped
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            n = s.send(burst[at:] if at else burst)
            sent += n
            at = (at + n) % len(burst)
        except BlockingIOError:
            select.select([], [s], [], 0.05)
    return sent


def open_http(port):
    """An HTTP connection the server has accepted: it answered one keep-alive request."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.recv(4096).startswith(b"HTTP/1.1 200")
    return c


def refused_http(port):
    """True when the server closes a new HTTP connection without answering."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return c.recv(4096) == b""
    except ConnectionResetError:
        return True


def healthz_ok(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := c.recv(4096):
        data += chunk
    c.close()
    return data.startswith(b"HTTP/1.1 200")


def test_websocket_ping_floods_cannot_grow_memory(start_vigil):
    v = start_vigil(2)
    base = v.rss_kib()
    before = ws_upgrade(v.http_port, rcvbuf=4096)  # never sends CONNECT
    after = ws_upgrade(v.http_port, rcvbuf=4096)
    after.sendall(client_frame(0x2, raw.connect("pinger")))  # logged in, then never reads
    dashboard = ws_upgrade(v.http_port, "/ws", rcvbuf=4096)  # the JSON push gateway too
    sent = flood_pings(before, 1.5) + flood_pings(after, 1.5) + flood_pings(dashboard, 1.5)
    grown = v.rss_kib() - base
    assert sent > 1_000_000, sent  # the flood got through the kernel
    assert grown < 32 * 1024, f"RSS grew {grown} KiB under {sent} bytes of Pings"
    assert healthz_ok(v.http_port)
    assert v.alive()


def test_http_connections_count_toward_max_connections(start_vigil):
    v = start_vigil(2, "[limits]\nmax_connections = 4\n")
    held = [raw.RawClient(v.port) for _ in range(2)]
    for i, c in enumerate(held):
        assert c.connect(f"held-{i}").body[1] == 0
    idle_http = [open_http(v.http_port) for _ in range(2)]
    # Both kinds are refused now: an MQTT client and an HTTP client are closed at accept.
    extra = raw.RawClient(v.port)
    assert extra.closed_by_peer()
    assert refused_http(v.http_port)
    assert v.wait_for_log(r"http: refusing new connections: over max_connections \(4\)")
    assert v.wait_for_log(r"refusing new connections: over max_connections \(4\)")
    # An idle HTTP connection that goes frees its place.
    idle_http.pop().close()
    deadline = time.monotonic() + 10
    while not try_healthz(v.http_port):
        assert time.monotonic() < deadline, "the freed place was never reusable"


def try_healthz(port):
    try:
        return healthz_ok(port)
    except OSError:
        return False


def test_max_connections_per_address_on_every_listener(start_vigil):
    v = start_vigil(2, "[limits]\nmax_connections_per_address = 2\n")
    mqtt = raw.RawClient(v.port)
    assert mqtt.connect("first").body[1] == 0
    http = open_http(v.http_port)
    # A third connection from 127.0.0.1 is refused, on either listener.
    extra = raw.RawClient(v.port)
    assert extra.closed_by_peer()
    assert refused_http(v.http_port)
    assert v.wait_for_log(r"over max_connections_per_address \(2\)")
    # Another address is not affected.
    other = socket.create_connection(("127.0.0.1", v.port), timeout=10, source_address=("127.0.0.2", 0))
    o = raw.RawClient.__new__(raw.RawClient)
    o.sock, o.buf = other, b""
    assert o.connect("other-address").body[1] == 0
    http.close()


def test_requests_without_a_token_do_not_hold_connections(start_vigil, vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    ops = issue(vigil_binary, tokens, "ops", "--subscribe", "#")
    v = start_vigil(1, f'[http]\ntokens_file = "{tokens}"\n')
    c = socket.create_connection(("127.0.0.1", v.http_port), timeout=10)
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive asked for
    data = b""
    while chunk := c.recv(4096):  # the server closes after its answer
        data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b"Connection: close" in data
    # With a token the connection stays open for the next request.
    k = socket.create_connection(("127.0.0.1", v.http_port), timeout=10)
    for _ in range(2):
        k.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ops}\r\n\r\n".encode())
        assert k.recv(4096).startswith(b"HTTP/1.1 200")


def test_http_accept_backs_off_at_the_descriptor_limit(vigil_binary, tmp_path):
    from conftest import Vigil, config
    wrapper = tmp_path / "vigil-limited"
    wrapper.write_text(f"#!/bin/sh\nexec prlimit --nofile=64:64 {vigil_binary} \"$@\"\n")
    wrapper.chmod(0o755)
    v = Vigil(str(wrapper), config(2, "", str(tmp_path / "var")), str(tmp_path))
    try:
        held = [socket.create_connection(("127.0.0.1", v.http_port), timeout=5) for _ in range(100)]
        assert v.wait_for_log(r"http: accept failed: Too many open files; retrying in 50 ms")
        t0, c0 = time.monotonic(), cpu_seconds(v.proc.pid)
        time.sleep(2)  # measuring CPU use over a wall-clock interval: nothing to await
        used = cpu_seconds(v.proc.pid) - c0
        assert used < 0.5 * (time.monotonic() - t0), f"{used:.2f} s of CPU in 2 s at the descriptor limit"
        for s in held:
            s.close()
        deadline = time.monotonic() + 10
        while not try_healthz(v.http_port):
            assert time.monotonic() < deadline
    finally:
        assert v.stop() == 0


def slow_users(vigil_binary, tmp_path, iterations=100000):
    pw = tmp_path / "passwd"
    r = run(vigil_binary, "passwd", "--stdin", "--iterations", str(iterations), str(pw), "officer", input="right\n")
    assert r.returncode == 0, r.stderr
    return pw


def attacker_connects(port, n, source="127.0.0.2", user=None):
    """n connections from `source` that each send a CONNECT with a wrong password: for `user`,
    or (None) for users that do not exist, checked against a hash of the default cost."""
    socks = []
    for i in range(n):
        c = raw.RawClient.__new__(raw.RawClient)
        c.sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
        c.buf = b""
        c.send(raw.connect(f"guess-{i}", username=user or f"nobody-{i}", password=f"guess-{i}"))
        socks.append(c)
    return socks


def test_a_password_check_flood_from_one_address_does_not_delay_others(start_vigil, vigil_binary, tmp_path):
    # Every check here, the attacker's and the officer's, costs the officer's hash: about 0.3 s
    # of CPU (5x the default), so the scheduling delays of a loaded machine (hundreds of ms
    # when the tests run four at a time) are worth a hash or two. The hash threads run at
    # nice 10: behind busy tests (a sanitizer build) the officer's check may take seconds, so
    # the CONNECT deadline is raised out of the way; the test is about order, not speed.
    pw = slow_users(vigil_binary, tmp_path, iterations=500000)
    v = start_vigil(2, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\nhash_threads = 2\n'
                    '[limits]\nconnect_timeout = "120s"\n')
    attackers = attacker_connects(v.port, 60, user="officer")
    codes = {}

    def collect(timeout=0):
        """Reads the CONNACKs that have arrived; returns how many said 0x04 (hashed, wrong)."""
        waiting = [c for c in attackers if c not in codes]
        for c in [c for c in waiting if c.sock in select.select([c.sock for c in waiting], [], [], timeout)[0]]:
            codes[c] = c.recv_packet().body[1]
        return list(codes.values()).count(4)

    hashed_before = collect()  # some may have been hashed while the attacker was still connecting
    user = raw.RawClient(v.port, timeout=120)
    assert user.connect("officer-1", username="officer", password="right").body[1] == 0
    # Checks run per address in turn, one per address at a time: the officer's runs on the
    # thread the attacker's is not using, while that thread hashes one or two more, not the
    # dozen or more queued before it (what a single queue would make the officer wait for).
    # Allowed: up to 6, for delays in reaching the server and in reading the verdicts.
    # Refusals (0x03, queue full) cost no hash.
    hashed_meanwhile = collect() - hashed_before
    assert hashed_meanwhile <= 6, f"{hashed_meanwhile} attacker checks were hashed while the officer waited"
    deadline = time.monotonic() + 10
    while list(codes.values()).count(3) < 60 - 17:  # beyond 16 waiting per address: refused at once
        assert time.monotonic() < deadline, f"only {list(codes.values()).count(3)} refusals"
        collect(timeout=1)
    assert v.wait_for_log(r"too many password checks waiting .*CONNACK 0x03")
    for c in attackers:
        c.close()  # their queued checks are dropped, not hashed


def test_abandoned_password_checks_are_not_hashed(start_vigil, vigil_binary, tmp_path):
    pw = slow_users(vigil_binary, tmp_path)
    v = start_vigil(1, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\nhash_threads = 1\n')
    attackers = attacker_connects(v.port, 16)
    for c in attackers:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # gone before their checks ran
    user = raw.RawClient(v.port, timeout=30)
    assert user.connect("officer-1", username="officer", password="right").body[1] == 0
    m = v.wait_for_log(r"password checks hashed (\d+), dropped ([1-9]\d*)")
    assert m, "no abandoned check was dropped"
    assert int(m.group(1)) + int(m.group(2)) <= 17
