"""One virtual day, measured with the code the earlier notebooks taught.

Each measurement calls the module that taught it:

=====================  ==================================================================
what                   how
=====================  ==================================================================
requests, staleness,   every sampled request of the day, one by one, through
lost writes, latency   ``patterns.make_pattern`` on a ``MemoryStore`` and the SQLite
                       ``Database`` (virtual clock), judged by the ``StalenessMeter``
deploy warm-up         ``stampede.synchronized_expiry``: the warmed keys' refreshes per second
hot key at peak        ``stampede.simulate_traffic`` and ``simulate_herd`` at full traffic
memory                 ``eviction.simulate``: the day's reads through the chosen policy;
                       the replay asks the same policy which keys the node still holds
leaks                  ``layers.HttpCache`` (RFC 9111, hishel) as a shared CDN
=====================  ==================================================================

Every result is remembered per (data set, plan, seed), so changing one data set's
plan only replays that data set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..clock import VirtualClock
from ..database import Database
from ..eviction import make_policy
from ..eviction import simulate as simulate_eviction
from ..layers import Exchange, HttpCache
from ..layers.rfc9111 import Headers, Request
from ..layers.trace import Trace
from ..memo import memo
from ..metrics import StalenessMeter, percentile
from ..patterns import cache_key, make_pattern
from ..stampede import poisson_arrivals, simulate_herd, simulate_traffic, synchronized_expiry
from ..store import MemoryStore
from ..workloads import zipf
from .design import Plan
from .service import (
    CACHE_LATENCY_SECONDS,
    CRASH_AT_SECONDS,
    CRAWLER_AT_SECONDS,
    DATA_SETS,
    DAY_SECONDS,
    DB_LATENCY_SECONDS,
    DEPLOY_AT_SECONDS,
    HOURLY_TRAFFIC,
    PARALLEL_QUERIES,
    RESTART_AT_SECONDS,
    STALL_AT_SECONDS,
)

__all__ = [
    "DayTraffic",
    "ReplayResult",
    "HotKeyResult",
    "day_traffic",
    "replay_data_set",
    "hot_key_at_peak",
    "deploy_refreshes",
    "eviction_hit_ratio",
    "cdn_leaks",
    "cdn_stored_per_user",
]

CRAWL_SECONDS = 600.0       # the crawler reads the whole catalogue in ten minutes
CDN_PAGE_VIEWS = 600        # page views sent through the shared CDN per data set
_READ, _WRITE, _RESTART, _STALL, _CRASH = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class DayTraffic:
    """The day's sampled requests for one data set, in time order."""

    times: np.ndarray      # seconds since midnight
    keys: np.ndarray
    kinds: np.ndarray      # _READ, _WRITE, or an injected event

    @property
    def read_keys(self) -> np.ndarray:
        return self.keys[self.kinds == _READ]


def _times(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` arrival times spread over the day following :data:`HOURLY_TRAFFIC`."""
    weights = np.asarray(HOURLY_TRAFFIC, dtype=float)
    hours = rng.choice(24, size=n, p=weights / weights.sum())
    return hours * 3600.0 + rng.random(n) * 3600.0


@memo(maxsize=64)
def day_traffic(name: str, seed: int = 0) -> DayTraffic:
    """Reads, writes, the crawler's reads and the injected events of the day (seeded).

    The arrays are shared by every caller (the result is remembered), so they are
    read-only.
    """
    ds = DATA_SETS[name]
    rng = np.random.default_rng([seed, len(name), sum(map(ord, name))])
    parts_t = [_times(ds.reads_per_day, rng), _times(ds.writes_per_day, rng)]
    parts_k = [
        zipf(ds.reads_per_day, ds.keys, ds.alpha, seed=int(rng.integers(1 << 30))),
        zipf(ds.writes_per_day, ds.keys, ds.alpha, seed=int(rng.integers(1 << 30))),
    ]
    parts_kind = [np.full(ds.reads_per_day, _READ), np.full(ds.writes_per_day, _WRITE)]
    if ds.crawled:
        parts_t.append(CRAWLER_AT_SECONDS + np.arange(ds.keys) * (CRAWL_SECONDS / ds.keys))
        parts_k.append(np.arange(ds.keys))
        parts_kind.append(np.full(ds.keys, _READ))
    parts_t.append(np.array([RESTART_AT_SECONDS, STALL_AT_SECONDS, CRASH_AT_SECONDS]))
    parts_k.append(np.array([0, 0, 0]))
    parts_kind.append(np.array([_RESTART, _STALL, _CRASH]))
    times = np.concatenate(parts_t)
    order = np.argsort(times, kind="stable")
    arrays = (times[order], np.concatenate(parts_k)[order].astype(np.int64),
              np.concatenate(parts_kind)[order].astype(np.int8))
    for array in arrays:
        array.flags.writeable = False
    return DayTraffic(*arrays)


@dataclass(frozen=True)
class ReplayResult:
    """What one data set's day did, request by request."""

    reads: int
    writes: int
    hit_ratio: float
    db_reads: int
    db_write_queries: int
    stale_reads: int
    stale_share: float
    max_stale_seconds: float
    read_p99_ms: float
    lost_writes: int
    queries_per_second: np.ndarray   # DB queries started in each second of the day

    @property
    def db_queries(self) -> int:
        return int(self.queries_per_second.sum())


def replay_data_set(name: str, plan: Plan, seed: int = 0) -> ReplayResult:
    """Replay the day's requests for ``name`` through ``plan``'s pattern on a virtual clock.

    With ``invalidation="ttl-only"`` writes go straight to the database (a back
    office that never tells the cache); with ``"on-write"`` they go through the
    pattern.  Before each read, the plan's eviction policy (``eviction.make_policy``)
    says whether the node's memory still holds the key; if not, the key is deleted,
    so the memory budget costs misses like a full cache does.  At 20:00 the cache
    node restarts (the store and the policy lose every key).  At
    21:00 a write-behind worker hangs and stops flushing; at 21:10 it is killed,
    its queue is lost (``WriteBehind.crash``), and a new one starts.
    """
    # Only these fields change the replay; remembering by them alone means new
    # headers or a new stampede defense do not replay the day again.
    flush = plan.flush_interval_seconds if plan.pattern == "write-behind" else 0.0
    return _replay(name, plan.pattern, plan.ttl_seconds, plan.invalidation, flush,
                   plan.policy, plan.memory_objects, seed)


@memo(maxsize=256)
def _replay(name: str, pattern_name: str, ttl_seconds: float, invalidation: str,
            flush_interval_seconds: float, policy_name: str, memory_objects: int,
            seed: int) -> ReplayResult:
    traffic = day_traffic(name, seed)
    ds = DATA_SETS[name]
    clock = VirtualClock()
    store = MemoryStore(clock, namespace=f"capstone-{name}")
    db = Database(clock, rows=ds.keys, latency_seconds=DB_LATENCY_SECONDS,
                  parallel_queries=PARALLEL_QUERIES)

    def new_pattern():
        return make_pattern(pattern_name, store, db, ttl_seconds=ttl_seconds, clock=clock,
                            flush_interval_seconds=flush_interval_seconds or 1.0, flush_batch_size=100)

    pattern = new_pattern()
    # The eviction policy decides what the node's memory holds: a key it has evicted
    # is gone from the store too, whatever its TTL said.
    memory = make_policy(policy_name, memory_objects, seed=seed)
    through_cache = invalidation == "on-write"
    meter = StalenessMeter(db)
    per_second = np.zeros(int(DAY_SECONDS) + 1, dtype=np.int64)
    latencies: list[float] = []
    lost = reads = writes = hits = 0
    now, store_stats, db_stats = clock.now, store.stats, db.stats
    for i, (t, key, kind) in enumerate(zip(traffic.times.tolist(), traffic.keys.tolist(),
                                          traffic.kinds.tolist(), strict=True)):
        if now() < t:
            clock.set(t)
        queries_before = db_stats.queries
        if kind == _RESTART:
            store.reset()
            store_stats = store.stats  # reset() starts a fresh stats object
            memory = make_policy(policy_name, memory_objects, seed=seed)
            continue
        if kind == _STALL:
            if pattern_name == "write-behind":
                # A worker stuck on a dead connection never flushes; the app keeps
                # acknowledging writes into its queue.
                pattern.flush_interval_seconds = float("inf")
                pattern.flush_batch_size = 1 << 30
            continue
        if kind == _CRASH:
            if pattern_name == "write-behind":
                lost += len(pattern.crash())
                pattern = new_pattern()
            continue
        if kind == _READ and not memory.run([key]):
            store.delete(cache_key(key))  # evicted earlier; not part of this request's time
        started, commands, flushing = now(), store_stats.commands, pattern.stats.flush_seconds
        if kind == _WRITE:
            writes += 1
            if through_cache:
                pattern.write(key, f"w{i}")
            else:
                db.write(key, f"w{i}")
        else:
            reads += 1
            hits_before = pattern.stats.cache_hits
            row = pattern.read(key)
            hits += pattern.stats.cache_hits - hits_before
            clock.advance((store_stats.commands - commands) * CACHE_LATENCY_SECONDS)
            meter.observe(key, row.version, now())
            # The write-behind flusher runs off the request path in production.
            latencies.append(now() - started - (pattern.stats.flush_seconds - flushing))
        per_second[int(started)] += db_stats.queries - queries_before
    pattern.close()
    return ReplayResult(
        reads=reads,
        writes=writes,
        hit_ratio=hits / reads if reads else 0.0,
        db_reads=db_stats.reads,
        db_write_queries=db_stats.queries - db_stats.reads,
        stale_reads=meter.stale_reads,
        stale_share=meter.stale_share,
        max_stale_seconds=meter.max_stale_age_seconds,
        read_p99_ms=percentile(latencies, 99) * 1000,
        lost_writes=lost,
        queries_per_second=per_second,
    )


@dataclass(frozen=True)
class HotKeyResult:
    """The data set's hottest key through the evening peak, at full traffic."""

    reads_per_second: float
    max_queries_per_expiry: int
    mean_queries_per_expiry: float
    herd_p99_ms: float          # p99 of the reads that arrive while the expired key is rebuilt
    herd_latencies_ms: np.ndarray  # those readers' waits, in arrival order


@memo(maxsize=256)
def hot_key_at_peak(name: str, ttl_seconds: float, defense: str, seed: int = 0) -> HotKeyResult:
    """The hottest key, read at its peak rate, expiring again and again (notebook 04).

    ``simulate_traffic`` counts DB queries per expiry over at least an hour;
    ``simulate_herd`` gives the latencies of the readers who arrive in the four
    recompute times after the key expires.  XFetch meets an expired key like no
    defense at all (``simulate_herd`` documents why); only when it refreshed early
    in every window of the simulation did nobody wait.
    """
    ds = DATA_SETS[name]
    rate = ds.hot_key_reads_per_second
    seconds = max(3600.0, 4 * ttl_seconds)  # at least a few expiries, whatever the TTL
    report = simulate_traffic(
        defense, clients=max(1, int(rate * 10)), reads_per_client_per_second=rate / max(1, int(rate * 10)),
        seconds=seconds, ttl_seconds=ttl_seconds, recompute_seconds=ds.recompute_seconds,
        parallel_queries=PARALLEL_QUERIES, seed=seed,
    )
    herd_arrivals = poisson_arrivals(rate, 4 * ds.recompute_seconds, seed=seed + 1)
    herd = simulate_herd(
        "none" if defense == "xfetch" else defense,
        herd_arrivals if len(herd_arrivals) else np.zeros(1),
        recompute_seconds=ds.recompute_seconds, parallel_queries=PARALLEL_QUERIES, seed=seed,
    )
    # What the readers who arrive while the key is rebuilt wait (plus their cache lookup).
    waited = np.maximum(herd.latencies_seconds, 0.0) + CACHE_LATENCY_SECONDS
    if defense == "xfetch" and report.misses == 0:
        waited = np.full(1, CACHE_LATENCY_SECONDS)  # every refresh came early: nobody waited
    return HotKeyResult(
        reads_per_second=rate,
        max_queries_per_expiry=report.max_queries_per_expiry,
        mean_queries_per_expiry=report.mean_queries_per_expiry,
        herd_p99_ms=percentile(waited, 99) * 1000,
        herd_latencies_ms=herd.latencies_seconds * 1000,
    )


@memo(maxsize=64)
def deploy_refreshes(name: str, ttl_seconds: float, ttl_jitter: float, seed: int = 0) -> np.ndarray:
    """DB refreshes per second of the day caused by the 06:00 warm-up (zeros if not warmed).

    The deploy fills every key of the data set in the same second; each is refreshed
    when it expires and gets a new (jittered) TTL: ``stampede.synchronized_expiry``.
    """
    ds = DATA_SETS[name]
    out = np.zeros(int(DAY_SECONDS) + 1, dtype=np.int64)
    if not ds.deploy_warmed:
        return out
    after = synchronized_expiry(ds.keys, ttl_seconds=ttl_seconds, jitter_fraction=ttl_jitter,
                                seconds=DAY_SECONDS - DEPLOY_AT_SECONDS, seed=seed)
    start = int(DEPLOY_AT_SECONDS)
    out[start:start + len(after)] = after
    return out


@memo(maxsize=256)
def eviction_hit_ratio(name: str, policy: str, memory_objects: int, seed: int = 0) -> float:
    """Share of the day's reads the cache's memory could serve: ``eviction.simulate``."""
    trace = day_traffic(name, seed).read_keys
    return simulate_eviction(trace, policy, memory_objects, seed=seed).hit_ratio


def _page_server(cache_control: str | None, vary: str, per_user: bool):
    headers = {"content-type": "application/json"}
    if cache_control:
        headers["cache-control"] = cache_control
    if vary:
        headers["vary"] = vary

    def upstream(request: Request, trace: Trace) -> Exchange:
        owner = request.headers.get("cookie", "") if per_user else "everyone"
        return Exchange(200, dict(headers), json.dumps({"owner": owner}).encode(), "origin")

    return upstream


def cdn_leaks(name: str, cache_control: str | None, vary: str, seed: int = 0) -> tuple[int, int, float]:
    """(page views, views that showed another user's data, CDN hit ratio).

    A sample of the day's page views goes through one shared CDN cache that decides
    by RFC 9111 (``layers.HttpCache``); the origin answers with ``cache_control``.
    """
    return cdn_replay(name, cache_control, vary, seed)[:3]


def cdn_stored_per_user(name: str, cache_control: str | None, vary: str, seed: int = 0) -> int:
    """How many per-user pages the shared CDN held at the end of the same replay (0 for
    data that is not per user): stored, a per-user page is one revalidation slip from a leak."""
    return cdn_replay(name, cache_control, vary, seed)[3]


@memo(maxsize=256)
def cdn_replay(name: str, cache_control: str | None, vary: str, seed: int = 0) -> tuple[int, int, float, int]:
    """:func:`cdn_leaks`' replay: (page views, leaks, CDN hit ratio, per-user pages the CDN holds)."""
    ds = DATA_SETS[name]
    if ds.path is None:
        return 0, 0, 0.0, 0
    traffic = day_traffic(name, seed)
    picked = np.flatnonzero(traffic.kinds == _READ)[:: max(1, ds.reads_per_day // CDN_PAGE_VIEWS)]
    clock = VirtualClock()
    cdn = HttpCache("CDN", shared=True, upstream=_page_server(cache_control, vary, ds.per_user))
    rng = np.random.default_rng(seed + 5)
    users = rng.integers(0, 150, size=len(picked))
    leaks = 0
    for i, user in zip(picked.tolist(), users.tolist(), strict=True):
        t = float(traffic.times[i])
        if clock.now() < t:
            clock.set(t)
        key = int(traffic.keys[i])
        # Per-user data: the key is the user; everyone else reads the page as themselves.
        viewer = key if ds.per_user else user
        cookie = f"session=user-{viewer}"
        request = Request("GET", "https://shop.example" + str(ds.url(key)), Headers({"cookie": cookie}))
        body = json.loads(cdn.handle(request, Trace(clock)).body)
        leaks += ds.per_user and body["owner"] != cookie
    stored = cdn.stored_count() if ds.per_user else 0
    return len(picked), int(leaks), cdn.hits / len(picked) if len(picked) else 0.0, stored
