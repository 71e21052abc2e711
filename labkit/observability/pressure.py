"""Memory pressure: is the cache too small, or is its TTL too short?

Both show up as the same symptom - a low hit ratio - and call for opposite fixes
(more memory, or a longer TTL).  The server's own counters tell them apart:

* ``evicted_keys`` - keys Redis threw out to stay under ``maxmemory``: the cache
  is full.  A cache sized for 90 % hits evicts its tail all the time too, so
  evictions alone are not a diagnosis: read them with the hit ratio.
* ``expired_keys`` - keys whose TTL ran out: they left on their own, with memory
  to spare.

:func:`model_run` replays the sizing workload through exact LRU with TTLs on a
virtual clock (computed, the same every run); :func:`server_run` replays it on a
redis-server the lab starts itself, with ``maxmemory`` set, paced so that TTLs run
on the server's clock, and reads ``INFO``.  fakeredis never evicts, so there only
the model runs, and says so.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..errors import LabError
from ..store import RedisStore
from . import sizing

__all__ = ["PressureCase", "CASES", "Counters", "model_run", "server_run", "DIAGNOSES", "diagnosis_of"]

DIAGNOSES = ("too small", "TTL too short", "healthy")
REPLAY_REQUESTS = 50_000  # the first half of the sizing trace
REPLAY_RATE = 50_000.0  # requests per second, on the virtual clock and on the server


@dataclass(frozen=True)
class PressureCase:
    """One cache: its memory (a share of the 90 % plan's budget) and its TTL."""

    name: str
    budget_share: float
    ttl_seconds: float
    truth: str  # which of DIAGNOSES it is

    @property
    def budget_bytes(self) -> int:
        return int(sizing.plan_for(0.9).budget_bytes * self.budget_share)

    @property
    def capacity_keys(self) -> int:
        return self.budget_bytes // sizing.key_bytes()


# Three caches on the same traffic.  The TTL of 0.05 s is 2,500 requests at 50,000 a second.
CASES: tuple[PressureCase, ...] = (
    PressureCase("cache 1", 2.0, 0.05, "TTL too short"),
    PressureCase("cache 2", 1.0, 3_600.0, "healthy"),
    PressureCase("cache 3", 0.25, 3_600.0, "too small"),
)


@dataclass(frozen=True)
class Counters:
    """What ``INFO stats`` counted over one run (or the model computed), and where from."""

    name: str
    keyspace_hits: int
    keyspace_misses: int
    expired_keys: int
    evicted_keys: int
    source: str  # "server" or "computed"

    @property
    def hit_ratio(self) -> float:
        looked = self.keyspace_hits + self.keyspace_misses
        return self.keyspace_hits / looked if looked else 0.0

    def as_row(self) -> dict[str, str]:
        return {
            "cache": self.name,
            "hit ratio": f"{self.hit_ratio:.1%}",
            "keyspace_misses": f"{self.keyspace_misses:,}",
            "expired_keys": f"{self.expired_keys:,}",
            "evicted_keys": f"{self.evicted_keys:,}",
            "source": self.source,
        }


def _trace() -> np.ndarray:
    return sizing.sizing_trace()[:REPLAY_REQUESTS]


def model_run(case: PressureCase) -> Counters:
    """Exact LRU with a TTL per key, ``capacity_keys`` big, requests at :data:`REPLAY_RATE`.

    A key whose TTL has passed counts as expired when it is next read, when it reaches
    the LRU end (Redis's active expiry would have reaped it before memory ran out), or
    at the end of the run; only a live key pushed out by a new one counts as evicted."""
    capacity = case.capacity_keys
    if capacity < 1:
        raise LabError(f"{case.name}: a budget of {case.budget_bytes:,} B holds no key at all.")
    cache: OrderedDict[int, float] = OrderedDict()  # key -> deadline, least recently used first
    hits = misses = expired = evicted = 0
    now = 0.0
    for i, key in enumerate(_trace().tolist()):
        now = i / REPLAY_RATE
        deadline = cache.get(key)
        if deadline is not None and deadline > now:
            hits += 1
            cache.move_to_end(key)
            continue
        if deadline is not None:
            del cache[key]
            expired += 1
        misses += 1
        cache[key] = now + case.ttl_seconds
        while len(cache) > capacity:
            _oldest, old_deadline = cache.popitem(last=False)
            if old_deadline <= now:
                expired += 1
            else:
                evicted += 1
    expired += sum(1 for deadline in cache.values() if deadline <= now)
    return Counters(case.name, hits, misses, expired, evicted, "computed")


def server_run(case: PressureCase, client, store: RedisStore) -> Counters:
    """The same replay on a lab-owned server (``client``): GET, then SET PX on a miss."""
    keys = [store.k(sizing.SIZING.key(k)) for k in _trace().tolist()]
    run = sizing._replay(
        client, store, keys, "v" * sizing.SIZING.value_bytes, "allkeys-lru", case.budget_bytes,
        ttl_ms=max(1, round(case.ttl_seconds * 1000)), requests_per_second=REPLAY_RATE,
    )
    return Counters(case.name, run.keyspace_hits, run.keyspace_misses, run.expired_keys, run.evicted_keys, "server")


def run_cases(cases: tuple[PressureCase, ...] = CASES, store=None) -> tuple[list[Counters], list[Counters], str]:
    """Every case through the model, and on a server the lab owns when there is one:
    ``(computed, from the server, where or why not)``."""
    from ..eviction.redis_demo import demo_server

    computed = [model_run(case) for case in cases]
    with demo_server(store) as found:
        if isinstance(found, str):
            return computed, [], found.split(";")[0]  # the reason, without notebook 05's pointer to its simulator
        client, where = found
        own = RedisStore(client, backend="redis", namespace=sizing.SIZING_NAMESPACE, learner=sizing.SIZING_LEARNER)
        return computed, [server_run(case, client, own) for case in cases], where


def diagnosis_of(counters: Counters, target: float = 0.85) -> str:
    """The reading an operator makes: a hit ratio at target is healthy (evictions or
    not); below it, whichever of ``expired_keys`` and ``evicted_keys`` dominates."""
    if counters.hit_ratio >= target:
        return "healthy"
    return "TTL too short" if counters.expired_keys > counters.evicted_keys else "too small"
