"""The notebook's incidents and the defenses it compares, by name (remembered per process).

Section 1 (cache down), 3 (cold cache) and 5 (metastable failure) each replay one
incident with several named defenses; claims, charts and exercises read the same runs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import LabError, check_choice
from ..memo import memo
from .breaker import CircuitBreaker
from .replay import Defenses, Incident, ReplayReport, Traffic, replay

__all__ = [
    "OUTAGE", "OUTAGE_TRAFFIC", "OUTAGE_STRATEGIES", "outage_run",
    "COLD", "COLD_TRAFFIC", "WARMING_PLANS", "cold_run", "plan_defenses", "PLAN_KEYS",
    "METASTABLE", "METASTABLE_TRAFFIC", "METASTABLE_FIXES", "metastable_run",
    "P99_BUDGET_MS",
]

P99_BUDGET_MS = 200.0

# -- 1. the cache is down for 30 s (frozen: every command times out) -------------------------
OUTAGE = Incident(fault="hang", start_seconds=20, down_seconds=30, comes_back="warm")
OUTAGE_TRAFFIC = Traffic(duration_seconds=70)


def _breaker(clock: Any) -> CircuitBreaker:
    return CircuitBreaker(clock, failure_threshold=5, reset_timeout_seconds=2.0)


OUTAGE_STRATEGIES: dict[str, Defenses] = {
    "fail the request": Defenses(fallback="fail"),
    "fall back to the DB": Defenses(fallback="database"),
    "+ bulkhead (4 at once)": Defenses(fallback="database", fallback_limit=4),
    "+ circuit breaker": Defenses(fallback="database", fallback_limit=4, breaker=_breaker),
    "+ gutter cache": Defenses(fallback="gutter", fallback_limit=4, breaker=_breaker),
}


@memo(maxsize=16)
def outage_run(strategy: str) -> ReplayReport:
    check_choice("strategy", strategy, OUTAGE_STRATEGIES)
    return replay(OUTAGE_STRATEGIES[strategy], traffic=OUTAGE_TRAFFIC, incident=OUTAGE)


# -- 3. the cache restarts empty at peak -----------------------------------------------------
COLD = Incident(fault="refuse", start_seconds=40, down_seconds=1, comes_back="empty")
COLD_TRAFFIC = Traffic(duration_seconds=110)
PLAN_KEYS = ("prewarm_keys", "ramp_seconds", "single_flight", "serve_stale", "shed_after_seconds", "sharded")
_NO_FALLBACK = Defenses(fallback="fail")

# A ramp's model: the requests not yet sent to the restarted node go to warm copies of the
# same keys (a replicated pool: served at once).  In a sharded cache (notebook 09) the
# restarted shard is the only owner of its keys: ``sharded`` sends those requests to the DB.
WARMING_PLANS: dict[str, dict[str, Any]] = {
    "cold (no warming)": {},
    "single-flight": {"single_flight": True},
    "load shedding (0.5 s)": {"shed_after_seconds": 0.5},
    "pre-warm 1,000 hot keys": {"prewarm_keys": 1000},
    "ramp traffic over 60 s": {"ramp_seconds": 60},
    "serve a stale snapshot": {"serve_stale": True},
    "pre-warm + ramp 45 s": {"prewarm_keys": 1000, "ramp_seconds": 45},
    "sharded: pre-warm + ramp 60 s": {"prewarm_keys": 1000, "ramp_seconds": 60, "sharded": True},
    "sharded: pre-warm + load shedding": {"prewarm_keys": 1000, "shed_after_seconds": 0.5, "sharded": True},
}


def plan_defenses(plan: dict[str, Any]) -> Defenses:
    """A warming plan (a dict with any of ``PLAN_KEYS``) as the replay's defenses."""
    if not isinstance(plan, dict):
        raise LabError(f"A warming plan is a dict such as {{'prewarm_keys': 1000}} (got {plan!r}).")
    unknown = set(plan) - set(PLAN_KEYS)
    if unknown:
        raise LabError(f"Unknown plan key(s) {', '.join(sorted(unknown))}; use {', '.join(PLAN_KEYS)}.")
    keys = plan.get("prewarm_keys", 0)
    if isinstance(keys, bool) or not isinstance(keys, int) or not 0 <= keys <= COLD_TRAFFIC.keys:
        raise LabError(f"prewarm_keys is a whole number of keys from 0 to {COLD_TRAFFIC.keys} (got {keys!r}).")
    ramp = plan.get("ramp_seconds", 0)
    if isinstance(ramp, bool) or not isinstance(ramp, (int, float)) or not 0 <= ramp <= 60:
        raise LabError(f"ramp_seconds is a number of seconds from 0 to 60 (got {ramp!r}).")
    shed = plan.get("shed_after_seconds")
    if shed is not None and (isinstance(shed, bool) or not isinstance(shed, (int, float)) or shed <= 0):
        raise LabError(f"shed_after_seconds is a number of seconds above 0, or None (got {shed!r}).")
    return replace(_NO_FALLBACK, prewarm_keys=keys, ramp_seconds=float(ramp),
                   single_flight=bool(plan.get("single_flight", False)),
                   serve_stale=bool(plan.get("serve_stale", False)),
                   shed_after_seconds=None if shed is None else float(shed),
                   ramp_to="database" if plan.get("sharded") else "replicas")


@memo(maxsize=32)
def _cold(d: Defenses) -> ReplayReport:
    return replay(d, traffic=COLD_TRAFFIC, incident=COLD)


def cold_run(plan: dict[str, Any] | str) -> ReplayReport:
    if isinstance(plan, str):
        plan = WARMING_PLANS[check_choice("plan", plan, WARMING_PLANS)]
    return _cold(plan_defenses(plan))


# -- 5. a 30 s cache outage with retries: metastable ------------------------------------------
METASTABLE = Incident(fault="hang", start_seconds=20, down_seconds=30, comes_back="warm")
METASTABLE_TRAFFIC = Traffic(duration_seconds=90)
_RETRYING = Defenses(fallback="database", retries=3)

METASTABLE_FIXES: dict[str, Defenses] = {
    "3 retries, no budget": _RETRYING,
    "no retries": Defenses(fallback="database"),
    "retry budget (10%)": replace(_RETRYING, retry_budget=0.1),
    "backoff with jitter": replace(_RETRYING, backoff_seconds=0.1),
    "load shedding": replace(_RETRYING, shed_after_seconds=0.5),
}


@memo(maxsize=16)
def metastable_run(fix: str) -> ReplayReport:
    check_choice("fix", fix, METASTABLE_FIXES)
    return replay(METASTABLE_FIXES[fix], traffic=METASTABLE_TRAFFIC, incident=METASTABLE)
