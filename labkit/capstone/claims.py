"""The numbers notebook 07's prose states, computed with the notebook's own designs.

Each is a scored day (seeded, virtual clock); the replays are remembered, so the
claims cost one day per design.
"""

from __future__ import annotations

from ..claims import claim
from .day import hot_key_at_peak
from .design import NAIVE_DESIGN, REFERENCE_DESIGN, explorer_design
from .scorecard import score
from .service import DB_CAPACITY_QPS, P99_BUDGET_MS, STAMPEDE_BUDGET_QUERIES

NOTEBOOK = "07"
_DEFAULTS = {"catalogue_ttl": 3600, "ttl_jitter": 0.0, "landing_defense": "none",
             "per_user_headers": "public, max-age=300", "invalidation": "ttl-only"}


def _explored_card(**knobs):
    return score(explorer_design(NAIVE_DESIGN, **{**_DEFAULTS, **knobs}))


@claim("naive_budgets_met", notebook=NOTEBOOK, fact="the naive design meets at most two of the seven budgets",
       holds=lambda v: 0 <= v <= 2)
def naive_budgets_met() -> int:
    card = score(NAIVE_DESIGN)
    return len(card.axes) - len(card.failed)


@claim("naive_landing_queries", notebook=NOTEBOOK,
       fact="with no defense, over a hundred requests rebuild the expired landing page at once",
       holds=lambda v: v > 100)
def naive_landing_queries() -> int:
    return score(NAIVE_DESIGN).data_sets["landing"].stampede_queries


@claim("naive_peak_queries", notebook=NOTEBOOK,
       fact="the warmed catalogue expiring together is several times the DB's capacity in one second",
       holds=lambda v: v > 3 * DB_CAPACITY_QPS)
def naive_peak_queries() -> int:
    return int(score(NAIVE_DESIGN).axes["DB load"].value)


@claim("naive_peak_ratio", notebook=NOTEBOOK, fact="the naive peak is several times the DB's capacity",
       holds=lambda v: v > 3)
def naive_peak_ratio() -> float:
    return score(NAIVE_DESIGN).axes["DB load"].ratio


@claim("short_ttl_peak_queries", notebook=NOTEBOOK,
       fact="a 5-minute catalogue TTL does not shrink the spike: the busiest second is at least the naive one",
       holds=lambda v: v >= naive_peak_queries())
def short_ttl_peak_queries() -> int:
    return int(_explored_card(catalogue_ttl=300).axes["DB load"].value)


@claim("lock_waiters", notebook=NOTEBOOK,
       fact="behind a lock, most readers who arrive during the rebuild wait for it (about a hundred)",
       holds=lambda v: 50 <= v <= 150)
def lock_waiters() -> int:
    herd = hot_key_at_peak("landing", 3600, "lock")
    return int((herd.herd_latencies_ms > 1).sum())


@claim("lock_p99_ms", notebook=NOTEBOOK,
       fact="the lock protects the database but its p99 is over the latency budget",
       holds=lambda v: v > P99_BUDGET_MS)
def lock_p99_ms() -> float:
    card = _explored_card(landing_defense="lock")
    assert card.data_sets["landing"].stampede_queries <= STAMPEDE_BUDGET_QUERIES
    return card.data_sets["landing"].p99_ms


@claim("reference_peak_queries", notebook=NOTEBOOK,
       fact="the reference design's busiest second stays under the DB's capacity", holds=lambda v: v <= DB_CAPACITY_QPS)
def reference_peak_queries() -> int:
    return int(score(REFERENCE_DESIGN).axes["DB load"].value)


@claim("reference_lost_counter_writes", notebook=NOTEBOOK,
       fact="write-behind loses some view-counter increments, within their budget",
       holds=lambda v: 0 < v <= 100)
def reference_lost_counter_writes() -> int:
    return score(REFERENCE_DESIGN).data_sets["view_counters"].lost_writes


@claim("vary_cookie_cdn_hit_ratio", notebook=NOTEBOOK,
       fact="with Vary: Cookie on a public page the CDN almost never reuses a copy",
       holds=lambda v: v < 0.05)
def vary_cookie_cdn_hit_ratio() -> float:
    return score(NAIVE_DESIGN.change(user_pages={"vary": "Cookie"})).data_sets["user_pages"].cdn_hit_ratio
