"""A slow cache: what each reading strategy costs in latency and in database load.

Every request reads the cache; a miss (or a skipped or abandoned cache read) goes to
the database.  Latencies are drawn per request (seeded): a healthy cache answers in
about half a millisecond, a sick one in ``slow_ms`` (spread 50-200 ms in the lesson),
the database in about ``db_ms``.  Strategies:

``no cache``          every read goes to the database.
``wait for it``       read the cache with no useful timeout (redis-py's default is 5 s).
``timeout at p99``    give up on the cache after a few times its *healthy* p99, then read the DB.
``hedge``             if the cache has not answered by its healthy p99, also ask the DB; take the first.
``skip while slow``   a latency breaker: once the cache is measured slow, read the DB directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import check_non_negative

__all__ = ["SLOW_STRATEGIES", "SlowCacheSetup", "SLOW_CACHE", "SlowCacheResult", "slow_cache"]

SLOW_STRATEGIES = ("no cache", "wait for it", "timeout at p99", "hedge", "skip while slow")


@dataclass(frozen=True)
class SlowCacheResult:
    strategy: str
    p50_ms: float
    p99_ms: float
    db_share: float          # share of requests that queried the database
    timeout_ms: float        # the cache timeout (or hedge delay) the strategy used


@dataclass(frozen=True)
class SlowCacheSetup:
    """The reads :func:`slow_cache` replays, and how fast a healthy cache and the database answer."""

    requests: int = 20_000
    hit_ratio: float = 0.9       # of the reads the cache answers
    healthy_ms: float = 0.5      # a healthy cache's typical answer (lognormal spread)
    db_ms: float = 10.0          # the database's typical answer (lognormal spread)
    timeout_factor: float = 3.0  # the cache timeout, in healthy p99s
    seed: int = 0


SLOW_CACHE = SlowCacheSetup()


def slow_cache(slow_ms: float, setup: SlowCacheSetup = SLOW_CACHE) -> list[SlowCacheResult]:
    """Latency percentiles and DB share of each strategy when the cache answers in ``slow_ms``.

    ``slow_ms`` = 0 is a healthy cache.  A slow cache's answers spread from half to
    one and a half times ``slow_ms``; the healthy p99 sets the timeouts.
    """
    check_non_negative("slow_ms", slow_ms, "ms")
    requests = setup.requests
    rng = np.random.default_rng(setup.seed)
    healthy = setup.healthy_ms * rng.lognormal(0.0, 0.4, requests)
    healthy_p99 = float(np.percentile(healthy, 99))
    cache = healthy if slow_ms == 0 else slow_ms * rng.uniform(0.5, 1.5, requests)
    db = setup.db_ms * rng.lognormal(0.0, 0.3, requests)
    hit = rng.random(requests) < setup.hit_ratio
    timeout = setup.timeout_factor * healthy_p99
    slow = slow_ms > 0 and float(np.percentile(cache, 50)) > timeout

    def result(name: str, latency: np.ndarray, to_db: np.ndarray, limit: float) -> SlowCacheResult:
        return SlowCacheResult(name, float(np.percentile(latency, 50)), float(np.percentile(latency, 99)),
                               float(np.mean(to_db)), limit)

    out = [result("no cache", db, np.ones(requests, bool), 0.0),
           result("wait for it", cache + np.where(hit, 0.0, db), ~hit, 5000.0)]
    gave_up = cache > timeout
    out.append(result("timeout at p99", np.where(gave_up, timeout + db, cache + np.where(hit, 0.0, db)),
                      gave_up | ~hit, timeout))
    hedged = cache > healthy_p99
    via_cache = cache + np.where(hit, 0.0, db)
    hedge_latency = np.where(hedged, np.minimum(via_cache, healthy_p99 + db), via_cache)
    out.append(result("hedge", hedge_latency, hedged | ~hit, healthy_p99))
    # The latency breaker pays the timeout for its first few probes only (one in a hundred).
    skip = np.where(rng.random(requests) < 0.01, timeout + db, db) if slow else via_cache
    out.append(result("skip while slow", skip, np.ones(requests, bool) if slow else ~hit, timeout))
    return out
