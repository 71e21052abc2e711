#!/usr/bin/env python3
"""Invalidation figures, printed (run by hand; timings are compared as ratios in one run).

1. Invalidating N keys: one generation bump against SCAN + DEL (DEL in batches of
   1,000 keys), on fakeredis and on a throwaway real redis-server.
2. Kernel-side redraw time of every control of notebook 02 (``LivePlot.draw_seconds``,
   median of the moves after the first draw).  Target: under ~100 ms, so the browser
   redraw stays within 2x the ~110 ms floor of the stack (issue #14).

    python benchmarks/bench_invalidation.py [--keys 20000] [--redraws 9]
"""

from __future__ import annotations

import argparse
import statistics
import time

import labkit
from labkit import invalidation as inv
from labkit.redis_server import LocalRedis, redis_server_binary
from labkit.wrappers import RecordingStore


def bump_vs_scan(store, keys: int) -> dict[str, float]:
    ns = inv.VersionedNamespace(store, "bench:tenant")
    start = time.perf_counter()
    old = ns.fill(keys)  # one SET with a TTL per key, through the store contract
    fill_seconds = time.perf_counter() - start
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


def _median_ms(plot) -> str:
    moves = plot.draw_seconds[1:]  # the first draw (at creation) includes the one-off layout
    return f"median {statistics.median(moves) * 1e3:6.1f} ms, max {max(moves) * 1e3:6.1f} ms over {len(moves)}"


def redraw_medians(store, redraws: int) -> None:
    labkit.forget()  # first moves as a learner meets them: nothing remembered yet
    ttl = inv.explore_ttl()
    for i in range(redraws):
        ttl.set(ttl_seconds=[5, 60, 10, 90, 20, 45, 8, 100, 30][i % 9])
    events = inv.explore_events(store)
    for i in range(redraws):
        events.set(near_ttl_seconds=[5, 30, 10, 35, 15, 25, 8, 38, 20][i % 9])
    toggles = inv.explore_events(store)
    for i in range(redraws):
        toggles.set(lose_message=bool(i % 2))
    near = inv.explore_events(store)
    for i in range(redraws):
        near.set(near_cache=inv.lesson.NEAR_CACHES[(i + 1) % 2])
    race = inv.explore_race(store)
    step, reset = race._buttons
    for i in range(redraws):
        (reset if i % 6 == 0 else step).click()
    fixes = inv.explore_race(store)
    for i in range(redraws):
        fixes.set(strategy=inv.STRATEGIES[(i + 1) % len(inv.STRATEGIES)])
    for name, plot in (("TTL slider", ttl), ("near-TTL slider", events), ("C cut off toggle", toggles),
                       ("C's near cache", near), ("race Step/Reset", race), ("race fix choice", fixes)):
        print(f"{name:>18}: {_median_ms(plot)} redraws")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--redraws", type=int, default=9)
    args = parser.parse_args()

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
