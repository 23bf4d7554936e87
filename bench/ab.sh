#!/usr/bin/env bash
# A/B: one vigil-bench scenario against two vigil builds, alternating, three rounds each, with
# the same vigil-bench binary; prints p50/p99, loss and server cores per run.
#   bash bench/ab.sh SCENARIO OLD_VIGIL NEW_VIGIL [--set key=value]...
#   e.g. git worktree add /tmp/before <commit> && (cd /tmp/before && cmake --preset release &&
#        cmake --build --preset release --target vigil)
#        bash bench/ab.sh seed /tmp/before/build/release/src/vigil build/release/src/vigil
#   OLD_TOML / NEW_TOML: TOML appended to that side's config, e.g. the same binary with and
#   without the archive: OLD_TOML=$'[archive]\ntopics = []' bash bench/ab.sh national B B
set -euo pipefail
cd "$(dirname "$0")/.."
bench="${BUILD:-build/release}/bench/vigil-bench"
scenario="$1" old="$2" new="$3"; shift 3
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
for round in 1 2 3; do
  for side in old new; do
    bin="$old"; [ "$side" = new ] && bin="$new"
    port=$(free_port); http=$(free_port); rm -rf "$work/var"
    printf 'log_level = "warn"\ndata_dir = "%s/var"\n[[listener]]\nbind = "127.0.0.1"\nport = %s\n[[http.listener]]\nbind = "127.0.0.1"\nport = %s\n' \
      "$work" "$port" "$http" > "$work/vigil.toml"
    if [ "$side" = old ]; then printf '%s\n' "${OLD_TOML:-}" >> "$work/vigil.toml"; else printf '%s\n' "${NEW_TOML:-}" >> "$work/vigil.toml"; fi
    "$bin" --config "$work/vigil.toml" 2> "$work/vigil.log" & pid=$!
    wait_port "$port"
    "$bench" "bench/scenarios/$scenario.toml" --port "$port" --http-port "$http" --server-pid "$pid" \
      --broker "$side" --out "$work/out" "$@" 2>/dev/null > "$work/report.txt"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    awk -v side="$side" -v round="$round" '
      $1 == "steady" { printf "%s round %s: %s p50 %s p99 %s loss %s%% cores %s", side, round, $6, $7, $9, $12, $14 }
      $1 == "ws"     { printf " | ws p50 %s p99 %s loss %s%%", $2, $4, $7 }
      END { print "" }' "$work/report.txt"
  done
done
