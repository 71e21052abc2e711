#!/usr/bin/env python3
"""How fast is labkit's eviction simulator, next to cachetools and libCacheSim?

Run by hand (it prints figures; it asserts nothing):

    python benchmarks/bench_eviction.py            # about a minute
    python benchmarks/bench_eviction.py --quick    # 200k requests instead of 1M
    python benchmarks/bench_eviction.py --sliders  # only notebook 05's slider redraws

Every contender replays the same Zipf trace (alpha 0.8, 100,000 keys) at the
same capacities, in interleaved rounds; each figure is the best of its rounds,
and speeds are compared as ratios within this one run (the machine is noisy).

* cachetools: its cache driven by the same plain loop (``get`` then set on miss).
* libCacheSim: ``process_trace`` in C on an oracleGeneral file, object size 1,
  ``hashpower=16`` and a fresh cache per run (its default hashpower is 4-6x slower).
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labkit import eviction, workloads  # noqa: E402

CACHETOOLS = {"lru": "LRUCache", "fifo": "FIFOCache", "lfu": "LFUCache", "random": "RRCache"}
LIBCACHESIM = {
    "lru": "LRU", "fifo": "FIFO", "clock": "Clock", "sieve": "Sieve", "lfu": "LFU", "arc": "ARC",
    "s3fifo": "S3FIFO", "tinylfu": "WTinyLFU", "random": "Random", "opt": "Belady",
    # Redis's sampled policies have no libCacheSim twin: compared with the exact policy.
    "redis-lru": "LRU", "redis-lfu": "LFU", "volatile-ttl": "Random",
}
STAND_INS = ("redis-lru", "redis-lfu", "volatile-ttl")
TARGET = {p: 0.3 for p in ("lru", "fifo", "clock", "sieve")}


def time_ours(trace: np.ndarray, policy: str, capacity: int) -> float:
    return eviction.simulate(trace, policy, capacity).seconds


def time_cachetools(keys: list[int], policy: str, capacity: int) -> float:
    import cachetools

    cache = getattr(cachetools, CACHETOOLS[policy])(maxsize=capacity)
    get = cache.get
    start = time.perf_counter()
    hits = 0
    for key in keys:
        if get(key) is None:
            cache[key] = 1
        else:
            hits += 1
    return time.perf_counter() - start


def time_libcachesim(path: Path, policy: str, capacity: int) -> float:
    import libcachesim as lcs

    cache = getattr(lcs, LIBCACHESIM[policy])(capacity, hashpower=16)
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    start = time.perf_counter()
    cache.process_trace(reader)
    return time.perf_counter() - start


def best(times: dict, key: tuple) -> float:
    return min(times[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k requests, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sliders", action="store_true", help="only the notebook's slider redraws")
    args = parser.parse_args()
    if args.sliders:
        print("\n".join(slider_redraws(rounds=args.rounds)))
        return
    n_requests = 200_000 if args.quick else 1_000_000
    rounds = 1 if args.quick else args.rounds
    trace = workloads.zipf(n_requests, 100_000, 0.8, seed=0)
    keys = trace.tolist()
    capacities = (1_000, 10_000)
    folder = Path(tempfile.mkdtemp(prefix="bench-eviction-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = eviction.write_oracle_general(trace, folder / "zipf.oracleGeneral")

    print(f"Zipf alpha 0.8, {n_requests:,} requests, 100,000 keys; best of {rounds} interleaved rounds\n")
    times: dict[tuple, list[float]] = {}
    for _ in range(rounds):
        for policy in eviction.POLICIES:
            for capacity in capacities:
                times.setdefault(("ours", policy, capacity), []).append(time_ours(trace, policy, capacity))
                times.setdefault(("lcs", policy, capacity), []).append(time_libcachesim(path, policy, capacity))
                if policy in CACHETOOLS:
                    times.setdefault(("ct", policy, capacity), []).append(time_cachetools(keys, policy, capacity))

    print(f"{'policy':13s} {'capacity':>8s} {'ours M/s':>9s} {'vs cachetools':>14s} {'vs libCacheSim':>15s}  target")
    for policy in eviction.POLICIES:
        for capacity in capacities:
            ours = best(times, ("ours", policy, capacity))
            lcs = best(times, ("lcs", policy, capacity))
            ct = f"{best(times, ('ct', policy, capacity)) / ours:13.1f}x" if policy in CACHETOOLS else f"{'-':>14s}"
            vs_lcs = lcs / ours
            target = TARGET.get(policy, 0.1)
            verdict = "met" if vs_lcs >= target else f"MISSED by {target / vs_lcs:.1f}x"
            twin = f" (vs {LIBCACHESIM[policy]})" if policy in STAND_INS else ""
            print(
                f"{policy:13s} {capacity:8,d} {n_requests / ours / 1e6:9.2f} {ct} {vs_lcs:14.2f}x  "
                f">= {target}x: {verdict}{twin}"
            )

    # The one-pass LRU curve against libCacheSim's LRU at 20 capacities, one by one.
    grid = np.unique(np.geomspace(100, 100_000, 20).astype(int))
    curve_times, lcs_times = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        curve = eviction.lru_curve(trace)
        curve_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for capacity in grid:
            time_libcachesim(path, "lru", int(capacity))
        lcs_times.append(time.perf_counter() - start)
    print(
        f"\nLRU hit ratio at every capacity (1..{curve.distinct_keys:,}) in one pass: {min(curve_times):.2f} s; "
        f"libCacheSim LRU at {len(grid)} capacities one by one: {min(lcs_times):.2f} s "
        f"({min(lcs_times) / min(curve_times):.1f}x slower)"
    )

    # The notebook's sliders, kernel side: redraw time once the curves are computed, next to
    # the floor (one small line chart through the same LivePlot), measured in turns.
    print()
    for line in slider_redraws(rounds=3 if not args.quick else 1):
        print(line)


def slider_redraws(rounds: int = 3) -> list[str]:
    """Median kernel-side redraw (``plot.draw_seconds``) of every slider in notebook 05,
    and of a floor chart, moved in turns so both see the same machine load."""
    from labkit import widgets
    from labkit.eviction import lesson

    floor = widgets.LivePlot(lambda fig, n: fig.axes[0].plot(range(n), range(n)) and None,
                             {"n": widgets.int_slider("n", 2, 12, 1, 2)})
    plot = eviction.explore(warm_up=False)
    for _ in range(rounds):
        for i, percent in enumerate(lesson.CAPACITY_PERCENTS):
            plot.set(percent=percent)
            floor.set(n=3 + i)
    ours, base = statistics.median(plot.draw_seconds[1:]), statistics.median(floor.draw_seconds[1:])
    return [
        f"floor chart redraw (one line, 9x3.6 in): median {base * 1000:.0f} ms",
        f"05 capacity slider redraw: median {ours * 1000:.0f} ms ({ours / base:.1f}x the floor), "
        f"max {max(plot.draw_seconds[1:]) * 1000:.0f} ms over {len(plot.draw_seconds) - 1} moves "
        f"(first draw, with simulation: {plot.draw_seconds[0]:.2f} s)",
        "(05's other controls are menus: a new trace, alpha or policy set simulates, a second or two)",
    ]

if __name__ == "__main__":
    main()
