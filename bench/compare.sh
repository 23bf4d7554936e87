#!/usr/bin/env bash
# Runs one vigil-bench scenario against vigil and against Debian's mosquitto, back to back on
# this machine, and prints the ratios. Dashboards need vigil's /ws, so the mosquitto run (and,
# for a like-for-like ratio, a second vigil run) drops them: pass --set overrides to shape the
# MQTT-only comparison.
#   bash bench/compare.sh SCENARIO [--set key=value]...
#   e.g. bash bench/compare.sh fanin-max
#        bash bench/compare.sh seed --set dashboards=0 --set subscribers=120 --set subscriber_qos=0
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD:-build/release}"
bench="$build/bench/vigil-bench"
scenario="$1"; shift
file="bench/scenarios/$scenario.toml"
[ -f "$file" ] || { echo "no scenario $file" >&2; exit 2; }
overrides=("$@")
out="${OUT:-bench/out}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

start_vigil() {
  port=$(free_port); http=$(free_port)
  rm -rf "$work/var"
  printf 'log_level = "warn"\ndata_dir = "%s/var"\n[[listener]]\nbind = "127.0.0.1"\nport = %s\n[[http.listener]]\nbind = "127.0.0.1"\nport = %s\n' \
    "$work" "$port" "$http" > "$work/vigil.toml"
  "$build/src/vigil" --config "$work/vigil.toml" 2> "$work/vigil.log" &
  pid=$!
}
start_mosquitto() {
  port=$(free_port); http=0
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$port" > "$work/mosquitto.conf"
  mosquitto -c "$work/mosquitto.conf" 2> "$work/mosquitto.log" &
  pid=$!
}

run_broker() {
  "start_$1"; wait_port "$port"
  "$bench" "$file" --port "$port" --http-port "$http" --server-pid "$pid" --broker "$1" --out "$out" "${overrides[@]}" 2>/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_broker vigil
run_broker mosquitto
python3 - "$out/$scenario-vigil.json" "$out/$scenario-mosquitto.json" <<'PY'
import json, sys
v, m = (json.load(open(p)) for p in sys.argv[1:3])
print("\n== vigil / mosquitto:", v["scenario"])
def best(r):
    i = r["best_step"]
    return r["steps"][i] if i >= 0 else None
if v["storms"]:
    for a, b in zip(v["storms"], m["storms"]):
        print(f'{a["label"]}: all connected in {a["all_connected_s"]:.3f} s vs {b["all_connected_s"]:.3f} s '
              f'(failed {a["failed"]} vs {b["failed"]}); connect p99 {a["connect_ms"]["p99"]:.2f} vs {b["connect_ms"]["p99"]:.2f} ms')
elif len(v["steps"]) > 1 or v["best_step"] != 0 or len(m["steps"]) > 1:
    bv, bm = best(v), best(m)
    dv = bv["delivered_rate"] if bv else 0
    dm = bm["delivered_rate"] if bm else 0
    print(f'max sustained deliveries/s: vigil {dv:.0f}, mosquitto {dm:.0f}, ratio {dv / max(dm, 1):.2f}')
else:
    a, b = v["steps"][0], m["steps"][0]
    for k in ("achieved_publish_rate", "delivered_rate", "p99_ms", "loss"):
        print(f'{k}: vigil {a[k]:.4g}, mosquitto {b[k]:.4g}')
    cpu = lambda s: sum(x["cpu"] for x in s["server"]) / max(len(s["server"]), 1)
    print(f'server cores: vigil {cpu(a):.2f}, mosquitto {cpu(b):.2f}')
PY
