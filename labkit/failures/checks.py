"""The replays that grade notebook 08's exercises, the reference answers and the common mistakes.

Pure: each check returns a :class:`~labkit.exercises.Verdict` whose evidence is the
replay's timeline (a list of rows), so the lesson only assembles the exercises.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import LabError
from ..exercises import Verdict
from .incidents import COLD, COLD_TRAFFIC, OUTAGE, OUTAGE_TRAFFIC, P99_BUDGET_MS, cold_run
from .negative import penetration
from .replay import Defenses, Incident, ReplayReport, Traffic, replay

__all__ = [
    "Breaker", "NoHalfOpenProbe", "NeverCloses", "WithoutLimit", "breaker_scenarios",
    "ABSENT_QUERY_BUDGET", "NEW_ID_BUDGET_SECONDS", "check_negative_ttl",
    "WARM_PLAN", "check_warming_plan", "timeline_rows",
]


class Breaker:
    """A circuit breaker around the cache, and the bulkhead on its fallback."""

    max_fallback_reads = 4  # DB fallback reads at once: 4 x 80 ms = the DB's 50 queries/s

    def __init__(self, clock, failure_threshold=5, reset_timeout_seconds=2.0):
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.reset_timeout_seconds = reset_timeout_seconds
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.probing = False

    def allow(self):
        """May this request try the cache?"""
        if self.state == "open" and self.clock.now() - self.opened_at >= self.reset_timeout_seconds:
            self.state = "half-open"
        if self.state == "closed":
            return True
        if self.state == "half-open" and not self.probing:
            self.probing = True              # exactly one probe at a time
            return True
        return False

    def record_success(self):
        self.state, self.failures, self.probing = "closed", 0, False

    def record_failure(self):
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self.probing = "open", self.clock.now(), False


class NoHalfOpenProbe(Breaker):
    """After the reset timeout, closes at once: every request tries the cache again."""

    def allow(self):
        if self.state == "open" and self.clock.now() - self.opened_at >= self.reset_timeout_seconds:
            self.state, self.failures = "closed", 0
        return self.state == "closed"


class NeverCloses(Breaker):
    """Opens, and never tries the cache again."""

    def allow(self):
        return self.state == "closed"


class WithoutLimit(Breaker):
    max_fallback_reads = None


def _check_breaker_class(answer: Any) -> type:
    if not inspect.isclass(answer):
        raise LabError("Pass your breaker class itself (Breaker), not an instance or a function.")
    for name in ("allow", "record_success", "record_failure"):
        if not callable(getattr(answer, name, None)):
            raise LabError(f"Your breaker class needs a method {name}(); see the skeleton.")
    limit = getattr(answer, "max_fallback_reads", None)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise LabError(f"max_fallback_reads is a whole number >= 1, or None for no limit (got {limit!r}).")
    return answer


def _run(answer: Any, incident: Incident, traffic: Traffic) -> ReplayReport:
    cls = _check_breaker_class(answer)
    d = Defenses(fallback="database", breaker=lambda clock: cls(clock),
                 fallback_limit=getattr(cls, "max_fallback_reads", None))
    return replay(d, traffic=traffic, incident=incident)


def timeline_rows(r: ReplayReport, width: int = 5) -> list[dict[str, Any]]:
    """The replay, every ``width`` seconds: what the evidence table shows."""
    s = r.per_second(width)
    rows = []
    for i, t in enumerate(s["t"]):
        down = r.incident.fault != "none" and r.incident.start_seconds <= t < r.incident.end_seconds
        row = {"time (s)": f"{t}-{t + width}", "cache": "frozen" if down else "up"}
        if r.breaker_states:
            row["breaker at end"] = r.breaker_states[min(t + width, len(r.breaker_states)) - 1]
        row.update({"DB queries/s": round(float(s["db_qps"][i])), "served": f"{s['success'][i]:.0%}",
                    "p99 (ms)": round(float(s["p99_ms"][i]))})
        rows.append(row)
    return rows


# The three outage scenarios of one check share one replay.  The answer itself is kept
# (not its id, which Python may give to a class defined later), and every check starts
# afresh in the first scenario.
_last: list[tuple[Any, ReplayReport]] = []


def _outage(answer: Any) -> ReplayReport:
    if not _last or _last[0][0] is not answer:
        _last[:] = [(answer, _run(answer, OUTAGE, OUTAGE_TRAFFIC))]
    return _last[0][1]


def _healthy(answer: Any) -> Verdict:
    _last.clear()
    r = _run(answer, Incident(fault="none", start_seconds=0, down_seconds=0), Traffic(duration_seconds=10))
    ok = r.success_rate() >= 0.99 and r.mean_db_qps() < r.capacity_qps
    return Verdict(ok, f"with a healthy cache {r.success_rate():.1%} of requests were served"
                   + ("" if ok else " - your breaker refuses a cache that never failed"), timeline_rows(r, 2))


def _db_capacity(answer: Any) -> Verdict:
    r = _outage(answer)
    s, e = OUTAGE.start_seconds, OUTAGE.end_seconds
    peak = r.peak_db_qps(s, e)
    if peak <= r.capacity_qps:
        return Verdict(True, f"the database peaked at {peak} queries/s, within its {r.capacity_qps:.0f}")
    return Verdict(False, f"while the cache was frozen the database took up to {peak} queries/s against a "
                   f"capacity of {r.capacity_qps:.0f} - the sign of a fallback without a limit "
                   "(set max_fallback_reads)", timeline_rows(r))


def _p99(answer: Any) -> Verdict:
    r = _outage(answer)
    s, e = OUTAGE.start_seconds, OUTAGE.end_seconds
    p99 = r.p99_ms(s + 1, e)
    if p99 <= P99_BUDGET_MS:
        return Verdict(True, f"p99 during the outage {p99:.0f} ms, within {P99_BUDGET_MS:.0f} ms")
    why = (f"{r.cache_attempts_while_down:,} requests tried the frozen cache and waited 250 ms each, where a "
           "correct breaker lets one probe through per reset timeout - the sign of no half-open probe "
           "(or of a breaker that never opens)")
    return Verdict(False, f"p99 during the outage was {p99:.0f} ms, over the {P99_BUDGET_MS:.0f} ms budget: "
                   f"{why}", timeline_rows(r))


def _recovery(answer: Any) -> Verdict:
    r = _outage(answer)
    e, d = OUTAGE.end_seconds, OUTAGE_TRAFFIC.duration_seconds
    served = r.success_rate(e + 5, d)
    if served >= 0.99:
        return Verdict(True, f"{served:.0%} served from 5 s after the cache came back")
    return Verdict(False, f"5-20 s after the cache came back only {served:.0%} of requests were served: "
                   "requests still went to the limited fallback: breaker never closes (it stays open once the "
                   "cache is back)",
                   timeline_rows(r))


def breaker_scenarios() -> list[tuple[str, Any]]:
    return [("healthy cache", _healthy), ("30 s outage: database capacity", _db_capacity),
            ("30 s outage: p99 budget", _p99), ("recovery after the outage", _recovery)]


# -- negative caching -------------------------------------------------------------------------

ABSENT_QUERY_BUDGET = 20.0       # DB queries/s the database can spare for ids that do not exist
NEW_ID_BUDGET_SECONDS = 30.0     # a newly created id must be found within this


def check_negative_ttl(ttl: Any) -> tuple[bool, str]:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl <= 3600:
        raise LabError(f"The not-found TTL is a number of seconds between 0 and 3600 (got {ttl!r}).")
    r = penetration(float(ttl))
    if ttl > NEW_ID_BUDGET_SECONDS:
        # The replay may not catch the worst case; the TTL is the guarantee that matters.
        return False, (f"a new id can read 'not found' for up to {ttl:g} s after it is created (the replay saw "
                       f"{r.oldest_false_not_found_seconds:.0f} s) - over the staleness budget of "
                       f"{NEW_ID_BUDGET_SECONDS:.0f} s")
    if r.db_queries_for_absent_per_second > ABSENT_QUERY_BUDGET:
        return False, (f"absent ids still cost {r.db_queries_for_absent_per_second:.0f} DB queries/s, over the "
                       f"{ABSENT_QUERY_BUDGET:.0f} the database can spare - too short to protect the database")
    return True, (f"{r.db_queries_for_absent_per_second:.1f} DB queries/s for absent ids, and new ids found "
                  f"within {r.oldest_false_not_found_seconds:.0f} s")


# -- warming ----------------------------------------------------------------------------------------

WARM_PLAN = {"prewarm_keys": 1000, "ramp_seconds": 60, "single_flight": True}


def check_warming_plan(plan: Any) -> Verdict:
    if isinstance(plan, dict) and plan.get("serve_stale"):
        raise LabError("This exercise's snapshot is too old to serve; plan without serve_stale.")
    r = cold_run(plan)
    e, d = COLD.end_seconds, COLD_TRAFFIC.duration_seconds
    over, peak, served = r.seconds_over_capacity(e), r.peak_db_qps(e, d), r.success_rate(d - 20, d)
    if over <= 10 and peak <= 1.2 * r.capacity_qps and served >= 0.99:
        return Verdict(True, f"the database spent {over} s over capacity (peak {peak}/s) and {served:.0%} "
                       "were served at the end")
    if not any(plan.get(k) for k in ("prewarm_keys", "ramp_seconds", "single_flight")):
        why = "no warming"
    elif plan.get("prewarm_keys", 0) < 500:
        why = "too few keys pre-warmed"
    elif plan.get("ramp_seconds", 0) < 45:
        why = "ramp too short"
    else:
        why = "not enough warming"
    return Verdict(False, f"after the restart the database spent {over} s over capacity (peak {peak}/s) and "
                   f"{served:.0%} were served at the end - {why}", timeline_rows(r, 10))
