"""What a run measured: latency percentiles and staleness.

The staleness meter turns "a fast wrong system" into a number: the share of reads
that returned a value older than the database held at that moment, and how old.
"""

from __future__ import annotations

import numpy as np

from .database import Database

__all__ = ["StalenessMeter", "percentile"]


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
