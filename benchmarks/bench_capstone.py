"""How long the capstone's day takes, and where the time goes.

    python benchmarks/bench_capstone.py

The target: one day of traffic scored in under 5 s from scratch, and a redraw of
the explorer (one data set replayed again) well under that.  Timings on a shared
machine are noisy, so each figure is the best of three runs, and the parts are
also shown as a share of the whole.

The explorer's redraw per control (``LivePlot.draw_seconds``) is printed last.  On
the shared 2-core machine (load 4-9) a move costs 220-300 ms of CPU, about 85% of it
matplotlib rendering the fresh two-panel figure (tick labels ~35%, legends ~15%,
the 14 verdict labels ~12%) and ~15% the PNG (compress level makes no difference);
``score()`` is memoized and costs a few ms.  Placing the scorecard's legend in a
fixed corner instead of "best" saved about 14 ms of ~190 ms rendering.  Keeping one
figure and blitting its static parts (axes, ticks, legends, the reference design:
``copy_from_bbox``/``restore_region``, then ``draw_artist`` for the design being
explored) measured 98 ms against 280 ms of CPU per move in a prototype; that change
belongs in ``LivePlot``, which today hands ``draw`` a fresh figure on every move.

The catalogue TTL is now a slider of ten TTLs (30 s to 24 h) whose neighbours are
scored in a background thread once each chart has been shown.  Redraw medians, 1 s
between moves, the old and new explorer run back to back (load ~3):

==================  ========  ========
control             before    after
==================  ========  ========
catalogue TTL        859 ms    302 ms
TTL jitter           440 ms    351 ms
landing defense      524 ms    397 ms
per-user headers     420 ms    313 ms
invalidation         471 ms    373 ms
==================  ========  ========
"""

from __future__ import annotations

import time

from labkit import capstone
from labkit.capstone import day
from labkit.capstone.service import DATA_SETS


def best_of(fn, runs: int = 3, *, fresh: bool = True) -> float:
    times = []
    for _ in range(runs):
        if fresh:
            day.forget()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    naive, reference = capstone.NAIVE_DESIGN, capstone.REFERENCE_DESIGN
    whole = {d.name: best_of(lambda d=d: capstone.score(d)) for d in (naive, reference)}
    for name, seconds in whole.items():
        print(f"score({name}) from scratch: {seconds:.2f} s  (target < 5 s)")

    requests = sum(ds.reads_per_day + ds.writes_per_day for ds in DATA_SETS.values())
    print(f"\nrequests replayed one by one per day: {requests:,}")

    parts: dict[str, float] = {}
    parts["traffic (numpy)"] = best_of(lambda: [day.day_traffic(n) for n in DATA_SETS])
    parts["replay (patterns + SQLite)"] = best_of(
        lambda: [day.replay_data_set(n, p) for n, p in reference.items()])
    parts["hot keys (stampede sim)"] = best_of(
        lambda: [day.hot_key_at_peak(n, p.ttl_seconds, p.defense) for n, p in reference.items()])
    parts["deploy expiry (stampede)"] = best_of(
        lambda: [day.deploy_refreshes(n, p.ttl_seconds, p.ttl_jitter) for n, p in reference.items()])
    parts["memory (eviction sim)"] = best_of(
        lambda: [day.eviction_hit_ratio(n, p.policy, p.memory_objects) for n, p in reference.items()])
    parts["leaks (RFC 9111 CDN)"] = best_of(
        lambda: [day.cdn_leaks(n, p.headers, p.vary) for n, p in reference.items()])
    total = sum(parts.values())
    print("\nwhere the reference design's time goes (each part from scratch, traffic included):")
    for name, seconds in parts.items():
        print(f"  {name:28} {seconds:6.2f} s  {seconds / total:5.0%}")

    day.forget()
    capstone.score(reference)
    cached = best_of(lambda: capstone.score(reference), fresh=False)
    one_change = best_of(
        lambda: capstone.score(reference.change(catalogue={"ttl_seconds": 1800})), runs=1, fresh=False)
    print(f"\nscore again, nothing changed: {cached * 1000:.1f} ms "
          f"({whole['reference'] / cached:,.0f}x faster than from scratch)")
    print(f"score after changing one data set's TTL: {one_change:.2f} s "
          f"({one_change / whole['reference']:.0%} of a full day)")

    plot = capstone.explore()
    started = time.perf_counter()
    plot.set(catalogue_ttl=900)
    print(f"explorer redraw after moving the catalogue TTL slider: {time.perf_counter() - started:.2f} s")

    from bench_layers import redraw_medians

    print("\nkernel-side explorer redraw per control (score, draw, PNG), four moves each:")
    redraw_medians("capstone.explore", plot, pause=0.0)


if __name__ == "__main__":
    main()
