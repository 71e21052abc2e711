"""The numbers notebook 08's prose states, computed with the notebook's own settings."""

from __future__ import annotations

import importlib.metadata

from ..claims import claim
from ..workloads import zipf_probabilities
from .bloom import BloomFilter, expected_false_positive_rate, optimal_hashes
from .incidents import (
    COLD,
    METASTABLE,
    METASTABLE_TRAFFIC,
    OUTAGE,
    OUTAGE_TRAFFIC,
    cold_run,
    metastable_run,
    outage_run,
)
from .live import redis_client_defaults
from .negative import PROBES, penetration
from .partial import PARTIAL, partial_failure
from .replay import DatabaseCapacity, Defenses, Incident, ReplayReport, replay
from .slow import slow_cache

_S, _E = OUTAGE.start_seconds, OUTAGE.end_seconds
_CAPACITY = DatabaseCapacity()


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
       "far more than the bulkhead alone", holds=lambda v: v >= 0.5 and v > 2 * bulkhead_served())
def gutter_served() -> float:
    return outage_run("+ gutter cache").success_rate(_S, _E)


@claim("bulkhead_served", notebook="08",
       fact="the bulkhead alone (no breaker) serves about the share the DB can carry: capacity / traffic",
       holds=lambda v: abs(v - _CAPACITY.queries_per_second / OUTAGE_TRAFFIC.rate_per_second) <= 0.05)
def bulkhead_served() -> float:
    return outage_run("+ bulkhead (4 at once)").success_rate(_S, _E)


# -- what the database carries while the cache is healthy ----------------------------------------------


def _healthy_run() -> ReplayReport:
    return replay(Defenses(), traffic=OUTAGE_TRAFFIC, incident=Incident(fault="none", start_seconds=0, down_seconds=0))


@claim("healthy_db_qps", notebook="08",
       fact="a healthy cache leaves the DB the misses the TTL formula predicts: sum of r / (1 + rT) over keys",
       holds=lambda v: abs(v / _ttl_formula_qps() - 1) <= 0.15)
def healthy_db_qps() -> float:
    return _healthy_run().mean_db_qps()


def _ttl_formula_qps() -> float:
    tr = OUTAGE_TRAFFIC
    rates = zipf_probabilities(tr.keys, tr.zipf_alpha) * tr.rate_per_second
    return float((rates / (1 + rates * tr.cache_ttl_seconds)).sum())


@claim("healthy_db_share", notebook="08", fact="healthy, the DB sees well under a tenth of the requests",
       holds=lambda v: 0 < v < 0.10)
def healthy_db_share() -> float:
    return healthy_db_qps() / OUTAGE_TRAFFIC.rate_per_second


@claim("db_headroom", notebook="08",
       fact="the DB was built with a few times its healthy load as headroom, and is still far too small for "
       "the full traffic", holds=lambda v: 2 <= v < OUTAGE_TRAFFIC.rate_per_second / healthy_db_qps())
def db_headroom() -> float:
    return _CAPACITY.queries_per_second / healthy_db_qps()


@claim("redis_py_version", notebook="08",
       fact="the version named is the installed redis-py, the one whose client the defaults are read from",
       holds=lambda v: v == importlib.metadata.version("redis"))
def redis_py_version() -> str:
    return redis_client_defaults().version


@claim("redis_default_socket_timeout", notebook="08",
       fact="a default redis-py client waits seconds, not milliseconds, for a frozen server",
       holds=lambda v: v is not None and v >= 1)
def redis_default_socket_timeout() -> float | None:
    return redis_client_defaults().socket_timeout


@claim("redis_default_retries", notebook="08", fact="a default redis-py client retries a timed-out command",
       holds=lambda v: v >= 1)
def redis_default_retries() -> int:
    return redis_client_defaults().retries


@claim("redis_default_wait_seconds", notebook="08",
       fact="with redis-py's defaults, one command to a frozen server can wait about a minute: more than "
       "every attempt's timeout together", holds=lambda v: v >= 30 and v > (redis_default_retries() + 1)
       * redis_default_socket_timeout())
def redis_default_wait_seconds() -> float:
    return redis_client_defaults().worst_wait_seconds


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


@claim("cold_single_flight_served", notebook="08",
       fact="single-flight alone serves no more than the cold run: it is not duplicate loads that fill the queue",
       holds=lambda v: abs(v - cold_served()) <= 0.02)
def cold_single_flight_served() -> float:
    return cold_run("single-flight").success_rate(90, 110)


@claim("cold_wasted_share", notebook="08",
       fact="in the cold run almost every DB answer arrives after its client gave up",
       holds=lambda v: v >= 0.9)
def cold_wasted_share() -> float:
    r = cold_run("cold (no warming)")
    return r.db_wasted / int(r.db_served_per_second[int(COLD.end_seconds):].sum())


@claim("cold_shedding_served", notebook="08",
       fact="load shedding alone (drop what waited over 0.5 s) ends the cold overload: nearly all served at the end",
       holds=lambda v: v >= 0.95 and v > 3 * cold_served())
def cold_shedding_served() -> float:
    return cold_run("load shedding (0.5 s)").success_rate(90, 110)


@claim("sharded_ramp_over_seconds", notebook="08",
       fact="in a sharded cache a ramp has no warm copy to send the rest to: the DB stays over capacity",
       holds=lambda v: v >= cold_over_seconds() - 5)
def sharded_ramp_over_seconds() -> int:
    return cold_run("sharded: pre-warm + ramp 60 s").seconds_over_capacity(COLD.end_seconds)


@claim("sharded_shedding_served", notebook="08",
       fact="pre-warming with load shedding serves a sharded cache's restart",
       holds=lambda v: v >= 0.95)
def sharded_shedding_served() -> float:
    return cold_run("sharded: pre-warm + load shedding").success_rate(COLD.end_seconds, 110)


@claim("warm_plan_over_seconds", notebook="08",
       fact="pre-warm + ramp cuts the time over capacity to a fraction of the cold run's",
       holds=lambda v: v <= cold_over_seconds() / 3)
def warm_plan_over_seconds() -> int:
    return cold_run("pre-warm + ramp 45 s").seconds_over_capacity(COLD.end_seconds)


@claim("absent_queries_none", notebook="08", fact="without negative caching every absent read queries the DB",
       holds=lambda v: v >= 100)
def absent_queries_none() -> float:
    return penetration(None).db_queries_for_absent_per_second


@claim("absent_queries_expected", notebook="08",
       fact="the absent ids' queries match the closed form: every absent id's reads, minus those of the ids "
       "created during the run (cached once they exist)",
       holds=lambda v: abs(absent_queries_none() / v - 1) <= 0.05)
def absent_queries_expected() -> float:
    p = PROBES
    created = min(p.created_per_second * p.duration_seconds, p.absent_ids)  # each exists, on average, half the run
    return (p.absent_ids - created / 2) * p.absent_reads_per_id_per_second


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


@claim("backoff_retry_ratio", notebook="08",
       fact="in an open system backoff moves retries in time but sends about as many: DB queries after the "
       "trigger, backoff / no backoff", holds=lambda v: 0.8 <= v <= 1.2)
def backoff_retry_ratio() -> float:
    return (metastable_run("backoff with jitter").mean_db_qps(_ME)
            / metastable_run("3 retries, no budget").mean_db_qps(_ME))


# -- partial failure: one node of N frozen --------------------------------------------------------------

_ONE, _RATE, _PER_NODE = ("one breaker, 5 failures in a row", "one breaker, failure rate >= 50%",
                          "a breaker per node, failure rate >= 50%")


@claim("partial_consecutive_opens", notebook="08",
       fact="with 1 node of 10 frozen, a breaker counting failures in a row never opens", holds=lambda v: v == 0)
def partial_consecutive_opens() -> int:
    return partial_failure(_ONE, 10).openings


@claim("partial_twenty_consecutive_opens", notebook="08",
       fact="with 1 node of 20 frozen (5% of calls time out), the consecutive breaker never opens either",
       holds=lambda v: v == 0 and partial_failure(_ONE, 20).waited_share() >= 0.04)
def partial_twenty_consecutive_opens() -> int:
    return partial_failure(_ONE, 20).openings


@claim("partial_run_odds", notebook="08",
       fact="five failures in a row are rarer than one per outage when one call in ten fails: "
       "expected runs of 5 = calls x (1 - p) x p^5, with p the share of calls that failed",
       holds=lambda v: v < 1)
def partial_run_odds() -> float:
    run = partial_failure(_ONE, 10)
    calls = run.waited.size * (PARTIAL.down_until - PARTIAL.down_from) / PARTIAL.duration_seconds
    p = run.waited_share()
    return calls * (1 - p) * p**5


@claim("partial_waited_one", notebook="08",
       fact="with one breaker, every read of the frozen node waits: a tenth of all reads",
       holds=lambda v: 0.08 <= v <= 0.12)
def partial_waited_one() -> float:
    return partial_failure(_ONE, 10).waited_share()


@claim("partial_p99_one_ms", notebook="08", fact="so p99 is the timeout plus a DB read",
       holds=lambda v: v >= PARTIAL.timeout_seconds * 1000)
def partial_p99_one_ms() -> float:
    return partial_failure(_ONE, 10).p99_ms()


@claim("partial_waited_per_node", notebook="08",
       fact="a rate-based breaker per node stops nearly all waiting (under 1% of reads)", holds=lambda v: v < 0.01)
def partial_waited_per_node() -> float:
    return partial_failure(_PER_NODE, 10).waited_share()


@claim("partial_p99_per_node_ms", notebook="08", fact="with a breaker per node, p99 falls below the timeout",
       holds=lambda v: v < PARTIAL.timeout_seconds * 1000)
def partial_p99_per_node_ms() -> float:
    return partial_failure(_PER_NODE, 10).p99_ms()


@claim("partial_four_opens", notebook="08",
       fact="with 1 node of 4 frozen, the single breakers do open now and then (both counted)",
       holds=lambda v: v >= 1)
def partial_four_opens() -> int:
    return partial_failure(_ONE, 4).openings + partial_failure(_RATE, 4).openings


@claim("partial_four_healthy_refused", notebook="08",
       fact="and when a single breaker opens it refuses the healthy nodes' reads too, sending the DB past "
       "its capacity", holds=lambda v: v >= 0.02 and partial_failure(_RATE, 4).peak_db_qps() > PARTIAL.db_capacity_qps)
def partial_four_healthy_refused() -> float:
    return partial_failure(_RATE, 4).skipped_healthy_share()


@claim("partial_four_per_node_db_peak", notebook="08",
       fact="a breaker per node refuses no healthy node, but 1 node of 4 is itself a quarter of the traffic: "
       "the DB still needs its bulkhead", holds=lambda v: v > PARTIAL.db_capacity_qps
       and partial_failure(_PER_NODE, 4).skipped_healthy_share() == 0)
def partial_four_per_node_db_peak() -> int:
    return partial_failure(_PER_NODE, 4).peak_db_qps()
