"""Notebook 03's settings, the chart dots it simulates, and its data sets (pure engine).

Shared by the lesson layer (charts, exercises) and the claims, so every number the
prose states is computed with exactly the settings the notebook's charts use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..memo import memo
from ._common import _check_ttl
from .model import _solve_ttl, break_even_hit_ratio, hit_ratio_model, stale_share_of_hits_model
from .simulation import SimResult, simulate
from .traffic import Traffic

TTL_MIN_SECONDS, TTL_MAX_SECONDS = 1.0, 6 * 3600.0
SIM_TTLS = (1.0, 10.0, 60.0, 600.0, 3600.0, 6 * 3600.0)
_CHART_READS = 600_000
CHART_CACHE_MS, CHART_DB_MS = 0.5, 2.0
JITTER_TRAFFIC = Traffic(n_keys=5000, alpha=0.6, reads_per_second=1000.0, writes_per_key_per_hour=0.0)


def chart_duration_seconds(reads_per_second: float) -> float:
    """How much traffic a chart simulates: about 600,000 reads, between 1 h and 1 day."""
    return float(np.clip(_CHART_READS / reads_per_second, 3600.0, 86400.0))


@memo(maxsize=256)
def chart_point(traffic: Traffic, ttl_seconds: float) -> SimResult:
    """The simulation behind one chart dot (memoized: moving a slider back is free)."""
    return simulate(
        traffic,
        ttl_seconds,
        duration_seconds=chart_duration_seconds(traffic.reads_per_second),
        history_seconds=TTL_MAX_SECONDS,
    )


def format_seconds(seconds: float) -> str:
    """300 -> '5 min', 5400 -> '1.5 h', 0.47 -> '0.47 s'."""
    if math.isinf(seconds):
        return "never"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


EXERCISE_TRAFFIC = Traffic(n_keys=1000, alpha=0.9, reads_per_second=50.0, writes_per_key_per_hour=2.0)
STALE_BUDGET = 0.02




@dataclass(frozen=True)
class DataSet:
    """One kind of cached record, with its traffic and its tolerance for staleness."""

    name: str
    reads_per_second: float  # per key
    writes_per_hour: float  # per key
    stale_budget: float  # the largest tolerable share of stale reads (0 = never)

    def stale_read_share(self, ttl_seconds: float) -> float:
        """Model: the share of this key's reads that are stale under a TTL."""
        ttl = _check_ttl(ttl_seconds)
        return float(
            hit_ratio_model(self.reads_per_second, ttl)
            * stale_share_of_hits_model(self.writes_per_hour / 3600, ttl)
        )

    def longest_ttl_within_budget(self) -> float:
        """The longest TTL whose stale reads stay within the budget (0 if none does)."""
        if self.stale_budget <= 0:
            return 0.0
        if self.writes_per_hour <= 0:
            return math.inf
        return _solve_ttl(self.stale_read_share, self.stale_budget * (1 + 1e-12))

    def break_even_ttl(self, cache_ms: float, db_ms: float) -> float:
        """The shortest TTL at which caching this key beats reading the DB."""
        target = break_even_hit_ratio(cache_ms, db_ms)
        if target >= 1:
            return math.inf
        # λT / (1 + λT) = h*  <=>  T = h* / ((1 - h*) λ)
        return target / ((1 - target) * self.reads_per_second)


DATA_SETS = (
    DataSet("product description", reads_per_second=5.0, writes_per_hour=1 / 24, stale_budget=0.01),
    DataSet("trending list", reads_per_second=20.0, writes_per_hour=60.0, stale_budget=0.10),
    DataSet("stock level", reads_per_second=2.0, writes_per_hour=30.0, stale_budget=0.005),
    DataSet("account balance", reads_per_second=0.1, writes_per_hour=12.0, stale_budget=0.001),
    DataSet("exchange rate", reads_per_second=5.0, writes_per_hour=720.0, stale_budget=0.001),
    DataSet("user permissions", reads_per_second=1.0, writes_per_hour=0.5, stale_budget=0.0),
)


def needs_event_invalidation(data_set: DataSet, cache_ms: float, db_ms: float) -> bool:
    """True when no TTL is both fresh enough and long enough to pay for the cache."""
    return data_set.longest_ttl_within_budget() < data_set.break_even_ttl(cache_ms, db_ms)
