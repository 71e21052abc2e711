"""Notebook 00's toy system: an app, a slow database, and (maybe) a cache.

:func:`measure` replays one workload on a virtual clock twice - once straight to
the database, once through a TTL cache in front of it - and says where each
request's time went.  Writes here come from another service that does not tell
the cache, so only the TTL corrects a cached copy: the staleness meter shows the
price of that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import charts, workloads
from .clock import VirtualClock
from .database import Database, Row
from .errors import check_non_negative, check_positive, check_ttl
from .metrics import StalenessMeter
from .store import MemoryStore

__all__ = ["Measurement", "measure", "explore"]


@dataclass(frozen=True)
class Measurement:
    """Mean milliseconds per request spent in each part, and what the cache cost."""

    label: str
    app_ms: float
    cache_ms: float
    db_ms: float
    db_queries: int
    requests: int
    hit_ratio: float
    stale_share: float
    max_stale_age_seconds: float
    p99_ms: float

    @property
    def total_ms(self) -> float:
        return self.app_ms + self.cache_ms + self.db_ms


@lru_cache(maxsize=256)  # a slider returning to a setting redraws instantly
def measure(
    *,
    use_cache: bool,
    ttl_seconds: float = 30.0,
    app_work_ms: float = 2.0,
    db_latency_ms: float = 8.0,
    cache_round_trip_ms: float = 0.2,
    alpha: float = 0.9,
    write_ratio: float = 0.02,
    n_keys: int = 1000,
    n_requests: int = 3000,
    requests_per_second: float = 6.0,
    seed: int = 0,
) -> Measurement:
    """Replay ``n_requests`` at a steady rate and account for every millisecond."""
    ttl = check_ttl(ttl_seconds)
    for name, v in (("app_work_ms", app_work_ms), ("cache_round_trip_ms", cache_round_trip_ms)):
        check_non_negative(name, v, "ms")
    check_positive("db_latency_ms", db_latency_ms, "ms")
    check_positive("requests_per_second", requests_per_second, "requests/s")
    clock = VirtualClock()
    db = Database(clock, rows=n_keys, latency_seconds=db_latency_ms / 1000)
    cache = MemoryStore(clock, namespace="tour", latency_seconds=cache_round_trip_ms / 1000)
    meter = StalenessMeter(db)
    keys = workloads.zipf(n_requests, n_keys, alpha, seed=seed).tolist()
    writes = workloads.read_write_mix(n_requests, write_ratio, seed=seed).tolist()
    gap = 1.0 / requests_per_second
    app_s = cache_s = db_s = 0.0
    hits = reads = 0
    totals = []
    for i, (key, is_write) in enumerate(zip(keys, writes, strict=True)):
        clock.set(max(clock.now(), i * gap))
        if is_write:  # another service updates the row; nobody tells the cache
            db.write(key, f"item {key} changed at request {i}")
            continue
        t0 = clock.now()
        clock.sleep(app_work_ms / 1000)
        t1 = clock.now()
        row = None
        if use_cache:
            text = cache.get(f"item:{key}")
            row = Row.from_cache(text) if text is not None else None
        t2 = clock.now()
        if row is None:
            row = db.read(key)
        else:
            hits += 1
        t3 = clock.now()
        if use_cache and t3 > t2:  # a miss: fill the cache for the next reader
            cache.set(f"item:{key}", row.to_cache(), ttl_seconds=ttl)
        t4 = clock.now()
        meter.observe(key, row.version, t4)
        reads += 1
        app_s += t1 - t0
        cache_s += (t2 - t1) + (t4 - t3)
        db_s += t3 - t2
        totals.append(t4 - t0)
    n = max(reads, 1)
    return Measurement(
        label="with cache" if use_cache else "no cache",
        app_ms=app_s / n * 1000,
        cache_ms=cache_s / n * 1000,
        db_ms=db_s / n * 1000,
        db_queries=db.stats.reads,
        requests=reads,
        hit_ratio=hits / n,
        stale_share=meter.stale_share,
        max_stale_age_seconds=meter.max_stale_age_seconds,
        p99_ms=float(np.percentile(totals, 99) * 1000) if totals else 0.0,
    )


def _draw(fig, app_work_ms: float, db_latency_ms: float, ttl_seconds: float, write_ratio: float) -> str:
    before = measure(use_cache=False, app_work_ms=app_work_ms, db_latency_ms=db_latency_ms,
                     write_ratio=write_ratio)
    after = measure(use_cache=True, app_work_ms=app_work_ms, db_latency_ms=db_latency_ms,
                    ttl_seconds=ttl_seconds, write_ratio=write_ratio)
    ax_time, ax_truth = fig.axes
    labels = ["no cache", "with cache"]
    parts = [("app work", "app_ms", 2), ("cache round trips", "cache_ms", 1), ("database", "db_ms", 0)]
    bottom = np.zeros(2)
    hatches = ["", "//", ".."]
    for (name, attr, style_i), hatch in zip(parts, hatches, strict=True):
        vals = np.array([getattr(before, attr), getattr(after, attr)])
        ax_time.bar(labels, vals, bottom=bottom, label=name, color=charts.series_style(style_i)["color"],
                    hatch=hatch, edgecolor="white")
        bottom += vals
    speedup = before.total_ms / after.total_ms
    charts.finish(ax_time, title=f"The cache makes a request {speedup:.1f}x faster on average",
                  xlabel="configuration", ylabel="mean time per request (ms)")
    shares = [after.hit_ratio * 100, after.stale_share * 100]
    bars = ax_truth.bar(["hit ratio", "stale reads"], shares,
                        color=[charts.OKABE_ITO["blue"], charts.OKABE_ITO["vermillion"]],
                        hatch=["", "xx"], edgecolor="white")
    ax_truth.bar_label(bars, fmt="%.1f%%")
    ax_truth.set_ylim(0, 105)
    charts.finish(ax_truth, title=f"…but {after.stale_share:.1%} of reads were out of date",
                  xlabel="with cache", ylabel="share of reads (%)")
    return (
        f"DB queries: {before.db_queries:,} without the cache, {after.db_queries:,} with it. "
        f"The oldest stale read was {after.max_stale_age_seconds:.1f} s behind the database. "
        f"App work is now {after.app_ms / after.total_ms:.0%} of a cached request: "
        "that part no cache can remove."
    )


def explore():
    """Notebook 00's live chart: where a request's time goes, and what the cache costs."""
    from .widgets import LivePlot, log_slider, slider

    return LivePlot(
        _draw,
        {
            "app_work_ms": slider("app work per request (ms)", 0, 50, 1, 2),
            "db_latency_ms": slider("database query (ms)", 1, 50, 1, 8),
            "ttl_seconds": log_slider("cache TTL (s)", 1, 300, 30),
            "write_ratio": slider("share of requests that are writes", 0, 0.3, 0.01, 0.02),
        },
        ncols=2,
        width=10,
        height=3.8,
    )


@lru_cache(maxsize=32)
def longest_ttl_under(stale_budget: float) -> float:
    """The longest TTL on a 1-300 s grid whose stale share (default workload) stays
    within the budget.  Stale share grows with the TTL, so a bisection finds it."""
    grid = np.unique(np.round(np.geomspace(1, 300, 60), 1))
    lo, hi = -1, len(grid)  # grid[lo] within budget (or none), grid[hi] over it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if measure(use_cache=True, ttl_seconds=float(grid[mid])).stale_share <= stale_budget:
            lo = mid
        else:
            hi = mid
    return float(grid[lo]) if lo >= 0 else 0.0


def exercises() -> dict:
    """Notebook 00's exercises, checked by the same code the lesson uses."""
    from .exercises import Exercise

    def mean_latency(answer_ms: float):
        expected = 0.9 * 0.2 + 0.1 * (0.2 + 8 + 0.2)
        ok = abs(float(answer_ms) - expected) < 0.01
        return ok, (f"{expected:.2f} ms: the 10% of misses cost {0.1 * 8.4:.2f} ms of it, "
                    "the 90% of hits only 0.18 ms." if ok else
                    f"{answer_ms} ms is not it; weigh each outcome by how often it happens.")

    def best_speedup(answer: float):
        expected = (40 + 8) / 40
        ok = abs(float(answer) - expected) < 0.05
        return ok, (f"{expected:.2f}x at best: the 40 ms of rendering is untouched by a data cache. "
                    "Measure first!" if ok else "Not quite: what is left of the request when the DB part is free?")

    def ttl_budget(answer: float):
        answer = float(answer)
        check_ttl(answer)
        stale = measure(use_cache=True, ttl_seconds=answer).stale_share
        best = longest_ttl_under(0.05)
        if stale > 0.05:
            return False, f"at {answer:g} s, {stale:.1%} of reads are stale: over the 5% budget."
        if answer < 0.5 * best:
            return False, (f"{stale:.1%} stale is within budget, but a TTL about {best:g} s would be too, "
                           "and a longer TTL saves more DB load.")
        return True, f"{stale:.1%} stale at {answer:g} s (the longest on the slider's grid is about {best:g} s)."

    return {
        "mean_latency": Exercise(
            "00", "mean-latency", mean_latency,
            hint="mean = hit_ratio x (cost of a hit) + miss_ratio x (cost of a miss); "
            "a miss pays the GET, the DB query and the SET.",
            solution="answer_ms = 0.9 * 0.2 + 0.1 * (0.2 + 8 + 0.2)   # = 1.02 ms",
        ),
        "best_speedup": Exercise(
            "00", "best-speedup", best_speedup,
            hint="If the database part took 0 ms, how long would the request take? Divide the old time by that.",
            solution="answer = (40 + 8) / 40   # = 1.2x: Amdahl's law",
        ),
        "ttl_budget": Exercise(
            "00", "ttl-budget", ttl_budget,
            hint="Move the TTL slider (other controls at their defaults) and watch the stale-read bar, "
            "or call tour.measure(use_cache=True, ttl_seconds=...).stale_share.",
            solution="ttl_answer = tour.longest_ttl_under(0.05)   # search the TTL grid",
        ),
    }
