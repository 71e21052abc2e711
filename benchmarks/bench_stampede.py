#!/usr/bin/env python3
"""Figures for notebook 04 (run by hand): live herds, slider previews and the simulation.

    python benchmarks/bench_stampede.py            # fakeredis, plus a throwaway redis-server if installed
    python benchmarks/bench_stampede.py --previews # the slider previews only

Targets: a live 200-reader herd with any defense finishes in under 3 s of wall time;
a slider's preview (the defense code itself, on an AutoClock) answers within a
frame budget of 100 ms; simulating 10,000 clients for an hour takes under 2 s.
Beside each preview, the expiry-window model of the same herd (``simulate_herd``,
which is what a preview computed before it ran the defense code).  The machine is
noisy, so each figure is the best of a few runs and comparisons are ratios.
"""

from __future__ import annotations

import sys
import time

import labkit
from labkit.redis_server import LocalRedis, redis_server_binary
from labkit.stampede import (
    DEFENSES,
    SIM_DEFENSES,
    poisson_arrivals,
    preview_expired_lock,
    preview_herd,
    preview_stall,
    run_herd,
    simulate_herd,
    simulate_traffic,
)

READERS = 200
REPEATS = 3
HERD_TARGET_SECONDS = 3.0
SIM_TARGET_SECONDS = 2.0
PREVIEW_TARGET_MS = 100.0


def _best_ms(fn) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def bench_previews() -> None:
    print(f"\nSlider previews on virtual time (best of {REPEATS}), target {PREVIEW_TARGET_MS:.0f} ms")
    print(f"{'preview':<34} {'defense code ms':>16} {'window model ms':>16}  target")
    # __wrapped__: the previews remember their reports; time the run, not the memo.
    rows = [(f"herd {d}, {n} readers", lambda d=d, n=n: preview_herd.__wrapped__(d, n),
             lambda d=d, n=n: simulate_herd(d, n)) for d in SIM_DEFENSES for n in (200, 400)]
    rows += [(f"expired lock {d}", lambda d=d: preview_expired_lock.__wrapped__(d), None)
             for d in ("naive-lock", "lock")]
    rows += [(f"stall {d}, 30 readers", lambda d=d: preview_stall.__wrapped__(d, 30, deadline_seconds=1.0), None)
             for d in ("naive-lock", "lock")]
    for name, code, model in rows:
        ms = _best_ms(code)
        model_ms = f"{_best_ms(model):>16.2f}" if model else f"{'-':>16}"
        print(f"{name:<34} {ms:>16.2f} {model_ms}  {'ok' if ms < PREVIEW_TARGET_MS else 'MISSED'}")


def bench_herds(store: labkit.store.Store) -> None:
    print(f"\nLive herd, {READERS} readers, 50 ms query, backend: {store.backend}")
    print(f"{'defense':<14} {'best wall s':>11} {'DB queries':>11} {'p99 ms':>8} {'commands/read':>14}  target")
    for defense in DEFENSES:
        runs = [run_herd(defense, READERS, store) for _ in range(REPEATS)]
        best = min(runs, key=lambda r: r.wall_seconds)
        queries = "/".join(str(r.db_queries) for r in runs)
        ok = "ok" if best.wall_seconds < HERD_TARGET_SECONDS else "MISSED"
        print(f"{defense:<14} {best.wall_seconds:>11.2f} {queries:>11} {best.latency_ms(99):>8.0f} "
              f"{best.commands_per_read:>14.1f}  {ok}")


def bench_simulation() -> None:
    print("\nSimulation: 10,000 clients x 0.1 reads/s for 1 hour (30 s TTL, 50 ms recompute)")
    started = time.perf_counter()
    arrivals = poisson_arrivals(1000, 3600, seed=1)
    arrival_seconds = time.perf_counter() - started
    print(f"drawing {len(arrivals):,} Poisson arrivals: {arrival_seconds:.2f} s")
    header = f"{'defense':<14} {'best s':>7} {'incl. arrivals':>15} {'queries/expiry':>15} {'no-miss expiries':>17}"
    print(header + "  target")
    for defense in SIM_DEFENSES:
        best = min(
            (simulate_traffic(defense, arrivals=arrivals, app_processes=4) for _ in range(REPEATS)),
            key=lambda r: r.runtime_seconds,
        )
        total = best.runtime_seconds + arrival_seconds
        ok = "ok" if total < SIM_TARGET_SECONDS else "MISSED"
        print(f"{defense:<14} {best.runtime_seconds:>7.2f} {total:>15.2f} {best.mean_queries_per_expiry:>15.2f} "
              f"{100 * best.share_windows_without_miss:>16.1f}%  {ok}")


def main() -> None:
    bench_previews()
    if "--previews" in sys.argv:
        return
    fake = labkit.connect("fakeredis://", namespace="bench-stampede")
    bench_herds(fake)
    fake.reset()
    if redis_server_binary():
        with LocalRedis() as server:
            real = labkit.connect(server.url, namespace="bench-stampede", fallback=False)
            bench_herds(real)
            real.reset()
    else:
        print("\n(no redis-server binary: real-Redis herds skipped)")
    bench_simulation()


if __name__ == "__main__":
    main()
