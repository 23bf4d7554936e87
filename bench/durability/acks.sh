#!/usr/bin/env bash
# QoS 1 acknowledgements per second and publish->PUBACK latency: vigil durable, vigil fast and
# Debian's mosquitto (which does not persist) back to back, with 1, 10 and 100 publishers and
# one persistent subscriber (clean session off, QoS 1) so every message is a durable effect.
# Usage: bash bench/durability/acks.sh   (SECONDS_PER_RUN=5 by default; BROKERS="durable fast
# mosquitto" by default; BUILD=build/release: the vigil and qos1_bench to use)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${BUILD:-build/release}"
bench="$build/bench/qos1_bench"
secs="${SECONDS_PER_RUN:-5}"
out="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

start() {  # broker
  port=$(free_port)
  rm -rf "$out/var"
  case "$1" in
    durable|fast)
      printf 'log_level = "warn"\ndata_dir = "%s/var"\ndurability = "%s"\n[[listener]]\nbind = "127.0.0.1"\nport = %s\n[limits]\nmax_inflight = 1000\nmax_queued = 1000000\n' \
        "$out" "$1" "$port" > "$out/vigil.toml"
      "$build/src/vigil" --config "$out/vigil.toml" 2> "$out/vigil.log" & ;;
    mosquitto)
      printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000\n' "$port" > "$out/mosquitto.conf"
      mosquitto -c "$out/mosquitto.conf" 2> "$out/mosquitto.log" & ;;
  esac
  pid=$!
  wait_port "$port"
}

for broker in ${BROKERS:-durable fast mosquitto}; do
  for pubs in 1 10 100; do
    window=$(( 1000 / pubs < 32 ? 32 : 1000 / pubs ))
    start "$broker"
    "$bench" --port "$port" --publishers "$pubs" --window "$window" --seconds "$secs" --subscriber \
      --server-pid "$pid" --label "$broker"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
  # Latency of one message at a time (no queueing behind a window).
  start "$broker"
  "$bench" --port "$port" --publishers 1 --window 1 --seconds "$secs" --subscriber --server-pid "$pid" --label "$broker/window1"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
