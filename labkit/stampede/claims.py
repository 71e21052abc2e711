"""The numbers notebook 04's prose states, from the notebook's own settings on a virtual clock.

The live herds (real threads) vary from run to run and machine to machine; their
facts are asserted by the tests with margins.  What the prose quotes comes from
the virtual-clock twins and simulations, which give the same number every run.
"""

from __future__ import annotations

from ..claims import claim
from ..memo import memo
from .preview import preview_expired_lock, preview_herd
from .simulation import (
    BETA_TASK,
    SIM_DEFENSES,
    beta_task_run,
    poisson_arrivals,
    protection_costs,
    simulate_traffic,
    synchronized_expiry,
)

NOTEBOOK = "04"
_READERS = 200


@claim("herd_queries", notebook=NOTEBOOK, fact="with no defense, nearly every one of 200 readers queries the DB",
       holds=lambda v: v >= 0.9 * _READERS)
def herd_queries() -> int:
    return preview_herd("none", _READERS).db_queries


@claim("recipe_refreshes_at_once", notebook=NOTEBOOK,
       fact="with a lock TTL shorter than the query the common recipe runs several refreshes at once",
       holds=lambda v: v >= 2)
def recipe_refreshes_at_once() -> int:
    return preview_expired_lock("naive-lock", lock_ttl_seconds=0.05).peak_db_in_flight


@memo(maxsize=1)
def _steady() -> dict:
    clients, seconds = 10_000, 3600.0
    arrivals = poisson_arrivals(clients * 0.1, seconds, seed=clients)
    return {d: simulate_traffic(d, clients=clients, seconds=seconds, ttl_seconds=30.0, recompute_seconds=0.05,
                                beta=1.0, arrivals=arrivals, app_processes=4) for d in SIM_DEFENSES}


@claim("steady_none_queries_per_expiry", notebook=NOTEBOOK,
       fact="at 1,000 reads/s and a 50 ms recompute, an undefended expiry costs one query plus about 50",
       holds=lambda v: 40 <= v <= 65)
def steady_none_queries_per_expiry() -> float:
    return _steady()["none"].mean_queries_per_expiry


@claim("xfetch_missed_share", notebook=NOTEBOOK,
       fact="with steady traffic XFetch refreshes in time: readers almost never see the expiry",
       holds=lambda v: v < 0.01)
def xfetch_missed_share() -> float:
    return 1 - _steady()["xfetch"].share_windows_without_miss


@claim("jitter_flat_peak", notebook=NOTEBOOK, fact="keys filled together all expire in the same second",
       holds=lambda v: v >= 900)
def jitter_flat_peak() -> int:
    return int(synchronized_expiry(1000, ttl_seconds=300.0, jitter_fraction=0.0).max())


@claim("jitter_peak", notebook=NOTEBOOK, fact="a ±10% jitter cuts the peak by more than ten times",
       holds=lambda v: 10 * v < jitter_flat_peak())
def jitter_peak() -> int:
    return int(synchronized_expiry(1000, ttl_seconds=300.0, jitter_fraction=0.10).max())


@memo(maxsize=1)
def _costs():
    return protection_costs(10_000, reads_per_second=5000.0)


@claim("herd_keys", notebook=NOTEBOOK, fact="only a few dozen of 10,000 keys ever see two concurrent queries",
       holds=lambda v: 5 <= v <= 100)
def herd_keys() -> int:
    costs = _costs()
    return int(((1 + costs.reads_per_second * 0.05) >= 2).sum())


@claim("hot_protection_commands", notebook=NOTEBOOK, fact="protecting the hottest 100 keys costs a few commands/s",
       holds=lambda v: v < all_protection_commands() / 20)
def hot_protection_commands() -> float:
    return float(_costs().bookkeeping_per_second[:100].sum())


@claim("hot_protection_saves", notebook=NOTEBOOK,
       fact="the hottest 100 keys hold most of the duplicate queries a lock can save",
       holds=lambda v: v > 0.5 * all_protection_saves())
def hot_protection_saves() -> float:
    return float(_costs().duplicates_per_second[:100].sum())


@claim("all_protection_commands", notebook=NOTEBOOK, fact="protecting every key costs hundreds of commands/s",
       holds=lambda v: v > 100)
def all_protection_commands() -> float:
    return float(_costs().bookkeeping_per_second.sum())


@claim("all_protection_saves", notebook=NOTEBOOK, fact="protecting every key saves little more than the hot ones",
       holds=lambda v: v < 2 * hot_protection_saves())
def all_protection_saves() -> float:
    return float(_costs().duplicates_per_second.sum())


@claim("beta_task_expiries", notebook=NOTEBOOK, fact="ten hours at a 60 s TTL is several hundred expiries",
       holds=lambda v: 400 <= v <= 700)
def beta_task_expiries() -> int:
    return beta_task_run(2.0).windows


@claim("beta_two_lead_seconds", notebook=NOTEBOOK, fact="beta = 2 refreshes a few seconds early, within 10 s",
       holds=lambda v: 0 < v <= BETA_TASK["max_mean_lead_seconds"])
def beta_two_lead_seconds() -> float:
    return beta_task_run(2.0).mean_refresh_lead_seconds


@claim("beta_one_slips", notebook=NOTEBOOK,
       fact="at beta = 1 and 20 reads/s a few percent of expiries slip through to readers",
       holds=lambda v: 1 - BETA_TASK["min_share_without_miss"] < v < 0.15)
def beta_one_slips() -> float:
    return 1 - beta_task_run(1.0).share_windows_without_miss


