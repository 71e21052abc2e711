"""The numbers notebook 00's prose states, computed with the notebook's settings.

Every one comes from :func:`labkit.tour.measure` with the live chart's defaults
(2 ms of app work, an 8 ms query, a 30 s TTL, 2% writes, seeded), changing only
the control the prose talks about.
"""

from __future__ import annotations

from ..claims import claim
from .system import longest_ttl_under, mean_cut, measure

NOTEBOOK = "00"


def _speedup(**settings: float) -> float:
    without = {k: v for k, v in settings.items() if k != "ttl_seconds"}
    return measure(use_cache=False, **without).total_ms / measure(use_cache=True, **settings).total_ms


@claim("speedup_default", notebook=NOTEBOOK, fact="at the defaults the cache wins only about 1.5x",
       holds=lambda v: 1.3 <= v <= 1.7)
def speedup_default() -> float:
    return _speedup()


@claim("miss_share_default", notebook=NOTEBOOK, fact="more than half the reads still miss at the defaults",
       holds=lambda v: 0.5 < v < 0.8)
def miss_share_default() -> float:
    return 1 - measure(use_cache=True).hit_ratio


@claim("speedup_app_40", notebook=NOTEBOOK,
       fact="with 40 ms of app work the cache's saving no longer matters (well under 1.15x)",
       holds=lambda v: 1.0 < v < 1.15)
def speedup_app_40() -> float:
    return _speedup(app_work_ms=40.0)


@claim("speedup_ttl_300", notebook=NOTEBOOK, fact="a 300 s TTL makes requests about twice as fast",
       holds=lambda v: 1.9 <= v <= 2.6)
def speedup_ttl_300() -> float:
    return _speedup(ttl_seconds=300.0)


@claim("stale_one_in_ttl_300", notebook=NOTEBOOK,
       fact="at a 300 s TTL about one read in seven is stale (one in 5 to 10)",
       holds=lambda v: 5 <= v <= 10)
def stale_one_in_ttl_300() -> int:
    return round(1 / measure(use_cache=True, ttl_seconds=300.0).stale_share)


@claim("longest_ttl_5pct", notebook=NOTEBOOK,
       fact="the longest TTL within a 5% staleness budget is about 90 s", holds=lambda v: 60 <= v <= 120)
def longest_ttl_5pct() -> float:
    return longest_ttl_under(0.05)


@claim("mean_cut_90_to_95", notebook=NOTEBOOK,
       fact="going from 90% to 95% hits cuts the mean read by about 40% (not half)",
       holds=lambda v: 0.35 <= v <= 0.45)
def mean_cut_90_to_95() -> float:
    return mean_cut(0.90, 0.95)
