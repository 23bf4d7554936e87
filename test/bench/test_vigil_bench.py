"""vigil-bench against a real vigil: a small seed run accounts for every message on both paths,
a ramp stops at its bound, a storm connects everyone, reports are written, bad input is refused;
a production site (mutual TLS with a certificate per device, passwords, tokens) is measured with
the server's certificate verified, and the report ends with a verdict and the host's details."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from pki import make_pki, mutual_tls
from test_07_auth import make_users
from test_19_tokens import issue

SCENARIOS = Path(__file__).resolve().parent.parent.parent / "bench" / "scenarios"


@pytest.fixture
def bench(request):
    return os.path.abspath(request.config.getoption("--vigil-bench"))


def run(bench, v, scenario, out, *sets, port=None):
    args = [bench, str(SCENARIOS / f"{scenario}.toml"), "--port", str(port or v.port), "--http-port", str(v.http_port),
            "--server-pid", str(v.proc.pid), "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    r = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    return r, json.loads((out / f"{scenario}-vigil.json").read_text())


def test_seed_accounts_for_every_message(start_vigil, bench, tmp_path):
    v = start_vigil(2)
    r, j = run(bench, v, "seed", tmp_path, "devices=40", "dashboards=6", "subscribers=2", "seconds=3",
               "status_interval_s=1", "events_per_min=60")
    step = j["steps"][0]
    for path, receivers in (("device_to_subscriber", 2), ("device_to_browser", 6)):
        streams = step[path]["streams"]
        for name, sent in step["sent"].items():
            assert sent > 0
            assert streams[name]["expected"] == sent * receivers
            assert streams[name]["received"] == streams[name]["expected"], (path, name, streams[name])
            assert streams[name]["duplicates"] == 0
        assert 0 < step[path]["latency_ms"]["p50"] <= step[path]["latency_ms"]["p99"] <= step[path]["latency_ms"]["max"]
    assert step["loss"] == 0
    assert step["server"] and step["server"][-1]["rss_mib"] > 1  # sampled from /proc
    assert re.search(r"setup: 48/48 connected", r.stdout)
    assert j["overrides"][:2] == ["devices=40", "dashboards=6"] and "overrides: devices=40 dashboards=6" in r.stdout
    html = (tmp_path / "seed-vigil.html").read_text()
    assert html.count("<svg") == 5 and "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # offline
    assert "[seed steady]" in r.stderr  # the live progress line


def test_ramp_stops_at_its_bound_and_storm_connects_all(start_vigil, bench, tmp_path):
    v = start_vigil(2)
    # A bound no run can meet: the ramp stops after its first step and names no maximum.
    r, j = run(bench, v, "fanout-max", tmp_path, "subscribers=5", "seconds=1", "max_p99_ms=0")
    assert len(j["steps"]) == 1 and j["best_step"] == -1 and "MAX sustained: none" in r.stdout
    r, j = run(bench, v, "storm", tmp_path, "devices=300", "storm_jitter_ms=[0, 300]")
    assert [s["label"] for s in j["storms"]] == ["connect", "reconnect, no jitter", "reconnect, 300 ms jitter"]
    for s in j["storms"]:
        assert s["clients"] == 300 and s["failed"] == 0 and s["connect_ms"]["max"] > 0


def test_ramp_refines_between_the_last_rate_that_held_and_the_first_that_broke(start_vigil, bench, tmp_path):
    # The broker holds each device to 100 publishes/s (after a burst of 100): 50 Hz holds,
    # 200 Hz falls seconds behind. Two refine steps then bisect between the two rates.
    v = start_vigil(2, "[limits]\nmax_publish_rate = 100\n")
    r, j = run(bench, v, "fanin-max", tmp_path, "devices=5", "location_hz=50", "ramp_factor=4", "seconds=1",
               "warmup_seconds=0.5", "refine_steps=2")
    steps = j["steps"]
    assert [s["label"] for s in steps] == ["step 1", "step 2", "refine 1", "refine 2"]
    held = [s["p99_ms"] <= 50 and s["loss"] <= 0.001 for s in steps]
    assert held[:2] == [True, False]
    lo, hi = 50.0, 200.0
    for s, ok in zip(steps[2:], held[2:]):
        assert lo < s["location_hz"] < hi  # strictly inside the bracket left by the steps before
        lo, hi = (s["location_hz"], hi) if ok else (lo, s["location_hz"])
    best = max((s["location_hz"], i) for i, s in enumerate(steps) if held[i])[1]
    assert j["best_step"] == best
    assert f"location {steps[best]['location_hz']:.2f} Hz per device" in r.stdout


def test_bad_scenarios_are_refused(bench, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ndevices = 10\nlocation_hz = "fast"\n')
    r = subprocess.run([bench, str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "'location_hz' must be a number" in r.stderr
    bad.write_text('name = "x"\ndevicez = 10\n')
    r = subprocess.run([bench, str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "unknown key 'devicez'" in r.stderr
    r = subprocess.run([bench, str(SCENARIOS / "seed.toml"), "--set", "subscriber_streams=[\"positions\"]"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "unknown stream 'positions'" in r.stderr
    # Nothing listening: a clear error, not a hang.
    r = subprocess.run([bench, str(SCENARIOS / "seed.toml"), "--port", "1", "--set", "devices=2", "--set", "dashboards=0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "could not connect" in r.stderr


def test_tls_devices(start_vigil, bench, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    v = start_vigil(2, f"""
[[listener]]
bind = "127.0.0.1"
port = 0
tls.cert = "{pki / 'server.crt'}"
tls.key = "{pki / 'server.key'}"
""")
    r, j = run(bench, v, "seed", tmp_path, "tls=true", "devices=20", "dashboards=0", "seconds=2", port=v.tls_port)
    assert "20 devices over TLS" in r.stdout
    step = j["steps"][0]
    assert step["sent"]["location"] > 0 and step["loss"] == 0
    assert step["device_to_subscriber"]["streams"]["location"]["received"] == step["sent"]["location"]


def production_site(start_vigil, vigil_binary, tmp_path):
    """Mutual TLS with identities as usernames, API tokens for /ws: as an agency runs it."""
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    token_file = tmp_path / "token"
    token_file.write_text(issue(vigil_binary, tmp_path / "tokens", "bench", "--subscribe", "devices/#") + "\n")
    v = start_vigil(2, "allow_anonymous = false\n" + mutual_tls(pki) + f'[http]\ntokens_file = "{tmp_path / "tokens"}"\n')
    return v, pki, token_file


def site_args(pki, token_file, v, ca="ca.crt"):
    return ["--ca", str(pki / ca), "--server-name", "localhost", "--client-ca", str(pki / "ca.crt"), "--client-ca-key", str(pki / "ca.key"),
            "--token-file", str(token_file), "--server-config", v.config_path]


def run_site(bench, v, out, extra, *sets):
    args = [bench, str(SCENARIOS / "seed.toml"), "--port", str(v.tls_port or v.port), "--http-port", str(v.http_port),
            "--server-pid", str(v.proc.pid), "--out", str(out), *extra]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, capture_output=True, text=True, timeout=180)


def test_a_production_site_with_client_certificates_tokens_and_a_verdict(start_vigil, vigil_binary, bench, tmp_path):
    v, pki, token_file = production_site(start_vigil, vigil_binary, tmp_path)
    r = run_site(bench, v, tmp_path, site_args(pki, token_file, v), "tls=true", "devices=20", "subscribers=1", "dashboards=2", "seconds=2")
    assert r.returncode == 0, r.stderr
    j = json.loads((tmp_path / "seed-vigil.json").read_text())
    assert j["site"] == {"tls": True, "server_certificate_verified": True, "client_certificates": True, "passwords": False, "api_token": True}
    assert j["host"]["cores"] >= 1 and j["host"]["cpu"] and j["host"]["kernel"].startswith("Linux") and j["host"]["memory_gib"] > 0
    assert j["server_settings"]["listener 0"].endswith("TLS, client certificates required")
    assert j["server_settings"]["api tokens"] == "on" and j["server_settings"]["workers"] == "2"
    assert j["steps"][0]["loss"] == 0
    assert j["verdict"]["met"] is True and all(c["met"] for c in j["verdict"]["checks"])
    assert "VERDICT: MET" in r.stdout and "server certificate verified against" in r.stdout and "host: " in r.stdout
    # Each device logged in with a certificate of its own.
    assert v.wait_for_log(r"client 'bench-dev-00019' connected \(identity 'bench-dev-00019', mqtt-tls")
    assert v.wait_for_log(r"dashboard .*token 'bench'")


def test_a_wrong_ca_a_wrong_name_and_a_wrong_password_are_named(start_vigil, vigil_binary, bench, tmp_path):
    v, pki, token_file = production_site(start_vigil, vigil_binary, tmp_path)
    r = run_site(bench, v, tmp_path, site_args(pki, token_file, v, ca="other-ca.crt"), "tls=true", "devices=3", "dashboards=0")
    assert r.returncode == 1 and "could not connect; the first: " in r.stderr and "TLS handshake: certificate verify failed" in r.stderr, r.stderr
    args = site_args(pki, token_file, v)
    args[args.index("localhost")] = "dispatch.example"
    r = run_site(bench, v, tmp_path, args, "tls=true", "devices=3", "dashboards=0")
    assert r.returncode == 1 and "certificate verify failed" in r.stderr, r.stderr
    # Passwords on a plain listener: one user per device ({id}), one of them with the wrong password.
    users = tmp_path / "passwd"
    make_users(vigil_binary, users, {**{f"bench-dev-0000{i}": "s3cret" for i in range(3)}, "bench-sub-0": "s3cret"})
    plain = start_vigil(2, f'allow_anonymous = false\n[auth]\npassword_file = "{users}"\n')
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    r = run_site(bench, plain, tmp_path, ["--username", "{id}", "--password-file", str(password)], "devices=3", "dashboards=0")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "seed-vigil.json").read_text())["site"]["passwords"] is True
    assert plain.wait_for_log(r"client 'bench-dev-00002' connected \(identity 'bench-dev-00002', mqtt,")
    password.write_text("wrong\n")
    r = run_site(bench, plain, tmp_path, ["--username", "{id}", "--password-file", str(password)], "devices=3", "dashboards=0")
    assert r.returncode == 1 and "CONNACK return code 4" in r.stderr, r.stderr


def test_a_missed_target_gives_a_missed_verdict_with_the_margin(start_vigil, bench, tmp_path):
    v = start_vigil(2)
    r, j = run(bench, v, "seed", tmp_path, "devices=5", "seconds=1", "max_p99_ms=0.001")
    assert j["verdict"]["met"] is False
    p99 = [c for c in j["verdict"]["checks"] if c["what"].endswith("p99 latency")]
    assert p99 and not p99[0]["met"] and "missed by" in p99[0]["detail"]
    assert "VERDICT: MISSED" in r.stdout and "site: plain TCP" in r.stdout
