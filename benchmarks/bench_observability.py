"""How fast is notebook 10, and how close are its predictions to a real server?  Run by hand.

    python benchmarks/bench_observability.py [--notebook]

Targets: what the metered store adds to a cache command (a few microseconds -
small next to a ~45 µs fakeredis or ~170 µs real round trip); the seeded shop
replay behind the claims in under 1 s; the sizing plan (exact curve + SHARDS) in
under 1 s; the check of the sizing exercise (a replay on a throwaway server) in
about 2 s; predicted against measured hit ratio on that server within 3 points.
With ``--notebook`` it also runs the whole notebook on fakeredis and on a real
server (target: under 25 s each).  The machine is shared and noisy: each figure
is the median of a few repeats.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from timing import timed  # noqa: E402 - benchmarks/ is on the path when run as a script

import labkit
from labkit.clock import VirtualClock
from labkit.memo import forget
from labkit.observability import MeteredStore, sizing
from labkit.observability.workload import SHOP_RUN, watched_run
from labkit.redis_server import LocalRedis, redis_server_binary
from labkit.store import MemoryStore

ROOT = Path(__file__).resolve().parent.parent



def meter_overhead() -> None:
    print("What the metered store adds per command (10,000 GETs, half hits):")
    for name, make in (("memory", lambda: MemoryStore(VirtualClock(), namespace="bench", learner="b")),
                       ("fakeredis", lambda: labkit.connect("fakeredis://", namespace="bench-obs", learner="b"))):
        store = make()
        for i in range(0, 10_000, 2):
            store.set(f"user:{i}", "x")
        metered = MeteredStore(store)
        keys = [f"user:{i}" for i in range(10_000)]
        plain_s, _ = timed(lambda s=store, keys=keys: [s.get(k) for k in keys])
        meter_s, _ = timed(lambda m=metered, keys=keys: [m.get(k) for k in keys])
        print(f"  {name:9}: plain {plain_s / len(keys) * 1e6:5.1f} µs, metered {meter_s / len(keys) * 1e6:5.1f} µs "
              f"(+{(meter_s - plain_s) / len(keys) * 1e6:4.1f} µs)")
        store.reset()


def engine_speed() -> None:
    forget()
    run_s, _ = timed(lambda: watched_run.__wrapped__(SHOP_RUN), 3)
    plan_s, plan = timed(lambda: (forget(), sizing.plan_for(0.9))[1], 3)
    print(f"\nSeeded shop replay ({SHOP_RUN[1]:,} reads, virtual clock): {run_s:.2f} s (target < 1 s)")
    print(f"Sizing plan (exact LRU curve + 10% SHARDS, 100,000 reads): {plan_s:.2f} s (target < 1 s)")
    print(f"  {plan}")


def server_agreement() -> None:
    if redis_server_binary() is None:
        print("\nNo redis-server here: the server check is skipped.")
        return
    plan = sizing.plan_for(0.9)
    print(f"\nOn a throwaway redis-server, maxmemory = empty + {plan.budget_bytes:,} B "
          f"(model: {plan.predicted_hit_ratio:.1%}, {plan.capacity_keys:,} keys):")
    for _ in range(3):
        start = time.perf_counter()
        result = sizing.verify_on_server(plan.budget_bytes, policies=("allkeys-lru", "allkeys-lfu"))
        seconds = time.perf_counter() - start
        cells = ", ".join(f"{r.policy} {r.hit_ratio:.1%} ({r.keys_held:,} keys, replay {r.seconds:.2f} s)"
                          for r in result.runs)
        gap = max(abs(r.hit_ratio - plan.predicted_hit_ratio) for r in result.runs)
        print(f"  {cells}; worst gap {gap * 100:.1f} points (target <= 3); {seconds:.1f} s in all")
    from labkit.observability.lesson import exercises

    check_s, _ = timed(lambda: exercises().size_for_90.check(plan.budget_bytes), 3)
    print(f"Sizing exercise check (model + replay on the lab's server): {check_s:.2f} s (target ~2 s)")


def whole_notebook() -> None:
    notebook = ROOT / "notebooks" / "10_observability.ipynb"
    runs = [("fakeredis", None)]
    server = LocalRedis() if redis_server_binary() else None
    if server is not None:
        runs.append(("real Redis", server.url))
    try:
        for name, url in runs:
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            env.pop("REDIS_URL", None)
            if url:
                env["REDIS_URL"] = url
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(notebook)],
                                  env=env, cwd=ROOT, capture_output=True, text=True)
            verdict = "ok" if done.returncode == 0 else "FAILED"
            print(f"\nWhole notebook on {name}: {time.perf_counter() - start:.1f} s incl. kernel start ({verdict}; "
                  "target < 25 s)")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    meter_overhead()
    engine_speed()
    server_agreement()
    if "--notebook" in sys.argv:
        whole_notebook()
