"""Fixtures that run the real vigil binary on 127.0.0.1 ports the OS picks."""
import os
import re
import signal
import subprocess
import tempfile
import threading

import pytest


def pytest_addoption(parser):
    parser.addoption("--vigil", required=True, help="path to the vigil binary")
    parser.addoption("--workers", default=os.environ.get("VIGIL_WORKERS", "1,4"),
                     help="comma-separated shard counts to run the broker tests with")
    parser.addoption("--seed", type=int, default=os.environ.get("VIGIL_SEED"),
                     help="the seed of every randomised test (default: a new one per test, printed); VIGIL_SEED too")
    parser.addoption("--artifacts", default=None,
                     help="a directory for what tests leave to look at (the console's screenshots); default: a temporary one")


def pytest_generate_tests(metafunc):
    if "workers" in metafunc.fixturenames:
        counts = [int(w) for w in metafunc.config.getoption("--workers").split(",")]
        metafunc.parametrize("workers", counts, ids=[f"w{w}" for w in counts])


@pytest.fixture
def seed(request):
    """The seed of a randomised test: --seed (or VIGIL_SEED) when given, else a new one. It is
    printed, so a failure's output says how to replay it."""
    given = request.config.getoption("--seed")
    value = int(given) if given is not None else int.from_bytes(os.urandom(4), "little")
    print(f"seed {value} (replay with --seed {value})")
    return value


class Vigil:
    """A running vigil process; stderr is collected line by line."""

    def __init__(self, binary, config_text, tmpdir, env=None):
        self.config_path = os.path.join(tmpdir, "vigil.toml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.lines = []
        self.killed = False
        self._cond = threading.Condition()
        self.proc = subprocess.Popen([binary, "--config", self.config_path],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     env={**os.environ, **env} if env else None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        m = self.wait_for_log(r"listening for MQTT on [^ ]+:(\d+)|listening for MQTT over TLS", timeout=20)
        if m is None:
            self.proc.kill()
            raise RuntimeError("vigil did not start:\n" + "\n".join(self.lines))
        m = self.wait_for_log(r"listening for MQTT on [^ ]+:(\d+)", timeout=5)
        self.port = int(m.group(1)) if m else None  # the plain listener, if any
        m = self.wait_for_log(r"listening for MQTT over TLS on [^ ]+:(\d+)", timeout=5 if "tls." in config_text else 0)
        self.tls_port = int(m.group(1)) if m else None
        m = self.wait_for_log(r"listening for HTTPS? on [^ ]+:(\d+)", timeout=0)
        self.http_port = int(m.group(1)) if m else None  # HTTPS when the listener has TLS

    def _read(self):
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_log(self, pattern, timeout=10):
        """Waits for a stderr line matching `pattern`; returns the match or None."""
        rx = re.compile(pattern)
        found = []

        def check():
            for line in self.lines:
                m = rx.search(line)
                if m:
                    found.append(m)
                    return True
            return self.proc.poll() is not None

        with self._cond:
            self._cond.wait_for(check, timeout=timeout)
        return found[0] if found else None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        """SIGKILL: a crash as far as the broker can tell."""
        self.killed = True
        self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("vigil did not stop within 20 s of SIGTERM")
        self._reader.join(timeout=5)
        return code


def config(workers, extra="", data_dir="./var", top="", http=""):
    """A config with one loopback listener on an OS-picked port. Lines of `extra` before its
    first [table] belong to the [[listener]]; the rest are further tables. `top` holds more
    top-level keys, `http` more keys of the HTTP listener. The end-to-end probe and $SYS are off
    unless `top` sets probe.* keys or sys_interval (their traffic would blur what tests count)."""
    head, sep, tail = extra.partition("[")
    if "probe." not in top:
        top += '\nprobe.interval = "off"\n'
    if "sys_interval" not in top:
        top += 'sys_interval = "off"\n'

    return f"""workers = {workers}
log_level = "debug"
stats_interval = "300ms"
data_dir = "{data_dir}"
{top}
[[listener]]
bind = "127.0.0.1"
port = 0
{head}{sep}{tail}
[[http.listener]]
bind = "127.0.0.1"
port = 0
{http}
"""


@pytest.fixture
def vigil_binary(request):
    return os.path.abspath(request.config.getoption("--vigil"))


@pytest.fixture
def start_vigil(vigil_binary):
    """Factory: start_vigil(workers, extra_toml, data_dir=None, top="", http="", env=None) -> Vigil
    (`env`: variables added to the process's environment). Each
    process gets its own data_dir unless one is given (a restart reuses it). Every process
    not killed on purpose is stopped at the end of the test and must exit with status 0
    (sanitizer reports make it non-zero)."""
    procs = []
    dirs = []

    def start(workers, extra="", data_dir=None, top="", http="", env=None):
        d = tempfile.TemporaryDirectory()
        dirs.append(d)
        v = Vigil(vigil_binary, config(workers, extra, data_dir or os.path.join(d.name, "var"), top, http), d.name, env)
        procs.append(v)
        return v

    yield start
    failures = []
    for v in procs:
        if v.killed:
            continue
        code = v.stop()
        if code != 0:
            failures.append(f"vigil exited with {code}:\n" + "\n".join(v.lines[-60:]))
    for d in dirs:
        d.cleanup()
    assert not failures, "\n".join(failures)


@pytest.fixture
def broker(start_vigil, workers):
    return start_vigil(workers)
