"""History side by side with what vigil replaces: the same records in vigil's archive and in
PostgreSQL 15 kept as the replaced stack kept them, a table (topic, ts, payload jsonb) with an
index on (topic, ts), written in batches every 30 s of data. Run by compare-postgres.sh, which
makes the archive (vigil-archive-bench) and hands its export here as CSV.

    python3 compare_postgres.py WORK CSV DEVICES HOURS QUERIES SEED

Starts its own PostgreSQL (initdb and pg_ctl in WORK/pg, a Unix socket there, no TCP), loads
the records a 30 s batch at a time (one COPY each), and prints bytes per record, the server's
CPU seconds for the load, and the latencies of the queries vigil-archive-bench times."""
import csv
import os
import random
import statistics
import subprocess
import sys
import time

PG = "/usr/lib/postgresql/15/bin"


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def cpu_seconds(pid):
    """User + system CPU of the postmaster, its reaped children and its live children."""
    tick = os.sysconf("SC_CLK_TCK")

    def of(p, children):
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = int(fields[11]) + int(fields[12])
        return own + (int(fields[13]) + int(fields[14]) if children else 0)

    total = of(pid, True)
    for c in open(f"/proc/{pid}/task/{pid}/children").read().split():
        try:
            total += of(c, False)
        except FileNotFoundError:
            pass
    return total / tick


class Postgres:
    def __init__(self, work):
        self.data = os.path.join(work, "pg")
        self.sock = work
        user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            run("chown", "-R", "postgres", work)
        self.user = user
        run(*user, f"{PG}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        run(*user, f"{PG}/pg_ctl", "-D", self.data, "-w", "-l", os.path.join(work, "pg.log"), "-o",
            f"-c listen_addresses='' -c unix_socket_directories='{self.sock}' -c shared_buffers=1GB -c max_wal_size=4GB", "start")
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())

    def psql(self, sql):
        return run(*self.user, f"{PG}/psql", "-h", self.sock, "-U", "postgres", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql).stdout

    def timed(self, sql):
        """Milliseconds for `sql`, its rows sent to the client and thrown away."""
        out = run(*self.user, f"{PG}/psql", "-h", self.sock, "-U", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                  "-c", "\\timing on", "-c", "\\o /dev/null", "-c", sql).stdout
        return float(out.split("Time: ")[1].split(" ms")[0])

    def stop(self):
        run(*self.user, f"{PG}/pg_ctl", "-D", self.data, "-m", "fast", "stop")


def main():
    work, csv_path, devices, hours, queries, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    rng = random.Random(seed)
    pg = Postgres(work)
    try:
        pg.psql("CREATE TABLE history (topic text NOT NULL, ts timestamptz NOT NULL, payload jsonb NOT NULL);"
                "CREATE INDEX history_topic_ts ON history (topic, ts);")
        # One COPY per 30 s of data, as the replaced stack batch-wrote every 30 s.
        batch_dir = os.path.join(work, "batches")
        os.makedirs(batch_dir)
        batches, first_ms, n = [], None, 0
        with open(csv_path, newline="") as f:
            reader = csv.DictReader(f)
            out, writer, window = None, None, None
            for row in reader:
                t = int(row["time_ms"])
                first_ms = t if first_ms is None else first_ms
                if window is None or t >= window + 30_000:
                    window = t - t % 30_000
                    if out:
                        out.close()
                    batches.append(os.path.join(batch_dir, f"{len(batches):06}.csv"))
                    out = open(batches[-1], "w", newline="")
                    writer = csv.writer(out)
                writer.writerow([row["topic"], row["time"], row["payload"]])
                n += 1
            out.close()
        if os.geteuid() == 0:
            run("chown", "-R", "postgres", batch_dir)
        cpu0, t0 = cpu_seconds(pg.pid), time.monotonic()
        for b in batches:
            pg.psql(f"COPY history (topic, ts, payload) FROM '{b}' WITH (FORMAT csv)")
        pg.psql("CHECKPOINT")
        load_s, cpu = time.monotonic() - t0, cpu_seconds(pg.pid) - cpu0
        size = int(pg.psql("SELECT pg_total_relation_size('history')"))
        print(f"postgres load: {n} records in {len(batches)} COPY batches, {load_s:.1f} s, server CPU {cpu:.1f} s "
              f"({n / max(cpu, 1e-9):.0f} records per CPU second)")
        print(f"postgres size: {size} bytes (table, TOAST and index), {size / n:.1f} bytes/record")
        pg.psql("VACUUM ANALYZE history")
        start = first_ms - first_ms % 1000
        track = []
        for _ in range(queries):
            d = rng.randrange(devices)
            track.append(pg.timed(f"SELECT ts, payload FROM history WHERE topic = 'devices/veh-{d:05}/location' "
                                  f"AND ts >= to_timestamp({start / 1000}) AND ts < to_timestamp({(start + hours * 3_600_000 + 1000) / 1000}) ORDER BY ts"))
        events = []
        for _ in range(queries):
            h = start + rng.randrange(hours) * 3_600_000
            events.append(pg.timed(f"SELECT topic, ts, payload FROM history WHERE topic LIKE 'devices/%/events' "
                                   f"AND ts >= to_timestamp({h / 1000}) AND ts < to_timestamp({(h + 3_600_000) / 1000}) ORDER BY ts"))
        t0 = time.monotonic()
        pg.timed("COPY (SELECT topic, ts, payload FROM history WHERE topic LIKE 'devices/%/location' ORDER BY ts) TO '/dev/null'")
        export_s = time.monotonic() - t0
        positions = n - n // 61  # an event a minute beside 60 positions
        for name, ms in [("one device's track", track), ("one hour of devices/+/events", events)]:
            ms.sort()
            print(f"postgres {name}: p50 {statistics.median(ms):.1f} ms, p99 {ms[min(len(ms) - 1, int(0.99 * len(ms)))]:.1f} ms ({len(ms)} runs)")
        print(f"postgres export of every position (COPY ... TO /dev/null): {export_s:.1f} s, {positions / export_s:.0f} records/s")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
