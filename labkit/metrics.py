"""What a run measured: hit ratio, DB load, latency percentiles, and staleness.

The staleness meter turns "a fast wrong system" into a number: the share of reads
that returned a value older than the database held at that moment, and how old.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .database import Database

__all__ = ["StalenessMeter", "RunMetrics", "percentile"]


def percentile(values: list[float] | np.ndarray, q: float) -> float:
    """The q-th percentile (0-100) of ``values``, 0.0 for an empty list."""
    if len(values) == 0:
        return 0.0
    return float(np.percentile(np.asarray(values, dtype=float), q))


class StalenessMeter:
    """Compares every value a reader got with the database's truth at read time."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.reads = 0
        self.stale_reads = 0
        self.ages: list[float] = []

    def observe(self, row_id: int, version: int, now: float | None = None) -> float:
        """Record one read of ``version``; return how stale it was in seconds (0 if fresh)."""
        self.reads += 1
        if version >= self.db.current_version(row_id):
            return 0.0
        age = self.db.stale_age(row_id, version, now)
        self.stale_reads += 1
        self.ages.append(age)
        return age

    @property
    def stale_share(self) -> float:
        return self.stale_reads / self.reads if self.reads else 0.0

    @property
    def mean_stale_age_seconds(self) -> float:
        return float(np.mean(self.ages)) if self.ages else 0.0

    @property
    def max_stale_age_seconds(self) -> float:
        return float(max(self.ages)) if self.ages else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "reads": self.reads,
            "stale_reads": self.stale_reads,
            "stale_share": self.stale_share,
            "mean_stale_age_seconds": self.mean_stale_age_seconds,
            "max_stale_age_seconds": self.max_stale_age_seconds,
        }


@dataclass
class RunMetrics:
    """Counters and latencies for one replay of a workload."""

    reads: int = 0
    writes: int = 0
    hits: int = 0
    misses: int = 0
    db_reads: int = 0
    db_writes: int = 0
    read_latencies_seconds: list[float] = field(default_factory=list)
    write_latencies_seconds: list[float] = field(default_factory=list)

    def record_read(self, latency_seconds: float, hit: bool) -> None:
        self.reads += 1
        self.hits += hit
        self.misses += not hit
        self.read_latencies_seconds.append(latency_seconds)

    def record_write(self, latency_seconds: float) -> None:
        self.writes += 1
        self.write_latencies_seconds.append(latency_seconds)

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.reads if self.reads else 0.0

    def read_latency_ms(self, q: float) -> float:
        return percentile(self.read_latencies_seconds, q) * 1000

    def write_latency_ms(self, q: float) -> float:
        return percentile(self.write_latencies_seconds, q) * 1000

    def summary(self) -> dict[str, float]:
        return {
            "reads": self.reads,
            "writes": self.writes,
            "hit_ratio": self.hit_ratio,
            "db_reads": self.db_reads,
            "db_writes": self.db_writes,
            "read_p50_ms": self.read_latency_ms(50),
            "read_p99_ms": self.read_latency_ms(99),
            "write_p50_ms": self.write_latency_ms(50),
            "write_p99_ms": self.write_latency_ms(99),
        }
