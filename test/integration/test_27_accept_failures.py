"""An accept handler that fails for one connection keeps accepting (issue 13, point 6). The
failure is injected for real: a preloaded library makes every second SSL_new() fail, so creating
the TLS session of a new connection throws inside vigil's accept handler, on the MQTT and the
HTTPS listener alike."""
import socket
import ssl
import subprocess
from pathlib import Path

import mqtt_raw as raw
from conftest import Vigil, config
from pki import make_pki
from test_09_tls import TlsRaw, tls_client

SHIM = Path(__file__).resolve().parent / "native" / "fail_ssl_new.c"


def preloaded(tmp_path, vigil_binary):
    lib = tmp_path / "fail_ssl_new.so"
    r = subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(SHIM), "-ldl"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wrapper = tmp_path / "vigil-faulty"
    # ASan wants to come first among the libraries; the shim is harmless before it.
    wrapper.write_text(f'#!/bin/sh\nexport LD_PRELOAD="{lib}"\n'
                       'export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"\n'
                       f'exec {vigil_binary} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_listeners_keep_accepting_after_a_connection_fails(vigil_binary, tmp_path):
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    keys = f'tls.cert = "{pki / "server.crt"}"\ntls.key = "{pki / "server.key"}"\n'
    v = Vigil(str(preloaded(tmp_path, vigil_binary)),
              config(1, f'[[listener]]\nbind = "127.0.0.1"\nport = 0\n{keys}', str(tmp_path / "var"), http=keys),
              str(tmp_path))
    try:
        served = 0
        for i in range(6):  # one shard: a listener that stopped would leave these unanswered
            try:
                c = TlsRaw(tls_client(pki, None, v.tls_port))
                served += c.connect(f"tls-{i}").body[1] == 0
                c.close()
            except (OSError, ssl.SSLError, ConnectionError):
                pass
        assert served == 3, served
        assert v.wait_for_log(r"cannot serve a new connection: .*; the listener goes on")
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        answered = 0
        for _ in range(6):
            try:
                with ctx.wrap_socket(socket.create_connection(("127.0.0.1", v.http_port), timeout=10), server_hostname="localhost") as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    answered += s.recv(4096).startswith(b"HTTP/1.1 200")
            except (OSError, ssl.SSLError):
                pass
        assert answered == 3, answered
        assert v.wait_for_log(r"http: cannot serve a new connection")
        plain = raw.RawClient(v.port)
        assert plain.connect("plain").body[1] == 0
    finally:
        assert v.stop() == 0
