"""The live experiments' twins on a virtual clock: what a slider shows before "Run live".

A live herd releases real threads and takes a second or more; moving a slider must
answer at once.  So every live experiment of notebook 04 has a virtual-clock twin
here that returns the same :class:`~labkit.stampede.herd.HerdReport` (with
``backend="virtual clock"``), from the same rules:

* :func:`preview_herd` - one expiry met by a burst of readers (``simulate_herd``).
* :func:`preview_expired_lock` - three callers, a lock TTL shorter than the query,
  played event by event: the common lock recipe (SET NX, plain DEL, retry every
  50 ms) against the correct lock (a token, a lease renewed while it works).
* :func:`preview_stall` - a stalled database: the recipe's readers never return; the
  correct lock's readers return at their deadline, with the stale copy or an error.

The live runs stay the truth (``run_herd``, ``run_expired_lock``); the tests check
that the twins agree with them on what the notebook states.
"""

from __future__ import annotations

import heapq

import numpy as np

from .defenses import Outcome, check_choice
from .herd import HerdReport
from .simulation import SIM_DEFENSES, _timeline, simulate_herd

__all__ = ["preview_herd", "preview_expired_lock", "preview_stall", "VIRTUAL"]

VIRTUAL = "virtual clock"
_NAIVE_RETRY_SECONDS = 0.05  # the recipe's wait(50ms)
_POLL_SECONDS = 0.01


def _report(defense: str, *, outcomes: list[str], latencies: np.ndarray, arrivals: np.ndarray,
            db_queries: int, timeline: list[tuple[float, int]], peak: int, db_latency_seconds: float,
            errors: list[str] | None = None, foreign_lock_frees: int = 0,
            deadline_seconds: float | None = None) -> HerdReport:
    return HerdReport(
        defense=defense, readers=len(outcomes), backend=VIRTUAL, db_latency_seconds=db_latency_seconds,
        db_queries=db_queries, outcomes=outcomes, versions=[None] * len(outcomes),
        latencies_seconds=latencies, arrival_seconds=arrivals, errors=errors or [], timeline=timeline,
        peak_db_in_flight=peak, store_commands=0, wall_seconds=0.0, fresh_version=2,
        foreign_lock_frees=foreign_lock_frees, deadline_seconds=deadline_seconds,
    )


def preview_herd(defense: str, readers: int, *, db_latency_seconds: float = 0.05,
                 parallel_queries: int = 16, app_processes: int = 1) -> HerdReport:
    """``readers`` arriving together at an expired key, on virtual time."""
    check_choice("defense", defense, SIM_DEFENSES)
    sim = simulate_herd(defense, readers, recompute_seconds=db_latency_seconds,
                        parallel_queries=parallel_queries, app_processes=app_processes)
    return _report(defense, outcomes=list(sim.outcomes), latencies=np.asarray(sim.latencies_seconds, float),
                   arrivals=np.asarray(sim.arrival_seconds, float), db_queries=sim.db_queries,
                   timeline=sim.timeline, peak=sim.peak_db_in_flight, db_latency_seconds=db_latency_seconds)


def preview_expired_lock(defense: str, *, callers: int = 3, lock_ttl_seconds: float = 0.05,
                         db_latency_seconds: float = 0.15, stagger_seconds: float = 0.06) -> HerdReport:
    """Callers ``stagger_seconds`` apart at an empty cache, played event by event.

    ``naive-lock``: SET NX with a TTL, an unconditional DEL, a 50 ms retry.
    ``lock``: a token, a lease renewed while the query runs (so it never expires
    under its holder), compare-and-delete, polling waiters.
    """
    check_choice("defense", defense, ("naive-lock", "lock"))
    retry = _NAIVE_RETRY_SECONDS if defense == "naive-lock" else _POLL_SECONDS
    filled_at = np.inf
    holder, lock_expires = None, 0.0
    outcomes = [Outcome.STUCK] * callers
    finished = np.full(callers, np.nan)
    retried = [False] * callers
    starts: list[float] = []
    ends: list[float] = []
    frees = 0
    events = [(i * stagger_seconds, 0, i, "try") for i in range(callers)]
    heapq.heapify(events)
    seq = callers
    while events:
        now, _, who, action = heapq.heappop(events)
        if action == "done":
            filled_at = min(filled_at, now)
            still_held = holder is not None and (defense == "lock" or lock_expires > now)
            if defense == "naive-lock" and still_held and holder != who:
                frees += 1  # the plain DEL frees whoever holds the lock now
            if still_held and (defense == "naive-lock" or holder == who):
                holder = None
            outcomes[who], finished[who] = Outcome.LOADED, now
            continue
        if now >= filled_at:
            outcomes[who], finished[who] = (Outcome.WAITED if retried[who] else Outcome.HIT), now
            continue
        free = holder is None or (defense == "naive-lock" and lock_expires <= now)
        if free:
            holder, lock_expires = who, now + lock_ttl_seconds
            starts.append(now)
            ends.append(now + db_latency_seconds)
            heapq.heappush(events, (now + db_latency_seconds, seq, who, "done"))
        else:
            retried[who] = True
            heapq.heappush(events, (now + retry, seq, who, "try"))
        seq += 1
    arrivals = np.arange(callers) * stagger_seconds
    timeline, peak = _timeline(starts, ends)
    return _report(defense, outcomes=outcomes, latencies=finished - arrivals, arrivals=arrivals,
                   db_queries=len(starts), timeline=timeline, peak=peak, db_latency_seconds=db_latency_seconds,
                   foreign_lock_frees=frees)


def preview_stall(defense: str, readers: int, *, deadline_seconds: float, stale_copy: bool = True) -> HerdReport:
    """A database that never answers: who returns, and when."""
    check_choice("defense", defense, ("naive-lock", "lock"))
    arrivals = np.zeros(readers)
    if defense == "naive-lock":  # no deadline: every reader retries until we stop watching
        return _report(defense, outcomes=[Outcome.STUCK] * readers, latencies=np.full(readers, np.nan),
                       arrivals=arrivals, db_queries=1, timeline=[(0.0, 1)], peak=1, db_latency_seconds=0.0)
    outcome = Outcome.STALE if stale_copy else Outcome.ERROR
    error = (f"No fresh value within {deadline_seconds:g} s and no stale copy to serve, so this read "
             "fails fast instead of waiting forever.")
    return _report(defense, outcomes=[outcome] * readers, latencies=np.full(readers, deadline_seconds),
                   arrivals=arrivals, db_queries=1, timeline=[(0.0, 1), (deadline_seconds, 0)], peak=1,
                   db_latency_seconds=0.0, errors=[] if stale_copy else [error] * readers,
                   deadline_seconds=deadline_seconds)

