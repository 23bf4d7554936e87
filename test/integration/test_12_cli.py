"""Command line: --check-config, --version, --help, bad configs, graceful stop."""
import subprocess


def run(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=30)


def test_version_and_help(vigil_binary):
    r = run(vigil_binary, "--version")
    assert r.returncode == 0 and r.stdout.startswith("vigil ")
    r = run(vigil_binary, "--help")
    assert r.returncode == 0 and "--config" in r.stdout
    r = run(vigil_binary, "--bogus")
    assert r.returncode == 2 and "usage" in r.stderr


def test_check_config(vigil_binary, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('workers = 2\n[[listener]]\nport = 1883\n')
    r = run(vigil_binary, "--check-config", str(good))
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('workers = 2\n\n[limits]\nmax_inflight = 0\n')
    r = run(vigil_binary, "--check-config", str(bad))
    assert r.returncode == 1
    assert f"{bad}:4" in r.stderr and "max_inflight" in r.stderr
    r = run(vigil_binary, "--check-config", str(tmp_path / "missing.toml"))
    assert r.returncode == 1 and "cannot open" in r.stderr


def test_repository_config_is_valid(vigil_binary, request):
    import os
    conf = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "vigil.toml")
    r = run(vigil_binary, "--check-config", conf)
    assert r.returncode == 0, r.stderr


def test_example_acl_and_production_config_check(vigil_binary, tmp_path):
    import os
    conf = os.path.join(os.path.dirname(__file__), "..", "..", "conf")
    pw = tmp_path / "passwd"
    r = subprocess.run([vigil_binary, "passwd", "--stdin", "--iterations", "1000", str(pw), "dispatch"],
                       input="pw\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    from pki import make_pki
    pki = make_pki(tmp_path)
    prod = open(os.path.join(conf, "production.toml")).read()
    tokens = tmp_path / "tokens"
    assert run(vigil_binary, "token", str(tokens), "wall", "--subscribe", "devices/#").returncode == 0
    prod = prod.replace("/etc/vigil/tokens", str(tokens)).replace("/etc/vigil/passwd", str(pw)).replace("/etc/vigil/acl", os.path.join(conf, "acl.example"))
    prod = prod.replace("/etc/vigil/server.", f"{pki}/server.").replace("/etc/vigil/ca.crt", f"{pki}/ca.crt")
    cfg = tmp_path / "prod.toml"
    cfg.write_text(prod)
    r = run(vigil_binary, "--check-config", str(cfg))
    assert r.returncode == 0, r.stderr
    # The same file pointing at a missing password file is an error naming the path.
    cfg.write_text(prod.replace(str(pw), str(tmp_path / "missing")))
    r = run(vigil_binary, "--check-config", str(cfg))
    assert r.returncode == 1 and "missing: cannot open password file" in r.stderr
    # ... and one whose key does not match its certificate.
    cfg.write_text(prod.replace(f"{pki}/server.key", f"{pki}/car7.key"))
    r = run(vigil_binary, "--check-config", str(cfg))
    assert r.returncode == 1 and "car7.key: cannot load the TLS private key" in r.stderr


def test_sigterm_with_clients_connected(start_vigil, workers):
    import mqtt_raw as raw
    v = start_vigil(workers)
    clients = [raw.RawClient(v.port) for _ in range(20)]
    for i, c in enumerate(clients):
        c.connect(f"stay-{i}")
    code = v.stop()
    assert code == 0
    assert any("stopped" in line for line in v.lines)
    for c in clients:
        assert c.closed_by_peer()


def test_unbindable_address_is_a_clear_error(vigil_binary, tmp_path):
    cfg = tmp_path / "unbindable.toml"
    # 192.0.2.1 (TEST-NET-1) is not an address of this host: bind fails at once.
    cfg.write_text(f'data_dir = "{tmp_path}/var"\n[[listener]]\nbind = "192.0.2.1"\nport = 1883\nallow_anonymous = true\n'
                   '[[http.listener]]\nport = 0\n')
    r = run(vigil_binary, "--config", str(cfg))
    assert r.returncode == 1
    assert "cannot listen on 192.0.2.1:1883" in r.stderr
