"""Is the cache right?  Estimate staleness in production by sampling hits.

Nobody can compare every cache hit with the database - that would be the
database load the cache exists to avoid.  But a small random sample can be:
re-read the row of, say, 1 hit in 1,000 from the database and compare versions.
The share of stale hits in the sample estimates the share in all traffic, and the
Wilson score interval (Wilson, JASA 1927) says how far off it may be for that
sample size: its width shrinks like 1/sqrt(n), so four times the sample halves it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import LabError
from .workload import Hit

__all__ = ["stale_flags", "wilson_interval", "StalenessEstimate", "sample_staleness", "coverage", "sample_size_for"]

Z_95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval


def wilson_interval(stale: int, sampled: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for ``stale`` successes in ``sampled`` trials.

    Unlike the textbook p +- z*sqrt(p(1-p)/n), it never leaves [0, 1] and stays
    honest when p is near 0 - where staleness usually is."""
    if isinstance(sampled, bool) or not isinstance(sampled, (int, np.integer)) or sampled < 1:
        raise LabError(f"sampled must be a whole number >= 1 (got {sampled!r}).")
    if not 0 <= stale <= sampled:
        raise LabError(f"stale must be between 0 and sampled ({sampled}) (got {stale!r}).")
    p = stale / sampled
    denominator = 1 + z * z / sampled
    centre = (p + z * z / (2 * sampled)) / denominator
    half = z * math.sqrt(p * (1 - p) / sampled + z * z / (4 * sampled * sampled)) / denominator
    # At 0 or n the bound is exactly 0 or 1; rounding must not lift it past the estimate.
    low = 0.0 if stale == 0 else max(0.0, centre - half)
    high = 1.0 if stale == sampled else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class StalenessEstimate:
    """What a sample of ``sampled`` hits says about the stale share of all hits."""

    sampled: int
    stale: int
    low: float
    high: float
    true_share: float  # known here because the lab kept every hit's ground truth

    @property
    def estimate(self) -> float:
        return self.stale / self.sampled

    @property
    def covers_truth(self) -> bool:
        return self.low <= self.true_share <= self.high

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def __str__(self) -> str:
        return (
            f"{self.stale} stale of {self.sampled:,} sampled hits: {self.estimate:.1%} "
            f"(95% interval {self.low:.1%}-{self.high:.1%}); all hits: {self.true_share:.1%}"
        )


def stale_flags(hits: Sequence[Hit] | np.ndarray) -> np.ndarray:
    """One bool per hit: was it stale?  (An array of bools passes through.)"""
    if isinstance(hits, np.ndarray):
        flags = hits.astype(bool, copy=False)
    else:
        flags = np.fromiter((h.stale for h in hits), dtype=bool, count=len(hits))
    if flags.size == 0:
        raise LabError("There are no cache hits to sample; run a workload through the cache first.")
    return flags


def sample_staleness(hits: Sequence[Hit] | np.ndarray, sampled: int, *, seed: int = 0) -> StalenessEstimate:
    """Re-read ``sampled`` random hits "from the database" (each hit carries the
    database's version at read time) and estimate the stale share with its interval."""
    flags = stale_flags(hits)
    if isinstance(sampled, bool) or not isinstance(sampled, int) or not 1 <= sampled <= len(hits):
        raise LabError(f"sampled must be a whole number between 1 and {len(hits):,} (got {sampled!r}).")
    pick = np.random.default_rng(seed).choice(len(flags), size=sampled, replace=False)
    stale = int(flags[pick].sum())
    low, high = wilson_interval(stale, sampled)
    return StalenessEstimate(sampled, stale, low, high, float(flags.mean()))


def coverage(hits: Sequence[Hit] | np.ndarray, sampled: int, *, trials: int = 200, seed: int = 0) -> float:
    """Share of ``trials`` independent samples whose 95% interval contains the truth
    (about 0.95 is what "95% interval" promises)."""
    flags = stale_flags(hits)
    truth = float(flags.mean())
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(trials):
        stale = int(flags[rng.choice(len(flags), size=sampled, replace=False)].sum())
        low, high = wilson_interval(stale, sampled)
        covered += low <= truth <= high
    return covered / trials


def sample_size_for(half_width: float, expected_share: float = 0.1, z: float = Z_95) -> int:
    """Hits to sample for a 95% interval of about +- ``half_width`` around ``expected_share``."""
    if not 0 < half_width < 0.5:
        raise LabError(f"half_width must be between 0 and 0.5, e.g. 0.02 for +-2 points (got {half_width!r}).")
    if not 0 < expected_share < 1:
        raise LabError(f"expected_share must be between 0 and 1 (got {expected_share!r}).")
    return math.ceil(z * z * expected_share * (1 - expected_share) / (half_width * half_width))
