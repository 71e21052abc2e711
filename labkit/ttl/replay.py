"""The reference: the same events through the lab's MemoryStore and SQLite database."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import (
    TICKS_PER_SECOND,
    _check_fraction,
    _check_ttl,
    _ticks,
)
from .events import Events
from .simulation import run_events


def replay_through_store(
    events: Events,
    ttl_seconds: float,
    *,
    start: str = "steady",
    jitter_fraction: float = 0.0,
) -> dict[str, Any]:
    """Replay ``events`` one at a time through MemoryStore + Database on a VirtualClock.

    Cache-aside: GET; on a miss read the row and SET it with the TTL (jittered per
    the same draws as :func:`run_events`).  Writes update the database and leave
    the cache alone.  The StalenessMeter judges every read.  Meant for a few keys
    (it is a Python loop over every event); returns per-read ``miss``, ``stale``
    and ``stale_age_seconds`` arrays in the order of ``events.read_code``, plus the
    database's and store's counters.
    """
    from ..clock import VirtualClock
    from ..database import Database, Row
    from ..metrics import StalenessMeter
    from ..store import MemoryStore

    ttl = _check_ttl(ttl_seconds)
    plan = run_events(events, ttl, start=start, jitter_fraction=jitter_fraction)  # its start state
    ttl_ticks = _ticks(ttl)
    jitter = _check_fraction("jitter_fraction", jitter_fraction)
    if jitter > 0:
        _, read_u = events.jitter_draws()
        read_ttls = np.maximum(1, np.round(ttl_ticks * (1.0 + jitter * read_u))).astype(np.int64)
    else:
        read_ttls = np.full(events.n_reads, ttl_ticks, dtype=np.int64)
    first_ttls = plan.initial_expiry_tick - plan.initial_fill_tick

    # Virtual time starts at 0, so shift everything by the write history.
    offset = events.history_ticks
    clock = VirtualClock()
    cache = MemoryStore(clock, namespace="ttl-replay")
    db = Database(clock, rows=events.n_keys, latency_seconds=0.0)
    meter = StalenessMeter(db)

    # (tick, order, kind, index): at the same instant writes go first, then the
    # starting fills, then reads - the order run_events assumes.
    timeline: list[tuple[int, int, int]] = []
    for j in range(events.n_writes):
        timeline.append((int(events.write_tick[j]) + offset, 0, j))
    for k in np.flatnonzero(plan.initially_cached):
        timeline.append((int(plan.initial_fill_tick[k]) + offset, 1, int(k)))
    for j in range(events.n_reads):
        timeline.append((int(events.read_tick[j]) + offset, 2, j))
    timeline.sort()

    miss = np.zeros(events.n_reads, dtype=bool)
    stale = np.zeros(events.n_reads, dtype=bool)
    ages = np.zeros(events.n_reads, dtype=float)
    for tick, kind, index in timeline:
        clock.set(tick / TICKS_PER_SECOND)
        if kind == 0:
            key = int(events.write_key[index])
            db.write(key, f"item {key} write {index}")
        elif kind == 1:
            row = db.read(index)
            cache.set(f"item:{index}", row.to_cache(), ttl_seconds=float(first_ttls[index]) / TICKS_PER_SECOND)
        else:
            key = int(events.read_key[index])
            cached = cache.get(f"item:{key}")
            if cached is None:
                miss[index] = True
                row = db.read(key)
                cache.set(f"item:{key}", row.to_cache(), ttl_seconds=float(read_ttls[index]) / TICKS_PER_SECOND)
            else:
                row = Row.from_cache(cached)
            age = meter.observe(key, row.version, clock.now())
            stale[index] = age > 0 or row.version < db.current_version(key)
            ages[index] = age
    db.close()
    return {
        "miss": miss,
        "stale": stale,
        "stale_age_seconds": ages,
        "db_reads": db.stats.reads,
        "db_writes": db.stats.writes,
        "cache_hits": cache.stats.hits,
        "cache_misses": cache.stats.misses,
        "stale_reads": meter.stale_reads,
    }
