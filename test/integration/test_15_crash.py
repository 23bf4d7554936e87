"""SIGKILL at random moments loses nothing acknowledged (crashloop.py has the details)."""
import os

import crashloop


def test_sigkill_cycles_lose_nothing_acknowledged(vigil_binary, seed):
    cycles = int(os.environ.get("VIGIL_CRASH_CYCLES", "20"))
    r = crashloop.run_cycles(vigil_binary, cycles, seed=seed)
    assert r["cycles"] == cycles and r["acked"] > 0
    assert r["received"] >= r["acked"]
