"""The numbers behind notebook 05's charts: its seeded traces and each policy's hit ratio on them.

Memoised (:func:`labkit.memo.memo`), so a chart, an exercise's check and a claim
that ask for the same point simulate it once.

>>> hit_ratio("loop", 0.8, "lru", 50) == 0.0  # LRU on a loop larger than the cache
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import workloads
from ..errors import check_choice
from ..memo import memo
from .simulator import LRUCurve, hit_ratio_curve, hit_ratio_timeline, lru_curve, simulate

N_REQUESTS = 50_000
N_KEYS = 5_000
LESSON_SHAPES = ("zipf", "zipf+scan", "loop", "shifting")
CAPACITY_PERCENTS = (1, 2, 5, 10, 20, 30, 50)
POLICY_SETS: dict[str, tuple[str, ...]] = {
    "classic: lru fifo lfu clock": ("lru", "fifo", "lfu", "clock"),
    "modern: lru sieve s3fifo arc tinylfu": ("lru", "sieve", "s3fifo", "arc", "tinylfu"),
    "redis: lru redis-lru redis-lfu random": ("lru", "redis-lru", "redis-lfu", "random"),
}
# Names on charts (the simulator's names are lower case).
LABELS = {
    "lru": "LRU", "fifo": "FIFO", "random": "Random", "lfu": "LFU", "clock": "CLOCK",
    "sieve": "SIEVE", "s3fifo": "S3-FIFO", "arc": "ARC", "tinylfu": "W-TinyLFU",
    "redis-lru": "Redis LRU", "redis-lfu": "Redis LFU", "volatile-ttl": "volatile-ttl",
    "opt": "OPT",
}


@memo(maxsize=16)
def lesson_trace(shape: str, alpha: float = 0.8, *, n_requests: int = N_REQUESTS, n_keys: int = N_KEYS,
                 seed: int = 0) -> np.ndarray:
    """The notebook's traces, all over ``n_keys`` distinct keys:

    * ``zipf``: stable skewed popularity;
    * ``zipf+scan``: the same, with 30% of requests from a batch job reading a
      large range of keys once each (they pollute the cache);
    * ``loop``: keys 0..n_keys-1 in order, again and again (LRU's worst case);
    * ``shifting``: Zipf whose hot set moves to other keys three times.
    """
    check_choice("trace shape", shape, LESSON_SHAPES)
    if shape == "zipf":
        trace = workloads.zipf(n_requests, n_keys, alpha, seed=seed)
    elif shape == "loop":
        trace = workloads.loop(n_requests, n_keys)
    elif shape == "shifting":
        trace = workloads.shifting(n_requests, n_keys, alpha, phases=4, seed=seed)
    else:
        hot_share = 0.7
        hot = workloads.zipf(n_requests, n_keys, alpha, seed=seed)
        scan_keys = np.arange(n_requests, dtype=np.int64) % (4 * n_keys) + n_keys
        is_scan = np.random.default_rng(seed + 11).random(n_requests) >= hot_share
        trace = np.where(is_scan, scan_keys, hot)
        # renumber so that capacity percentages refer to the keys actually used
        trace = np.unique(trace, return_inverse=True)[1].astype(np.int64)
    trace.setflags(write=False)
    return trace


@memo(maxsize=256)
def _capacity(shape: str, alpha: float, percent: float) -> int:
    distinct = int(len(np.unique(lesson_trace(shape, alpha))))
    return max(1, round(distinct * percent / 100))


@memo(maxsize=4096)
def hit_ratio(shape: str, alpha: float, policy: str, percent: float) -> float:
    """Hit ratio of ``policy`` on a lesson trace, capacity as % of its distinct keys."""
    trace = lesson_trace(shape, alpha)
    capacity = _capacity(shape, alpha, percent)
    if policy == "lru":
        return _lru(shape, alpha).hit_ratio(capacity)
    return simulate(trace, policy, capacity).hit_ratio


@memo(maxsize=16)
def _lru(shape: str, alpha: float) -> LRUCurve:
    return lru_curve(lesson_trace(shape, alpha))


def compare(shape: str, percent: float, policies: tuple[str, ...], alpha: float = 0.8) -> dict[str, float]:
    """Hit ratio per policy (and OPT) at one capacity: what the bar chart shows."""
    return {p: hit_ratio(shape, alpha, p, percent) for p in (*policies, "opt")}


def curves(shape: str, alpha: float, policies: tuple[str, ...]) -> dict[str, list[float]]:
    """Hit ratio per policy (and OPT) at every capacity of the slider."""
    return {p: [hit_ratio(shape, alpha, p, c) for c in CAPACITY_PERCENTS] for p in (*policies, "opt")}


def timelines(policies: tuple[str, ...], percent: float = 10, *, alpha: float = 0.8,
              window: int = 2_500) -> dict[str, np.ndarray]:
    """Hit ratio per window of requests on the shifting trace, per policy."""
    capacity = _capacity("shifting", alpha, percent)
    return {p: _timeline(p, capacity, alpha, window) for p in policies}


@memo(maxsize=64)
def _timeline(policy: str, capacity: int, alpha: float, window: int) -> np.ndarray:
    series = hit_ratio_timeline(lesson_trace("shifting", alpha), policy, capacity, window=window)
    series.setflags(write=False)
    return series


TIMELINE_POLICIES = ("lru", "lfu", "arc", "s3fifo", "tinylfu")
TIMELINE_WINDOW = 2_500


def phase_means(percent: float = 10) -> tuple[dict[str, float], dict[str, float]]:
    """Mean hit ratio per policy in the first quarter (after warm-up) and the last."""
    series = timelines(TIMELINE_POLICIES, percent, window=TIMELINE_WINDOW)
    quarter = len(series["lru"]) // 4
    first = {p: float(np.mean(series[p][1:quarter])) for p in TIMELINE_POLICIES}
    last = {p: float(np.mean(series[p][-quarter:])) for p in TIMELINE_POLICIES}
    return first, last


LOOP_TABLE_POLICIES = ("lru", "fifo", "sieve", "s3fifo", "tinylfu", "opt")


def loop_hit_ratios(trace: Any, capacity: int,
                    policies: tuple[str, ...] = LOOP_TABLE_POLICIES) -> dict[str, float]:
    """Each policy's hit ratio on ``trace`` at ``capacity``."""
    return {p: simulate(trace, p, capacity).hit_ratio for p in policies}


WORKLOAD_STORIES = {
    "catalogue": ("zipf", "product pages: the same best-sellers all day (stable Zipf)"),
    "nightly-report": ("zipf+scan", "the same pages plus a report job reading every row once"),
    "news": ("shifting", "a news site whose top stories change every few hours"),
}
CANDIDATES = ("lru", "fifo", "random", "lfu", "clock", "sieve", "s3fifo", "arc", "tinylfu")


@memo(maxsize=4)
def best_picks(percent: float = 5) -> dict[str, dict[str, float]]:
    """Hit ratio of every candidate policy per workload story (the check's key)."""
    return {
        story: {p: hit_ratio(shape, 0.8, p, percent) for p in CANDIDATES}
        for story, (shape, _) in WORKLOAD_STORIES.items()
    }


# -- size a cache from a sampled hit-ratio curve ---------------------------------------
#
# The sample is SHARDS' spatial sampling (Waldspurger et al., FAST 2015): every request of
# about 10% of the keys, chosen by a hash.  S3-FIFO has no stack distances, so its curve is
# not SHARDS' reuse-distance histogram but a *miniature simulation* (Waldspurger et al.,
# USENIX ATC 2017): a real S3-FIFO cache, scaled down by the sampling rate, replaying the sample.

SIZING_POLICY = "s3fifo"
SIZING_TARGET = 0.7
SIZING_SAMPLE_RATE = 0.1
SIZING_CAPACITIES = tuple(range(5_000, 10_001, 500))
# How far a 10% sample's estimate strays from the full simulation here, in hit-ratio points:
# over 30 hash seeds, at 6,500-8,000 objects (where the curve crosses 70%), the estimate read
# between 1.4 points low and 0.4 point high (standard deviation 0.4; half a point low on
# average, as small scaled-down caches do).  So a size one sample shows reaching 70% has a
# full-simulation hit ratio from 70% - 0.5 to 70% + 1.5 points; outside that range the answer
# is not a reading of the curve but another size.  (tests/test_eviction.py measures the
# spread again over 12 seeds and holds these bounds to it.)
SIZING_READS_LOW = 0.015
SIZING_READS_HIGH = 0.005
SIZING_KEYS = 40_000
SPREAD_CAPACITIES = (6_500, 7_000, 7_500, 8_000)  # around the 70% crossing


@memo(maxsize=2)
def sizing_trace() -> np.ndarray:
    """The sizing exercise's trace: a day of catalogue reads, 200,000 requests over 40,000 keys."""
    trace = workloads.zipf(200_000, SIZING_KEYS, 0.9, seed=5)
    trace.setflags(write=False)
    return trace


@memo(maxsize=64)
def sizing_hit_ratio(capacity: int) -> float:
    """The exact hit ratio of the sizing policy at ``capacity`` (a full simulation)."""
    return simulate(sizing_trace(), SIZING_POLICY, capacity).hit_ratio


@memo(maxsize=8)
def sampled_sizing_curve(sample_rate: float = SIZING_SAMPLE_RATE, seed: int = 0) -> tuple[float, ...]:
    """The sampled estimate (a miniature simulation) at every capacity of the exercise."""
    return tuple(float(v) for v in hit_ratio_curve(sizing_trace(), SIZING_POLICY, SIZING_CAPACITIES,
                                                   sample_rate=sample_rate, seed=seed))


@memo(maxsize=2)
def sampling_spread(seeds: int = 12) -> tuple[float, float]:
    """How far the sampled estimate strays from the full simulation around the crossing:
    (most it reads low, most it reads high), in hit-ratio points (0-1), over ``seeds`` hash seeds."""
    exact = np.array([sizing_hit_ratio(c) for c in SPREAD_CAPACITIES])
    gaps = np.array([hit_ratio_curve(sizing_trace(), SIZING_POLICY, SPREAD_CAPACITIES,
                                     sample_rate=SIZING_SAMPLE_RATE, seed=seed) - exact for seed in range(seeds)])
    return float(-gaps.min()), float(gaps.max())


def sizing_answer() -> int:
    """The reference answer: the smallest listed capacity whose sampled estimate reaches the target."""
    estimate = sampled_sizing_curve()
    return next(c for c, v in zip(SIZING_CAPACITIES, estimate, strict=True) if v >= SIZING_TARGET)
