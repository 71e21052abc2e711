"""TTL jitter: a bulk warm-up makes every key expire in the same second."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import LabError
from ..memo import memo
from ._common import (
    TICKS_PER_SECOND,
    _check_duration,
    _check_fraction,
    _check_ttl,
)
from .events import _traffic_events
from .simulation import run_events
from .traffic import Traffic

if TYPE_CHECKING:
    from ..store import Store


@dataclass(frozen=True)
class JitterResult:
    ttl_seconds: float
    jitter_fraction: float
    db_reads_per_second: np.ndarray  # one bin per simulated second

    @property
    def peak_db_reads_per_second(self) -> int:
        return int(self.db_reads_per_second.max()) if self.db_reads_per_second.size else 0

    @property
    def mean_db_reads_per_second(self) -> float:
        return float(self.db_reads_per_second.mean()) if self.db_reads_per_second.size else 0.0


@memo(maxsize=32)
def jitter_timeline(
    traffic: Traffic,
    ttl_seconds: float,
    jitter_fraction: float,
    *,
    duration_seconds: float | None = None,
    seed: int = 0,
) -> JitterResult:
    """DB reads per second after a bulk warm-up filled every key at time 0.

    Without jitter every key expires at exactly T, and every key read in the next
    second misses in that second.  The run lasts three TTLs unless told otherwise.
    """
    ttl = _check_ttl(ttl_seconds)
    jitter = _check_fraction("jitter_fraction", jitter_fraction)
    duration = 3 * ttl if duration_seconds is None else _check_duration("duration_seconds", duration_seconds)
    events = _traffic_events(traffic, float(duration), 0.0, int(seed))
    outcomes = run_events(events, ttl, start="bulk", jitter_fraction=jitter)
    seconds = events.read_tick[outcomes.miss_index] // TICKS_PER_SECOND
    per_second = np.bincount(seconds, minlength=int(math.ceil(duration)))
    return JitterResult(ttl, jitter, per_second)


def jittered_ttl(ttl_seconds: float, jitter_fraction: float, rng: np.random.Generator) -> float:
    """A TTL drawn uniformly from [T(1-x), T(1+x)]."""
    ttl = _check_ttl(ttl_seconds)
    jitter = _check_fraction("jitter_fraction", jitter_fraction)
    return ttl * (1.0 + jitter * rng.uniform(-1.0, 1.0))


def bulk_warm_up(
    store: Store,
    n_keys: int = 8,
    *,
    ttl_seconds: float = 300.0,
    jitter_fraction: float = 0.1,
    seed: int = 0,
) -> list[tuple[str, float, float]]:
    """Fill ``n_keys`` keys on a real store, each with a jittered TTL (SET ... PX).

    Returns (key, ttl set, ttl the store reports) for each, so a learner can see
    that the store itself keeps the spread-out expiry times.
    """
    if isinstance(n_keys, bool) or not isinstance(n_keys, int) or not 1 <= n_keys <= 1000:
        raise LabError(f"n_keys must be a whole number from 1 to 1000 (got {n_keys!r}).")
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_keys):
        key = f"item:{i}"
        ttl = round(jittered_ttl(ttl_seconds, jitter_fraction, rng), 3)
        store.set(key, f"item {i} v1", ttl_seconds=ttl)
        rows.append((key, ttl))
    return [(key, ttl, store.ttl_seconds(key) or 0.0) for key, ttl in rows]
