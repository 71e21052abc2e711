"""Eviction: which keys a full cache throws out, and what that costs.

A fast in-process simulator of thirteen policies - from FIFO and LRU to SIEVE,
S3-FIFO, ARC, W-TinyLFU, Redis's sampled approximations and Belady's optimum -
hit-ratio curves estimated from a sample of the keys (SHARDS' spatial sampling;
for policies other than LRU, a scaled-down "miniature" simulation), and a demo of real evictions on a
redis-server the lab owns.  The package exports the engine; the lesson layer
(``explore``, ``explore_timeline``, ``table``, ``show_redis_demo``,
``exercises``) loads on first use.

>>> from labkit import eviction, workloads
>>> trace = workloads.zipf(100_000, 10_000, alpha=0.8)
>>> eviction.simulate(trace, "sieve", 1_000).hit_ratio  # doctest: +SKIP
"""


from ..course import lesson_attributes
from . import simulator
from .policies import POLICY_CLASSES, Policy, next_use_positions
from .redis_demo import DEMO_POLICIES, RedisDemo, RedisRun, real_eviction_demo, redis_config
from .simulator import *  # noqa: F403 - the package exports the simulator's __all__ (added below)

# The lesson layer (charts, widgets) loads when a notebook first asks for it.
_LESSON = ("explore", "explore_timeline", "table", "show_redis_demo", "exercises")

__all__ = [
    *simulator.__all__,
    "POLICY_CLASSES",
    "Policy",
    "next_use_positions",
    "DEMO_POLICIES",
    "RedisDemo",
    "RedisRun",
    "real_eviction_demo",
    "redis_config",
    *_LESSON,
]

__getattr__ = lesson_attributes(__name__, {*_LESSON, "sizing_trace", "lesson"})
