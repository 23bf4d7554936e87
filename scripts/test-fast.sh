#!/usr/bin/env bash
# The quick loop while developing: builds the release preset incrementally (vigil and the unit
# tests only), runs the unit tests, then a smoke subset of the integration tests with 4 shards
# (connect, QoS, wills, authorization, push, history, metrics, reading an old data_dir, the
# console in chromium).
# scripts/test-all.sh stays the gate (every test, sanitizers, fuzzers). Extra arguments go to
# pytest (e.g. -k will).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
t0=$SECONDS
cmake --preset release >/dev/null
cmake --build --preset release --target vigil unit_tests
./build/release/test/unit_tests --order rand --rng-seed time
smoke=(test_01_connect.py test_03_publish_qos.py test_06_will.py test_22_authorization.py
       test_18_push.py test_29_history.py test_34_metrics.py test_44_store_format.py browser_console.py)
(cd test/integration && VIGIL_WORKERS=4 /usr/bin/python3 -m pytest -q -p no:cacheprovider -x -n 4 "${smoke[@]}" \
  --vigil ../../build/release/src/vigil "$@")
echo "test-fast: passed in $((SECONDS - t0)) s (the full gate: bash scripts/test-all.sh)"
