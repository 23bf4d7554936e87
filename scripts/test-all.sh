#!/usr/bin/env bash
# Checks the formatting, then builds and runs every test: release (with the vigil-bench smoke
# test, and Clang's thread-safety analysis of the mutex-guarded members), ASan+UBSan, TSan
# (threaded parts; the integration tests with 4 shards only), the codec fuzzer for 60 s and the
# password/ACL, store-record (with the history API's parameters) and WebSocket framing fuzzers
# for 30 s each. Prints one summary line at the end; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
fuzz_seconds="${VIGIL_FUZZ_SECONDS:-60}"

passed=0
failed=0
step() {
  local name="$1"; shift
  echo "=== ${name}"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "=== ${name}: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); echo "=== ${name}: FAILED ($((SECONDS - t0)) s)"
  fi
}

build() { local p="$1"; shift; cmake --preset "$p" >/dev/null && cmake --build --preset "$p" "$@"; }
fuzz() {  # fuzz TARGET CORPUS SECONDS
  local corpus; corpus=$(mktemp -d)
  cp "test/fuzz/corpus/$2"/* "$corpus"/
  "./build/fuzz/test/fuzz/$1" -max_total_time="$3" -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
  local rc=${PIPESTATUS[0]}
  rm -rf "$corpus"
  return "$rc"
}

step "formatting (clang-format 14, .clang-format)" bash -c "git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror"
step "release build" build release
step "public headers compile alone" cmake --build --preset release --target all_verify_interface_header_sets
step "thread-safety analysis (clang -Wthread-safety)" bash scripts/thread-safety.sh
step "release tests" ctest --preset release
step "asan+ubsan build" build asan
step "asan+ubsan tests" ctest --preset asan
step "tsan build" build tsan --target vigil unit_tests vigil-bench  # what its tests run
step "tsan tests (router, shards, integration, vigil-bench)" ctest --preset tsan
step "fuzzer build" build fuzz --target codec_fuzz auth_files_fuzz records_fuzz ws_fuzz  # not the broker
step "codec fuzzer (${fuzz_seconds} s)" fuzz codec_fuzz codec "$fuzz_seconds"
step "password/ACL file fuzzer (30 s)" fuzz auth_files_fuzz auth 30
step "store record, JSON and history query fuzzer (30 s)" fuzz records_fuzz records 30
step "WebSocket framing fuzzer (30 s)" fuzz ws_fuzz ws 30

echo "test-all: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
