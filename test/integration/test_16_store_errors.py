"""Bad disk state: a damaged store, a data_dir that is not a directory, no permission, a full
disk at start and while running. Each gives a clear error naming the path and what to do,
a non-zero exit at start, and never a silent discard. `vigil db check` reports health."""
import asyncio
import os
import subprocess
import tempfile

import websockets

import mqtt_raw as raw
from clients import Paho
from test_18_push import recv, request
from conftest import Vigil, config


def run(args, timeout=30, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def write_config(directory, data_dir):
    path = os.path.join(directory, "vigil.toml")
    with open(path, "w") as f:
        f.write(config(1, data_dir=data_dir))
    return path


def fill_store(start_vigil, data, n=2000):
    v = start_vigil(1, data_dir=data)
    pub = Paho(v.port, "filler")
    for i in range(n):
        pub.publish(f"devices/{i}/status", "x" * 200, 1 if i == n - 1 else 0, retain=True)
    pub.stop()
    assert v.stop() == 0


def test_db_check_reports_a_healthy_store(start_vigil, vigil_binary, tmp_path):
    data = str(tmp_path / "var")
    fill_store(start_vigil, data, 100)
    r = run([vigil_binary, "db", "check", data])
    assert r.returncode == 0, r.stderr
    assert "checksums verified" in r.stdout and "retained       100 entries" in r.stdout
    cfg = write_config(str(tmp_path), data)
    r = run([vigil_binary, "db", "check", "--config", cfg])
    assert r.returncode == 0 and "retained       100 entries" in r.stdout
    r = run([vigil_binary, "db", "check", str(tmp_path / "nowhere")])
    assert r.returncode == 1 and "no vigil store" in r.stderr


def test_damaged_store_refuses_to_start_and_says_what_to_do(start_vigil, vigil_binary, tmp_path):
    data = str(tmp_path / "var")
    fill_store(start_vigil, data)
    damaged = 0
    for name in os.listdir(data):
        if name.endswith((".log", ".sst")):
            path = os.path.join(data, name)
            size = os.path.getsize(path)
            if size > 1024:
                with open(path, "r+b") as f:
                    f.seek(size // 3)
                    f.write(b"\x5a" * (size // 3))
                damaged += 1
    assert damaged > 0
    r = run([vigil_binary, "--config", write_config(str(tmp_path), data)])
    assert r.returncode == 1
    assert data in r.stderr and "What to do" in r.stderr and "vigil db check" in r.stderr
    assert "listening" not in r.stderr
    r = run([vigil_binary, "db", "check", data])
    assert r.returncode == 1 and data in r.stderr


def test_data_dir_that_is_a_file(vigil_binary, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    data = str(tmp_path / "file" / "var")
    r = run([vigil_binary, "--config", write_config(str(tmp_path), data)])
    assert r.returncode == 1 and data in r.stderr and "What to do" in r.stderr


def test_data_dir_without_permission(vigil_binary, tmp_path):
    # As root every directory is writable: run vigil as nobody against a root-only data_dir.
    data = tmp_path / "var"
    data.mkdir(mode=0o700)
    public = tempfile.mkdtemp()
    os.chmod(public, 0o755)
    cfg = write_config(public, str(data))
    os.chmod(cfg, 0o644)
    os.chmod(tmp_path, 0o755)
    r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", vigil_binary, "--config", cfg])
    assert r.returncode == 1, r.stderr
    assert str(data) in r.stderr and "Permission denied" in r.stderr and "chown" in r.stderr


class Tmpfs:
    """A small tmpfs (the tests run as root, as CI does), filled up to `free` bytes."""

    def __init__(self, size_mb, path=None):
        """At `path` (created), or in a new temporary directory."""
        self.path = path or tempfile.mkdtemp()
        os.makedirs(self.path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", self.path], check=True)

    def fill(self, leave_bytes):
        st = os.statvfs(self.path)
        free = st.f_bavail * st.f_frsize
        with open(os.path.join(self.path, "ballast"), "wb") as f:
            f.write(b"\0" * max(free - leave_bytes, 0))

    def unfill(self):
        os.remove(os.path.join(self.path, "ballast"))

    def close(self):
        subprocess.run(["umount", self.path], check=True)
        os.rmdir(self.path)


def test_read_only_store_gets_its_own_advice(start_vigil, vigil_binary, tmp_path):
    """Not "another vigil process is using this data_dir": the file system is read-only."""
    fs = Tmpfs(16)
    try:
        data = os.path.join(fs.path, "var")
        fill_store(start_vigil, data, n=10)
        subprocess.run(["mount", "-o", "remount,ro", fs.path], check=True)
        r = run([vigil_binary, "--config", write_config(str(tmp_path), data)])
        assert r.returncode == 1 and data in r.stderr
        assert "read-only file system" in r.stderr and "another vigil process" not in r.stderr, r.stderr
        subprocess.run(["mount", "-o", "remount,rw", fs.path], check=True)
    finally:
        fs.close()


def test_full_disk_at_start(vigil_binary, tmp_path):
    fs = Tmpfs(4)
    try:
        fs.fill(0)
        data = os.path.join(fs.path, "var")
        r = run([vigil_binary, "--config", write_config(str(tmp_path), data)])
        assert r.returncode == 1
        assert data in r.stderr and "What to do" in r.stderr
        assert "No space left" in r.stderr or "disk is full" in r.stderr
    finally:
        fs.close()


def test_full_disk_while_running_acknowledges_nothing_it_cannot_keep(start_vigil, workers, tmp_path):
    fs = Tmpfs(16)
    try:
        data = os.path.join(fs.path, "var")
        # No free-space mark: this is about the disk filling anyway (queues, sessions).
        no_mark = "[limits]\nmin_free_disk = 0\n"
        v = start_vigil(workers, no_mark, data_dir=data)
        pub = Paho(v.port, "before")
        pub.publish("devices/kept/status", "acknowledged before the disk filled", 1, retain=True)
        pub.stop()
        fs.fill(64 * 1024)
        c = raw.RawClient(v.port)
        c.connect("writer")
        big = "y" * 100_000
        refused = False
        for i in range(200):
            try:
                c.send(raw.publish(f"devices/{i}/status", big, qos=1, retain=True, pid=i + 1))
                p = c.recv_packet()
            except (ConnectionError, OSError):
                refused = True  # closed without a PUBACK: the client will send it again
                break
            assert p.type == 4 and p.pid == i + 1
        assert refused, "the broker acknowledged 20 MB on a 16 MB disk"
        assert v.wait_for_log(r"writing the store failed: .*free disk space")
        assert v.wait_for_log(r"stats: .*store FAILING")
        assert v.alive()
        fs.unfill()
        assert v.stop() == 0
        # What was acknowledged before is intact.
        v2 = start_vigil(workers, no_mark, data_dir=data)
        c = raw.RawClient(v2.port)
        c.connect("", clean=True)
        c.send(raw.subscribe(1, ("devices/kept/status", 0)))
        assert c.recv_packet().type == 9
        p = c.recv_packet()
        assert p.payload == b"acknowledged before the disk filled"
        c.close()
        assert v2.stop() == 0
    finally:
        fs.close()


def test_full_disk_websocket_publish_is_not_confirmed(start_vigil, tmp_path):
    """/ws "published" means committed, as PUBACK does: on a full disk the dashboard is told
    its command was not stored."""
    fs = Tmpfs(16)
    try:
        v = start_vigil(2, "[limits]\nmin_free_disk = 0\n", data_dir=os.path.join(fs.path, "var"))
        fs.fill(64 * 1024)

        async def run():
            async with websockets.connect(f"ws://127.0.0.1:{v.http_port}/ws") as ws:
                for i in range(600):  # 600 x 50 kB: far more than the disk holds
                    await request(ws, op="publish", id=f"c{i}", topic=f"devices/{i}/commands",
                                  payload="z" * 50_000, retain=True)
                    reply = await recv(ws)
                    if reply["op"] == "error":
                        return i, reply
                    assert reply == {"op": "published", "id": f"c{i}"}
                return None, None

        i, err = asyncio.run(run())
        assert err is not None, "600 x 50 kB confirmed on a 16 MB disk"
        assert err["id"] == f"c{i}" and "not stored" in err["error"]
        assert v.wait_for_log(r"writing the store failed")
        fs.unfill()
        assert v.stop() == 0
    finally:
        fs.close()
