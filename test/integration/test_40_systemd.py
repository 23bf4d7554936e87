"""systemd (issue 16, point 6): the unit file in conf/ passes `systemd-analyze verify`, and the
real binary speaks systemd's notification protocol to NOTIFY_SOCKET: READY once it serves,
watchdog pings at half WatchdogSec (withheld while a shard thread is stopped), STOPPING on
SIGTERM."""
import ctypes
import os
import signal
import socket
import subprocess
import time

import mqtt_raw as raw

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_the_unit_file_verifies(vigil_binary, tmp_path):
    unit = open(os.path.join(ROOT, "conf", "vigil.service")).read()
    assert "ExecStart=/usr/bin/vigil --config /etc/vigil/vigil.toml" in unit
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/vigil",
                      "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "LimitNOFILE=", "Type=notify", "WatchdogSec="):
        assert hardening in unit
    # verify needs the program to exist: the one just built stands in for /usr/bin/vigil.
    (tmp_path / "vigil.service").write_text(unit.replace("/usr/bin/vigil", os.path.abspath(vigil_binary)))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "vigil.service")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


def messages(sock, want, timeout=10):
    """Datagrams from `sock` until `want(list)` holds."""
    got = []
    deadline = time.monotonic() + timeout
    while not want(got):
        left = deadline - time.monotonic()
        assert left > 0, f"notifications so far: {got}"
        sock.settimeout(left)
        got.append(sock.recv(4096).decode())
    return got


def test_ready_watchdog_and_stopping(start_vigil, tmp_path):
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    v = start_vigil(2, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    got = messages(sock, lambda g: any(m.startswith("READY=1") for m in g))
    assert "READY=1\nSTATUS=serving 1 MQTT and 1 HTTP listener(s)" in got
    # Ready means serving: a client connects at once.
    c = raw.RawClient(v.port)
    assert c.connect("after-ready").body[1] == 0
    # Pinged every 200 ms while the shards turn.
    messages(sock, lambda g: sum(m == "WATCHDOG=1" for m in g) >= 3)
    v.proc.send_signal(signal.SIGTERM)
    messages(sock, lambda g: "STOPPING=1\nSTATUS=stopping" in g)
    assert v.proc.wait(timeout=10) == 0
    sock.close()


def thread_named(pid, name):
    """The id of the thread of `pid` called `name` (vigil names its threads)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == name:
                return int(tid)
    raise AssertionError(f"no thread {name} in {pid}")


def test_the_watchdog_stops_pinging_while_a_shard_is_stuck(start_vigil, tmp_path):
    """One shard thread really stopped (ptrace stops a single thread): the pings stop, the log
    names the shard; once it runs again, so do the pings."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    v = start_vigil(2, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    messages(sock, lambda g: sum(m == "WATCHDOG=1" for m in g) >= 2)
    tid = thread_named(v.proc.pid, "vigil-shard-1")
    assert libc.ptrace(PTRACE_SEIZE, tid, None, None) == 0, os.strerror(ctypes.get_errno())
    try:
        assert libc.ptrace(PTRACE_INTERRUPT, tid, None, None) == 0, os.strerror(ctypes.get_errno())
        os.waitpid(tid, 0x40000000)  # __WALL: the thread has stopped
        assert v.wait_for_log(r"watchdog: shard\(s\) 1 stopped turning; withholding the watchdog ping", timeout=10)
        sock.settimeout(0.05)
        while True:  # what was sent before the log line
            try:
                sock.recv(4096)
            except socket.timeout:
                break
        # No ping for 1.2 s (six ping periods) once the stall is seen: absence takes a wait.
        after = []
        deadline = time.monotonic() + 1.2
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                after.append(sock.recv(4096).decode())
            except socket.timeout:
                break
        assert "WATCHDOG=1" not in after, after
    finally:
        libc.ptrace(PTRACE_DETACH, tid, None, None)
    assert v.wait_for_log(r"watchdog: every shard turns again; pinging systemd again", timeout=10)
    messages(sock, lambda g: "WATCHDOG=1" in g)
    sock.close()
