"""The live experiments on a virtual clock: what a slider shows before "Run live".

A live herd releases real threads and takes a second or more; moving a slider must
answer at once.  So each preview runs the *same* experiment - the same
:func:`~labkit.stampede.herd.run_herd`, the same defense code in
:mod:`~labkit.stampede.defenses`, the same database load model - on a fresh
in-process store whose clock is an :class:`~labkit.clock.AutoClock`: the readers
are still threads, but they take turns and time jumps whenever all of them wait.
Same numbers every run, in tens of milliseconds of wall time; a slider that
returns to a setting gets the remembered report (:func:`~labkit.memo.memo`).

* :func:`preview_herd` - one expiry met by a burst of readers.
* :func:`preview_expired_lock` - three callers, a lock TTL shorter than the query.
* :func:`preview_stall` - a stalled database: who returns, and when.
"""

from __future__ import annotations

from ..clock import AutoClock
from ..memo import memo
from ..store import MemoryStore
from .defenses import check_choice
from .herd import VIRTUAL, HerdReport, run_expired_lock, run_herd
from .simulation import SIM_DEFENSES

__all__ = ["preview_herd", "preview_expired_lock", "preview_stall", "VIRTUAL"]


def _virtual_store() -> MemoryStore:
    return MemoryStore(AutoClock(), namespace="stampede-preview")


@memo(maxsize=64)
def preview_herd(defense: str, readers: int, *, db_latency_seconds: float = 0.05,
                 parallel_queries: int = 16, app_processes: int = 1) -> HerdReport:
    """``readers`` arriving together at an expired key, on virtual time."""
    check_choice("defense", defense, SIM_DEFENSES)
    return run_herd(defense, readers, _virtual_store(), db_latency_seconds=db_latency_seconds,
                    parallel_queries=parallel_queries, app_processes=app_processes)


@memo(maxsize=64)
def preview_expired_lock(defense: str, *, callers: int = 3, lock_ttl_seconds: float = 0.05,
                         db_latency_seconds: float = 0.15, stagger_seconds: float = 0.06) -> HerdReport:
    """Callers ``stagger_seconds`` apart at an empty cache: the recipe's lock or the correct one."""
    check_choice("defense", defense, ("naive-lock", "lock"))
    return run_expired_lock(defense, _virtual_store(), callers=callers, lock_ttl_seconds=lock_ttl_seconds,
                            db_latency_seconds=db_latency_seconds, stagger_seconds=stagger_seconds)


@memo(maxsize=64)
def preview_stall(defense: str, readers: int, *, deadline_seconds: float, stale_copy: bool = True) -> HerdReport:
    """A database that never answers: the recipe's readers never return; the lock's return at the deadline."""
    check_choice("defense", defense, ("naive-lock", "lock"))
    give_up = deadline_seconds + 0.25  # as the live experiment stops watching
    knobs = {} if defense == "naive-lock" else {"wait_seconds": deadline_seconds}
    return run_herd(defense, readers, _virtual_store(), stall_db=True, stale_copy=stale_copy,
                    give_up_seconds=give_up, **knobs)
