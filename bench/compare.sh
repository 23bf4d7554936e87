#!/usr/bin/env bash
# Runs the same MQTT scenarios against vigil and Debian's mosquitto, back to back on this
# machine, and prints the ratios. Usage: bash bench/compare.sh [scenario...]
# Scenarios: seed (600 x 2 Hz -> 120 subscribers), fanin (ramp, 100 publishers -> 1 subscriber),
#            fanout (ramp, 1 publisher -> 100 subscribers). Default: all three.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD:-build/release}"
load="$build/bench/mqtt_load"
step_seconds="${STEP_SECONDS:-4}"
scenarios=("${@:-seed fanin fanout}")
read -r -a scenarios <<< "${scenarios[*]}"
out="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_vigil() {
  local port; port=$(free_port)
  rm -rf "$out/var"
  printf 'log_level = "warn"\ndata_dir = "%s/var"\n[[listener]]\nbind = "127.0.0.1"\nport = %s\n' "$out" "$port" > "$out/vigil.toml"
  "$build/src/vigil" --config "$out/vigil.toml" 2> "$out/vigil.log" &
  server_pid=$!; server_port=$port
}
start_mosquitto() {
  local port; port=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$port" > "$out/mosquitto.conf"
  mosquitto -c "$out/mosquitto.conf" 2> "$out/mosquitto.log" &
  server_pid=$!; server_port=$port
}
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

run_scenario() {  # broker scenario
  local args
  case "$2" in
    seed)   args=(--publishers 600 --subscribers 120 --rate 2 --seconds 10) ;;
    fanin)  args=(--publishers 100 --subscribers 1 --rate 100 --ramp --ramp-factor 1.4 --seconds "$step_seconds") ;;
    fanout) args=(--publishers 1 --subscribers 100 --rate 500 --ramp --ramp-factor 1.4 --seconds "$step_seconds") ;;
    *) echo "unknown scenario $2" >&2; exit 2 ;;
  esac
  "start_$1"; wait_port "$server_port"
  "$load" --port "$server_port" --server-pid "$server_pid" --label "$1/$2" "${args[@]}" | tee -a "$out/$1-$2.txt"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
}

for s in "${scenarios[@]}"; do
  for b in vigil mosquitto; do
    run_scenario "$b" "$s"
  done
done

echo
echo "== ratios (vigil / mosquitto)"
for s in "${scenarios[@]}"; do
  if [ "$s" = seed ]; then
    v=$(grep -o 'p99=[0-9.]*' "$out/vigil-$s.txt" | head -1 | cut -d= -f2)
    m=$(grep -o 'p99=[0-9.]*' "$out/mosquitto-$s.txt" | head -1 | cut -d= -f2)
    echo "seed p99 latency: vigil ${v} ms, mosquitto ${m} ms"
  else
    v=$(grep -o 'MAX sustained: [0-9]*' "$out/vigil-$s.txt" | awk '{print $3}')
    m=$(grep -o 'MAX sustained: [0-9]*' "$out/mosquitto-$s.txt" | awk '{print $3}')
    echo "$s max deliveries/s: vigil $v, mosquitto $m, ratio $(python3 -c "print(round($v/max($m,1),2))")"
  fi
done
