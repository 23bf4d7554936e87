"""SIGHUP reads the configuration file again (issue 16, point 1): a CRL added to a listener
revokes an open connection, log_level and the password file take effect, what needs a restart
is named and left as it was, and a file that does not load changes nothing."""
import mqtt_raw as raw
from pki import make_crl, make_pki
from prom import parse, scrape_ok, value
from test_07_auth import make_users
from test_09_tls import TlsRaw, tls_client
from test_23_revocation import reload


def edit(v, old, new):
    with open(v.config_path) as f:
        text = f.read()
    assert old in text, text
    with open(v.config_path, "w") as f:
        f.write(text.replace(old, new, 1))


def test_a_crl_added_to_the_file_revokes_an_open_connection(start_vigil, tmp_path):
    """The README's recipe: set tls.crl, send SIGHUP."""
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    v = start_vigil(2, f"""
[[listener]]
bind = "127.0.0.1"
port = 0
allow_anonymous = false
tls.cert = "{pki / 'server.crt'}"
tls.key = "{pki / 'server.key'}"
tls.ca = "{pki / 'ca.crt'}"
tls.require_certificate = true
tls.use_identity_as_username = true
""")
    car7 = TlsRaw(tls_client(pki, "car7", v.tls_port))
    assert car7.connect("car7").body[1] == 0
    car8 = TlsRaw(tls_client(pki, "car8", v.tls_port))
    assert car8.connect("car8").body[1] == 0
    crl = make_crl(pki, "ca", revoked=("car7",))
    edit(v, "tls.require_certificate = true", f'tls.require_certificate = true\ntls.crl = "{crl}"')
    reload(v)
    assert car7.closed_by_peer()
    car8.send(raw.PINGREQ)
    assert car8.recv_packet().type == 13
    # The scrape reports the new CRL's next update.
    s = parse(scrape_ok(v.http_port))
    assert ("vigil_tls_expiry_timestamp_seconds", frozenset({("kind", "crl"), ("file", str(crl))})) in s


def test_log_level_and_the_password_file_take_effect(start_vigil, tmp_path, vigil_binary):
    old = tmp_path / "passwd"
    new = tmp_path / "passwd.new"
    make_users(vigil_binary, old, {"car7": "old-pass"})
    make_users(vigil_binary, new, {"car7": "new-pass"})
    v = start_vigil(2, f'allow_anonymous = false\n[auth]\npassword_file = "{old}"\n')
    edit(v, 'log_level = "debug"', 'log_level = "info"')
    edit(v, f'password_file = "{old}"', f'password_file = "{new}"')
    reload(v)
    assert v.wait_for_log(rf"reload: password file {new}: 1 users")
    client = raw.RawClient(v.port)
    assert client.connect("car7", username="car7", password="new-pass").body[1] == 0
    refused = raw.RawClient(v.port)
    assert refused.connect("car7-old", username="car7", password="old-pass").body[1] == 4  # bad password
    # At info, a connect's debug line is no longer written.
    lines = len(v.lines)
    again = raw.RawClient(v.port)
    assert again.connect("car7-again", username="car7", password="new-pass").body[1] == 0
    client.send(raw.PINGREQ)
    assert client.recv_packet().type == 13
    assert not any(" debug " in line for line in v.lines[lines:]), v.lines[lines:]


def test_what_needs_a_restart_is_named_and_left_as_it_was(start_vigil):
    v = start_vigil(2, "[limits]\nmax_subscriptions = 3\n")
    edit(v, "max_subscriptions = 3", "max_subscriptions = 1")
    edit(v, "workers = 2", "workers = 3")
    reload(v)
    assert v.wait_for_log(r"reload: .*vigil.toml: workers, limits changed; this needs a restart")
    c = raw.RawClient(v.port)
    assert c.connect("subs").body[1] == 0
    c.send(raw.subscribe(1, ("a", 0), ("b", 0), ("c", 0)))
    assert c.recv_packet().body[2:] == b"\x00\x00\x00"  # still 3 allowed


def test_a_file_that_does_not_load_changes_nothing(start_vigil, tmp_path, vigil_binary):
    old = tmp_path / "passwd"
    new = tmp_path / "passwd.new"
    make_users(vigil_binary, old, {"car7": "old-pass"})
    make_users(vigil_binary, new, {"car7": "new-pass"})
    v = start_vigil(2, f'allow_anonymous = false\n[auth]\npassword_file = "{old}"\n')
    edit(v, f'password_file = "{old}"', f'password_file = "{new}"\nno_such_key = 1')
    with v._cond:
        before = len(v.lines)
    v.proc.send_signal(__import__("signal").SIGHUP)
    assert v.wait_for_log(r"reload: .*no_such_key.*; nothing changed")
    assert not any("reload done" in line for line in v.lines[before:])
    c = raw.RawClient(v.port)
    assert c.connect("car7", username="car7", password="old-pass").body[1] == 0
