#!/usr/bin/env python3
"""Builds the Debian package with CPack and checks it as an installer would: its files, its
dependencies (libsystemd0, adduser and the libraries dpkg-shlibdeps found), the conffile, the
maintainer script, and that its binary runs and accepts its own /etc/vigil/vigil.toml.

    python3 test/package/check_package.py --config BUILD/CPackConfig.cmake"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile


def run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stdout}{r.stderr}"
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        run("cpack", "-G", "DEB", "--config", a.config, "-B", out)
        debs = glob.glob(os.path.join(out, "vigil_*_amd64.deb"))
        assert len(debs) == 1, os.listdir(out)
        deb = debs[0]
        files = {line.split()[-1].lstrip(".") for line in run("dpkg-deb", "-c", deb).splitlines()}
        for f in ("/usr/bin/vigil", "/usr/lib/systemd/system/vigil.service", "/etc/vigil/vigil.toml",
                  "/usr/share/man/man1/vigil.1", "/usr/share/doc/vigil/examples/production.toml",
                  "/usr/share/doc/vigil/grafana/vigil.json", "/usr/share/doc/vigil/prometheus/alerts.yml",
                  "/usr/share/doc/vigil/LICENSE"):
            assert f in files, f"{f} missing from the package: {sorted(files)}"
        depends = run("dpkg-deb", "-f", deb, "Depends")
        for d in ("adduser", "libsystemd0", "librocksdb", "libssl3"):
            assert d in depends, depends
        control = os.path.join(out, "control")
        run("dpkg-deb", "-e", deb, control)
        assert open(os.path.join(control, "conffiles")).read().split() == ["/etc/vigil/vigil.toml"]
        postinst = open(os.path.join(control, "postinst")).read()
        assert "adduser --system" in postinst and "/var/lib/vigil" in postinst and "/var/backups/vigil" in postinst
        assert os.access(os.path.join(control, "postinst"), os.X_OK)
        root = os.path.join(out, "root")
        run("dpkg-deb", "-x", deb, root)
        vigil = os.path.join(root, "usr/bin/vigil")
        assert run(vigil, "--version").startswith("vigil ")
        etc = os.path.join(root, "etc/vigil/vigil.toml")
        assert 'data_dir = "/var/lib/vigil"' in open(etc).read()
        assert "configuration is valid" in run(vigil, "--check-config", etc)
        unit = open(os.path.join(root, "usr/lib/systemd/system/vigil.service")).read()
        assert "ExecStart=/usr/bin/vigil --config /etc/vigil/vigil.toml" in unit
        print(f"{os.path.basename(deb)}: {os.path.getsize(deb)} bytes, {len(files)} entries; Depends: {depends.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
