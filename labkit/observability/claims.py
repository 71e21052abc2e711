"""The numbers notebook 10's prose states, computed with the notebook's own settings.

All of them come from seeded runs on a virtual clock or from the memory model, so
they are the same on every machine; the real server's agreement with the model is
asserted by the tests marked ``redis_server``.
"""

from __future__ import annotations

import numpy as np

from ..claims import claim
from ..eviction.simulator import simulate
from . import pressure, sizing
from .cost import bytes_per_key, encode, key_cost, sample_record, size_ratio
from .staleness import coverage, sample_size_for, sample_staleness
from .workload import SHOP_RUN, watched_run

NB = "10"


def _reading():
    return watched_run(SHOP_RUN)[0]


@claim("overall_hit_ratio", notebook=NB, fact="the shop's overall hit ratio looks healthy (80-92%)",
       holds=lambda v: 0.80 <= v <= 0.92)
def overall_hit_ratio() -> float:
    return _reading().overall.hit_ratio


@claim("price_hit_ratio", notebook=NB, fact="the price prefix, with its TTL of 0.5 s, hits under 60% - "
       "at least 30 points under the overall ratio", holds=lambda v: v < 0.6 and v <= overall_hit_ratio() - 0.3)
def price_hit_ratio() -> float:
    return _reading().prefixes["price"].hit_ratio


@claim("product_hit_ratio", notebook=NB, fact="the product prefix hits above the overall ratio",
       holds=lambda v: v >= overall_hit_ratio())
def product_hit_ratio() -> float:
    return _reading().prefixes["product"].hit_ratio


@claim("price_read_share", notebook=NB, fact="prices are only about a tenth of the reads",
       holds=lambda v: 0.07 <= v <= 0.13)
def price_read_share() -> float:
    r = _reading()
    return r.prefixes["price"].lookups / r.overall.lookups


@claim("price_db_share", notebook=NB, fact="prices, a tenth of the reads, send the database the largest share "
       "of its queries", holds=lambda v: v >= max(0.4, 3 * price_read_share()))
def price_db_share() -> float:
    r = _reading()
    return r.prefixes["price"].db_queries / r.overall.db_queries


@claim("price_expired_per_second", notebook=NB, fact="price keys expire by the hundred every second",
       holds=lambda v: v >= 50)
def price_expired_per_second() -> float:
    r = _reading()
    return r.per_second(r.prefixes["price"].expirations)


# The notebook's keys look like this one (labkit:<learner id>:10:...), so lengths match.
_PREFIX = "labkit:learner-00000000:10:"


@claim("price_key_bytes", notebook=NB, fact="a 4-character price costs Redis about 90 bytes",
       holds=lambda v: 60 <= v <= 120)
def price_key_bytes() -> int:
    return key_cost(_PREFIX + "price:17", "1999").memory_usage_bytes


@claim("product_value_bytes", notebook=NB, fact="a product record is a couple of hundred bytes of JSON",
       holds=lambda v: 150 <= v <= 400)
def product_value_bytes() -> int:
    return len(encode(sample_record(42), "json"))


@claim("product_key_bytes", notebook=NB, fact="a product costs tens of bytes more than its JSON "
       "(MEMORY USAGE, computed)", holds=lambda v: 20 <= v - len(encode(sample_record(42), "json")) <= 150)
def product_key_bytes() -> int:
    return key_cost(_PREFIX + "product:42", encode(sample_record(42), "json").decode()).memory_usage_bytes


@claim("small_value_overhead", notebook=NB, fact="for a 4-byte price, overhead is most of the key's memory",
       holds=lambda v: v >= 0.8)
def small_value_overhead() -> float:
    return key_cost(_PREFIX + "price:17", "1999").overhead_share


@claim("msgpack_saving", notebook=NB, fact="msgpack stores a product record smaller than JSON",
       holds=lambda v: 1.05 <= v <= 2.0)
def msgpack_saving() -> float:
    return size_ratio(1, "msgpack")


@claim("zlib_feed_ratio", notebook=NB, fact="zlib shrinks a 50-product JSON feed several times over",
       holds=lambda v: v >= 3.0)
def zlib_feed_ratio() -> float:
    return size_ratio(50, "json+zlib")


@claim("zlib_record_ratio", notebook=NB, fact="zlib barely helps (or hurts) a single small record",
       holds=lambda v: v <= 1.5)
def zlib_record_ratio() -> float:
    return size_ratio(1, "json+zlib")


@claim("budget_mib", notebook=NB, fact="90% of the sizing workload's reads need only about 1-1.5 MiB",
       holds=lambda v: 0.8 <= v <= 1.6)
def budget_mib() -> float:
    return sizing.plan_for(0.9).budget_bytes / 2**20


@claim("capacity_share", notebook=NB, fact="90% hits need about half the distinct keys (40-65%)",
       holds=lambda v: 0.4 <= v <= 0.65)
def capacity_share() -> float:
    plan = sizing.plan_for(0.9)
    return plan.capacity_keys / plan.distinct_keys


@claim("values_only_share", notebook=NB, fact="a budget counting only values buys well under the memory needed",
       holds=lambda v: 0.4 <= v <= 0.8)
def values_only_share() -> float:
    plan = sizing.plan_for(0.9)
    return plan.values_only_bytes / plan.budget_bytes


@claim("predicted_hit_ratio", notebook=NB, fact="an LRU cache of the planned size, simulated request by request "
       "(not read off the stack-distance curve the plan came from), reaches the 90% target",
       holds=lambda v: 0.9 <= v <= 0.905)
def predicted_hit_ratio() -> float:
    return simulate(sizing.sizing_trace(), "lru", sizing.plan_for(0.9).capacity_keys).hit_ratio


@claim("sampled_lru_ratio", notebook=NB, fact="Redis-style sampled LRU (5 keys, no pool) with a clock that "
       "tells every request apart lands within a point of exact LRU, well above random eviction",
       holds=lambda v: 0 <= predicted_hit_ratio() - v <= 0.01 and v - random_floor() >= 0.005)
def sampled_lru_ratio() -> float:
    return simulate(sizing.sizing_trace(), "redis-lru", sizing.plan_for(0.9).capacity_keys).hit_ratio


@claim("ttl_key_bytes", notebook=NB, fact="a TTL adds tens of bytes per key (the expires-dict entry and its "
       "buckets) that MEMORY USAGE does not report", holds=lambda v: 30 <= v <= 64)
def ttl_key_bytes() -> int:
    key, value = sizing.SIZING.prefix() + sizing.SIZING.key(9_999), "v" * sizing.SIZING.value_bytes
    return bytes_per_key(key, value) - bytes_per_key(key, value, ttl=False)


@claim("ttl_budget_share", notebook=NB, fact="a budget that forgets the TTL's entry comes out 10-20% short for "
       "200-byte values", holds=lambda v: 0.10 <= v <= 0.20)
def ttl_budget_share() -> float:
    key = sizing.SIZING.prefix() + sizing.SIZING.key(9_999)
    value = "v" * sizing.SIZING.value_bytes
    return 1 - bytes_per_key(key, value, ttl=False) / bytes_per_key(key, value)


@claim("random_floor", notebook=NB, fact="random eviction at the same keys is 0.5-4 points under exact LRU: "
       "the band Redis's approximate LRU lands in", holds=lambda v: 0.005 <= predicted_hit_ratio() - v <= 0.04)
def random_floor() -> float:
    return sizing.random_floor(sizing.plan_for(0.9).capacity_keys)


def _shards_errors() -> list[float]:
    """How far a 10% SHARDS sample's capacity for 90% lands from the exact one, for ten hash seeds."""
    return sizing.shards_errors(0.9, seeds=range(10))


@claim("shards_error_low", notebook=NB, fact="over ten hash seeds, the best 10% SHARDS sample asks for about "
       "the exact capacity, and the seeds spread over at least 5 points - so one sample's error is partly luck",
       holds=lambda v: -0.1 <= v <= 0.05 and max(_shards_errors()) - v >= 0.05)
def shards_error_low() -> float:
    return min(_shards_errors())


@claim("shards_error_high", notebook=NB, fact="the worst of the ten seeds asks for 5-40% more keys than the "
       "exact curve", holds=lambda v: 0.05 <= v <= 0.4)
def shards_error_high() -> float:
    return max(_shards_errors())


def _hits():
    return watched_run(SHOP_RUN)[1].hits


@claim("shop_hits", notebook=NB, fact="the shop's replay serves about ten thousand hits for the sampler to "
       "sample from", holds=lambda v: 5_000 <= v <= 12_000)
def shop_hits() -> int:
    return len(_hits())


@claim("true_stale_share", notebook=NB, fact="with TTL-only invalidation a few percent of hits are stale",
       holds=lambda v: 0.005 <= v <= 0.15)
def true_stale_share() -> float:
    return sample_staleness(_hits(), 1).true_share


def _sample_400():
    return sample_staleness(_hits(), 400, seed=1)


@claim("low_400", notebook=NB, fact="the Wilson interval's low end sits closer to the estimate than its high end "
       "(near 0 the interval is asymmetric)", holds=lambda v: 0 < estimate_400() - v < high_400() - estimate_400())
def low_400() -> float:
    return _sample_400().low


@claim("high_400", notebook=NB, fact="the interval's high end is a few points above the estimate",
       holds=lambda v: 0.005 <= v - estimate_400() <= 0.04)
def high_400() -> float:
    return _sample_400().high


@claim("estimate_400", notebook=NB, fact="400 sampled hits estimate the stale share within its interval",
       holds=lambda v: sample_staleness(_hits(), 400, seed=1).covers_truth and abs(v - true_stale_share()) <= 0.03)
def estimate_400() -> float:
    return sample_staleness(_hits(), 400, seed=1).estimate


@claim("coverage_400", notebook=NB, fact="about 95% of such intervals contain the truth",
       holds=lambda v: 0.9 <= v <= 0.99)
def coverage_400() -> float:
    return coverage(_hits(), 400, trials=200, seed=2)


@claim("sample_for_half_point", notebook=NB, fact="pinning it to +-0.5 points takes thousands of re-reads",
       holds=lambda v: 1_000 <= v <= 20_000)
def sample_for_half_point() -> int:
    return sample_size_for(0.005, true_stale_share())


@claim("hottest_key_reads", notebook=NB, fact="the sizing workload's hottest key is read thousands of times",
       holds=lambda v: 5_000 <= v <= 30_000)
def hottest_key_reads() -> int:
    return int((sizing.sizing_trace() == 0).sum())


@claim("hottest_lfu_counter", notebook=NB, fact="that many reads raise Redis's LFU counter only to a few dozen "
       "(logarithmic, 255 at most)", holds=lambda v: 20 <= v <= 120)
def hottest_lfu_counter() -> int:
    from .server import lfu_counter

    return int(np.median([lfu_counter(hottest_key_reads() - 1, seed=s) for s in range(9)]))


def _hits_per_second() -> float:
    r = _reading()
    return r.per_second(r.overall.hits)


@claim("seconds_for_400", notebook=NB, fact="re-reading one hit in a hundred collects 400 in well under a minute",
       holds=lambda v: 5 <= v <= 60)
def seconds_for_400() -> float:
    return 400 / (_hits_per_second() / 100)


@claim("sampling_db_load", notebook=NB, fact="re-reading one hit in a hundred adds under a tenth to the DB's load",
       holds=lambda v: v < 0.1)
def sampling_db_load() -> float:
    r = _reading()
    return (_hits_per_second() / 100) / r.per_second(r.overall.db_queries)


# -- memory pressure (the model: exact LRU with TTLs, the same every run) -------------------------


def _pressure(name: str) -> pressure.Counters:
    return pressure.model_run(next(c for c in pressure.CASES if c.name == name))


@claim("short_ttl_expired", notebook=NB, fact="the cache with a TTL too short loses keys to expiry, none to "
       "eviction, and hits well under its target", holds=lambda v: v > 1_000 and _pressure("cache 1").evicted_keys
       == 0 and _pressure("cache 1").hit_ratio < 0.8)
def short_ttl_expired() -> int:
    return _pressure("cache 1").expired_keys


@claim("small_cache_evicted", notebook=NB, fact="the cache too small loses keys to eviction, none to expiry, and "
       "hits well under its target", holds=lambda v: v > 1_000 and _pressure("cache 3").expired_keys == 0
       and _pressure("cache 3").hit_ratio < 0.8)
def small_cache_evicted() -> int:
    return _pressure("cache 3").evicted_keys


@claim("healthy_evicted", notebook=NB, fact="the cache sized by the plan evicts too - hundreds to thousands "
       "of keys - and still hits near its target", holds=lambda v: v > 500 and _pressure("cache 2").hit_ratio >= 0.85)
def healthy_evicted() -> int:
    return _pressure("cache 2").evicted_keys


@claim("healthy_hit_ratio", notebook=NB, fact="the planned cache hits near its target on the first half of the "
       "trace (cold start included)", holds=lambda v: 0.85 <= v <= 0.92)
def healthy_hit_ratio() -> float:
    return _pressure("cache 2").hit_ratio
