"""Passwords, anonymous access and ACLs with real clients (issue 3, first part)."""
import subprocess

import mqtt_raw as raw
from clients import Paho


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, **kw)


def make_users(vigil_binary, path, users):
    for user, password in users.items():
        r = run(vigil_binary, "passwd", "--stdin", "--iterations", "1000", str(path), user, input=password + "\n")
        assert r.returncode == 0, r.stderr


ACL = """
topic read public/#
user dispatcher
topic readwrite devices/#
pattern write devices/%c/#
pattern read devices/%c/commands
"""


def start_secured(start_vigil, workers, tmp_path, vigil_binary, acl=ACL, allow_anonymous=False):
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"car7": "car7-pass", "car8": "car8-pass", "dispatcher": "disp-pass"})
    conf = f'allow_anonymous = {"true" if allow_anonymous else "false"}\n[auth]\npassword_file = "{pw}"\n'
    if acl is not None:
        (tmp_path / "acl").write_text(acl)
        conf += f'acl_file = "{tmp_path / "acl"}"\n'
    return start_vigil(workers, conf)


def connack(port, client_id, username=None, password=None):
    c = raw.RawClient(port)
    c.send(raw.connect(client_id, username=username, password=password))
    p = c.recv_packet()
    assert p.type == 2
    return c, p.body[1]


def test_passwords_and_anonymous_refusal(start_vigil, workers, tmp_path, vigil_binary):
    v = start_secured(start_vigil, workers, tmp_path, vigil_binary, acl=None)
    c, code = connack(v.port, "car7", "car7", "car7-pass")
    assert code == 0
    c2, code = connack(v.port, "car7b", "car7", "wrong")
    assert code == 4 and c2.closed_by_peer()  # bad user name or password
    c3, code = connack(v.port, "ghost", "nobody", "car7-pass")
    assert code == 4 and c3.closed_by_peer()
    c4, code = connack(v.port, "anon")
    assert code == 5 and c4.closed_by_peer()  # not authorized: no anonymous clients here
    c5, code = connack(v.port, "nopass", "car7")
    assert code == 4 and c5.closed_by_peer()
    assert v.wait_for_log(r"bad username or password")
    # the same credentials again are answered from the cache
    again, code = connack(v.port, "car7", "car7", "car7-pass")
    assert code == 0


def test_mosquitto_clients_with_passwords(start_vigil, workers, tmp_path, vigil_binary):
    v = start_secured(start_vigil, workers, tmp_path, vigil_binary, acl=None)
    ok = run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(v.port), "-u", "car8", "-P", "car8-pass",
             "-t", "devices/car8/location", "-m", "x", "-q", "1")
    assert ok.returncode == 0, ok.stderr
    bad = run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(v.port), "-u", "car8", "-P", "nope",
              "-t", "devices/car8/location", "-m", "x")
    assert bad.returncode != 0
    assert "bad user name or password" in (bad.stderr + bad.stdout).lower()


def test_mosquitto_passwd_file_works_unchanged(start_vigil, workers, tmp_path):
    pw = tmp_path / "mosq-passwd"
    r = run("mosquitto_passwd", "-c", "-b", str(pw), "legacy", "old-secret")
    assert r.returncode == 0, r.stderr
    v = start_vigil(workers, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\n')
    c, code = connack(v.port, "legacy-dev", "legacy", "old-secret")
    assert code == 0


def test_acl_enforced(start_vigil, workers, tmp_path, vigil_binary):
    v = start_secured(start_vigil, workers, tmp_path, vigil_binary)
    watch = raw.RawClient(v.port)
    watch.connect("dispatch-1", username="dispatcher", password="disp-pass")
    watch.send(raw.subscribe(1, ("devices/+/location", 1), ("public/#", 0)))
    # public/# is granted to anonymous clients only (the rule precedes every `user` line)
    assert watch.recv_packet().body == b"\x00\x01\x01\x80"

    car = raw.RawClient(v.port)
    car.connect("car7", username="car7", password="car7-pass")
    # A device may subscribe to its own commands, not to another device's. "#" is granted
    # because it can match what car7 may read, and delivers nothing else.
    car.send(raw.subscribe(2, ("devices/car7/commands", 1), ("#", 0), ("devices/car8/commands", 0)))
    assert car.recv_packet().body == b"\x00\x02\x01\x00\x80"
    # Spoofing another device's topic: acknowledged (QoS 1) but dropped.
    car.send(raw.publish("devices/car8/location", "spoof", qos=1, pid=5))
    assert car.recv_packet().type == 4
    car.send(raw.publish("$SYS/broker/hacked", "x", qos=1, pid=6))
    assert car.recv_packet().type == 4
    car.send(raw.publish("devices/car7/location", "real", qos=1, pid=7))
    assert car.recv_packet().type == 4
    p = watch.recv_packet()
    assert (p.topic, p.payload) == ("devices/car7/location", b"real")  # the spoof never arrived
    assert v.wait_for_log(r"may not publish to 'devices/car8/location'")
    # The dispatcher sends a command; only car7 receives it.
    watch.send(raw.publish("devices/car7/commands", "stop", qos=1, pid=9))
    assert watch.recv_packet().type == 4
    cmd = car.recv_packet()
    assert (cmd.topic, cmd.payload) == ("devices/car7/commands", b"stop")


def test_unverified_username_gets_no_user_rules(start_vigil, workers, tmp_path):
    # Without a password file a username is not verified: it must not unlock user rules.
    (tmp_path / "acl").write_text("user dispatcher\ntopic readwrite devices/#\n")
    v = start_vigil(workers, f'[auth]\nacl_file = "{tmp_path / "acl"}"\n')
    c = raw.RawClient(v.port)
    c.connect("claims-dispatcher", username="dispatcher", password="anything")
    c.send(raw.subscribe(1, ("devices/#", 0)))
    assert c.recv_packet().body == b"\x00\x01\x80"


def test_passwd_cli(vigil_binary, tmp_path):
    pw = tmp_path / "p"
    make_users(vigil_binary, pw, {"a": "1", "b": "2"})
    assert {l.split(":")[0] for l in pw.read_text().splitlines()} == {"a", "b"}
    assert oct(pw.stat().st_mode & 0o777) == "0o600"
    r = run(vigil_binary, "passwd", "-D", str(pw), "a")
    assert r.returncode == 0
    assert [l.split(":")[0] for l in pw.read_text().splitlines()] == ["b"]
    r = run(vigil_binary, "passwd", "-D", str(pw), "zz")
    assert r.returncode == 1 and "no user" in r.stderr
    r = run(vigil_binary, "passwd", str(pw))
    assert r.returncode == 2


def test_passwd_from_a_pipe_reads_the_password_twice(start_vigil, vigil_binary, tmp_path):
    """Without --stdin a pipe answers both prompts, as at a terminal: a mistyped second line is
    caught, and a single line is not taken for a password."""
    pw = tmp_path / "p"
    ok = run(vigil_binary, "passwd", "--iterations", "1000", str(pw), "car7", input="s3cret\ns3cret\n")
    assert ok.returncode == 0, ok.stderr
    differ = run(vigil_binary, "passwd", "--iterations", "1000", str(pw), "car8", input="s3cret\ns3cert\n")
    assert differ.returncode == 1 and "the passwords differ" in differ.stderr
    once = run(vigil_binary, "passwd", "--iterations", "1000", str(pw), "car9", input="s3cret\n")
    assert once.returncode == 1 and "given once" in once.stderr
    assert [l.split(":")[0] for l in pw.read_text().splitlines()] == ["car7"]
    v = start_vigil(1, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\n')
    c = raw.RawClient(v.port)
    assert c.connect("car7", username="car7", password="s3cret").body[1] == 0


def test_a_directory_as_password_or_acl_file_is_an_error(vigil_binary, tmp_path):
    (tmp_path / "dir").mkdir()
    for key in ("password_file", "acl_file"):
        cfg = tmp_path / f"{key}.toml"
        cfg.write_text(f'[[listener]]\nport = 0\n[auth]\n{key} = "{tmp_path / "dir"}"\n')
        r = run(vigil_binary, "--config", str(cfg))
        assert r.returncode == 1 and "is a directory" in r.stderr, r.stderr


def test_broken_password_file_is_a_clear_startup_error(vigil_binary, tmp_path):
    pw = tmp_path / "p"
    pw.write_text("car1:$7$notahash\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[listener]]\nport = 0\n[auth]\npassword_file = "{pw}"\n')
    r = run(vigil_binary, "--config", str(cfg))
    assert r.returncode == 1
    assert f"{pw}:1" in r.stderr
