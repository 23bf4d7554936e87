"""Backups (issue 16, point 5): `vigil db backup` while vigil runs (the running process makes
it through data_dir/control.sock) or while it is stopped; `vigil db restore` into an empty
data_dir; the restore drill: what was acknowledged before the backup is back (retained
message, a persistent session's queue, the history), what came after it is not."""
import os
import shutil
import socket
import stat
import subprocess
import threading
import time

from clients import Paho
from test_29_history import until_records

ARCHIVE = '[archive]\ntopics = ["devices/+/events"]\nflush_interval = "100ms"\n'


def db(vigil_binary, *args):
    return subprocess.run([vigil_binary, "db", *args], capture_output=True, text=True, timeout=60)


def tree_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def publish_events(port, client_id, numbers):
    car = Paho(port, client_id)
    for n in numbers:
        car.publish(f"devices/car-{n % 4}/events", f'{{"n": {n}}}', 1)  # waits for PUBACK
    car.stop()


def test_restore_drill_brings_back_what_was_acknowledged_before_the_backup(start_vigil, vigil_binary, tmp_path):
    data = tmp_path / "data"
    v = start_vigil(2, ARCHIVE, data_dir=str(data))
    disp = Paho(v.port, "dispatcher", clean_session=False)
    assert disp.subscribe("devices/+/events", 1) == (1,)
    disp.stop()
    status = Paho(v.port, "car-status")
    status.publish("devices/car-1/status", '{"battery": 71}', 1, retain=True)
    status.stop()
    publish_events(v.port, "car-before", range(0, 200))
    dest = tmp_path / "backups"
    r = db(vigil_binary, "backup", "--config", v.config_path, str(dest))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"backup 1 in {dest}: store ") and "(verified)" in r.stdout, r.stdout
    assert v.wait_for_log(r"control: backup to .* requested by uid \d+ pid \d+")
    publish_events(v.port, "car-after", range(1000, 1050))
    v.kill()  # the worst case: the backup is all that is left

    os.rename(data, tmp_path / "data.lost")
    r = db(vigil_binary, "restore", "--config", v.config_path, str(dest))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"restored backup 1 of {dest}"), r.stdout
    check = subprocess.run([vigil_binary, "db", "check", str(data)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr

    again = start_vigil(2, ARCHIVE, data_dir=str(data))
    # The persistent session and its queue: exactly the 200 events before the backup.
    disp = Paho(again.port, "dispatcher", clean_session=False)
    assert disp.connack == (1, 0)  # session present
    got = sorted(int(m.payload.decode().split(":")[1].strip(" }")) for m in disp.expect(200))
    assert got == list(range(200))
    assert disp.messages.empty() or disp.get(timeout=0.5) is None
    disp.stop()
    # The retained status.
    reader = Paho(again.port, "reader")
    reader.subscribe("devices/+/status", 1)
    m = reader.get()
    assert (m.topic, m.payload, m.retain) == ("devices/car-1/status", b'{"battery": 71}', True)
    reader.stop()
    # The history: the 200 acknowledged before the backup (staged ones written at start), none after.
    body = until_records(again.http_port, 200, topic="devices/+/events", **{"from": "0", "limit": "1000"})
    numbers = sorted(r["payload"]["n"] for r in body["records"])
    assert numbers == list(range(200)), numbers[-5:]


def test_backups_are_incremental_and_made_offline_when_vigil_is_stopped(start_vigil, vigil_binary, tmp_path):
    data = tmp_path / "data"
    v = start_vigil(2, ARCHIVE, data_dir=str(data))
    car = Paho(v.port, "car-big")
    for n in range(3000):
        car.publish(f"devices/car-{n % 50}/events", f'{{"n": {n}, "pad": "{os.urandom(200).hex()}"}}', 1, wait=n % 100 == 99)
    car.stop()
    until_records(v.http_port, 3000, topic="devices/+/events", **{"from": "0", "limit": "5000"})
    assert v.stop() == 0  # memtables flushed into table files
    dest = tmp_path / "backups"
    first = db(vigil_binary, "backup", "--data-dir", str(data), str(dest))
    assert first.returncode == 0, first.stderr
    assert "(vigil is not running: made offline)" in first.stdout, first.stdout
    after_first = tree_bytes(dest)
    assert after_first > 500_000  # 3000 records of 400 random hex digits, compressed
    v2 = start_vigil(2, ARCHIVE, data_dir=str(data))
    Paho(v2.port, "one-more").publish("devices/car-1/events", '{"n": -1}', 1)
    second = db(vigil_binary, "backup", "--config", v2.config_path, str(dest))
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"backup 2 in {dest}"), second.stdout
    added = tree_bytes(dest) - after_first
    assert added < after_first / 10, (added, after_first)  # the table files are shared
    listing = db(vigil_binary, "backups", str(dest))
    assert listing.returncode == 0, listing.stderr
    rows = [line.split()[0] for line in listing.stdout.splitlines()[1:-1]]
    assert rows == ["1", "2"], listing.stdout
    assert listing.stdout.splitlines()[-1].startswith("2 backup(s)")

    # An older backup on request.
    target = tmp_path / "restored"
    r = db(vigil_binary, "restore", "--data-dir", str(target), str(dest), "--id", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"restored backup 1 of {dest}")
    missing = db(vigil_binary, "restore", "--data-dir", str(tmp_path / "other"), str(dest), "--id", "9")
    assert missing.returncode == 1 and "no backup 9" in missing.stderr, missing.stderr
    # Purging keeps the latest, and its archive backup with it.
    purged = db(vigil_binary, "purge", str(dest), "--keep", "1")
    assert purged.returncode == 0 and purged.stdout.startswith("deleted 1 backup(s), kept 1"), purged.stdout + purged.stderr
    listing = db(vigil_binary, "backups", str(dest))
    assert [line.split()[0] for line in listing.stdout.splitlines()[1:-1]] == ["2"], listing.stdout
    assert len(list((dest / "archive" / "meta").iterdir())) == 1
    assert tree_bytes(dest) < after_first + added  # backup 1's own files are gone
    latest = tmp_path / "latest"
    assert db(vigil_binary, "restore", "--data-dir", str(latest), str(dest)).returncode == 0
    assert db(vigil_binary, "check", str(latest)).returncode == 0


def test_restore_refuses_a_running_vigil_and_never_overwrites_a_store(start_vigil, vigil_binary, tmp_path):
    data = tmp_path / "data"
    v = start_vigil(2, ARCHIVE, data_dir=str(data))
    Paho(v.port, "car-status").publish("devices/car-9/status", "kept", 1, retain=True)
    dest = tmp_path / "backups"
    assert db(vigil_binary, "backup", "--config", v.config_path, str(dest)).returncode == 0
    r = db(vigil_binary, "restore", "--config", v.config_path, str(dest))
    assert r.returncode == 1 and "is running on" in r.stderr and "stop it before restoring" in r.stderr, r.stderr
    assert v.stop() == 0
    r = db(vigil_binary, "restore", "--config", v.config_path, str(dest))
    assert r.returncode == 1 and "is not empty" in r.stderr and "move it aside" in r.stderr, r.stderr
    # Nor a directory holding anything else: RocksDB's restore would delete it.
    other = tmp_path / "other"
    other.mkdir()
    (other / "vigil.toml").write_text("keep me")
    r = db(vigil_binary, "restore", "--data-dir", str(other), str(dest))
    assert r.returncode == 1 and "is not empty" in r.stderr, r.stderr
    assert (other / "vigil.toml").read_text() == "keep me" and len(list(other.iterdir())) == 1
    # A damaged archive backup: refused before anything is written.
    manifest = next((dest / "archive" / "private" / "1").glob("MANIFEST-*"))
    manifest.write_bytes(b"\0" * manifest.stat().st_size)
    empty = tmp_path / "empty"
    r = db(vigil_binary, "restore", "--data-dir", str(empty), str(dest))
    assert r.returncode == 1 and "does not verify" in r.stderr, r.stderr
    assert not empty.exists() or not any(empty.iterdir())
    again = start_vigil(2, ARCHIVE, data_dir=str(data))
    reader = Paho(again.port, "reader")
    reader.subscribe("devices/+/status", 1)
    assert reader.get().payload == b"kept"
    reader.stop()


def test_a_destination_inside_the_data_dir_or_with_control_characters_is_refused(start_vigil, vigil_binary, tmp_path):
    data = tmp_path / "data"
    v = start_vigil(2, ARCHIVE, data_dir=str(data))
    for dest, why in ((data / "backups", "overlap"), (tmp_path, "overlap"), (tmp_path / "a\nb", "control characters")):
        r = db(vigil_binary, "backup", "--config", v.config_path, str(dest))
        assert r.returncode == 1 and why in r.stderr, (dest, r.stderr)
    assert not (data / "backups").exists() and not (tmp_path / "a").exists()
    assert v.stop() == 0
    r = db(vigil_binary, "backup", "--data-dir", str(data), str(data / "archive" / "b"))
    assert r.returncode == 1 and "overlap" in r.stderr, r.stderr


def test_an_offline_backup_by_another_user_than_the_owner_is_refused(start_vigil, vigil_binary, tmp_path):
    data = tmp_path / "data"
    v = start_vigil(2, ARCHIVE, data_dir=str(data))
    assert v.stop() == 0
    os.chown(data, 65534, 65534)  # nobody: the user vigil would run as
    r = db(vigil_binary, "backup", "--data-dir", str(data), str(tmp_path / "b"))
    assert r.returncode == 1 and "belongs to nobody" in r.stderr and "sudo -u nobody" in r.stderr, r.stderr
    assert not (tmp_path / "b").exists()


def test_a_slow_control_client_does_not_hold_a_backup_up(start_vigil, vigil_binary, tmp_path):
    v = start_vigil(2, ARCHIVE, data_dir=str(tmp_path / "data"))
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(tmp_path / "data" / "control.sock"))
    stop = threading.Event()

    def trickle():  # one byte a second, never a whole line
        while not stop.wait(1):
            try:
                s.send(b"b")
            except OSError:
                return
    t = threading.Thread(target=trickle)
    t.start()
    started = time.monotonic()
    r = db(vigil_binary, "backup", "--config", v.config_path, str(tmp_path / "b"))
    took = time.monotonic() - started
    stop.set()
    t.join()
    s.close()
    assert r.returncode == 0, r.stderr
    assert took < 9, took  # the slow client had 5 s in all, not 5 s per byte


def test_a_failed_backup_is_reported_and_vigil_keeps_serving(start_vigil, vigil_binary, tmp_path):
    v = start_vigil(2, ARCHIVE, data_dir=str(tmp_path / "data"))
    sock = tmp_path / "data" / "control.sock"
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600  # its owner only
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    r = db(vigil_binary, "backup", "--config", v.config_path, str(blocker / "dest"))
    assert r.returncode == 1, r.stdout
    assert "backup failed" in r.stderr and "cannot create the backup directory" in r.stderr, r.stderr
    assert v.wait_for_log(r"error control: backup to .*a-file/dest failed")
    # Anything but `backup /PATH` is refused, logged, and changes nothing.
    for request in (b"backup relative/dir\n", b"rm -rf /\n", b"x" * 10000):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(sock))
        try:
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
            reply = s.makefile("rb").read()
        except ConnectionResetError:
            reply = b""  # longer than a request may be: dropped unread
        s.close()
        assert reply == (b"" if len(request) > 4096 else b"error the only request is `backup /ABSOLUTE/PATH`"), reply
    assert v.wait_for_log(r"warn control: refused a request from uid \d+")
    car = Paho(v.port, "still-here")
    car.publish("devices/car-1/events", '{"n": 1}', 1)
    car.stop()
    assert v.alive()
    # The socket goes with the process.
    assert v.stop() == 0
    assert not sock.exists()
    shutil.rmtree(tmp_path / "data")
