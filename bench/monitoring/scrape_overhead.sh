#!/usr/bin/env bash
# What Prometheus costs the live path: one vigil-bench scenario against vigil, alternately with
# nothing scraping and with GET /metrics every second, ROUNDS times each; prints the median
# server CPU (cores) and device-to-dashboard p99 of both, and their ratio.
#   bash bench/monitoring/scrape_overhead.sh [SCENARIO] [--set key=value]...
#   ROUNDS=3 (default) alternating runs of each; BUILD=build/release.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${BUILD:-build/release}"
bench="$build/bench/vigil-bench"
scenario="${1:-seed}"; shift || true
overrides=("$@")
rounds="${ROUNDS:-3}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

run() {  # run LABEL SCRAPE(0|1) N
  local port http pid scraper=""
  port=$(free_port); http=$(free_port)
  rm -rf "$work/var"
  printf 'log_level = "warn"\ndata_dir = "%s/var"\nprobe.interval = "off"\n[[listener]]\nbind = "127.0.0.1"\nport = %s\n[[http.listener]]\nbind = "127.0.0.1"\nport = %s\n' \
    "$work" "$port" "$http" > "$work/vigil.toml"
  "$build/src/vigil" --config "$work/vigil.toml" 2> "$work/vigil.log" &
  pid=$!
  wait_port "$port"; wait_port "$http"
  if [ "$2" = 1 ]; then
    python3 -c 'import sys, time, urllib.request
while True:
    time.sleep(1)
    urllib.request.urlopen(sys.argv[1]).read()' "http://127.0.0.1:$http/metrics" &
    scraper=$!
  fi
  "$bench" "bench/scenarios/$scenario.toml" --port "$port" --http-port "$http" --server-pid "$pid" --broker vigil \
    --out "$work/out-$1-$3" "${overrides[@]}" 2>/dev/null >/dev/null
  [ -n "$scraper" ] && kill "$scraper"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for n in $(seq "$rounds"); do
  run plain 0 "$n"
  run scraped 1 "$n"
done
python3 - "$work" "$scenario" "$rounds" <<'PY'
import json, statistics, sys
work, scenario, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def step(label, n):
    r = json.load(open(f"{work}/out-{label}-{n}/{scenario}-vigil.json"))
    s = r["steps"][0]
    return sum(x["cpu"] for x in s["server"]) / max(len(s["server"]), 1), s["p99_ms"], s["loss"]
for label in ("plain", "scraped"):
    runs = [step(label, n) for n in range(1, rounds + 1)]
    print(f"{label:8s} cores " + " ".join(f"{c:.3f}" for c, _, _ in runs) + "   p99 ms " + " ".join(f"{p:.2f}" for _, p, _ in runs)
          + "   loss " + " ".join(f"{l:g}" for _, _, l in runs))
med = {l: (statistics.median(step(l, n)[0] for n in range(1, rounds + 1)), statistics.median(step(l, n)[1] for n in range(1, rounds + 1)))
       for l in ("plain", "scraped")}
print(f"median cores: plain {med['plain'][0]:.3f}, scraped {med['scraped'][0]:.3f} ({(med['scraped'][0] / med['plain'][0] - 1) * 100:+.1f}%)")
print(f"median p99:   plain {med['plain'][1]:.2f} ms, scraped {med['scraped'][1]:.2f} ms ({(med['scraped'][1] / med['plain'][1] - 1) * 100:+.1f}%)")
PY
