"""Eviction policies: one small class each, on one shared base, by family.

=============  ====================================================
``classic``    LRU, FIFO, CLOCK, Random, LFU
``modern``     SIEVE, S3-FIFO, ARC
``tinylfu``    W-TinyLFU (Caffeine's, and libCacheSim's variant)
``sampled``    Redis's allkeys-lru, allkeys-lfu and volatile-ttl
``opt``        Belady's clairvoyant optimum
=============  ====================================================

Every policy states its rule twice.  :meth:`Policy.access` handles one request
and is written to be read.  :meth:`Policy.run` replays a chunk of requests (a
plain ``list`` of int keys) and returns the hits; it repeats the rule as one
fast loop, because a method call per request would halve the speed: one call
per chunk, locals bound outside the loop, rare paths (evictions that walk a
queue) in helper methods.  That inline repetition is deliberate, and a test
holds every pair to the same hit count on every trace shape.  To add a policy,
subclass :class:`Policy`, write ``access`` first, add it to
:data:`POLICY_CLASSES`, and write ``run`` only if it must be fast.

Capacities count objects (every object has size 1), as in the textbook
definitions and in libCacheSim when each request's size is 1.
"""

from __future__ import annotations

from .base import Policy
from .classic import FIFO, LFU, LRU, Clock, RandomEviction
from .modern import ARC, S3FIFO, Sieve
from .opt import OPT, next_use_positions
from .sampled import RedisLFU, RedisLRU, VolatileTTL
from .tinylfu import TinyLFU

__all__ = [
    "Policy",
    "LRU",
    "FIFO",
    "RandomEviction",
    "LFU",
    "Clock",
    "Sieve",
    "S3FIFO",
    "ARC",
    "TinyLFU",
    "RedisLRU",
    "RedisLFU",
    "VolatileTTL",
    "OPT",
    "POLICY_CLASSES",
    "next_use_positions",
]

POLICY_CLASSES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (
        LRU, FIFO, RandomEviction, LFU, Clock, Sieve, S3FIFO, ARC, TinyLFU,
        RedisLRU, RedisLFU, VolatileTTL, OPT,
    )
}
