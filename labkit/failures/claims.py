"""The numbers notebook 08's prose states, computed with the notebook's own settings."""

from __future__ import annotations

from ..claims import claim
from .bloom import BloomFilter, expected_false_positive_rate, optimal_hashes
from .incidents import COLD, METASTABLE, METASTABLE_TRAFFIC, OUTAGE, cold_run, metastable_run, outage_run
from .negative import penetration
from .slow import slow_cache

_S, _E = OUTAGE.start_seconds, OUTAGE.end_seconds


@claim("fallback_peak_ratio", notebook="08",
       fact="falling back to the database with no limit sends it several times its capacity",
       holds=lambda v: v >= 2.0)
def fallback_peak_ratio() -> float:
    r = outage_run("fall back to the DB")
    return r.peak_db_qps(_S, _E) / r.capacity_qps


@claim("fallback_served", notebook="08",
       fact="with the unlimited fallback almost no request is served during the outage",
       holds=lambda v: v <= 0.05)
def fallback_served() -> float:
    return outage_run("fall back to the DB").success_rate(_S, _E)


@claim("breaker_peak_ratio", notebook="08",
       fact="with a bulkhead and a breaker the database stays within its capacity",
       holds=lambda v: v <= 1.0)
def breaker_peak_ratio() -> float:
    r = outage_run("+ circuit breaker")
    return r.peak_db_qps(_S, _E) / r.capacity_qps


@claim("bulkhead_p99_ms", notebook="08",
       fact="a bulkhead without a breaker still makes every request wait for the cache timeout",
       holds=lambda v: v >= 250)
def bulkhead_p99_ms() -> float:
    return outage_run("+ bulkhead (4 at once)").p99_ms(_S + 1, _E)


@claim("breaker_p99_ms", notebook="08", fact="with the breaker open, p99 drops below the 250 ms timeout",
       holds=lambda v: v < 150)
def breaker_p99_ms() -> float:
    return outage_run("+ circuit breaker").p99_ms(_S + 1, _E)


@claim("timeout_waiters_ratio", notebook="08",
       fact="the breaker cuts the requests that wait for a frozen cache by well over ten times",
       holds=lambda v: v >= 20)
def timeout_waiters_ratio() -> float:
    return (outage_run("+ bulkhead (4 at once)").cache_attempts_while_down
            / outage_run("+ circuit breaker").cache_attempts_while_down)


@claim("gutter_served", notebook="08", fact="a gutter cache serves most requests during the outage, "
       "far more than the bulkhead alone", holds=lambda v: v >= 0.5)
def gutter_served() -> float:
    return outage_run("+ gutter cache").success_rate(_S, _E)


@claim("bulkhead_served", notebook="08", fact="the bulkhead alone serves only the share the DB can carry",
       holds=lambda v: 0.1 <= v <= 0.35)
def bulkhead_served() -> float:
    return outage_run("+ circuit breaker").success_rate(_S, _E)


@claim("redis_default_wait_seconds", notebook="08",
       fact="with redis-py's defaults, one command to a frozen server can wait about a minute",
       holds=lambda v: v >= 30)
def redis_default_wait_seconds() -> float:
    """The worst case, from the installed redis-py's own defaults: every attempt waits the
    socket timeout, and each retry first sleeps its backoff (at most base * 2**n, capped)."""
    from redis import _defaults as d

    attempts = d.DEFAULT_RETRY_COUNT + 1
    backoff = sum(min(d.DEFAULT_RETRY_CAP, d.DEFAULT_RETRY_BASE * 2**n) for n in range(1, attempts))
    return round(attempts * d.DEFAULT_SOCKET_TIMEOUT + backoff)


@claim("slow_cache_p50_ratio", notebook="08",
       fact="a cache answering in 100 ms makes the median request several times slower than no cache",
       holds=lambda v: v >= 5)
def slow_cache_p50_ratio() -> float:
    res = {r.strategy: r for r in slow_cache(100)}
    return res["wait for it"].p50_ms / res["no cache"].p50_ms


@claim("cold_over_seconds", notebook="08",
       fact="a restart at peak with no warming leaves the DB over capacity for the rest of the run",
       holds=lambda v: v >= 60)
def cold_over_seconds() -> int:
    return cold_run("cold (no warming)").seconds_over_capacity(COLD.end_seconds)


@claim("cold_served", notebook="08", fact="the cold cache never recovers: most requests fail to the end",
       holds=lambda v: v <= 0.5)
def cold_served() -> float:
    return cold_run("cold (no warming)").success_rate(90, 110)


@claim("warm_plan_over_seconds", notebook="08",
       fact="pre-warm + ramp + single-flight cuts the time over capacity to a fraction of the cold run's",
       holds=lambda v: v <= cold_over_seconds() / 3)
def warm_plan_over_seconds() -> int:
    return cold_run("pre-warm + ramp 45 s + single-flight").seconds_over_capacity(COLD.end_seconds)


@claim("absent_queries_none", notebook="08", fact="without negative caching every absent read queries the DB",
       holds=lambda v: v >= 100)
def absent_queries_none() -> float:
    return penetration(None).db_queries_for_absent_per_second


@claim("absent_queries_ttl10", notebook="08", fact="a 10 s not-found TTL cuts those queries by 5x or more",
       holds=lambda v: v <= absent_queries_none() / 5)
def absent_queries_ttl10() -> float:
    return penetration(10.0).db_queries_for_absent_per_second


@claim("ttl10_oldest_false_not_found", notebook="08",
       fact="a new id reads 'not found' for at most the not-found TTL", holds=lambda v: 0 < v <= 10)
def ttl10_oldest_false_not_found() -> float:
    return penetration(10.0).oldest_false_not_found_seconds


@claim("bloom_fpr_ratio", notebook="08",
       fact="the Bloom filter's measured false-positive rate is within 25% of the formula",
       holds=lambda v: 0.75 <= v <= 1.25)
def bloom_fpr_ratio() -> float:
    ids, bits = 2000, 8 * 2000
    f = BloomFilter(bits, optimal_hashes(bits, ids))
    f.add_many(range(ids))
    measured = f.measured_false_positive_rate(range(10**7, 10**7 + 20_000))
    return measured / expected_false_positive_rate(bits, f.hashes, ids)


_ME = METASTABLE.end_seconds
_AFTER = METASTABLE_TRAFFIC.duration_seconds - _ME  # seconds of the run after the trigger


# Seconds the database stays over capacity after the trigger, under each retry strategy.
_OVER_CAPACITY_CLAIMS = (
    ("meta_over_no_budget", "3 retries, no budget",
     "with 3 retries and no budget the DB stays over capacity after the trigger, to the end",
     lambda v: v >= _AFTER - 2),
    ("meta_over_budget", "retry budget (10%)", "a 10% retry budget brings it back under within seconds",
     lambda v: v <= 10),
    ("meta_over_shedding", "load shedding", "load shedding also recovers within seconds", lambda v: v <= 10),
    ("meta_over_backoff", "backoff with jitter",
     "backoff with jitter alone spreads the retries but does not cut them: still stuck",
     lambda v: v >= _AFTER - 2),
    ("meta_over_no_retries", "no retries", "without retries the same trigger ends within seconds",
     lambda v: v <= 5),
)
for _name, _strategy, _fact, _holds in _OVER_CAPACITY_CLAIMS:
    claim(_name, notebook="08", fact=_fact, holds=_holds)(
        lambda strategy=_strategy: metastable_run(strategy).seconds_over_capacity(_ME))
