"""Notebook 00's toy system: an app, a slow database, and (maybe) a cache.

The engine of the tour: no widgets, no charts (those are in ``lesson``).

:func:`measure` replays one workload on a virtual clock twice - once straight to
the database, once through a TTL cache in front of it - and says where each
request's time went.  Writes here come from another service that does not tell
the cache, so only the TTL corrects a cached copy: the staleness meter shows the
price of that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..clock import VirtualClock
from ..database import Database, Row
from ..errors import check_non_negative, check_positive, check_ttl
from ..memo import memo
from ..metrics import StalenessMeter
from ..store import MemoryStore
from ..workloads import SteadyTraffic

__all__ = ["Measurement", "TOUR_TRAFFIC", "measure", "longest_ttl_under", "mean_read_ms", "mean_cut"]


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


# The tour's traffic: 3,000 requests at 6 a second over 1,000 items, 2% of them writes.
TOUR_TRAFFIC = SteadyTraffic(n_keys=1000, n_requests=3000, requests_per_second=6.0, alpha=0.9, write_ratio=0.02)


@memo(maxsize=256)  # a slider returning to a setting redraws instantly
def measure(
    *,
    use_cache: bool,
    ttl_seconds: float | None = 30.0,
    app_work_ms: float = 2.0,
    db_latency_ms: float = 8.0,
    cache_round_trip_ms: float = 0.2,
    traffic: SteadyTraffic = TOUR_TRAFFIC,
) -> Measurement:
    """Replay ``traffic`` and account for every millisecond (``ttl_seconds=None``: no expiry)."""
    ttl = check_ttl(ttl_seconds)
    for name, v in (("app_work_ms", app_work_ms), ("cache_round_trip_ms", cache_round_trip_ms)):
        check_non_negative(name, v, "ms")
    check_positive("db_latency_ms", db_latency_ms, "ms")
    clock = VirtualClock()
    db = Database(clock, rows=traffic.n_keys, latency_seconds=db_latency_ms / 1000)
    cache = MemoryStore(clock, namespace="tour", latency_seconds=cache_round_trip_ms / 1000)
    meter = StalenessMeter(db)
    keys = traffic.keys().tolist()
    writes = traffic.writes().tolist()
    gap = traffic.gap_seconds
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


@memo(maxsize=32)
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


def mean_read_ms(hit_ratio: float, *, hit_ms: float = 0.2, db_ms: float = 8.0, set_ms: float = 0.2) -> float:
    """Mean read latency of a cache-aside read: a hit is one GET; a miss is the GET,
    the database query and the SET that fills the cache."""
    return hit_ratio * hit_ms + (1 - hit_ratio) * (hit_ms + db_ms + set_ms)


def mean_cut(from_hit_ratio: float, to_hit_ratio: float) -> float:
    """The share of the mean read latency removed by raising the hit ratio."""
    return 1 - mean_read_ms(to_hit_ratio) / mean_read_ms(from_hit_ratio)
