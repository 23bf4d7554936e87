"""SIGHUP reload: passwords, ACL and certificates change without dropping a connection;
a broken file keeps the previous state (issue 3, point 6)."""
import signal
import ssl
import threading

import pytest

import mqtt_raw as raw
from pki import make_cert, make_pki
from test_07_auth import make_users
from test_09_tls import TlsRaw, tls_client


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki-reload"))


def test_reload_under_load_drops_no_connection(start_vigil, workers, pki, tmp_path, vigil_binary):
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"ops": "ops-pass", "car7": "car7-pass"})
    acl = tmp_path / "acl"
    acl.write_text("user ops\ntopic readwrite fleet/#\nuser car7\ntopic write fleet/car7/#\n")
    cert = tmp_path / "server.crt"
    key = tmp_path / "server.key"
    cert.write_bytes((pki / "server.crt").read_bytes())
    key.write_bytes((pki / "server.key").read_bytes())
    v = start_vigil(workers, f"""allow_anonymous = false
[auth]
password_file = "{pw}"
acl_file = "{acl}"
[[listener]]
bind = "127.0.0.1"
port = 0
tls.cert = "{cert}"
tls.key = "{key}"
""")
    import paho.mqtt.client as paho
    received = []
    got = threading.Event()
    c = paho.Client(client_id="ops-console", protocol=paho.MQTTv311)
    c.username_pw_set("ops", "ops-pass")
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()

    def on_message(cl, u, m):
        received.append(m.payload)
        if m.payload == b"after-reload":
            got.set()
    c.on_message = on_message
    c.connect("127.0.0.1", v.port, 30)
    c.loop_start()
    assert connected.wait(10)
    subscribed = threading.Event()
    c.on_subscribe = lambda *a: subscribed.set()
    c.subscribe("fleet/#", 1)
    assert subscribed.wait(10)

    # Devices publishing continuously over plain and TLS while the reload happens.
    devices = []
    for i in range(10):
        d = raw.RawClient(v.port) if i % 2 == 0 else TlsRaw(tls_client(pki, None, v.tls_port))
        assert d.connect(f"car7-{i}", username="car7", password="car7-pass").body == b"\x00\x00"
        devices.append(d)
    stop = threading.Event()
    errors = []

    def load(d, i):
        k = 0
        try:
            while not stop.is_set():
                k += 1
                d.send(raw.publish(f"fleet/car7/{i}", str(k), qos=1, pid=k % 60000 + 1))
                assert d.recv_packet().type == 4
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=load, args=(d, i)) for i, d in enumerate(devices)]
    for t in threads:
        t.start()

    # New files: a new user, a new grant, a new certificate from the same CA.
    make_users(vigil_binary, pw, {"newcar": "new-pass"})
    acl.write_text("user ops\ntopic readwrite fleet/#\nuser car7\ntopic write fleet/car7/#\n"
                   "user newcar\ntopic write fleet/newcar/#\n")
    make_cert(pki, "ca", "rotated", "localhost", server=True)
    cert.write_bytes((pki / "rotated.crt").read_bytes())
    key.write_bytes((pki / "rotated.key").read_bytes())
    v.proc.send_signal(signal.SIGHUP)
    assert v.wait_for_log(r"reload done$")
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors  # no device lost its connection or an acknowledgement

    newcar = raw.RawClient(v.port)
    assert newcar.connect("newcar-1", username="newcar", password="new-pass").body == b"\x00\x00"
    newcar.send(raw.publish("fleet/newcar/x", "after-reload", qos=1, pid=1))
    assert newcar.recv_packet().type == 4
    assert got.wait(10)
    s = tls_client(pki, None, v.tls_port)
    served = ssl.DER_cert_to_PEM_cert(s.getpeercert(binary_form=True))
    assert served.strip() == (pki / "rotated.crt").read_text().strip()
    c.loop_stop()


def test_broken_files_keep_the_previous_state(start_vigil, workers, tmp_path, vigil_binary):
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"dev": "dev-pass"})
    acl = tmp_path / "acl"
    acl.write_text("user dev\ntopic readwrite dev/#\n")
    v = start_vigil(workers, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\nacl_file = "{acl}"\n')
    held = raw.RawClient(v.port)
    held.connect("held", username="dev", password="dev-pass")
    acl.write_text("user dev\ntopic sometimes dev/#\n")
    pw.write_text("dev:not-a-hash\n")
    v.proc.send_signal(signal.SIGHUP)
    assert v.wait_for_log(r"reload done with 2 error\(s\)")
    assert v.wait_for_log(r"keeping the previous ACL")
    assert v.wait_for_log(r"keeping the previous passwords")
    held.send(raw.subscribe(1, ("dev/x", 0)))
    assert held.recv_packet().body == b"\x00\x01\x00"  # the old ACL still grants it
    again = raw.RawClient(v.port)
    assert again.connect("again", username="dev", password="dev-pass").body == b"\x00\x00"
