#!/usr/bin/env bash
# Bytes on disk per archived record: one vigil-bench scenario (default national) against vigil
# with the archive on, then a graceful stop (everything written, memtables flushed to table
# files); prints the records written, the archive's table-file bytes and bytes per record.
#   bash bench/archive/size.sh [SCENARIO] [--set key=value]...
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${BUILD:-build/release}"
scenario="${1:-national}"; shift || true
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
port=$(free_port); http=$(free_port)
printf 'log_level = "info"\nstats_interval = "1h"\ndata_dir = "%s/var"\n[[listener]]\nbind = "127.0.0.1"\nport = %s\n[[http.listener]]\nbind = "127.0.0.1"\nport = %s\n' \
  "$work" "$port" "$http" > "$work/vigil.toml"
"$build/src/vigil" --config "$work/vigil.toml" 2> "$work/vigil.log" & pid=$!
wait_port "$port"
"$build/bench/vigil-bench" "bench/scenarios/$scenario.toml" --port "$port" --http-port "$http" --server-pid "$pid" \
  --out "$work/out" "$@" 2>/dev/null | grep -E "^steady|^ws" || true
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
records=$(sed -n 's/.*archive .*: stopped; \([0-9]*\) records written.*/\1/p' "$work/vigil.log" | tail -1)
sst=$(find "$work/var/archive" -name '*.sst' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
all=$(du -sb "$work/var/archive" | cut -f1)
echo "records written: $records; table files: $sst bytes ($(awk -v a="$sst" -v r="$records" 'BEGIN { printf "%.1f", a / r }') bytes/record); whole archive directory: $all bytes"
