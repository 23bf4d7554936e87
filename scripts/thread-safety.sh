#!/usr/bin/env bash
# Clang's thread-safety analysis over the source files of src/ and bench/: each mutex-guarded
# member (VIGIL_GUARDED_BY, include/vigil/core/sync.hpp) touched without its mutex, or a
# function that needs a mutex called without it, is an error. Parses only (-fsyntax-only), with
# the release build's compile commands minus GCC's own flags and precompiled headers. After a
# release build, only the files that include sync.hpp (ninja's dependency log knows them; the
# others declare nothing to check): about 25 s on 2 cores; every file otherwise, about 75 s.
# Exits non-zero and prints each finding if there is any; the test script runs it.
set -uo pipefail
cd "$(dirname "$0")/.."
with_sync=$(ninja -C build/release -t deps 2>/dev/null | awk '/^[^ ].*\.o: /{obj=$1} /core\/sync\.hpp/{print obj}')
python3 - build/release/compile_commands.json "$(pwd)" "$(nproc)" "$with_sync" <<'PY'
import json, re, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

entries, root, jobs = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
ours = [e for e in entries if re.match(re.escape(root) + r"/(src|bench)/", e["file"])]
with_sync = {o.rstrip(":") for o in sys.argv[4].split()}
if with_sync:
    ours = [e for e in ours if re.search(r"-o (\S+)", e["command"]).group(1) in with_sync]


def command(e):
    args = shlex.split(re.sub(r" -Winvalid-pch| -include \S+cmake_pch\.hxx", "", e["command"]))
    keep = [a for a in args[1:] if a.startswith(("-D", "-I", "-std=", "-isystem")) or not a.startswith("-")]
    keep = [a for a in keep if a != "/usr/bin/c++" and not a.endswith(".o")]
    return ["clang++", "-fsyntax-only", "-Wno-everything", "-Wthread-safety", "-Werror=thread-safety", *keep]


def check(e):
    r = subprocess.run(command(e), cwd=e["directory"], capture_output=True, text=True)
    return e["file"], r.returncode, r.stderr


failed = 0
with ThreadPoolExecutor(jobs) as pool:
    for path, rc, err in pool.map(check, ours):
        if rc != 0:
            failed += 1
            print(err, end="")
print(f"thread-safety: {len(ours)} files, {failed} with findings")
sys.exit(1 if failed else 0)
PY
