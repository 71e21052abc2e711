"""The numbers notebook 03's prose states, computed with the notebook's own settings.

The model and the seeded simulation behind the charts (the same memoized dots), so
each value is the same on every machine; ``holds`` states the teaching fact.
"""

from __future__ import annotations

from ..claims import claim
from .jitter import jitter_timeline
from .model import break_even_ttl, longest_ttl_within, model
from .settings import (
    CHART_CACHE_MS,
    CHART_DB_MS,
    DATA_SETS,
    EXERCISE_TRAFFIC,
    JITTER_TRAFFIC,
    STALE_BUDGET,
    chart_point,
)

DEFAULT_TTL_SECONDS, BANDS_TTL_SECONDS, JITTER_TTL_SECONDS = 300.0, 10.0, 300.0


@claim("hit_ratio_5min", notebook="03", fact="at a 5-minute TTL the great majority of reads hit (over 90%)",
       holds=lambda v: 0.90 < v < 0.99)
def hit_ratio_5min() -> float:
    return model(EXERCISE_TRAFFIC, DEFAULT_TTL_SECONDS).hit_ratio


@claim("stale_5min", notebook="03",
       fact="at a 5-minute TTL with two writes per key an hour, several percent of all reads are stale (4-10%)",
       holds=lambda v: 0.04 < v < 0.10)
def stale_5min() -> float:
    return model(EXERCISE_TRAFFIC, DEFAULT_TTL_SECONDS).stale_read_share


@claim("top10_read_share", notebook="03", fact="under Zipf 0.9 the top 10 of 1,000 keys take about a third of reads",
       holds=lambda v: 0.25 < v < 0.40)
def top10_read_share() -> float:
    rates = EXERCISE_TRAFFIC.read_rates()
    return float(rates[:10].sum() / rates.sum())


@claim("tail_fastest_read_seconds", notebook="03",
       fact="the most popular of the bottom 900 keys is read only every several seconds (5-30 s)",
       holds=lambda v: 5 < v < 30)
def tail_fastest_read_seconds() -> float:
    return float(1 / EXERCISE_TRAFFIC.read_rates()[100])


@claim("tail_slowest_read_seconds", notebook="03",
       fact="the least popular key is read about every two minutes (60-180 s)", holds=lambda v: 60 < v < 180)
def tail_slowest_read_seconds() -> float:
    return float(1 / EXERCISE_TRAFFIC.read_rates()[-1])


@claim("top10_hit_10s", notebook="03", fact="at a 10 s TTL the top 10 keys hit almost always (over 85%)",
       holds=lambda v: v > 0.85)
def top10_hit_10s() -> float:
    return chart_point(EXERCISE_TRAFFIC, BANDS_TTL_SECONDS).bands[0].hit_ratio


@claim("tail_hit_10s", notebook="03",
       fact="at a 10 s TTL the tail (ranks 101-1,000) hits rarely: under a third, and under a third of the top's",
       holds=lambda v: v < 0.33 and v < top10_hit_10s() / 3)
def tail_hit_10s() -> float:
    return chart_point(EXERCISE_TRAFFIC, BANDS_TTL_SECONDS).bands[-1].hit_ratio


@claim("break_even_ttl_seconds", notebook="03",
       fact="with a 0.5 ms cache and a 2 ms query the cache pays from a TTL of a few seconds (1-10 s)",
       holds=lambda v: 1 < v < 10)
def break_even_ttl_seconds() -> float:
    return break_even_ttl(EXERCISE_TRAFFIC, CHART_CACHE_MS, CHART_DB_MS)


def _jitter(fraction: float):
    return jitter_timeline(JITTER_TRAFFIC, JITTER_TTL_SECONDS, fraction)


@claim("peak_without_jitter", notebook="03",
       fact="without jitter the database takes hundreds of queries in the second after the TTL",
       holds=lambda v: 100 <= v < 1000)
def peak_without_jitter() -> int:
    return _jitter(0.0).peak_db_reads_per_second


@claim("jitter_peak_cut", notebook="03", fact="±10% jitter cuts that peak more than 5x", holds=lambda v: v > 5)
def jitter_peak_cut() -> float:
    return _jitter(0.0).peak_db_reads_per_second / _jitter(0.1).peak_db_reads_per_second


@claim("longest_ttl_2pct", notebook="03",
       fact="the longest TTL within a 2% stale budget is around a minute or two (40-200 s)",
       holds=lambda v: 40 < v < 200)
def longest_ttl_2pct() -> float:
    return longest_ttl_within(EXERCISE_TRAFFIC, STALE_BUDGET)


@claim("hit_ratio_at_longest", notebook="03",
       fact="at that TTL most reads still hit (over 75%), a few points below the 5-minute TTL",
       holds=lambda v: 0.75 < v < hit_ratio_5min())
def hit_ratio_at_longest() -> float:
    return model(EXERCISE_TRAFFIC, longest_ttl_2pct()).hit_ratio


@claim("stock_level_ttl_seconds", notebook="03",
       fact="the stock level stays within its budget at a TTL of about a second (0.5-3 s), which still pays",
       holds=lambda v: 0.5 < v < 3)
def stock_level_ttl_seconds() -> float:
    stock = next(d for d in DATA_SETS if d.name == "stock level")
    return stock.longest_ttl_within_budget()
