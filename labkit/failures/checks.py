"""The replays that grade notebook 08's exercises, the reference answers and the common mistakes.

Pure: each check returns a :class:`~labkit.exercises.Verdict` whose evidence is the
replay's timeline (a list of rows), so the lesson only assembles the exercises.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np

from ..clock import VirtualClock
from ..errors import LabError
from ..exercises import Verdict
from .incidents import COLD, COLD_TRAFFIC, OUTAGE, OUTAGE_TRAFFIC, P99_BUDGET_MS, cold_run
from .negative import PROBES, penetration
from .replay import Defenses, Incident, ReplayReport, Traffic, replay

__all__ = [
    "breaker_scenarios",
    "ABSENT_QUERY_BUDGET", "NEW_ID_BUDGET_SECONDS", "check_negative_ttl",
    "WARM_PLAN", "check_warming_plan", "timeline_rows",
]


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
        if r.defenses.breaker is not None:
            row["cache calls"] = int(((r.cache_tries >= t) & (r.cache_tries < t + width)).sum())
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
    skipped = len(r.arrivals) - len(r.cache_tries)
    return Verdict(ok, f"with a healthy cache {r.success_rate():.1%} of requests were served"
                   + ("" if ok else f"; your breaker kept {skipped:,} of {len(r.arrivals):,} requests away from a "
                      "cache that never failed"), timeline_rows(r, 2))


# -- the state machine, call by call, on a virtual clock -----------------------------------------

_WALL_CLOCK_CALLS = ("time.time(", "time.monotonic(", "perf_counter(", "datetime.now(", "datetime.utcnow(",
                     "monotonic(")


def _reads_wall_clock(cls: type) -> str | None:
    """The wall-clock call in the class's methods, if any.  Method by method: in a notebook
    a class has no source file, but each function knows its cell."""
    source = []
    for klass in cls.__mro__[:-1]:
        for member in vars(klass).values():
            with contextlib.suppress(OSError, TypeError):
                source.append(inspect.getsource(member) if inspect.isfunction(member) else "")
    text = "\n".join(source)
    return next((call for call in _WALL_CLOCK_CALLS if call in text), None)


class _Drive:
    """Calls a fresh breaker the way the service does, and keeps a log for the evidence."""

    def __init__(self, cls: type) -> None:
        self.clock = VirtualClock()
        self.b = cls(self.clock)
        self.rows: list[dict[str, Any]] = []

    def at(self, t: float) -> _Drive:
        self.clock.set(t)
        return self

    def allow(self) -> bool:
        allowed = bool(self.b.allow())
        self._log("allow()", "True" if allowed else "False")
        return allowed

    def record(self, ok: bool) -> None:
        (self.b.record_success if ok else self.b.record_failure)()
        self._log("record_success()" if ok else "record_failure()", "")

    def fail_in_a_row(self, n: int) -> int | None:
        """n allowed calls that fail; the call (1-based) that allow() refused, if any."""
        for i in range(1, n + 1):
            if not self.allow():
                return i
            self.record(False)
            self.at(self.clock.now() + 0.01)
        return None

    def _log(self, call: str, result: str) -> None:
        self.rows.append({"time (s)": f"{self.clock.now():.2f}", "call": call, "returned": result})

    def evidence(self) -> list[dict[str, Any]]:
        return self.rows[-20:]


def _scattered(cls: type) -> Verdict | None:
    """One failure in ten, never two in a row: a breaker must never open."""
    d, failures = _Drive(cls), 0
    for i in range(100):
        d.at(i * 0.01)
        if not d.allow():
            named = " - it counts failures across successes" if failures == 5 else ""
            return Verdict(False, f"a cache failed 1 call in 10, never twice in a row; after {failures} such "
                           f"failures, each followed by 9 successes, allow() refused call {i + 1}{named}. "
                           "A success must reset the count of failures in a row.", d.evidence())
        failed = i % 10 == 0
        failures += failed
        d.record(not failed)
    return None


def _first_probe(cls: type, calls_between: bool, until: float = 60.0) -> float | None:
    """How long after 5 failures open a fresh breaker it first lets a call through (None: not within
    ``until`` s), with calls every 0.1 s while it is open, or none until 2.05 s."""
    d = _Drive(cls)
    d.fail_in_a_row(5)
    t = opened = d.clock.now() - 0.01
    while t < opened + until:
        t = round(t + 0.1, 2)
        if (calls_between or t >= opened + 2.05) and d.at(t).allow():
            return t - opened
    return None


def _no_probe(cls: type) -> Verdict:
    if _first_probe(cls, calls_between=False) is not None:
        return Verdict(False, "with calls every 0.1 s while open, your breaker never let a probe through in 60 s; "
                       "left without calls for 2 s, it did - each refused call restarts the reset timer")
    call = _reads_wall_clock(cls)
    if call:
        return Verdict(False, f"60 s after it opened (on the clock it was given) no call had gone through, and "
                       f"it calls {call}...): it reads the wall clock. The lab's replays, like your "
                       "tests, run on the clock passed to __init__: use clock.now()")
    return Verdict(False, "in 60 s after it opened your breaker let no call through: it never sends a probe, "
                   "so it never learns that the cache is back")


def _state_machine(answer: Any) -> Verdict:
    cls = _check_breaker_class(answer)
    scattered = _scattered(cls)
    if scattered:
        return scattered
    d = _Drive(cls)
    refused = d.fail_in_a_row(5)
    if refused:
        return Verdict(False, f"your breaker refused call {refused} after only {refused - 1} failures in a row "
                       "(failure_threshold is 5)", d.evidence())
    opened = d.clock.now() - 0.01
    if d.allow():
        return Verdict(False, "after 5 failures in a row allow() still returned True: the breaker does not open "
                       "at failure_threshold", d.evidence())
    for k in range(1, 20):
        if d.at(opened + k * 0.1).allow():
            return Verdict(False, f"open since {opened:.2f} s, your breaker let a call through {k * 0.1:.1f} s "
                           "later, before reset_timeout_seconds (2.0 s)", d.evidence())
    d.at(opened + 2.05)
    through = [d.allow() for _ in range(3)]
    if not through[0]:
        first = _first_probe(cls, calls_between=True)
        if first is None:
            v = _no_probe(cls)
            return Verdict(False, v.message, d.evidence())
        return Verdict(False, f"the first call your breaker let through came {first:.1f} s after it opened, "
                       "where reset_timeout_seconds is 2.0: the service waits that long to find the cache back",
                       d.evidence())
    if sum(through) > 1:
        return Verdict(False, f"2.05 s after opening, {sum(through)} of 3 calls in a row were let through: with "
                       "no half-open probe every request tries the cache again (a frozen cache makes each wait "
                       "for its timeout)", d.evidence())
    d.at(opened + 2.3).record(False)  # the probe failed
    for k in range(1, 20):
        if d.at(opened + 2.3 + k * 0.1).allow():
            return Verdict(False, f"the probe failed, and {k * 0.1:.1f} s later your breaker let another call "
                           "through: a failed probe must open the breaker again for reset_timeout_seconds",
                           d.evidence())
    if not d.at(opened + 4.4).allow():
        return Verdict(False, "the probe failed and your breaker re-opened, but 2.1 s later it did not let the "
                       "next probe through", d.evidence())
    d.at(opened + 4.5).record(True)  # this probe succeeded
    if not all(d.at(opened + 4.5 + k * 0.01).allow() for k in range(1, 4)):
        return Verdict(False, "the probe succeeded, yet allow() returned False afterwards: a successful probe "
                       "does not close the breaker", d.evidence())
    d.record(True)
    refused = d.fail_in_a_row(5)
    if refused is not None:
        return Verdict(False, f"the probe's success closed the breaker, then {refused - 1} failure(s) opened "
                       "it again (failure_threshold is 5): the success did not reset the count to 0 - it "
                       "counts failures across successes", d.evidence())
    return Verdict(True, "closed, open after 5 failures in a row, one probe after 2 s, re-opened by a failed "
                   "probe, closed by a successful one")


# -- the 30 s outage ----------------------------------------------------------------------------------


def _db_capacity(answer: Any) -> Verdict:
    r = _outage(answer)
    s, e = OUTAGE.start_seconds, OUTAGE.end_seconds
    peak, mean = r.peak_db_qps(s, e), r.mean_db_qps(s, e)
    limit = getattr(answer, "max_fallback_reads", None)
    query_ms = r.capacity.query_seconds * 1000
    if peak > r.capacity_qps:
        said = (f"while the cache was frozen the database was sent up to {peak} queries/s against a capacity of "
                f"{r.capacity_qps:.0f}")
        if limit is None:
            return Verdict(False, f"{said}: max_fallback_reads is None - a fallback without a limit",
                           timeline_rows(r))
        why = (f"max_fallback_reads = {limit} lets {limit} reads of {query_ms:.0f} ms run at once, up to "
               f"{limit * 1000 / query_ms:.1f} queries/s; the database's {r.capacity.workers} workers serve "
               f"{r.capacity_qps:.0f}")
        if limit == round(r.capacity_qps):
            why += (" - the bulkhead counts queries per second, not reads at once (Little's law: "
                    f"{r.capacity_qps:.0f}/s x {r.capacity.query_seconds:g} s = {r.capacity.workers})")
        return Verdict(False, f"{said}: {why}", timeline_rows(r))
    if mean < 0.75 * r.capacity_qps:
        return Verdict(False, f"while the cache was frozen the database served only {mean:.0f} of the "
                       f"{r.capacity_qps:.0f} queries/s it can (max_fallback_reads = {limit}): requests failed "
                       "that the database could have served", timeline_rows(r))
    return Verdict(True, f"the database peaked at {peak} queries/s, within its {r.capacity_qps:.0f}")


def _p99(answer: Any) -> Verdict:
    r = _outage(answer)
    s, e = OUTAGE.start_seconds, OUTAGE.end_seconds
    p99 = r.p99_ms(s + 1, e)
    if p99 <= P99_BUDGET_MS:
        return Verdict(True, f"p99 during the outage {p99:.0f} ms, within {P99_BUDGET_MS:.0f} ms")
    tries = r.cache_tries[(r.cache_tries >= s) & (r.cache_tries < e)]
    return Verdict(False, f"p99 during the outage was {p99:.0f} ms, over the {P99_BUDGET_MS:.0f} ms budget: "
                   f"{len(tries):,} requests tried the frozen cache and waited for its 250 ms timeout "
                   f"({len(tries) / (e - s):.0f} a second), where one probe per reset timeout would be "
                   f"{(e - s) / 2:.0f} in all", timeline_rows(r))


def _recovery(answer: Any) -> Verdict:
    r = _outage(answer)
    e, d = OUTAGE.end_seconds, OUTAGE_TRAFFIC.duration_seconds
    served = r.success_rate(e + 5, d)
    if served >= 0.99:
        return Verdict(True, f"{served:.0%} served from 5 s after the cache came back")
    after = r.cache_tries[r.cache_tries >= e]
    during = r.cache_tries[(r.cache_tries >= OUTAGE.start_seconds + 1) & (r.cache_tries < e)]
    seen = (f"your breaker's first call to the cache after it came back at {e:.0f} s was at {after[0]:.1f} s"
            if len(after) else f"your breaker made no call to the cache from {e:.0f} s to the end ({d:.0f} s)")
    if len(during) > 1:
        seen += f"; during the outage it tried every {float(np.median(np.diff(during))):.1f} s"
    return Verdict(False, f"5-20 s after the cache came back only {served:.0%} of requests were served: {seen}",
                   timeline_rows(r))


def breaker_scenarios() -> list[tuple[str, Any]]:
    return [("healthy cache", _healthy), ("call by call: scattered failures, open, probe, close", _state_machine),
            ("30 s outage: database capacity", _db_capacity), ("30 s outage: p99 budget", _p99),
            ("recovery after the outage", _recovery)]

# -- negative caching -------------------------------------------------------------------------

ABSENT_QUERY_BUDGET = 20.0       # DB queries/s the database can spare for ids that do not exist
NEW_ID_BUDGET_SECONDS = 30.0     # a newly created id must be found within this


def check_negative_ttl(ttl: Any) -> tuple[bool, str]:
    """The TTL is the guarantee on both sides: a new id reads "not found" for at most the TTL,
    and, if no absent id were ever created, absent ids cost ``ids * r / (1 + r * T)`` queries/s.
    The replay (where some ids are created, and then cost nothing) is shown beside it."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl <= 3600:
        unit = (f" - {ttl / 1000:g} s written in milliseconds, not seconds?"
                if isinstance(ttl, (int, float)) and 3600 < ttl <= 3_600_000 else "")
        raise LabError(f"The not-found TTL is a number of seconds between 0 and 3600 (got {ttl!r}){unit}.")
    r = penetration(float(ttl))
    if ttl > NEW_ID_BUDGET_SECONDS:
        return False, (f"a new id can read 'not found' for up to {ttl:g} s after it is created (the replay saw "
                       f"{r.oldest_false_not_found_seconds:.0f} s) - over the staleness budget of "
                       f"{NEW_ID_BUDGET_SECONDS:.0f} s")
    p = PROBES
    worst = p.absent_ids * p.absent_reads_per_id_per_second / (1 + p.absent_reads_per_id_per_second * ttl)
    if worst > ABSENT_QUERY_BUDGET:
        return False, (f"with no absent id created, {p.absent_ids} ids x 1/(1 + {ttl:g}) = {worst:.1f} DB queries/s "
                       f"(the replay, where some were created, measured "
                       f"{r.db_queries_for_absent_per_second:.1f}), over the {ABSENT_QUERY_BUDGET:.0f} the database "
                       "can spare - too short to protect the database")
    return True, (f"at most {worst:.1f} DB queries/s for absent ids (the replay measured "
                  f"{r.db_queries_for_absent_per_second:.1f}), and new ids found within {ttl:g} s (the replay's "
                  f"oldest: {r.oldest_false_not_found_seconds:.0f} s)")


# -- warming ----------------------------------------------------------------------------------------

WARM_PLAN = {"prewarm_keys": 1000, "ramp_seconds": 60}
WARMING_BUDGET_SECONDS = 40.0  # the warmer runs at most this long before the restart


def _warming_budgets(plan: dict[str, Any]) -> tuple[bool, str, ReplayReport]:
    r = cold_run(plan)
    e, d = COLD.end_seconds, COLD_TRAFFIC.duration_seconds
    over, peak, served = r.seconds_over_capacity(e), r.peak_db_qps(e, d), r.success_rate(d - 20, d)
    broken = [f"{over} s over capacity (at most 10)"] if over > 10 else []
    if peak > 1.2 * r.capacity_qps:
        broken.append(f"a peak of {peak} queries/s (at most {1.2 * r.capacity_qps:.0f}, 20% over)")
    if served < 0.99:
        broken.append(f"{served:.1%} served in the last 20 s (at least 99%)")
    said = f"{over} s over capacity, peak {peak}/s, {served:.1%} served in the last 20 s"
    return not broken, ("; ".join(broken) if broken else said), r


def check_warming_plan(plan: Any) -> Verdict:
    if isinstance(plan, dict) and plan.get("serve_stale"):
        raise LabError("This exercise's snapshot is too old to serve; plan without serve_stale.")
    cold_run(plan)  # a plan that is not one is a one-sentence LabError
    rate = Defenses().prewarm_rate_per_second
    most = int(WARMING_BUDGET_SECONDS * rate)
    keys = plan.get("prewarm_keys", 0)
    if keys > most:
        return Verdict(False, f"pre-warming {keys:,} keys at {rate:g} queries/s takes {keys / rate:.0f} s; the "
                       f"warmer has {WARMING_BUDGET_SECONDS:.0f} s before the restart ({most:,} keys) - it "
                       "pre-warms more keys than 40 s allow")
    ok, said, r = _warming_budgets(plan)
    if ok:
        return Verdict(True, f"after the restart: {said}")
    if not any(plan.get(k) for k in ("prewarm_keys", "ramp_seconds", "single_flight")):
        return Verdict(False, f"after the restart the database broke the budget: {said} - no warming",
                       timeline_rows(r, 10))
    # Name a mistake only where a replay shows it: the same plan, changed there, passes.
    keys, ramp = {"prewarm_keys": most}, {"ramp_seconds": 60}
    ramp_named = "ramp too short" if plan.get("ramp_seconds") else "no ramp"
    for named, change in (("too few keys pre-warmed", keys), (ramp_named, ramp),
                          (f"too few keys pre-warmed and {ramp_named}", {**keys, **ramp})):
        if any(plan.get(k, 0) != v for k, v in change.items()) and _warming_budgets({**plan, **change})[0]:
            how = " and ".join(f"{k}={v}" for k, v in change.items())
            said += f" - {named}: the same plan with {how} passes"
            break
    return Verdict(False, f"after the restart the database broke the budget: {said}", timeline_rows(r, 10))
