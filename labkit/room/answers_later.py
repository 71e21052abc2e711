"""Measured answers for notebooks 06 to 11 (the registry: ``measure``; notebooks 00 to 05: ``answers``).

Each reads the claims the notebook's prose states (or runs its engine) and maps the
number onto the option it bears out.
"""

from __future__ import annotations

from .measure import _claim, _nearest, measured

# -- notebook 06 ------------------------------------------------------------------------


@measured("06", "waterfall")
def _waterfall() -> str:
    from ..layers.claims import _lab
    from ..layers.experiments import waterfall_scenario
    from ..layers.trace import NETWORKS

    hops = waterfall_scenario(_lab())[0].visit.hops
    spent = {"the network between shopper, CDN and origin": sum(h.seconds for h in hops if h.layer in NETWORKS),
             "the database query": sum(h.seconds for h in hops if h.layer == "database"),
             "rendering the page": sum(h.seconds for h in hops if h.layer == "origin")}
    return max(spent, key=spent.__getitem__)


@measured("06", "traffic")
def _traffic() -> str:
    one, many = _claim("06", "edge_share_one_user"), _claim("06", "edge_share_many_users")
    if abs(many - one) < 0.05:
        return "it stays about the same: each shopper's views are their own"
    return "it rises: more shoppers reuse the same copies" if many > one else "it falls: more shoppers, more misses"


@measured("06", "revalidation")
def _revalidation() -> str:
    share = _claim("06", "not_modified_share_of_full")  # a 304's time over a full fetch's
    return ("about as slow: the round trip dominates" if share >= 0.8 else
            "almost free, like a browser hit" if share <= 0.2 else
            "about half the time: it skips the transfer, not the round trip")


@measured("06", "staleness")
def _staleness() -> str:
    cdn = _claim("06", "cdn_worst_stale_seconds")
    if cdn <= 0:
        return "nobody: the write invalidates everything"
    return "the CDN: up to 300 s" if cdn > 60 else "the browsers: up to 60 s"


@measured("06", "leak")
def _leak() -> str:
    return _nearest(_claim("06", "leaked_users") / 30, {"one or two, by bad luck": 0.05, "about half": 0.5,
                                                         "nearly all of them": 1.0})


# -- notebook 07 ------------------------------------------------------------------------


@measured("07", "naive")
def _naive() -> str:
    met = _claim("07", "naive_budgets_met")
    return "all seven: an hour-long TTL is generous" if met == 7 else "about half" if met >= 3 else "one or two"


@measured("07", "shorter-ttl")
def _shorter_ttl() -> str:
    short, naive = _claim("07", "short_ttl_peak_queries"), _claim("07", "naive_peak_queries")
    if short <= 0.1 * naive:
        return "it disappears"
    return "the same spike, twelve times as often" if short >= 0.9 * naive else "it shrinks: fewer keys expire at once"


@measured("07", "hit-ratio")
def _capstone_hit_ratio() -> str:
    from ..capstone.design import NAIVE_DESIGN, REFERENCE_DESIGN
    from ..capstone.scorecard import score

    naive, ref = score(NAIVE_DESIGN).data_sets, score(REFERENCE_DESIGN).data_sets
    diffs = [ref[name].hit_ratio - naive[name].hit_ratio for name in naive]
    if all(d > 0.01 for d in diffs):
        return "higher on every data set"
    return "lower on most data sets" if sum(d < -0.01 for d in diffs) > len(diffs) / 2 else "about the same"


# -- notebook 08 ------------------------------------------------------------------------


@measured("08", "fallback")
def _fallback() -> str:
    return _nearest(_claim("08", "fallback_served"), {"nearly all: the database has the data": 1.0,
                                                      "about a quarter: what 50 of 200 requests/s allows": 0.25,
                                                      "almost none": 0.0})


@measured("08", "slow")
def _slow() -> str:
    ratio = _claim("08", "slow_cache_p50_ratio")  # median with the slow cache / without a cache
    return ("no cache at all" if ratio > 1.2 else
            "the slow cache: 90% hits still beat the database" if ratio < 0.8 else "about the same")


@measured("08", "cold")
def _cold() -> str:
    if _claim("08", "cold_served") < 0.5:
        return "no: it stays overloaded"
    return "yes, within seconds" if _claim("08", "cold_over_seconds") <= 10 else "yes, within a minute or two"


@measured("08", "metastable")
def _metastable() -> str:
    from ..failures.claims import _AFTER

    over = _claim("08", "meta_over_no_budget")  # seconds over capacity after the trigger ends
    return ("not at all, while traffic stays the same" if over >= _AFTER - 2 else
            "within seconds, like without retries" if over <= 10 else "after a minute or so")


@measured("08", "partial")
def _partial() -> str:
    opens = _claim("08", "partial_consecutive_opens")
    return "never" if opens == 0 else "yes, now and then" if opens < 5 else "yes, within a second"


# -- notebook 09 (a simulated cluster: the real one is the tests' to check) -------------------


@measured("09", "same-slot")
def _same_slot() -> str:
    from ..cluster.slots import key_slot

    if key_slot("user:42:name") == key_slot("user:42:email"):
        return "yes: they share the prefix user:42"
    return "only by luck: the whole key is hashed"


@measured("09", "modulo")
def _modulo() -> str:
    return _nearest(_claim("09", "modulo_moved_share"), {"about 25%: the new node's share": 0.25,
                                                         "about 50%": 0.5, "about 75%": 0.75})


@measured("09", "spread")
def _spread() -> str:
    from ..cluster.rehash import load_spread

    spread = {"modulo": load_spread("modulo", 4), "rendezvous hashing": load_spread("rendezvous", 4),
              "a ring with one point per node": load_spread("consistent hashing", 4, vnodes=1)}
    return max(spread, key=spread.__getitem__)


@measured("09", "hot-share")
def _hot_share() -> str:
    from ..cluster.claims import _hot

    share, fair = _claim("09", "hot_node_share"), _hot("none").fair_share
    return "nearly all of them" if share >= 0.8 else "well over a fair share" if share >= 1.3 * fair else (
        "a fair share, like the others")


@measured("09", "replica-lag")
def _replica_lag() -> str:
    stale = _claim("09", "replica_stale_reads")
    return "none: 0.4 s is nothing" if stale == 0 else "all three" if stale >= 3 else "some of them"


@measured("09", "clusterdown")
def _clusterdown() -> str:
    from ..cluster.claims import _failover

    result = _failover()
    if not any(result.refused(name) for name in result.survivors):
        return "normal answers: their slots are fine"
    return "errors for a moment, then normal answers" if result.recovered else (
        "errors until the crashed master is restarted")


@measured("09", "lost-del")
def _lost_del() -> str:
    from ..cluster.claims import _failover

    result = _failover()
    if result.deleted_value_after is None:
        return "gone: the DEL was acknowledged"
    return "back, with the old price, until its TTL ends" if (result.deleted_ttl_after or 0) > 0 else (
        "back, but expired at once")


# -- notebook 10 ------------------------------------------------------------------------


@measured("10", "price-hit-ratio")
def _price_hit_ratio() -> str:
    ratio = _claim("10", "price_hit_ratio")
    return "about the same, 80-90%" if ratio >= 0.8 else "a bit lower, 70-80%" if ratio >= 0.6 else (
        "far lower, under 60%")


@measured("10", "price-key-bytes")
def _price_key_bytes() -> str:
    return _nearest(_claim("10", "price_key_bytes"), {"about 4": 4, "about 20": 20, "about 90": 90})


@measured("10", "server-hit-ratio")
def _server_hit_ratio() -> str:
    # The notebook measures a real redis-server.  Its prose explains the result with this model:
    # the replay lasts about a second, so Redis's 1 s LRU clock cannot tell keys apart and its
    # eviction comes close to random eviction at the planned keys.
    gap = _claim("10", "predicted_hit_ratio") - _claim("10", "random_floor")
    return _nearest(gap, {"90% or a little more": 0.0, "1-3 points less": 0.02, "under 85%": 0.06})


@measured("10", "healthy-evictions")
def _healthy_evictions() -> str:
    evicted = _claim("10", "healthy_evicted")
    return "none - it has the memory it needs" if evicted == 0 else "a few dozen" if evicted < 200 else "thousands"


@measured("10", "sample-size")
def _sample_size() -> str:
    from ..observability.staleness import sample_size_for

    needed = sample_size_for(0.02, _claim("10", "true_stale_share"))
    return _nearest(needed, {"about 40": 40, "about 400": 400, "about 40,000": 40_000})


# -- notebook 11 ------------------------------------------------------------------------


@measured("11", "victims")
def _victims() -> str:
    return _nearest(_claim("11", "victims_at_60s"), {"about 1 - the next visitor": 1, "about 60": 60,
                                                     "about 600": 600})


@measured("11", "deception")
def _deception() -> str:
    if _claim("11", "deceptions_shipped") > 0:
        return "Alice's settings page, API key included"
    return "the login redirect: no session"


@measured("11", "pickle")
def _pickle() -> str:
    runs = _claim("11", "pickle_runs")
    return "none - pickle only stores data" if runs == 0 else "only the first reader" if runs == 1 else "all three"
