"""A complete loader, and the replays that grade one (notebook 04's implement exercise).

A *loader* is the function every request for a row goes through::

    read(store, db, row_id, clock, *, ttl_seconds=30.0, not_found_ttl_seconds=5.0,
         lock_ttl_seconds=1.0, wait_seconds=0.5) -> str | None

It returns the row's value, or ``None`` for an id that does not exist, and raises
(fast) when it cannot answer.  The common lock recipe fails five ways; a complete
loader has five properties, and each replay below checks one of them on real
threads (or a virtual clock where no concurrency is involved):

===================  ===========================================================
replay               what a complete loader does
===================  ===========================================================
``expired lock``     a lock whose TTL runs out mid-query is never freed by its old
                     holder (the lock is owned: a unique token, compare-and-delete)
``herd``             200 readers of one expired key cause one query; with a stale
                     copy in the cache they get it at once instead of waiting
``missing id``       an id that does not exist is cached as "not found" for
                     ``not_found_ttl_seconds``, so repeated lookups do not all reach
                     the database, and looked up again once that has passed
``failing database`` when the refresh fails, the waiters do not each retry against
                     the failing database: the failure is shared for a moment
``stalled database`` every reader returns by its deadline, even if the database
                     never answers
===================  ===========================================================

Before these, the replays of :mod:`.loader_store` step in at exact moments on a
virtual clock and read what the loader leaves on the store (the TTLs of the copy and
the lock, a lock left behind by a killed reader, a lock that changes hands).

The helpers the learner uses: :func:`pack` / :func:`unpack` (a value with its
logical expiry, so an expired copy stays readable as *stale*), and two sentinels
to cache: :data:`NOT_FOUND` and :data:`DB_DOWN`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock, VirtualClock, wall_clock
from ..database import Database, DatabaseError
from ..store import MemoryStore, Store
from ..wrappers import StoreWrapper

__all__ = ["NOT_FOUND", "DB_DOWN", "pack", "unpack", "Replay", "REPLAYS", "cache_key", "lock_key"]

NOT_FOUND = "<not-found>"
DB_DOWN = "<db-down>"
_SEP = "|"
ROW_ID = 7


def cache_key(row_id: int) -> str:
    return f"item:{row_id}"


def lock_key(row_id: int) -> str:
    return f"lock:item:{row_id}"


def pack(value: str, fresh_for_seconds: float, clock: Clock) -> str:
    """``value`` with the moment it stops being fresh (keep the key longer to serve it stale)."""
    return f"{clock.now() + fresh_for_seconds!r}{_SEP}{value}"


def unpack(raw: str, clock: Clock) -> tuple[str, bool]:
    """(value, still fresh?) of what :func:`pack` stored."""
    expires, _, value = raw.partition(_SEP)
    return value, clock.now() < float(expires)


# -- the observed store and database -------------------------------------------------------


class _Observed(StoreWrapper):
    """Counts who frees whose lock: the thread that took the lock last owns it."""

    def __init__(self, inner: Store, lock: str) -> None:
        super().__init__(inner)
        self._lock_key, self.owner, self.foreign_frees = lock, None, 0
        self._guard = threading.Lock()

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        with self._guard:
            stored = self.inner.set(key, value, ttl_seconds, nx=nx)
            if stored and key == self._lock_key:
                self.owner = threading.get_ident()
            return stored

    def _freeing(self, key: str, remove: Callable[[], Any]) -> Any:
        with self._guard:
            held = key == self._lock_key and self.inner.exists(key)
            result = remove()
            if held and not self.inner.exists(key) and self.owner != threading.get_ident():
                self.foreign_frees += 1
            return result

    def delete(self, *keys):
        return self._freeing(keys[0] if len(keys) == 1 else "", lambda: self.inner.delete(*keys))

    def compare_and_delete(self, key, expected):
        return self._freeing(key, lambda: self.inner.compare_and_delete(key, expected))


class _FailingDatabase:
    """A database whose every read fails after a short while (it is down)."""

    def __init__(self, clock: Clock, seconds: float = 0.02) -> None:
        self.clock, self.seconds, self.attempts = clock, seconds, 0
        self._lock = threading.Lock()

    def read(self, row_id: int, *, timeout_seconds: float | None = None) -> None:
        with self._lock:
            self.attempts += 1
        self.clock.sleep(self.seconds)
        raise DatabaseError("Injected failure: the database refused the connection.")


@dataclass
class Replay:
    """What one replay found: passed or not, one sentence, and the rows that show it."""

    name: str
    passed: bool
    message: str
    rows: list[dict[str, Any]] = field(default_factory=list)


Loader = Callable[..., Any]


def _call(read: Loader, store: Store, db: Any, clock: Clock, **settings: Any) -> tuple[str, Any]:
    """('value' | 'none' | 'raised', value or error) of one read; never raises."""
    try:
        value = read(store, db, ROW_ID if "row_id" not in settings else settings.pop("row_id"), clock,
                     **settings)
    except Exception as exc:  # the learner's loader raising is an answer, not a crash
        return "raised", f"{type(exc).__name__}: {exc}"
    return ("none" if value is None else "value"), value


def _threads(count: int, work: Callable[[int], Any], *, offsets: list[float] | None = None,
             give_up_seconds: float = 2.0) -> tuple[list[Any], list[float | None]]:
    """Run ``work(i)`` on ``count`` threads released together; (results, seconds each took)."""
    results: list[Any] = [None] * count
    took: list[float | None] = [None] * count
    barrier = threading.Barrier(count + 1)
    start = [0.0]

    def run(i: int) -> None:
        barrier.wait()
        if offsets:
            time.sleep(max(0.0, start[0] + offsets[i] - time.perf_counter()))
        began = time.perf_counter()
        results[i] = work(i)
        took[i] = time.perf_counter() - began

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    start[0] = time.perf_counter()
    barrier.wait()
    deadline = start[0] + give_up_seconds
    for t in threads:
        t.join(max(0.0, deadline - time.perf_counter()))
    return results, took


def _expired_stale_copy(store: Store, db: Database, clock: Clock) -> None:
    row = db.read(ROW_ID)
    assert row is not None
    store.set(cache_key(ROW_ID), pack(row.value, -1.0, clock), ttl_seconds=300)
    db.write(ROW_ID, "item 7 v2")
    db.reset_stats()


# -- the replays ---------------------------------------------------------------------------


def replay_expired_lock(read: Loader) -> Replay:
    """Three callers 60 ms apart; a 150 ms query; a 50 ms lock TTL (real threads)."""
    inner = MemoryStore(wall_clock, namespace="loader-expired-lock")
    store = _Observed(inner, lock_key(ROW_ID))
    db = Database(wall_clock, rows=10, latency_seconds=0.15)
    results, took = _threads(
        3, lambda i: _call(read, store, db, wall_clock, lock_ttl_seconds=0.05, wait_seconds=1.0),
        offsets=[0.0, 0.06, 0.12], give_up_seconds=2.0)
    rows = [{"caller": "ABC"[i], "arrives (ms)": 60 * i, "returned": r[1] if r else "(still waiting)",
             "took (ms)": "-" if t is None else round(t * 1000)}
            for i, (r, t) in enumerate(zip(results, took, strict=True))]
    rows.append({"caller": "-", "arrives (ms)": "-", "returned": f"locks freed by a caller that did not hold them: "
                 f"{store.foreign_frees}", "took (ms)": "-"})
    if store.foreign_frees:
        return Replay("expired lock", False, (
            f"a caller whose lock had expired released the lock another caller held "
            f"({store.foreign_frees} time(s)) - the sign of no token: give each acquire a unique token "
            "and release with store.compare_and_delete(lock, token)."), rows)
    if any(r is None or r[0] != "value" for r in results):
        return Replay("expired lock", False, "every caller must get the value in this replay.", rows)
    return Replay("expired lock", True, "no caller ever freed another caller's lock.", rows)


def replay_herd(read: Loader, *, readers: int = 200) -> Replay:
    """``readers`` threads at once on an expired key, with its stale copy still cached."""
    store = MemoryStore(wall_clock, namespace="loader-herd")
    db = Database(wall_clock, rows=10, latency_seconds=0.05, parallel_queries=16)
    _expired_stale_copy(store, db, wall_clock)
    results, took = _threads(readers, lambda i: _call(read, store, db, wall_clock, wait_seconds=1.0),
                             give_up_seconds=3.0)
    stale = sum(1 for r in results if r == ("value", "item 7 v1"))
    fresh = sum(1 for r in results if r == ("value", "item 7 v2"))
    slowest = max((t for t in took if t is not None), default=0.0)
    rows = [{"readers": readers, "DB queries": db.stats.reads, "got the stale copy": stale,
             "got the fresh value": fresh, "other": readers - stale - fresh,
             "slowest reader (ms)": round(slowest * 1000)}]
    if db.stats.reads > 2:
        return Replay("herd", False, (
            f"{readers} readers of one expired key made {db.stats.reads} DB queries; one refresh "
            "is the limit - take a lock (SET NX) before querying, and let the others wait or serve "
            "the stale copy."), rows)
    if stale + fresh != readers:
        return Replay("herd", False, "every reader must get a value (the stale copy or the fresh one).", rows)
    if stale == 0:
        return Replay("herd", False, (
            "every reader waited for the refresh although a stale copy was in the cache - the sign "
            "of a loader that never serves stale: while someone else refreshes, return the stale copy "
            "at once."), rows)
    return Replay("herd", True, f"{db.stats.reads} DB query; {stale} readers got the stale copy at once.", rows)


def _seconds(value: float | None) -> str:
    return "-" if value is None else "forever" if value == float("inf") else f"{value:.3g}"


def replay_missing_id(read: Loader, *, reads: int = 10) -> Replay:
    """An id that does not exist, read every 0.5 s for 4.5 s, then once its 5 s are over (virtual clock)."""
    clock, key = VirtualClock(), cache_key(999)
    store, db = MemoryStore(clock, namespace="loader-missing"), Database(clock, rows=10, latency_seconds=0.01)
    outcomes = [_call(read, store, db, clock, row_id=999)]  # not_found_ttl_seconds: the default, 5 s
    raw, kept = store.get(key), store.ttl_seconds(key)
    fresh = float(raw.partition(_SEP)[0]) - clock.now() if raw and _SEP in raw else None
    for _ in range(reads - 1):
        clock.advance(0.5)
        outcomes.append(_call(read, store, db, clock, row_id=999))
    within = db.stats.reads
    clock.advance(0.51)  # past the 5 s: the row may have been created since
    outcomes.append(_call(read, store, db, clock, row_id=999))
    rows = [{"reads of id 999": reads + 1, "returned": sorted({str(o[1]) for o in outcomes}),
             "DB queries within 4.5 s": within, "DB queries after 5 s": db.stats.reads - within,
             "'not found' fresh for (s)": _seconds(fresh), "key kept on the store (s)": _seconds(kept)}]
    if any(o != ("none", None) for o in outcomes):
        return Replay("missing id", False, "a missing id must return None (not raise, not a value).", rows)
    if within > 1:
        return Replay("missing id", False, (
            f"{reads} reads of a missing id within 4.5 s made {within} DB queries - the sign of a loader "
            "that never caches not-found: store NOT_FOUND, fresh for not_found_ttl_seconds."), rows)
    if db.stats.reads == within:
        return Replay("missing id", False, (
            f"the 'not found' answer is fresh for {_seconds(fresh)} s, so after not_found_ttl_seconds (5 s) the "
            "database was not asked again and a row created meanwhile stays invisible - not-found cached "
            "forever: make it fresh for not_found_ttl_seconds."), rows)
    if fresh is None or not 4.95 <= fresh <= 5.0 + 1e-6 or kept == float("inf"):
        return Replay("missing id", False, (
            f"the 'not found' answer is fresh for {_seconds(fresh)} s and its key kept {_seconds(kept)} s on the "
            "store: make it fresh for not_found_ttl_seconds (5 s) and give the key a TTL (10x)."), rows)
    return Replay("missing id", True, f"{reads} reads, 1 DB query; asked again after 5 s.", rows)


def replay_failing_database(read: Loader, *, readers: int = 30) -> Replay:
    """The database refuses every query; ``readers`` arrive together with nothing cached."""
    store = MemoryStore(wall_clock, namespace="loader-failing")
    db = _FailingDatabase(wall_clock)
    results, took = _threads(readers, lambda i: _call(read, store, db, wall_clock, wait_seconds=1.0),
                             give_up_seconds=3.0)
    answered = [r for r in results if r is not None]
    slowest = max((t for t in took if t is not None), default=0.0)
    rows = [{"readers": readers, "DB attempts": db.attempts,
             "raised": sum(1 for r in answered if r[0] == "raised"),
             "returned a value": sum(1 for r in answered if r[0] == "value"),
             "never returned": readers - len(answered), "slowest reader (ms)": round(slowest * 1000)}]
    if db.attempts > 3:
        return Replay("failing database", False, (
            f"{readers} readers made {db.attempts} attempts on a database that was down - the sign "
            "that every waiter retries the failing database: when your refresh fails, cache DB_DOWN "
            "for a moment so the waiters fail fast too."), rows)
    if len(answered) < readers or any(r[0] == "value" for r in answered):
        return Replay("failing database", False, "with the database down and nothing cached, every reader "
                      "must fail fast (raise), not wait or invent a value.", rows)
    return Replay("failing database", True, f"{db.attempts} attempt(s) on the failing database, "
                  f"every reader failed fast.", rows)


def replay_stalled_database(read: Loader, *, readers: int = 10, wait_seconds: float = 0.3) -> Replay:
    """The database never answers; every reader has ``wait_seconds`` to give up."""
    store = MemoryStore(wall_clock, namespace="loader-stalled")
    db = Database(wall_clock, rows=10, latency_seconds=0.05)
    db.stall()
    give_up = wait_seconds + 0.7
    try:
        results, took = _threads(readers, lambda i: _call(read, store, db, wall_clock, wait_seconds=wait_seconds),
                                 give_up_seconds=give_up)
    finally:
        db.resume()
    stuck = sum(1 for r in results if r is None)
    slowest = max((t for t in took if t is not None), default=0.0)
    rows = [{"readers": readers, "deadline (ms)": round(wait_seconds * 1000), "returned in time": readers - stuck,
             "still waiting when we stopped watching": stuck, "slowest reader (ms)": round(slowest * 1000)}]
    if stuck:
        return Replay("stalled database", False, (
            f"{stuck} of {readers} readers were still waiting {give_up:g} s after a {wait_seconds:g} s "
            "deadline - the sign of no deadline: pass timeout_seconds to db.read and stop waiting at "
            "wait_seconds."), rows)
    return Replay("stalled database", True, f"every reader returned within {slowest * 1000:.0f} ms.", rows)


REPLAYS: tuple[tuple[str, Callable[[Loader], Replay]], ...] = (
    ("expired lock", replay_expired_lock),
    ("herd", replay_herd),
    ("missing id", replay_missing_id),
    ("failing database", replay_failing_database),
    ("stalled database", replay_stalled_database),
)
