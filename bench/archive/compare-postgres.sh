#!/usr/bin/env bash
# History side by side with what vigil replaces: vigil-archive-bench fills an archive (DEVICES x
# HOURS at 1 Hz, an event a minute each) and times it; `vigil archive export` hands the same
# records as CSV to compare_postgres.py, which starts Debian's PostgreSQL 15 itself (initdb and
# pg_ctl in a temporary directory), loads them as the replaced stack wrote them (a table
# (topic, ts, payload jsonb) indexed on (topic, ts), one COPY per 30 s of data) and times the
# same queries. Both sides are printed, then the ratios.
#   bash bench/archive/compare-postgres.sh [DEVICES [HOURS [QUERIES]]]   (default 1000 1 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${BUILD:-build/release}"
devices="${1:-1000}" hours="${2:-1}" queries="${3:-20}" seed="${SEED:-$RANDOM}"
work="$(mktemp -d)"
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
"$build/bench/vigil-archive-bench" "$work/archive" --devices "$devices" --hours "$hours" --queries "$queries" --seed "$seed" 2>/dev/null \
  | sed 's/^/vigil /' | tee "$work/vigil.txt"
"$build/src/vigil" archive export --data-dir "$work" --topic '#' --format csv > "$work/records.csv" 2>/dev/null
python3 bench/archive/compare_postgres.py "$work" "$work/records.csv" "$devices" "$hours" "$queries" "$seed" | tee "$work/pg.txt"
python3 - "$work/vigil.txt" "$work/pg.txt" <<'PY'
import re, sys
v, p = open(sys.argv[1]).read(), open(sys.argv[2]).read()
def num(pattern, text):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else float("nan")
rows = [
    ("bytes/record", num(r"size: .*?([\d.]+) bytes/record", v), num(r"postgres size: .*?([\d.]+) bytes/record", p), "lower"),
    ("track p99 ms", num(r"track .*?p99 ([\d.]+) ms", v), num(r"postgres one device's track: .*?p99 ([\d.]+) ms", p), "lower"),
    ("events hour p99 ms", num(r"events, every device .*?p99 ([\d.]+) ms", v), num(r"postgres one hour of devices/\+/events: .*?p99 ([\d.]+) ms", p), "lower"),
    ("export records/s", num(r"export .*?: ([\d.]+) records/s", v), num(r"postgres export .*?, ([\d.]+) records/s", p), "higher"),
    ("ingest records per CPU s", num(r"write: .*?\(([\d.]+) records per CPU second", v), num(r"postgres load: .*?\(([\d.]+) records per CPU second", p), "higher"),
]
print(f"{'':28}{'vigil':>12}{'postgres':>12}   vigil better by")
for name, a, b, better in rows:
    ratio = (b / a) if better == "lower" else (a / b)
    print(f"{name:28}{a:12.1f}{b:12.1f}   {ratio:.1f}x")
PY
