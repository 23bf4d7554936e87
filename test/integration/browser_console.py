"""The operations console at / in a real browser (Debian's Chromium, headless, through
Playwright) against the real vigil, with a simulated fleet (test/js/fleet.js) and paho
devices: every device on the map, a status change within 1 s, offline after the will, the
event feed, track replay from history, commands (and their refusal for a read-only token),
and the reconnect after vigil is killed and restarted. Screenshots of each view go to
--artifacts. Run by ctest `console` (release and ASan builds): not collected with the other
integration tests, which run once per shard count."""
import http.client
import json
import os
import re
import socket
import subprocess
import tempfile
import time

import pytest

from browser import Browser
from clients import Paho
from conftest import Vigil
from jsclients import JS_DIR


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_config(data_dir, tokens_file, mqtt_port=0, http_port=0, ui=""):
    return f"""workers = 2
data_dir = "{data_dir}"
sys_interval = "off"
probe.interval = "off"
[[listener]]
bind = "127.0.0.1"
port = {mqtt_port}
[[http.listener]]
bind = "127.0.0.1"
port = {http_port}
[http]
tokens_file = "{tokens_file}"
[archive]
flush_interval = "50ms"
{ui}
"""


def issue(vigil_binary, path, name, *args):
    r = subprocess.run([vigil_binary, "token", str(path), name, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def fetch(port, path, method="GET", headers=None):
    """(status, headers, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


class Site:
    """vigil with two tokens (ops: read all, publish commands; viewer: read only), a simulated
    fleet and a browser."""

    def __init__(self, vigil_binary, tmp, artifacts, seed, fleet_size=40):
        self.binary = vigil_binary
        self.tmp = tmp
        self.artifacts = artifacts
        self.tokens = os.path.join(tmp, "tokens")
        self.ops = issue(vigil_binary, self.tokens, "ops", "--subscribe", "devices/#", "--publish", "devices/+/commands")
        self.viewer = issue(vigil_binary, self.tokens, "viewer", "--subscribe", "devices/#")
        self.mqtt_port = free_port()
        self.http_port = free_port()
        self.config = site_config(os.path.join(tmp, "var"), self.tokens, self.mqtt_port, self.http_port)
        self.vigil = None
        self.start_vigil()
        self.fleet = subprocess.Popen(["node", str(JS_DIR / "fleet.js"), "--url", f"mqtt://127.0.0.1:{self.mqtt_port}",
                                       "--devices", str(fleet_size), "--hz", "1", "--churn", "0", "--events-per-min", "1",
                                       "--seed", str(seed), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.fleet_size = fleet_size
        line = self.fleet.stdout.readline()
        while line and "connected" not in line:
            line = self.fleet.stdout.readline()
        assert f"{fleet_size} devices connected" in line, f"the fleet did not connect: {line!r}"
        self.browser = Browser(artifacts)

    def start_vigil(self):
        self.vigil = Vigil(self.binary, self.config, self.tmp)
        assert self.vigil.port == self.mqtt_port and self.vigil.http_port == self.http_port

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def sign_in(self, token):
        b = self.browser
        assert b.call("goto", url=self.url()) == 200
        b.wait("document.getElementById('signin').open")
        b.call("fill", selector="#token", value=token)
        b.call("click", selector="#signin button[type=submit]")
        b.wait("window.vigilConsole && window.vigilConsole.state() === 'live'")

    def device(self, device_id, **kw):
        return Paho(self.mqtt_port, client_id=device_id,
                    will=(f"devices/{device_id}/status", json.dumps({"state": "offline"}), 1, True), **kw)

    def screenshot(self, name):
        path = self.browser.call("screenshot", name=name)
        assert os.path.getsize(path) > 10000, f"{path} is nearly empty"

    def csp_or_page_errors(self):
        return [p for p in self.browser.problems
                if p["event"] == "pageerror" or "Content Security Policy" in p.get("text", "") or "Refused to" in p.get("text", "")]

    def close(self):
        self.browser.close()
        self.fleet.terminate()
        self.fleet.wait(timeout=20)
        if self.vigil is not None and self.vigil.alive():
            assert self.vigil.stop() == 0, "\n".join(self.vigil.lines[-40:])


@pytest.fixture
def artifacts(request):
    where = request.config.getoption("--artifacts")
    if where:
        os.makedirs(where, exist_ok=True)
        yield where
    else:
        with tempfile.TemporaryDirectory() as d:
            yield d


@pytest.fixture
def site(vigil_binary, tmp_path, artifacts, seed):
    s = Site(vigil_binary, str(tmp_path), artifacts, seed)
    yield s
    s.close()


def row(device_id, part):
    return f"document.querySelector('.row[data-id=\"{device_id}\"] .{part}')?.textContent"


def test_console_is_served_with_a_strict_policy_and_opens_no_data(vigil_binary, tmp_path):
    tokens = tmp_path / "tokens"
    issue(vigil_binary, tokens, "ops", "--subscribe", "devices/#")
    ui = '[ui]\ntile_url = "https://tiles.agency.local:8443/{z}/{x}/{y}.png"\ntile_attribution = "Agency maps"\n'
    v = Vigil(vigil_binary, site_config(tmp_path / "var", tokens, ui=ui), str(tmp_path))
    try:
        status, h, body = fetch(v.http_port, "/")
        assert status == 200 and h["content-type"] == "text/html; charset=utf-8" and b"/console/main.js" in body
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "img-src 'self' data: https://tiles.agency.local:8443;" in csp and "frame-ancestors 'none'" in csp
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY" and h["cache-control"] == "no-cache"
        # The files hold no data; the API still needs a token.
        assert fetch(v.http_port, "/api/v1/devices")[0] == 401
        status, h2, body = fetch(v.http_port, "/console/config.json")
        assert json.loads(body) == {"tile_url": "https://tiles.agency.local:8443/{z}/{x}/{y}.png", "tile_attribution": "Agency maps",
                                    "lat_field": "lat", "lon_field": "lon", "history": True}
        status, h, js = fetch(v.http_port, "/console/main.js")
        assert status == 200 and h["content-type"].startswith("text/javascript")
        assert fetch(v.http_port, "/console/main.js", headers={"If-None-Match": h["etag"]})[0] == 304
        assert fetch(v.http_port, "/console/main.js", headers={"If-None-Match": '"other", W/' + h["etag"]})[0] == 304
        assert fetch(v.http_port, "/console/main.js", headers={"If-None-Match": '"other"'})[0] == 200
        status, h, body = fetch(v.http_port, "/console/main.js", method="HEAD")
        assert status == 200 and body == b"" and int(h["content-length"]) == len(js)
        assert fetch(v.http_port, "/", method="POST")[0] == 405
        for path in ("/console/", "/console/../../etc/passwd", "/console/%2e%2e/tokens", "/console/main.js/x"):
            assert fetch(v.http_port, path)[0] == 404, path
        notices = fetch(v.http_port, "/console/licenses.txt")[2].decode()
        assert "Leaflet" in notices and "Redistribution and use" in notices and "Natural Earth" in notices
        assert "Permission to use, copy, modify" in notices  # ISC (world-atlas)
        leaflet = fetch(v.http_port, "/console/vendor/leaflet.js")[2]
        with open(JS_DIR.parent.parent / "src/console/node_modules/leaflet/dist/leaflet.js", "rb") as f:
            assert leaflet == f.read()
    finally:
        assert v.stop() == 0
    off = Vigil(vigil_binary, site_config(tmp_path / "var2", tokens, ui="[ui]\nenabled = false\n"), str(tmp_path))
    try:
        assert fetch(off.http_port, "/")[0] == 401  # no console: / is just an unknown API path
        assert fetch(off.http_port, "/console/main.js", headers={"Authorization": "Bearer x"})[0] == 401
    finally:
        assert off.stop() == 0


@pytest.mark.parametrize("url", ["https://tiles.example/{z}/{x}.png", "javascript:alert(1)//{z}{x}{y}",
                                 "https://tiles.example/{z}/{x}/{y}.png; script-src *", "https://ti'les/{z}/{x}/{y}",
                                 "ftp://tiles.example/{z}/{x}/{y}.png", "https://a b/{z}/{x}/{y}", "https://[zz]/{z}/{x}/{y}"])
def test_bad_tile_url_is_refused(vigil_binary, tmp_path, url):
    conf = tmp_path / "v.toml"
    conf.write_text(f'[ui]\ntile_url = "{url}"\n')
    r = subprocess.run([vigil_binary, "--check-config", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and re.search(r"v\.toml:2: 'ui\.tile_url' must be an http\(s\) URL", r.stderr), r.stderr


def test_map_list_and_feed_follow_the_fleet(site):
    b = site.browser
    # A wrong token is refused visibly and the page stays at the sign-in.
    assert b.call("goto", url=site.url()) == 200
    b.wait("document.getElementById('signin').open")
    b.call("fill", selector="#token", value="not-a-token")
    b.call("click", selector="#signin button[type=submit]")
    assert "refused" in b.wait("document.getElementById('signin').open && document.getElementById('signin-error').textContent")
    b.call("fill", selector="#token", value=site.ops)
    b.call("click", selector="#signin button[type=submit]")
    b.wait("window.vigilConsole && window.vigilConsole.state() === 'live'")
    unit = site.device("unit-7")
    unit.publish("devices/unit-7/status", json.dumps({"state": "online", "battery": 80, "signal": -70}), 1, retain=True)
    unit.publish("devices/unit-7/location", json.dumps({"lat": 59.33, "lon": 18.06, "heading": 90, "ts": int(time.time() * 1000)}), 1)
    total = site.fleet_size + 1
    b.wait(f"window.vigilConsole.counts().total === {total} && window.vigilConsole.placed() === {total}")
    site.screenshot("console-live-map")
    # A status change shows in the list within 1 s.
    b.call("fill", selector="#search", value="unit-7")
    b.wait(f"{row('unit-7', 'batt')} === '80%'")
    assert b.eval("[...document.querySelectorAll('.row')].filter(r => r.offsetParent !== null).length") == 1
    unit.publish("devices/unit-7/status", json.dumps({"state": "online", "battery": 42, "signal": -61}), 1, retain=True)
    b.wait(f"{row('unit-7', 'batt')} === '42%' && {row('unit-7', 'sig')} === '-61'", timeout=1)
    # A new event is at the top of the feed, highlighted; the filter keeps only its type.
    unit.publish("devices/unit-7/events", json.dumps({"type": "panic", "severity": "alarm", "text": "officer needs help"}), 1)
    # Newest first: the fleet's own events may land above it, but only ones newer (still highlighted).
    b.wait("(all => { const i = all.findIndex(e => e.dataset.device === 'unit-7' && e.dataset.type === 'panic');"
           " return i >= 0 && all.slice(0, i + 1).every(e => e.classList.contains('new')); })"
           "([...document.querySelectorAll('#events li')])")
    b.call("fill", selector="#feed-filter", value="panic")
    b.wait("[...document.querySelectorAll('#events li')].every(e => e.dataset.type === 'panic')")
    site.screenshot("console-event-feed")
    b.call("fill", selector="#feed-filter", value="")
    # The keyboard reaches everything: the list takes arrows and Enter, Escape closes the panel.
    b.eval("document.getElementById('list').focus()")
    b.call("press", key="ArrowDown")
    b.call("press", key="Enter")
    b.wait("!document.getElementById('panel').hidden && document.getElementById('panel-title').textContent === 'unit-7'")
    assert b.eval("document.querySelector('#panel-values dd[data-field=\"battery\"]').textContent") == "42%"
    b.call("press", key="Escape")
    b.wait("document.getElementById('panel').hidden")
    # The map takes the keyboard too: ']' steps through what is drawn, nearest the centre first,
    # named for screen readers; Enter zooms into a cluster, or opens the device.
    b.eval("document.getElementById('map').focus()")
    said = ""
    for _ in range(12):
        b.call("press", key="]")
        said = b.eval("document.getElementById('map-cursor').textContent")
        if said.endswith("Enter opens it"):
            break
        assert said.endswith("Enter zooms in"), said
        b.call("press", key="Enter")
        b.eval("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")  # redrawn
    device = said.split(",")[0]
    assert b.eval(f"window.vigilConsole.device({json.dumps(device)}) !== null"), said
    b.call("press", key="Enter")
    b.wait(f"!document.getElementById('panel').hidden && document.getElementById('panel-title').textContent === {json.dumps(device)}")
    b.call("press", key="Escape")
    b.wait("document.getElementById('panel').hidden")
    # Its connection drops without DISCONNECT: the will marks it offline.
    unit.client.socket().shutdown(socket.SHUT_RDWR)
    unit.stop(graceful=False)
    b.wait("document.querySelector('.row[data-id=\"unit-7\"]')?.dataset.state === 'offline'", timeout=10)
    assert b.eval("window.vigilConsole.device('unit-7').state") == "offline"
    site.screenshot("console-device-offline")
    assert site.csp_or_page_errors() == []


def test_the_detailed_outlines_load_only_when_the_map_is_zoomed_in(start_vigil, artifacts):
    v = start_vigil(1, "")  # loopback, no tokens: nothing to sign in to
    b = Browser(artifacts)
    fetched = "performance.getEntriesByType('resource').map(r => new URL(r.name).pathname)"
    try:
        assert b.call("goto", url=f"http://127.0.0.1:{v.http_port}/") == 200
        # No devices: the world view, with the 1:110m outlines (108 KB) and not the 1:50m ones.
        b.wait("window.vigilConsole && window.vigilConsole.outlines() === 'countries-110m'")
        assert b.eval("window.vigilConsole.zoom()") < 5
        assert "/console/vendor/countries-50m.json" not in b.eval(fetched)
        b.eval("document.getElementById('map').focus()")
        for _ in range(3):
            b.call("press", key="+")
        b.wait("window.vigilConsole.zoom() >= 5 && window.vigilConsole.outlines() === 'countries-50m'")
        for _ in range(3):
            b.call("press", key="-")
        b.wait("window.vigilConsole.zoom() < 5 && window.vigilConsole.outlines() === 'countries-110m'")
        assert b.eval(f"{fetched}.filter(p => p.endsWith('-50m.json')).length") == 1  # fetched once
        assert [p for p in b.problems if p["event"] == "pageerror"] == []
    finally:
        b.close()


def test_track_replay_and_commands(site):
    b = site.browser
    site.sign_in(site.ops)
    unit = site.device("unit-9")
    commands = Paho(site.mqtt_port, client_id="dispatch-listener")
    commands.subscribe("devices/unit-9/commands", 1)
    now = int(time.time() * 1000)
    for i in range(30):
        unit.publish("devices/unit-9/location", json.dumps({"lat": 59.30 + i * 0.001, "lon": 18.00 + (i % 7) * 0.002, "ts": now}), 1)
    # The archive has them (written every 50 ms): the API answers 30 points.
    deadline = time.time() + 10
    while True:
        status, _, body = fetch(site.http_port, f"/api/v1/devices/unit-9/track?from={now - 60000}&to={now + 60000}",
                                headers={"Authorization": f"Bearer {site.ops}"})
        if status == 200 and json.loads(body)["properties"]["points"] == 30:
            break
        assert time.time() < deadline, f"the track never held 30 points: {status} {body[:200]}"
        time.sleep(0.05)
    b.call("fill", selector="#search", value="unit-9")
    b.wait("document.querySelector('.row[data-id=\"unit-9\"]')")
    b.call("click", selector=".row[data-id=\"unit-9\"]")
    b.wait("!document.getElementById('panel').hidden && document.getElementById('panel-title').textContent === 'unit-9'")
    b.call("click", selector="#track-load")
    assert b.wait("document.getElementById('track-info').dataset.points") == "30"
    assert b.eval("document.querySelectorAll('.leaflet-overlay-pane path').length") >= 2  # the line and the cursor
    b.call("click", selector="#track-play")
    b.wait("document.getElementById('track-play').textContent === 'Pause'")
    b.wait("Number(document.getElementById('track-slider').value) === 29 && document.getElementById('track-play').textContent === 'Play'",
           timeout=15)
    site.screenshot("console-track-replay")
    # A command reaches the device's MQTT subscriber.
    b.call("fill", selector="#command-text", value='{"do":"return-to-base"}')
    b.call("click", selector="#command button[type=submit]")
    assert "sent to devices/unit-9/commands" in b.wait("document.querySelector('#command-result.good')?.textContent")
    m = commands.get(timeout=10)
    assert m.topic == "devices/unit-9/commands" and json.loads(m.payload) == {"do": "return-to-base"}
    site.screenshot("console-command-sent")
    unit.stop()
    commands.stop()
    assert site.csp_or_page_errors() == []


def test_a_read_only_token_is_refused_commands_visibly(site):
    b = site.browser
    site.sign_in(site.viewer)
    unit = site.device("unit-5")
    unit.publish("devices/unit-5/location", json.dumps({"lat": 59.3, "lon": 18.1}), 1)
    listener = Paho(site.mqtt_port, client_id="dispatch-listener")
    listener.subscribe("devices/unit-5/commands", 1)
    b.call("fill", selector="#search", value="unit-5")
    b.wait("document.querySelector('.row[data-id=\"unit-5\"]')")
    b.call("click", selector=".row[data-id=\"unit-5\"]")
    b.call("fill", selector="#command-text", value="stop")
    b.call("click", selector="#command button[type=submit]")
    refusal = b.wait("document.querySelector('#command-result.bad')?.textContent")
    assert "token 'viewer' may not publish" in refusal, refusal
    site.screenshot("console-command-refused")
    # Nothing reached the device: the next message on the topic is one published afterwards.
    unit.publish("devices/unit-5/commands", "marker", 1)
    assert listener.get(timeout=10).payload == b"marker"
    unit.stop()
    listener.stop()


def test_a_gap_in_the_sequence_numbers_makes_the_page_resynchronise(site):
    b = site.browser
    site.sign_in(site.ops)
    total = site.fleet_size
    b.wait(f"window.vigilConsole.counts().total === {total}")
    # vigil never skips a number; a frame lost on the way is made here, in the connection's worker,
    # once live messages are numbered (the first number is not checked).
    deadline = time.time() + 10
    while b.call("worker", url="/push-worker.js", js="self.pushClient.lastSeq") == 0:
        assert time.time() < deadline, "no live message reached the page in 10 s"
        time.sleep(0.05)
    expected = b.call("worker", url="/push-worker.js", js="""(() => {
        const c = self.pushClient;
        const next = c.lastSeq + 1;
        c.onObject({op: 'message', seq: next + 3, topic: 'devices/ghost/events', payload: {type: 'x'}, time: Date.now()});
        return next;
    })()""")
    b.wait("window.vigilConsole.state() === 'resynchronising' || window.vigilConsole.state() === 'live'")
    b.wait("window.vigilConsole.state() === 'live'", timeout=15)
    b.console_message(f"message {expected} expected, {expected + 3} came")
    # Resubscribed: still every device, and new statuses still arrive.
    unit = site.device("unit-8")
    unit.publish("devices/unit-8/status", json.dumps({"state": "online", "battery": 55}), 1, retain=True)
    b.wait(f"window.vigilConsole.counts().total === {total + 2} && window.vigilConsole.device('unit-8')?.battery === 55")
    unit.stop()


def test_reconnects_after_vigil_is_killed_and_shows_correct_data(site):
    b = site.browser
    site.sign_in(site.ops)
    unit = site.device("unit-3")
    unit.publish("devices/unit-3/status", json.dumps({"state": "online", "battery": 64}), 1, retain=True)
    b.call("fill", selector="#search", value="unit-3")
    b.wait(f"{row('unit-3', 'batt')} === '64%'")
    unit.stop(graceful=False)
    site.vigil.kill()
    b.wait("document.getElementById('conn').dataset.state === 'reconnecting'", timeout=40)
    site.screenshot("console-reconnecting")
    site.start_vigil()
    # Published after the restart, before or after the page is back: the page must show both.
    again = site.device("unit-3")
    again.publish("devices/unit-3/status", json.dumps({"state": "online", "battery": 17}), 1, retain=True)
    again.publish("devices/unit-3/events", json.dumps({"type": "low_battery", "severity": "warning", "text": "17 %"}), 1)
    b.wait("window.vigilConsole.state() === 'live'", timeout=30)
    b.wait(f"{row('unit-3', 'batt')} === '17%'")
    b.wait("[...document.querySelectorAll('#events li')].some(e => e.dataset.device === 'unit-3' && e.dataset.type === 'low_battery')")
    b.wait(f"window.vigilConsole.counts().total === {site.fleet_size + 1}", timeout=30)
    site.screenshot("console-after-restart")
    again.stop()
