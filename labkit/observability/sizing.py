"""How much memory to buy: from a hit-ratio curve to ``maxmemory``, then checked.

1. The workload's LRU hit-ratio curve, exact for every capacity in one pass
   (stack distances, Mattson et al. 1970), or estimated from a 10% SHARDS
   sample (Waldspurger et al., FAST 2015) - both from notebook 05's engine.
2. The smallest capacity that reaches the target hit ratio, times the bytes one
   key really takes (:func:`~.cost.bytes_per_key`): the memory budget.
3. :func:`verify_on_server` sets that ``maxmemory`` (above the empty server's own
   use) on a redis-server the lab starts itself, replays the same requests as
   cache-aside reads (each ``SET`` with a TTL, as a cache's, so each key also pays
   for its expires-dict entry), and reads the server's ``INFO`` counters.  A
   learner's own server is never reconfigured.

Where the server differs from the prediction, two things explain it: the server
holds a little less than the budget divided by :func:`bytes_per_key` (the hash
tables grow in powers of two, client buffers), and Redis's LRU is approximate - it
samples 5 keys into a 16-entry pool of candidates and evicts the idlest, with
idleness read from a clock that ticks once a second.  In a replay of about a second
every key looks equally recent, so the choice is close to random; traffic spread
over hours lets the clock resolve, and sampled LRU then lands within a fraction of
a point of exact LRU (``simulate(trace, "redis-lru", ...)``).  Random eviction at
the same number of keys is the floor of the replay; exact LRU is the ceiling.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LabError
from ..eviction.simulator import LRUCurve, hit_ratio_curve, lru_curve, simulate
from ..memo import memo
from ..store import RedisStore
from ..workloads import zipf
from .cost import bytes_per_key

__all__ = [
    "SizingWorkload",
    "SIZING",
    "SizingPlan",
    "ServerRun",
    "Verification",
    "sizing_trace",
    "sizing_curve",
    "shards_curve",
    "shards_errors",
    "key_bytes",
    "capacity_for",
    "plan_for",
    "hit_ratio_for_budget",
    "random_floor",
    "verify_on_server",
]

SIZING_NAMESPACE, SIZING_LEARNER = "10", "sizing"  # keys on the lab's own server: labkit:sizing:10:size:<id>
_BATCH = 500  # requests per EVALSHA: small, so reply buffers stay far below the budget

SIZING_TTL_MS = 3_600_000  # a cache sets a TTL (an hour here: longer than any replay), and pays for it

# One cache-aside read per key, in order, inside the server: GET, and SET with a TTL on a miss.
_GET_OR_FILL = """
local hits = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) then hits = hits + 1 else redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
end
return hits
"""


@dataclass(frozen=True)
class SizingWorkload:
    """The requests to size for: Zipf reads over ``n_keys`` values of ``value_bytes``."""

    n_keys: int = 10_000
    n_requests: int = 100_000
    alpha: float = 1.1
    value_bytes: int = 200
    seed: int = 10

    def prefix(self) -> str:
        return f"labkit:{SIZING_LEARNER}:{SIZING_NAMESPACE}:"

    def key(self, key_id: int) -> str:
        return f"size:{key_id}"


SIZING = SizingWorkload()


@memo(maxsize=8)
def sizing_trace(workload: SizingWorkload = SIZING) -> np.ndarray:
    return zipf(workload.n_requests, workload.n_keys, workload.alpha, seed=workload.seed)


@memo(maxsize=8)
def sizing_curve(workload: SizingWorkload = SIZING) -> LRUCurve:
    return lru_curve(sizing_trace(workload))


@memo(maxsize=16)
def shards_curve(rate: float = 0.1, workload: SizingWorkload = SIZING, seed: int = 0) -> np.ndarray:
    """LRU hit ratio at capacities 1..distinct keys, estimated from a ``rate`` SHARDS sample
    (``seed`` picks the hash, so which keys the sample holds)."""
    capacities = range(1, sizing_curve(workload).distinct_keys + 1)
    return hit_ratio_curve(sizing_trace(workload), "lru", list(capacities), sample_rate=rate, seed=seed)


def shards_errors(target: float = 0.9, rate: float = 0.1, seeds: Any = range(10),
                  workload: SizingWorkload = SIZING) -> list[float]:
    """For each hash seed, how far the SHARDS sample's capacity for ``target`` lands from
    the exact one (0.14: 14% more keys).  One sample's error is one draw of this spread."""
    exact = plan_for(target, workload).capacity_keys
    out = []
    for seed in seeds:
        found = capacity_for(shards_curve(rate, workload, seed), target) or sizing_curve(workload).distinct_keys
        out.append(found / exact - 1)
    return out


def key_bytes(workload: SizingWorkload = SIZING) -> int:
    """Bytes one cached key adds to ``used_memory`` (the largest over the key names used)."""
    value = "v" * workload.value_bytes
    return max(bytes_per_key(workload.prefix() + workload.key(i), value) for i in (0, workload.n_keys - 1))


def capacity_for(hit_ratios: np.ndarray, target: float) -> int | None:
    """Smallest capacity (index into ``hit_ratios``, where entry c is capacity c+1)
    reaching ``target``; None if no capacity does."""
    reached = np.flatnonzero(np.asarray(hit_ratios) >= target)
    return int(reached[0]) + 1 if reached.size else None


def _check_target(target: float, workload: SizingWorkload) -> float:
    ceiling = sizing_curve(workload).hit_ratio(sizing_curve(workload).distinct_keys)
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < ceiling:
        raise LabError(
            f"target must be a hit ratio between 0 and {ceiling:.3f} (got {target!r}); above that even "
            "an infinite cache misses, because every key's first read is a miss."
        )
    return float(target)


@dataclass(frozen=True)
class SizingPlan:
    """A memory budget for a target hit ratio, and what it predicts."""

    target: float
    capacity_keys: int
    bytes_per_key: int
    value_bytes: int
    predicted_hit_ratio: float
    predicted_evictions: int
    shards_rate: float
    shards_capacity_keys: int
    distinct_keys: int

    @property
    def budget_bytes(self) -> int:
        """Memory for the cached data, above what the empty server already uses."""
        return self.capacity_keys * self.bytes_per_key

    @property
    def shards_budget_bytes(self) -> int:
        return self.shards_capacity_keys * self.bytes_per_key

    @property
    def values_only_bytes(self) -> int:
        """The budget if only the values' own bytes were counted (too small)."""
        return self.capacity_keys * self.value_bytes

    def __str__(self) -> str:
        return (
            f"{self.target:.0%} needs {self.capacity_keys:,} keys x {self.bytes_per_key} B = "
            f"{self.budget_bytes / 2**20:.2f} MiB (SHARDS {self.shards_rate:.0%} sample: "
            f"{self.shards_capacity_keys:,} keys)"
        )


def predicted_evictions(curve: LRUCurve, capacity: int) -> int:
    """Every miss fills the cache; what does not fit at the end was evicted."""
    misses = curve.requests - curve.hits(capacity)
    return int(misses - min(capacity, curve.distinct_keys))


@memo(maxsize=32)
def plan_for(target: float = 0.9, workload: SizingWorkload = SIZING, shards_rate: float = 0.1) -> SizingPlan:
    """The memory budget for ``target`` from the exact curve, with SHARDS's estimate beside it."""
    target = _check_target(target, workload)
    curve = sizing_curve(workload)
    exact = curve.hits_by_capacity[1:] / curve.requests
    capacity = capacity_for(exact, target)
    shards_capacity = capacity_for(shards_curve(shards_rate, workload), target) or curve.distinct_keys
    assert capacity is not None  # _check_target keeps the target reachable
    return SizingPlan(
        target=target,
        capacity_keys=capacity,
        bytes_per_key=key_bytes(workload),
        value_bytes=workload.value_bytes,
        predicted_hit_ratio=curve.hit_ratio(capacity),
        predicted_evictions=predicted_evictions(curve, capacity),
        shards_rate=shards_rate,
        shards_capacity_keys=shards_capacity,
        distinct_keys=curve.distinct_keys,
    )


def hit_ratio_for_budget(budget_bytes: float, workload: SizingWorkload = SIZING) -> float:
    """What the model predicts for a budget: LRU at ``budget // bytes_per_key`` keys."""
    capacity = int(budget_bytes // key_bytes(workload))
    return sizing_curve(workload).hit_ratio(capacity) if capacity >= 1 else 0.0


@memo(maxsize=32)
def random_floor(capacity_keys: int, workload: SizingWorkload = SIZING) -> float:
    """Hit ratio of random eviction at ``capacity_keys``: what an LRU approximation that
    cannot tell keys apart falls back to."""
    return simulate(sizing_trace(workload), "random", max(1, capacity_keys)).hit_ratio


# -- on a server the lab owns -------------------------------------------------------------


@dataclass(frozen=True)
class ServerRun:
    """One replay on the lab's server under one policy: its own INFO counters."""

    policy: str
    maxmemory_bytes: int
    baseline_bytes: int
    keys_held: int
    keyspace_hits: int
    keyspace_misses: int
    evicted_keys: int
    seconds: float
    expired_keys: int = 0
    # Under allkeys-lfu: (key, GETs in the trace, OBJECT FREQ) for a few keys, hottest first.
    object_freqs: tuple[tuple[str, int, int], ...] = ()

    @property
    def hit_ratio(self) -> float:
        looked = self.keyspace_hits + self.keyspace_misses
        return self.keyspace_hits / looked if looked else 0.0


@dataclass
class Verification:
    """Predicted next to measured, or why nothing could run."""

    budget_bytes: int
    predicted_hit_ratio: float
    predicted_evictions: int
    planned_keys: int
    where: str = ""
    runs: list[ServerRun] = field(default_factory=list)
    skipped_reason: str = ""

    def run(self, policy: str) -> ServerRun:
        for r in self.runs:
            if r.policy == policy:
                return r
        raise LabError(f"No run under {policy!r}; this verification ran {', '.join(r.policy for r in self.runs)}.")

    def rows(self, workload: SizingWorkload = SIZING) -> list[dict[str, str]]:
        curve = sizing_curve(workload)
        out = [
            {
                "": "predicted (exact LRU, model)",
                "keys held": f"{self.planned_keys:,}",
                "hit ratio": f"{self.predicted_hit_ratio:.1%}",
                "evicted keys": f"{self.predicted_evictions:,}",
                "exact LRU, same keys": f"{self.predicted_hit_ratio:.1%}",
                "random eviction, same keys": f"{random_floor(self.planned_keys, workload):.1%}",
            }
        ]
        for r in self.runs:
            out.append(
                {
                    "": f"server, {r.policy} (INFO)",
                    "keys held": f"{r.keys_held:,}",
                    "hit ratio": f"{r.hit_ratio:.1%}",
                    "evicted keys": f"{r.evicted_keys:,}",
                    "exact LRU, same keys": f"{curve.hit_ratio(max(r.keys_held, 1)):.1%}",
                    "random eviction, same keys": f"{random_floor(r.keys_held, workload):.1%}",
                }
            )
        return out

    def __str__(self) -> str:
        if self.skipped_reason:
            return f"Not verified on a server: {self.skipped_reason}"
        return "\n".join(
            f"{r['']:32} keys {r['keys held']:>6}  hit ratio {r['hit ratio']:>6}  evicted {r['evicted keys']:>7}"
            for r in self.rows()
        )


def _db_keys(info: dict[str, Any]) -> int:
    db = info.get("db0")
    return int(db["keys"]) if isinstance(db, dict) else 0


def _replay(
    client: Any, store: RedisStore, keys: list[str], value: str, policy: str, budget_bytes: int, *,
    ttl_ms: int = SIZING_TTL_MS, requests_per_second: float | None = None,
) -> ServerRun:
    """Replay ``keys`` as cache-aside reads (SET with ``PX ttl_ms`` on a miss) under
    ``maxmemory`` = the empty server's use + ``budget_bytes``; paced at
    ``requests_per_second`` when given (TTLs run on the server's clock), else flat out."""
    from ..eviction.redis_demo import redis_config

    script = client.register_script(_GET_OR_FILL)
    with redis_config(client, maxmemory="0", maxmemory_policy=policy):
        # Warm up first: load the script, size the client's buffers for a full batch and
        # let INFO allocate its reply, so the baseline holds everything but the keys.
        script(keys=[store.k(f"warm-up:{i}") for i in range(_BATCH)], args=[value, SIZING_TTL_MS])
        store.reset()
        client.info("memory"), client.info("stats")
        client.config_resetstat()
        keys_before = _db_keys(client.info("keyspace"))
        baseline = int(client.info("memory")["used_memory"])
        limit = baseline + int(budget_bytes)
        client.config_set("maxmemory", str(limit))
        started = time.perf_counter()
        for i in range(0, len(keys), _BATCH):
            if requests_per_second:
                ahead = started + i / requests_per_second - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            script(keys=keys[i : i + _BATCH], args=[value, int(ttl_ms)])
        seconds = time.perf_counter() - started
        # One INFO for counters and key count: any later command may evict a few more keys.
        stats = client.info("stats", "keyspace")
        held = _db_keys(stats) - keys_before
        freqs = _object_freqs(client, store, keys) if policy == "allkeys-lfu" else ()
    store.reset()
    return ServerRun(
        policy, limit, baseline, held, int(stats["keyspace_hits"]), int(stats["keyspace_misses"]),
        int(stats["evicted_keys"]), seconds, int(stats["expired_keys"]), freqs,
    )


def _object_freqs(client: Any, store: RedisStore, keys: list[str], ranks: tuple[int, ...] = (0, 1, 10, 100)):
    """OBJECT FREQ of the keys of popularity ``ranks`` (0: the hottest), with their GET counts."""
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts, key=lambda k: -counts[k])
    out = []
    for rank in ranks:
        if rank < len(ranked) and client.exists(ranked[rank]):
            key = ranked[rank]
            out.append((key[len(store.prefix):], counts[key], int(client.object("freq", key))))
    return tuple(out)


def verify_on_server(
    budget_bytes: int,
    *,
    policies: tuple[str, ...] = ("allkeys-lru",),
    workload: SizingWorkload = SIZING,
    store: Any = None,
) -> Verification:
    """Replay the sizing workload on a server the lab owns with ``maxmemory`` = the
    empty server's use + ``budget_bytes``; see :func:`labkit.eviction.redis_demo.demo_server`
    for which server that is (never a learner's own)."""
    from ..eviction.redis_demo import demo_server

    if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, (int, np.integer)) or budget_bytes <= 0:
        raise LabError(f"budget_bytes must be a whole number of bytes > 0 (got {budget_bytes!r}).")
    for policy in policies:
        if policy not in ("allkeys-lru", "allkeys-lfu", "allkeys-random"):
            raise LabError(f"policy must be allkeys-lru, allkeys-lfu or allkeys-random (got {policy!r}).")
    curve = sizing_curve(workload)
    planned = int(budget_bytes // key_bytes(workload))
    result = Verification(
        budget_bytes=int(budget_bytes),
        predicted_hit_ratio=curve.hit_ratio(max(planned, 1)) if planned else 0.0,
        predicted_evictions=predicted_evictions(curve, max(planned, 1)),
        planned_keys=planned,
    )
    with demo_server(store) as found:
        if isinstance(found, str):
            result.skipped_reason = found.split(";")[0]  # without notebook 05's pointer to its simulator
            return result
        client, result.where = found
        own = RedisStore(client, backend="redis", namespace=SIZING_NAMESPACE, learner=SIZING_LEARNER)
        keys = [own.k(workload.key(k)) for k in sizing_trace(workload).tolist()]
        value = "v" * workload.value_bytes
        for policy in policies:
            result.runs.append(_replay(client, own, keys, value, policy, int(budget_bytes)))
    return result
