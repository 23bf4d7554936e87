#!/usr/bin/env python3
"""The crash test of test/integration/test_15_crash.py, for many cycles (default 1,000):
SIGKILL vigil at random moments under QoS 1 and retained load, restart, and check that every
acknowledged message reached the persistent subscriber and every retained topic holds its last
acknowledged value. Prints one line per cycle and a summary; exits non-zero on any loss.

Usage: /usr/bin/python3 bench/crash/crash_cycles.py [--binary build/release/src/vigil]
           [--cycles 1000] [--workers 2] [--durability durable|fast] [--seed N]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "integration"))
import crashloop  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/release/src/vigil")
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--durability", default="durable")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}", flush=True)
    t0 = time.monotonic()
    r = crashloop.run_cycles(os.path.abspath(a.binary), a.cycles, workers=a.workers, seed=seed,
                             log=lambda s: print(s, flush=True), durability=a.durability)
    print(f"PASSED {r['cycles']} cycles in {time.monotonic() - t0:.0f} s: {r['acked']} messages acknowledged, "
          f"{r['received']} distinct received (all acknowledged ones; {r['duplicates_or_unacked_extra']} "
          f"committed but not yet acknowledged at the kill), mean kill->ready {r['mean_restart_s'] * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
