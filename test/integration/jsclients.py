"""Real JavaScript clients (MQTT.js and ws from npm, test/js) run under Node.js: options go in
as JSON, every event comes back as one JSON line."""
import json
import queue
import subprocess
import threading
from pathlib import Path

JS_DIR = Path(__file__).resolve().parent.parent / "js"


class Node:
    def __init__(self, script, options):
        missing = [p for p in ("mqtt", "ws") if not (JS_DIR / "node_modules" / p).is_dir()]
        assert not missing, f"npm packages {missing} are not installed: run `npm ci --prefix {JS_DIR}` (scripts/install-deps.sh does)"
        self.proc = subprocess.Popen(["node", str(JS_DIR / script), json.dumps(options)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events = queue.Queue()
        self.seen = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "exit"})

    def next(self, event, timeout=15):
        """The next event named `event`; events before it are kept in `seen`."""
        while True:
            try:
                e = self.events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no '{event}' from {self.proc.args[1]} within {timeout} s; seen {self.seen[-12:]}; "
                                     f"stderr: {self._stderr()}") from None
            self.seen.append(e)
            if e["event"] == event:
                return e
            if e["event"] == "exit":
                raise AssertionError(f"{self.proc.args[1]} exited before '{event}'; seen {self.seen[-12:]}; "
                                     f"stderr: {self._stderr()}")

    def messages(self, n, timeout=15):
        return [self.next("message", timeout) for _ in range(n)]

    def wait(self, timeout=15):
        """Closes stdin and returns the exit status; late events land in `seen`."""
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._reader.join(timeout=5)
        while not self.events.empty():
            self.seen.append(self.events.get())
        return code

    def _stderr(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()[-2000:]
