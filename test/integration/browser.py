"""Debian's Chromium, headless, driven through Playwright (test/js/browser.js): each call
waits for its answer; the page's console errors and uncaught exceptions are collected."""
import itertools
import json
import queue
import time

from jsclients import JS_DIR, Node


class Browser:
    def __init__(self, screenshots):
        assert (JS_DIR / "node_modules" / "playwright-core").is_dir(), \
            f"playwright-core is not installed: run `npm ci --prefix {JS_DIR}` (scripts/install-deps.sh does)"
        self.node = Node("browser.js", {"screenshots": str(screenshots)})
        self.problems = []  # console errors and warnings, page errors, failed requests
        self._ids = itertools.count(1)
        ready = self._next(lambda e: e["event"] == "ready", 60)
        self.version = ready["version"]

    def _next(self, match, timeout):
        while True:
            try:
                e = self.node.events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"the browser did not answer within {timeout} s") from None
            if e["event"] in ("console", "pageerror", "requestfailed"):
                self.problems.append(e)
                continue
            if e["event"] in ("exit", "fatal"):
                raise AssertionError(f"the browser driver ended: {e} {self.node._stderr()}")
            if match(e):
                return e

    def console_message(self, text, timeout=10):
        """Waits for a console message of the page containing `text` (they come on their own)."""
        def seen():
            return next((p for p in self.problems if p["event"] == "console" and text in p["text"]), None)
        deadline = time.monotonic() + timeout
        while seen() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no console message with {text!r} within {timeout} s; got {self.problems[-5:]}")
            try:
                e = self.node.events.get(timeout=left)
            except queue.Empty:
                continue
            if e["event"] in ("console", "pageerror", "requestfailed"):
                self.problems.append(e)
            elif e["event"] in ("exit", "fatal"):
                raise AssertionError(f"the browser driver ended: {e}")
        return seen()

    def call(self, cmd, timeout=20, **kw):
        """Runs a command; returns its value, or raises with the browser's error."""
        i = next(self._ids)
        self.node.proc.stdin.write(json.dumps({"cmd": cmd, "id": i, **kw}) + "\n")
        self.node.proc.stdin.flush()
        e = self._next(lambda e: e.get("id") == i, kw.get("timeout_s", timeout))
        if e["event"] == "failed":
            raise AssertionError(f"browser {cmd} {kw}: {e['error']}")
        return e["value"]

    def eval(self, js):
        return self.call("eval", js=js)

    def wait(self, js, timeout=10):
        """Waits until the expression `js` is truthy in the page; returns its value."""
        return self.call("wait", js=js, timeout=int(timeout * 1000), timeout_s=timeout + 5)

    def close(self):
        self.node.wait(timeout=20)
