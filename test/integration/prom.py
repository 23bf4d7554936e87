"""GET /metrics from a test: scrape it and read the samples of Prometheus' text format."""
import http.client
import re

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(port, token=None, ctx=None):
    """(status, content type, body text) of GET /metrics."""
    c = (http.client.HTTPSConnection("localhost", port, timeout=10, context=ctx) if ctx
         else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    c.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def parse(text):
    """{(name, frozenset of (label, value)): value} of every sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        samples[(m.group(1), frozenset(LABEL.findall(m.group(2) or "")))] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def scrape_ok(port, token=None, ctx=None):
    status, ctype, text = scrape(port, token, ctx)
    assert status == 200, text
    assert ctype.startswith("text/plain; version=0.0.4")
    return text
