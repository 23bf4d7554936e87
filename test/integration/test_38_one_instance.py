"""One instance per address: every shard listens with SO_REUSEPORT, which would let a second
process of the same user share a port and silently take part of the connections; Vigil
refuses to start on a port another process listens on, and restarts on its own ports."""
import socket
import subprocess

from clients import Paho
from conftest import Vigil, config


def second(vigil_binary, tmp_path, mqtt_port=0, http_port=0, bind="127.0.0.1"):
    """Runs another vigil (its own data_dir) on these ports; returns its exit status and stderr
    (it must stop by itself: refused, it exits at once)."""
    cfg = tmp_path / "second.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "second"}"\nprobe.interval = "off"\nsys_interval = "off"\n'
                   f'[[listener]]\nbind = "{bind}"\nport = {mqtt_port}\n'
                   f'[[http.listener]]\nbind = "{bind}"\nport = {http_port}\n')
    r = subprocess.run([vigil_binary, "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def still_serves(v):
    sub = Paho(v.port, "after-refusal-sub")
    sub.subscribe("fleet/#", 1)
    pub = Paho(v.port, "after-refusal-pub")
    for i in range(20):  # 20 new connections' worth of traffic, all on the first instance
        pub.publish(f"fleet/{i}", "x", 1)
    assert len(sub.expect(20)) == 20
    pub.stop()
    sub.stop()


def test_a_second_vigil_on_the_same_mqtt_port_is_refused(start_vigil, vigil_binary, tmp_path):
    v = start_vigil(2)
    code, err = second(vigil_binary, tmp_path, mqtt_port=v.port)
    assert code != 0
    assert f"cannot listen on 127.0.0.1:{v.port}: another process already listens there" in err, err
    still_serves(v)


def test_a_second_vigil_on_the_same_http_port_is_refused(start_vigil, vigil_binary, tmp_path):
    v = start_vigil(2)
    code, err = second(vigil_binary, tmp_path, http_port=v.http_port)
    assert code != 0
    assert f"cannot listen for HTTP on 127.0.0.1:{v.http_port}: another process already listens there" in err, err
    still_serves(v)


def test_a_foreign_reuseport_listener_on_the_wildcard_address_is_seen(vigil_binary, tmp_path):
    """Another program listening on 0.0.0.0:P with SO_REUSEPORT overlaps 127.0.0.1:P."""
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("0.0.0.0", 0))
    other.listen()
    port = other.getsockname()[1]
    try:
        code, err = second(vigil_binary, tmp_path, mqtt_port=port)
        assert code != 0
        assert "another process already listens there" in err, err
    finally:
        other.close()


def test_a_restart_on_the_same_ports_after_a_kill_is_not_refused(start_vigil, vigil_binary, tmp_path):
    """Connections the killed process left in TIME_WAIT do not hold its ports."""
    data = str(tmp_path / "var")
    first = start_vigil(2, data_dir=data)
    clients = [Paho(first.port, f"held-{i}") for i in range(5)]
    first.kill()
    for c in clients:
        c.stop(graceful=False)
    text = config(2, data_dir=data).replace("port = 0", f"port = {first.port}", 1).replace("port = 0", f"port = {first.http_port}", 1)
    (tmp_path / "again").mkdir()
    again = Vigil(vigil_binary, text, str(tmp_path / "again"))
    try:
        assert again.port == first.port, "\n".join(again.lines)
        still_serves(again)
    finally:
        assert again.stop() == 0
