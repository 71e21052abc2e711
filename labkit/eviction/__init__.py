"""Eviction: which keys a full cache throws out, and what that costs.

A fast in-process simulator of thirteen policies - from FIFO and LRU to SIEVE,
S3-FIFO, ARC, W-TinyLFU, Redis's sampled approximations and Belady's optimum -
a SHARDS sampler for hit-ratio curves, and a demo of real evictions on a
redis-server the lab owns.  The package exports the engine; the lesson layer
(``explore``, ``explore_timeline``, ``table``, ``show_redis_demo``,
``exercises``) loads on first use.

>>> from labkit import eviction, workloads
>>> trace = workloads.zipf(100_000, 10_000, alpha=0.8)
>>> eviction.simulate(trace, "sieve", 1_000).hit_ratio  # doctest: +SKIP
"""


from ..course import lesson_attributes
from .policies import POLICY_CLASSES, Policy, next_use_positions
from .redis_demo import DEMO_POLICIES, RedisDemo, RedisRun, real_eviction_demo, redis_config
from .simulator import (
    POLICIES,
    LRUCurve,
    SimResult,
    as_trace,
    capacities_for,
    hit_ratio_curve,
    hit_ratio_timeline,
    load_trace,
    lru_curve,
    make_policy,
    sampling_error,
    shards_sample,
    simulate,
    stack_distances,
    write_oracle_general,
)

__all__ = [
    "POLICIES",
    "POLICY_CLASSES",
    "Policy",
    "SimResult",
    "LRUCurve",
    "make_policy",
    "simulate",
    "lru_curve",
    "stack_distances",
    "hit_ratio_curve",
    "hit_ratio_timeline",
    "shards_sample",
    "sampling_error",
    "capacities_for",
    "load_trace",
    "write_oracle_general",
    "next_use_positions",
    "as_trace",
    "explore",
    "explore_timeline",
    "table",
    "show_redis_demo",
    "exercises",
    "DEMO_POLICIES",
    "RedisDemo",
    "RedisRun",
    "real_eviction_demo",
    "redis_config",
]

_LESSON = {"explore", "explore_timeline", "table", "show_redis_demo", "exercises", "sizing_trace"}


__getattr__ = lesson_attributes(__name__, _LESSON | {"lesson"})
