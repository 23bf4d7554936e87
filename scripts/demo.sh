#!/usr/bin/env bash
# The live demo in one command: a fresh Vigil (MQTT on 127.0.0.1:1883, HTTP on 127.0.0.1:8080,
# its data in a temporary directory) and a simulated fleet of vehicles (test/js/fleet.js) driving
# around a city, losing their connection now and then, raising events. Ctrl-C stops both and
# removes the temporary directory.
#
# usage: bash scripts/demo.sh [--devices N] [--center LAT,LON] [--seed N]
#   --devices N        vehicles (default 200)
#   --center LAT,LON   centre of the area (default 59.3293,18.0686: Stockholm)
#   --seed N           replay a fleet (the seed is printed at start)
# Needs build/release/src/vigil, node and test/js/node_modules (npm ci --prefix test/js).
set -euo pipefail
cd "$(dirname "$0")/.."

devices=200
center=59.3293,18.0686
seed=""
usage() { sed -n '7,11s/^# \{0,1\}//p' "$0"; }
die() { echo "demo: $*" >&2; exit 1; }

while (($#)); do
  case $1 in
    --devices) devices=${2:-}; shift 2 || die "--devices needs a value" ;;
    --center) center=${2:-}; shift 2 || die "--center needs a value" ;;
    --seed) seed=${2:-}; shift 2 || die "--seed needs a value" ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $devices =~ ^[1-9][0-9]*$ ]] || die "--devices needs a positive integer, not '$devices'"
number='-?[0-9]+(\.[0-9]+)?'
[[ $center =~ ^$number,$number$ ]] || die "--center needs LAT,LON, not '$center'"
[[ -z $seed || $seed =~ ^[0-9]+$ ]] || die "--seed needs a non-negative integer, not '$seed'"

vigil=build/release/src/vigil
if [[ ! -x $vigil ]]; then
  die "$vigil is missing; build it with: cmake --preset release && cmake --build --preset release"
fi
command -v node >/dev/null || die "node (20 or later) is needed for the simulated fleet"
if [[ ! -d test/js/node_modules/mqtt ]]; then
  die "test/js/node_modules is missing; run: npm ci --prefix test/js"
fi
for tool in curl ss; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
for port in 1883 8080; do
  if [[ -n $(ss -ltnH "sport = :$port") ]]; then
    die "port $port is already in use (see: ss -ltnp 'sport = :$port'); stop that first"
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-demo.XXXXXX")
vigil_pid=""
fleet_pid=""
# shellcheck disable=SC2317  # stop and cleanup run from the traps
stop() {  # $1: pid; SIGTERM, then wait for it
  if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
# shellcheck disable=SC2317
cleanup() {
  trap - EXIT INT TERM
  stop "$fleet_pid"
  stop "$vigil_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$tmp/vigil.toml" <<EOF
# Written by scripts/demo.sh; removed when the demo stops.
data_dir = "$tmp/var"

[[listener]]
bind = "127.0.0.1"
port = 1883

[[http.listener]]
bind = "127.0.0.1"
port = 8080
EOF
if ! check=$("$vigil" --check-config "$tmp/vigil.toml" 2>&1); then
  die "the generated configuration is refused: $check"
fi

# Both run in sessions of their own: Ctrl-C reaches only this script, whose trap then stops the
# fleet first (its devices disconnect cleanly) and Vigil after it, each with one SIGTERM.
setsid "$vigil" --config "$tmp/vigil.toml" 2>"$tmp/vigil.log" &
vigil_pid=$!
deadline=$((SECONDS + 10))
until curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:8080/healthz 2>/dev/null; do
  if ! kill -0 "$vigil_pid" 2>/dev/null; then
    tail -n 20 "$tmp/vigil.log" >&2
    die "vigil exited during startup (its log is above)"
  fi
  if ((SECONDS >= deadline)); then
    tail -n 20 "$tmp/vigil.log" >&2
    die "vigil did not answer http://127.0.0.1:8080/healthz within 10 s"
  fi
  sleep 0.1
done

fleet_args=(--url mqtt://127.0.0.1:1883 --devices "$devices" --center "$center"
            --churn 0.005 --events-per-min 0.5)
[[ -z $seed ]] || fleet_args+=(--seed "$seed")
setsid node test/js/fleet.js "${fleet_args[@]}" &
fleet_pid=$!

echo "Vigil demo: open http://127.0.0.1:8080/ in a browser (Ctrl-C stops)"
echo "  MQTT: mosquitto_sub -h 127.0.0.1 -t 'devices/#' -v    Vigil's log: $tmp/vigil.log"

status=0
wait -n "$fleet_pid" "$vigil_pid" || status=$?
if ! kill -0 "$vigil_pid" 2>/dev/null; then
  tail -n 20 "$tmp/vigil.log" >&2
  die "vigil stopped (status $status; its log is above)"
fi
die "the fleet stopped (status $status)"
