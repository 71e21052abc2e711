#!/usr/bin/env python3
"""Invalidation figures, printed (run by hand; timings are compared as ratios in one run).

1. Invalidating N keys: one generation bump against SCAN + DEL (DEL in batches of
   1,000 keys), on fakeredis and on a throwaway real redis-server.
2. Kernel-side redraw time of every control of notebook 02, per move: wall time and
   the CPU time of the redrawing thread (compare CPU time on a busy machine).
   Target: under ~100 ms, so the browser redraw stays within 2x the ~110 ms floor
   of the stack (issue #14).

    python benchmarks/bench_invalidation.py [--keys 20000] [--redraws 9] [--redraws-only]
"""

from __future__ import annotations

import argparse
import statistics
import time

import labkit
from labkit import invalidation as inv
from labkit.redis_server import LocalRedis, redis_server_binary


def bump_vs_scan(store, keys: int) -> dict[str, float]:
    ns = inv.VersionedNamespace(store, "bench:tenant")
    start = time.perf_counter()
    old = ns.fill(keys)  # one SET with a TTL per key, through the store contract
    fill_seconds = time.perf_counter() - start
    from labkit.wrappers import RecordingStore

    log = RecordingStore(store)
    start = time.perf_counter()
    inv.VersionedNamespace(log, "bench:tenant").bump()
    bump_seconds = time.perf_counter() - start
    bump_commands = len(log.log)
    assert ns.get("item:0") is None and not log.commands("scan_keys")
    scan_calls = inv.redis_scan_calls(store, f"bench:tenant:v{old}:*") or 1
    log.clear()
    start = time.perf_counter()
    deleted = inv.scan_and_delete(log, f"bench:tenant:v{old}:*", batch=1000)
    scan_seconds = time.perf_counter() - start
    assert deleted == keys, deleted
    store.delete(ns.generation_key)
    return {
        "fill_seconds": fill_seconds,
        "bump_seconds": bump_seconds,
        "bump_commands": bump_commands,
        "scan_seconds": scan_seconds,
        "scan_commands": scan_calls + len(log.commands("delete")),
    }


def report_bump(name: str, r: dict[str, float], keys: int) -> None:
    print(
        f"{name:>10}: bump {r['bump_seconds'] * 1e3:8.3f} ms ({r['bump_commands']} command) | "
        f"SCAN+DEL {r['scan_seconds'] * 1e3:9.1f} ms ({r['scan_commands']} commands) | "
        f"ratio {r['scan_seconds'] / r['bump_seconds']:,.0f}x | fill {keys:,} keys {r['fill_seconds']:.2f} s"
    )


def _timed_moves(plot, moves) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each move (the redraw runs in this thread when moved from code).

    CPU time is what to compare on a busy machine: it barely depends on how many
    other processes share the cores, where wall time does.
    """
    wall, cpu = [], []
    for move in moves:
        w, c = time.perf_counter(), time.thread_time()
        move()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    return wall, cpu


def redraw_medians(store, redraws: int) -> None:
    forget = getattr(labkit, "forget", None)
    if forget:
        forget()  # first moves as a learner meets them: nothing remembered yet
    near_caches = getattr(getattr(inv, "lesson", None), "NEAR_CACHES", None)
    rows = []

    def measure(name, make, control, values):
        plot = make()
        if control is not None and control not in plot.controls:
            return  # a control this version of the notebook does not have
        moves = [(lambda v=v: plot.set(**{control: v})) for v in values] if control else values(plot)
        rows.append((name, *_timed_moves(plot, moves)))

    measure("TTL slider", inv.explore_ttl, "ttl_seconds", [[5, 60, 10, 90, 20, 45, 8, 100, 30][i % 9]
                                                            for i in range(redraws)])
    measure("near-TTL slider", lambda: inv.explore_events(store), "near_ttl_seconds",
            [[5, 30, 10, 35, 15, 25, 8, 38, 20][i % 9] for i in range(redraws)])
    measure("C cut off toggle", lambda: inv.explore_events(store), "lose_message",
            [bool(i % 2) for i in range(redraws)])
    if near_caches:
        measure("C's near cache", lambda: inv.explore_events(store), "near_cache",
                [near_caches[(i + 1) % 2] for i in range(redraws)])

    def race_clicks(plot):
        step, reset = plot._buttons
        return [(reset if i % 6 == 0 else step).click for i in range(redraws)]

    measure("race Step/Reset", lambda: inv.explore_race(store), None, race_clicks)
    measure("race fix choice", lambda: inv.explore_race(store), "strategy",
            [inv.STRATEGIES[(i + 1) % len(inv.STRATEGIES)] for i in range(redraws)])
    print(f"  {'control':<18} {'wall median':>12} {'CPU first':>10} {'CPU median':>11} {'CPU max':>8}  (ms)")
    for name, wall, cpu in rows:
        print(f"  {name:<18} {statistics.median(wall) * 1e3:12.0f} {cpu[0] * 1e3:10.0f} "
              f"{statistics.median(cpu) * 1e3:11.0f} {max(cpu) * 1e3:8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--redraws", type=int, default=9)
    parser.add_argument("--redraws-only", action="store_true", help="only the redraws, on fakeredis")
    args = parser.parse_args()
    if args.redraws_only:
        fake = labkit.connect("fakeredis://", namespace="bench-02")
        redraw_medians(fake, args.redraws)
        fake.reset()
        return

    print(f"Invalidating {args.keys:,} keys of one namespace")
    fake = labkit.connect("fakeredis://", namespace="bench-02")
    fake.reset()
    report_bump("fakeredis", bump_vs_scan(fake, args.keys), args.keys)
    if redis_server_binary():
        with LocalRedis() as server:
            real = labkit.connect(server.url, namespace="bench-02", fallback=False)
            report_bump("redis", bump_vs_scan(real, args.keys), args.keys)
            print("\nNotebook 02 redraws (kernel side) on a real Redis")
            redraw_medians(real, args.redraws)
            real.reset()
    else:
        print("     redis: skipped (no redis-server binary)")
    print("\nNotebook 02 redraws (kernel side) on fakeredis")
    redraw_medians(fake, args.redraws)
    fake.reset()


if __name__ == "__main__":
    main()
