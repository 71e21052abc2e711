"""Cache penetration: reads for ids that do not exist, and what stops them reaching the database.

:func:`penetration` replays reads on a virtual clock through a real store (a
:class:`~labkit.store.MemoryStore`) in front of the lab's SQLite
:class:`~labkit.database.Database`.  A share of the reads ask for ids that are not in
the table (a bot probing, a stale link); some of those ids are *created* during the
run.  Cache-aside alone stores nothing for "not found", so every such read is a
database query.  A **negative cache** stores a "not found" marker for
``negative_ttl_seconds``: fewer queries, but an id created meanwhile keeps reading as
"not found" until its marker expires.  A **Bloom filter** of the existing ids turns
most absent reads away before the cache or the database (new ids are added to it
when they are created).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..clock import VirtualClock
from ..database import Database
from ..errors import check_non_negative, check_positive
from ..memo import memo
from ..store import MemoryStore
from .bloom import BloomFilter, bits_for, optimal_hashes

__all__ = ["PenetrationResult", "Probes", "PROBES", "penetration", "NOT_FOUND"]

NOT_FOUND = "\x00not-found"


@dataclass(frozen=True)
class PenetrationResult:
    negative_ttl_seconds: float | None
    bloom: bool
    absent_reads: int
    db_queries_for_absent: int
    db_queries_for_absent_per_second: float
    false_not_found: int             # reads told "not found" for an id that existed by then
    oldest_false_not_found_seconds: float
    bloom_false_positives: int


@dataclass(frozen=True)
class Probes:
    """The reads :func:`penetration` replays: of ids that exist, and of ids that do not (yet)."""

    rows: int = 2000                             # ids 0 .. rows-1 exist from the start
    absent_ids: int = 200                        # the next ids, read before (or without) existing
    absent_reads_per_id_per_second: float = 1.0
    present_reads_per_second: float = 50.0       # spread over the existing ids
    created_per_second: float = 1.0              # absent ids that come to exist during the run
    duration_seconds: float = 60.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_non_negative("created_per_second", self.created_per_second, "ids/s")


PROBES = Probes()


@memo(maxsize=64)
def penetration(
    negative_ttl_seconds: float | None, *, bloom: bool = False, probes: Probes = PROBES
) -> PenetrationResult:
    """Replay ``probes.duration_seconds`` of reads; count the database queries absent ids cause."""
    if negative_ttl_seconds is not None:
        check_positive("negative_ttl_seconds", negative_ttl_seconds, "s", "Use None for no negative caching.")
    rows, absent_ids, duration_seconds = probes.rows, probes.absent_ids, probes.duration_seconds
    rng = np.random.default_rng(probes.seed)
    clock = VirtualClock()
    db = Database(clock, rows=rows, latency_seconds=0.0)
    cache = MemoryStore(clock, namespace="failures-negative")
    bits = bits_for(rows + absent_ids, 0.01)
    filt = BloomFilter(bits, optimal_hashes(bits, rows))
    if bloom:
        filt.add_many(range(rows))
    absent_rate = absent_ids * probes.absent_reads_per_id_per_second
    n_absent = int(rng.poisson(absent_rate * duration_seconds))
    n_present = int(rng.poisson(probes.present_reads_per_second * duration_seconds))
    times = np.concatenate([rng.uniform(0, duration_seconds, n_absent), rng.uniform(0, duration_seconds, n_present)])
    ids = np.concatenate([rows + rng.integers(0, absent_ids, n_absent), rng.integers(0, rows, n_present)])
    n_created = int(rng.poisson(probes.created_per_second * duration_seconds))
    creations = sorted(zip(rng.uniform(0, duration_seconds, n_created).tolist(),
                           (rows + rng.choice(absent_ids, min(n_created, absent_ids), replace=False)).tolist(),
                           strict=False))
    created_at: dict[int, float] = {}
    order = np.argsort(times, kind="stable")
    queries = false_nf = false_pos = absent_reads = 0
    oldest = 0.0
    c = 0
    for i in order:
        t, row_id = float(times[i]), int(ids[i])
        while c < len(creations) and creations[c][0] <= t:
            clock.set(creations[c][0])
            db.write(creations[c][1], "new")
            created_at[creations[c][1]] = creations[c][0]
            if bloom:
                filt.add(creations[c][1])
            c += 1
        clock.set(t)
        absent_at_start = row_id >= rows
        absent_reads += absent_at_start
        if bloom and row_id not in filt:
            continue  # certainly absent: no cache, no database
        if bloom and absent_at_start and row_id not in created_at:
            false_pos += 1
        key = str(row_id)
        value = cache.get(key)
        if value is None:
            row = db.read(row_id)
            if absent_at_start:
                queries += 1
            if row is not None:
                cache.set(key, row.value, 600.0)
            elif negative_ttl_seconds is not None:
                cache.set(key, NOT_FOUND, negative_ttl_seconds)
        elif value == NOT_FOUND and row_id in created_at:
            false_nf += 1
            oldest = max(oldest, t - created_at[row_id])
    return PenetrationResult(negative_ttl_seconds, bloom, absent_reads, queries, queries / duration_seconds,
                             false_nf, oldest, false_pos)
