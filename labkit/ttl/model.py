"""The closed-form model (renewal argument) and the cost of a cache round trip."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import (
    _check_fraction,
    _check_rate,
    _check_ttl,
)
from .traffic import Band, Traffic, popularity_bands


def hit_ratio_model(read_rate: Any, ttl_seconds: Any) -> Any:
    """λT / (1 + λT): the share of one key's reads that hit (works on arrays)."""
    x = np.asarray(read_rate, dtype=float) * np.asarray(ttl_seconds, dtype=float)
    return x / (1.0 + x)


def stale_share_of_hits_model(write_rate: Any, ttl_seconds: Any) -> Any:
    """1 - (1 - e^(-μT)) / (μT): the share of hits that return a superseded copy.

    A hit lands uniformly within its copy's life of T seconds; it is stale if a
    write happened since the fill.  Note it does not depend on the read rate.
    """
    x = np.asarray(write_rate, dtype=float) * np.asarray(ttl_seconds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fresh = np.where(x > 1e-12, -np.expm1(-x) / np.where(x > 1e-12, x, 1.0), 1.0 - x / 2)
    return 1.0 - fresh


def mean_stale_age_model(write_rate: float, ttl_seconds: float) -> float:
    """Mean age of a stale read, in seconds: (T/2 - s/μ) / s, with s the stale share."""
    if write_rate <= 0:
        return 0.0
    if write_rate * ttl_seconds < 1e-4:
        return ttl_seconds / 3  # the limit for rare writes, without the cancellation
    s = float(stale_share_of_hits_model(write_rate, ttl_seconds))
    if s <= 0:
        return 0.0
    return (ttl_seconds / 2 - s / write_rate) / s


@dataclass(frozen=True)
class ModelResult:
    ttl_seconds: float
    hit_ratio: float
    stale_share_of_hits: float
    stale_read_share: float
    db_reads_per_second: float
    mean_stale_age_seconds: float
    band_hit_ratios: tuple[float, ...]

    @property
    def max_stale_age_seconds(self) -> float:
        """A copy lives at most T, so no stale read is older than the TTL."""
        return self.ttl_seconds


def model_curve(traffic: Traffic, ttl_seconds: Any, band: Band | None = None) -> dict[str, np.ndarray]:
    """The model for many TTLs at once (fast enough to redraw on every slider move).

    Returns arrays: ``hit_ratio``, ``stale_read_share``, ``stale_share_of_hits``,
    ``db_reads_per_second``, each aligned with ``ttl_seconds``.
    """
    ttls = np.atleast_1d(np.asarray(ttl_seconds, dtype=float))
    for t in ttls:
        _check_ttl(float(t))
    rates = traffic.read_rates()
    if band is not None:
        rates = rates[band.keys]
    total = rates.sum()
    # Sum over keys weighted by reads: Σ λ h / Σ λ; misses per second Σ λ / (1 + λT).
    misses = (rates[:, None] / (1.0 + rates[:, None] * ttls[None, :])).sum(axis=0)
    hit = 1.0 - misses / total
    stale_of_hits = stale_share_of_hits_model(traffic.write_rate_per_second, ttls)
    return {
        "ttl_seconds": ttls,
        "hit_ratio": hit,
        "stale_share_of_hits": stale_of_hits,
        "stale_read_share": hit * stale_of_hits,
        "db_reads_per_second": misses,
    }


def model(traffic: Traffic, ttl_seconds: float) -> ModelResult:
    """The closed-form prediction for ``traffic`` under one TTL."""
    ttl = _check_ttl(ttl_seconds)
    curve = model_curve(traffic, ttl)
    bands = tuple(
        float(model_curve(traffic, ttl, band)["hit_ratio"][0])
        for band in popularity_bands(traffic.n_keys)
    )
    return ModelResult(
        ttl_seconds=ttl,
        hit_ratio=float(curve["hit_ratio"][0]),
        stale_share_of_hits=float(curve["stale_share_of_hits"][0]),
        stale_read_share=float(curve["stale_read_share"][0]),
        db_reads_per_second=float(curve["db_reads_per_second"][0]),
        mean_stale_age_seconds=mean_stale_age_model(traffic.write_rate_per_second, ttl),
        band_hit_ratios=bands,
    )


def _solve_ttl(f: Any, target: float, *, low: float = 1e-4, high: float = 1e7) -> float:
    """The TTL where the increasing function f crosses ``target`` (bisection on log T)."""
    if f(low) >= target:
        return low
    if f(high) < target:
        return math.inf
    lo, hi = math.log(low), math.log(high)
    for _ in range(60):
        mid = (lo + hi) / 2
        if f(math.exp(mid)) < target:
            lo = mid
        else:
            hi = mid
    return math.exp(hi)


def longest_ttl_within(traffic: Traffic, stale_read_budget: float) -> float:
    """The longest TTL whose stale reads stay within ``stale_read_budget`` (a share of reads)."""
    budget = _check_fraction("stale_read_budget", stale_read_budget)
    if traffic.writes_per_key_per_hour == 0:
        return math.inf
    if budget == 0:
        return 0.0  # any TTL serves some reads after a write
    # stale_read_share rises with T, so the crossing is the longest TTL within budget.
    return _solve_ttl(
        lambda t: float(model_curve(traffic, t)["stale_read_share"][0]), budget * (1 + 1e-12)
    )


# ---------------------------------------------------------------------------------
# Cost: when is the cache worth its round trip?
# ---------------------------------------------------------------------------------


def _check_costs(cache_ms: Any, db_ms: Any) -> tuple[float, float]:
    return (
        _check_rate("cache_ms", cache_ms, allow_zero=True),
        _check_rate("db_ms", db_ms, allow_zero=False),
    )


def read_latency_ms(hit_ratio: Any, cache_ms: float, db_ms: float) -> Any:
    """Mean read latency through a cache-aside cache.

    Every read pays one cache round trip (the GET); a miss also pays the query and
    a second round trip (the SET that refills the entry).
    """
    cache_ms, db_ms = _check_costs(cache_ms, db_ms)
    miss = 1.0 - np.asarray(hit_ratio, dtype=float)
    return cache_ms + miss * (db_ms + cache_ms)


def break_even_hit_ratio(cache_ms: float, db_ms: float) -> float:
    """The hit ratio at which the cache saves exactly what it costs: 2c / (c + d).

    From c + (1 - h)(d + c) = d.  Below it, reading the database directly is faster.
    """
    cache_ms, db_ms = _check_costs(cache_ms, db_ms)
    return 2 * cache_ms / (cache_ms + db_ms)


def break_even_ttl(traffic: Traffic, cache_ms: float, db_ms: float) -> float:
    """The TTL below which the cache is pure overhead (``math.inf`` if it always is)."""
    target = break_even_hit_ratio(cache_ms, db_ms)
    if target >= 1:
        return math.inf
    return _solve_ttl(lambda t: float(model_curve(traffic, t)["hit_ratio"][0]), target)
