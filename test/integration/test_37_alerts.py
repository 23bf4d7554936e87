"""The shipped alerts (conf/prometheus/alerts.yml) and Grafana dashboard (conf/grafana/vigil.json):
promtool accepts the rules, a promtool unit test per alert passes (test/prometheus/alerts_test.yml),
and every metric they name is in the /metrics of a running Vigil."""
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from pki import make_pki
from prom import scrape_ok

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "conf/prometheus/alerts.yml"
DASHBOARD = ROOT / "conf/grafana/vigil.json"
TESTS = ROOT / "test/prometheus/alerts_test.yml"
NAME = re.compile(r"\b((?:vigil|process)_[a-z0-9_]+)")


def promtool(*args):
    r = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def alerts():
    return {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}


def render(template, labels):
    """The rules' annotations use {{ $labels.NAME }} only (checked here)."""
    assert "$value" not in template and "{{" not in re.sub(r"\{\{ \$labels\.(\w+) \}\}", "", template), template
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: str(labels[m.group(1)]), template)


def test_promtool_accepts_the_rules_and_every_alert_has_a_passing_unit_test(tmp_path):
    promtool("check", "rules", str(RULES))
    spec = yaml.safe_load(TESTS.read_text())
    rules = alerts()
    tested = set()
    for t in spec["tests"]:
        for case in t["alert_rule_test"]:
            rule = rules[case["alertname"]]
            for a in case["exp_alerts"]:
                tested.add(case["alertname"])
                a["exp_annotations"] = {k: render(v, a["exp_labels"]) for k, v in rule["annotations"].items()}
    assert tested == set(rules), f"alerts without a firing test: {set(rules) - tested}"
    shutil.copy(RULES, tmp_path / "alerts.yml")
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(spec))
    out = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert "SUCCESS" in out


def test_every_metric_the_rules_and_dashboard_name_is_served(start_vigil, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    tls = f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n'
    # A TLS listener, the archive and the probe: every family is there (the probe's after a round).
    v = start_vigil(2, tls + '[archive]\nflush_interval = "50ms"\n', top='probe.interval = "100ms"\n')
    used = set()
    for rule in yaml.safe_load(RULES.read_text())["groups"]:
        for r in rule["rules"]:
            used |= set(NAME.findall(r["expr"]))
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p.get("targets", [])]
    assert exprs, "the dashboard has no queries"
    for e in exprs:
        used |= set(NAME.findall(e))
    deadline = time.monotonic() + 20
    while True:
        text = scrape_ok(v.http_port)
        served = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
        if "vigil_probe_healthy" in served or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    families = {re.sub(r"_(bucket|count|sum)$", "", n) for n in served} | served
    missing = used - families
    assert not missing, f"named by the rules or dashboard but not served: {sorted(missing)}"
