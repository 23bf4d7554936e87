"""TLS and mutual TLS listeners (issue 3, points 1 and 7)."""
import os
import random
import socket
import ssl
import subprocess

import pytest

import mqtt_raw as raw
from clients import Paho
from pki import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_listener(pki, mutual=False, identity=False, field=None):
    conf = f"""
[[listener]]
bind = "127.0.0.1"
port = 0
allow_anonymous = {"false" if mutual else "true"}
tls.cert = "{pki / 'server.crt'}"
tls.key = "{pki / 'server.key'}"
"""
    if mutual:
        conf += f'tls.ca = "{pki / "ca.crt"}"\ntls.require_certificate = true\n'
    if identity:
        conf += "tls.use_identity_as_username = true\n"
    if field:
        conf += f'tls.identity = "{field}"\n'
    return conf


def tls_client(pki, cert=None, port=None, **kw):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if cert:
        ctx.load_cert_chain(str(pki / f"{cert}.crt"), str(pki / f"{cert}.key"))
    for k, v in kw.items():
        setattr(ctx, k, v)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname="localhost")


class TlsRaw(raw.RawClient):
    def __init__(self, tls_sock):
        self.sock = tls_sock
        self.buf = b""


def handshake_refused(pki, port, cert=None, **kw):
    """True when the broker refuses the TLS session (handshake alert, or closed right after)."""
    try:
        s = tls_client(pki, cert, port, **kw)
        c = TlsRaw(s)
        c.send(raw.connect("probe"))
        c.recv_packet()
        return False
    except (ssl.SSLError, ConnectionError, OSError):
        return True


def test_mosquitto_clients_over_tls(start_vigil, workers, pki):
    v = start_vigil(workers, tls_listener(pki))
    assert v.tls_port
    sub = Paho(v.port, "plain-watch")
    sub.subscribe("tls/t", 1)
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(v.tls_port), "--cafile", str(pki / "ca.crt"),
                        "-t", "tls/t", "-m", "over tls", "-q", "1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert sub.get().payload == b"over tls"
    sub.stop()


def test_paho_over_tls_both_directions(start_vigil, workers, pki):
    v = start_vigil(workers, tls_listener(pki))
    import paho.mqtt.client as paho
    import queue
    import threading
    got = queue.Queue()
    ready = threading.Event()
    c = paho.Client(client_id="paho-tls", protocol=paho.MQTTv311)
    c.tls_set(ca_certs=str(pki / "ca.crt"))
    c.on_connect = lambda *a: ready.set()
    c.on_message = lambda cl, u, m: got.put(m)
    c.connect("127.0.0.1", v.tls_port, 30)
    c.loop_start()
    assert ready.wait(10)
    subscribed = threading.Event()
    c.on_subscribe = lambda *a: subscribed.set()
    c.subscribe("tls/echo", 2)
    assert subscribed.wait(10)
    payload = os.urandom(100_000)  # several TLS records
    info = c.publish("tls/echo", payload, 2)
    info.wait_for_publish(10)
    m = got.get(timeout=10)
    assert m.payload == payload and m.qos == 2
    c.disconnect()
    c.loop_stop()


def test_mutual_tls_identity_drives_the_acl(start_vigil, workers, pki, tmp_path):
    acl = tmp_path / "acl"
    acl.write_text("topic read devices/#\npattern write devices/%u/#\npattern read devices/%u/commands\n")
    v = start_vigil(workers, f'[auth]\nacl_file = "{acl}"\n' + tls_listener(pki, mutual=True, identity=True))
    watch = Paho(v.port, "anon-watch")  # anonymous on the plain loopback listener
    assert watch.subscribe("devices/+/location", 0) == (0,)
    car = TlsRaw(tls_client(pki, "car7", v.tls_port))
    assert car.connect("any-client-id").body == b"\x00\x00"
    car.send(raw.publish("devices/car8/location", "spoof", qos=1, pid=1))
    assert car.recv_packet().type == 4
    car.send(raw.publish("devices/car7/location", "real", qos=1, pid=2))
    assert car.recv_packet().type == 4
    m = watch.get()
    assert (m.topic, m.payload) == ("devices/car7/location", b"real")
    assert v.wait_for_log(r"user 'car7'\) may not publish to 'devices/car8/location'")
    watch.stop()


@pytest.mark.parametrize("field,identity", [("san-dns", "car9.fleet"), ("san-email", "car9@fleet.example")])
def test_identity_from_a_subject_alternative_name(start_vigil, pki, tmp_path, field, identity):
    acl = tmp_path / "acl"
    acl.write_text("topic read devices/#\npattern write devices/%u/#\n")
    v = start_vigil(2, f'[auth]\nacl_file = "{acl}"\n' + tls_listener(pki, mutual=True, identity=True, field=field))
    watch = Paho(v.port, "anon-watch")
    watch.subscribe("devices/#", 0)
    car = TlsRaw(tls_client(pki, "car9-san", v.tls_port))
    assert car.connect("whatever").body == b"\x00\x00"
    car.send(raw.publish("devices/not-the-name/location", "cn is not the identity", qos=1, pid=1))
    assert car.recv_packet().type == 4
    car.send(raw.publish(f"devices/{identity}/location", "ok", qos=1, pid=2))
    assert car.recv_packet().type == 4
    m = watch.get()
    assert (m.topic, m.payload) == (f"devices/{identity}/location", b"ok")
    watch.stop()


@pytest.mark.parametrize("cert", [None, "expired", "wrong-ca", "self-signed"])
def test_bad_client_certificates_are_refused(start_vigil, pki, cert):
    v = start_vigil(2, tls_listener(pki, mutual=True, identity=True))
    assert handshake_refused(pki, v.tls_port, cert)
    assert not handshake_refused(pki, v.tls_port, "car8")  # a good one still gets in
    assert v.wait_for_log(r"TLS handshake failed")


def test_old_protocol_versions_are_refused(start_vigil, pki):
    v = start_vigil(1, tls_listener(pki))
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are deprecated: the point
    ctx_kw = {"minimum_version": ssl.TLSVersion.TLSv1, "maximum_version": ssl.TLSVersion.TLSv1_1}
    try:
        refused = handshake_refused(pki, v.tls_port, **ctx_kw)
    except ssl.SSLError:
        refused = True
    assert refused


def test_plaintext_and_garbage_on_the_tls_port_close_cleanly(start_vigil, workers, pki, seed):
    v = start_vigil(workers, tls_listener(pki))
    c = raw.RawClient(v.tls_port)
    c.send(raw.connect("plaintext"))
    assert c.closed_by_peer()
    garbage = random.Random(seed).randbytes
    for n in (1, 7, 300, 5000):
        g = raw.RawClient(v.tls_port)
        g.send(b"\x16\x03\x01" + garbage(n))
        g.sock.shutdown(socket.SHUT_WR)  # a record may claim more bytes than were sent
        assert g.closed_by_peer()
    assert v.alive()
    ok = TlsRaw(tls_client(pki, None, v.tls_port))
    assert ok.connect("after-garbage").body == b"\x00\x00"
