"""The live herd: real threads, one hot key, a database that slows down under load.

:func:`run_herd` releases N threads together (a ``threading.Barrier``) just after the
hot key's value expired, against a store from :func:`labkit.connect` (fakeredis or a
real Redis) and a :class:`~labkit.database.Database` on the wall clock.  The report
counts the database queries that one expiry caused, each reader's latency and
outcome, and the number of queries in flight over time.

:func:`run_expired_lock` replays the common lock recipe's first flaw (a lock TTL shorter than the
query) and :func:`replay_lock` replays it step by step on a virtual clock against
any ``acquire``/``release`` pair - the learner's included.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..clock import AutoClock, VirtualClock, WallClock
from ..database import Database
from ..errors import LabError
from ..metrics import percentile
from ..store import MemoryStore, Store
from .defenses import (
    DEFENSES,
    Entry,
    HotKey,
    Outcome,
    Read,
    Settings,
    check_choice,
    check_readers,
)

__all__ = ["HerdReport", "run_herd", "run_expired_lock", "replay_lock", "ROW_ID", "VIRTUAL"]

ROW_ID = 7
VIRTUAL = "virtual clock"


@dataclass
class HerdReport:
    """What one live herd did.  Times are seconds from the moment the herd was released."""

    defense: str
    readers: int
    backend: str
    db_latency_seconds: float
    db_queries: int
    outcomes: list[str]
    versions: list[int | None]
    latencies_seconds: np.ndarray      # NaN for a reader that never returned
    arrival_seconds: np.ndarray        # when each reader's first cache lookup answered
    errors: list[str]
    timeline: list[tuple[float, int]]  # (t, DB queries in flight)
    peak_db_in_flight: int
    store_commands: int
    wall_seconds: float
    fresh_version: int
    foreign_lock_frees: int = 0
    lost_leases: int = 0
    deadline_seconds: float | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counts = {name: 0 for name in Outcome.ALL} | dict(Counter(self.outcomes))

    @property
    def served_stale(self) -> int:
        return self.counts[Outcome.STALE]

    @property
    def stuck_readers(self) -> int:
        return self.counts[Outcome.STUCK]

    @property
    def returned(self) -> int:
        return self.readers - self.stuck_readers

    @property
    def commands_per_read(self) -> float:
        return self.store_commands / self.readers

    def latency_ms(self, q: float) -> float:
        done = self.latencies_seconds[~np.isnan(self.latencies_seconds)]
        return percentile(done, q) * 1000

    @property
    def max_latency_seconds(self) -> float:
        done = self.latencies_seconds[~np.isnan(self.latencies_seconds)]
        return float(done.max()) if done.size else float("nan")

    def summary(self) -> str:
        parts = [f"{self.defense}: {self.db_queries} DB quer{'y' if self.db_queries == 1 else 'ies'}"]
        parts.append(f"peak {self.peak_db_in_flight} in flight")
        parts.append(f"p99 {self.latency_ms(99):.0f} ms")
        shown = ", ".join(f"{n} {k}" for k, n in self.counts.items() if n)
        return "; ".join(parts) + f" ({shown})"


def _room_for_threads(store: Store, readers: int) -> None:
    """Let the client's connection pool open one connection per thread.

    redis-py opens connections on demand, but fakeredis caps its pool at 100; a
    reader (plus a lease-renewal thread) waiting for a free connection would be
    measuring the pool, not the stampede.
    """
    pool = getattr(getattr(store, "client", None), "connection_pool", None)
    if pool is None:
        return
    if getattr(pool, "max_connections", None) is not None:
        pool.max_connections = max(pool.max_connections, 2 * readers + 16)
    # Open the connections before the herd, or the first lookups would time TCP
    # handshakes instead of the cache.
    opened = [pool.get_connection() for _ in range(readers)]
    for connection in opened:
        pool.release(connection)


def _default_store() -> Store:
    from ..connection import connect

    return connect(namespace="stampede")


class _VirtualDatabase(Database):
    """On virtual time a stalled query without a timeout waits until the run gives up,
    as a live one waits until ``resume()``."""

    def _wait_out_stall(self, timeout_seconds: float | None) -> None:
        if timeout_seconds is None:
            self.clock.sleep(math.inf)
        super()._wait_out_stall(timeout_seconds)


def run_herd(
    defense: str = "none",
    readers: int = 200,
    store: Store | None = None,
    *,
    db_latency_seconds: float = 0.05,
    parallel_queries: int = 16,
    stale_copy: bool = True,
    stall_db: bool = False,
    app_processes: int = 1,
    start_offsets_seconds: Sequence[float] | None = None,
    give_up_seconds: float | None = None,
    seed: int = 0,
    **knobs: Any,
) -> HerdReport:
    """Release ``readers`` threads at once on a hot key whose value just expired.

    The store's clock decides how: on the wall clock (``labkit.connect()``) they are
    real threads in real time; on an :class:`~labkit.clock.AutoClock` the same
    threads run the same defense code on virtual time (a preview: same result every
    run, in milliseconds).

    ``stale_copy``: the expired value is still in the cache (else the key is gone).
    ``stall_db``: every query hangs until its timeout - the database has stalled.
    ``start_offsets_seconds``: stagger the readers instead of releasing them together.
    ``give_up_seconds``: stop waiting for readers after this long (default: forever,
    or ``wait_seconds + 1`` when the database is stalled); those that never returned
    are reported as ``stuck``.
    ``knobs``: the defenses' settings that differ from :class:`Settings`' defaults
    (``lock_ttl_seconds``, ``wait_seconds``, ``beta``, ...).
    """
    check_choice("defense", defense, DEFENSES)
    readers = check_readers(readers)
    settings = Settings(**knobs)
    if start_offsets_seconds is not None and len(start_offsets_seconds) != readers:
        raise LabError(
            f"start_offsets_seconds needs one offset per reader ({readers}), got {len(start_offsets_seconds)}."
        )
    store = store if store is not None else _default_store()
    clock = store.clock
    virtual = isinstance(clock, AutoClock)
    if not (virtual or isinstance(clock, WallClock)):
        raise LabError("The live herd runs real threads, so it needs a store on the wall clock; use labkit.connect().")
    if not virtual:
        _room_for_threads(store, readers)
    db = (_VirtualDatabase if virtual else Database)(clock, rows=ROW_ID + 1, latency_seconds=db_latency_seconds,
                                                     parallel_queries=parallel_queries)
    hot = HotKey(store, db, defense, settings, row_id=ROW_ID, app_processes=app_processes)
    store.delete(hot.key, hot.lock_key)
    if stale_copy:
        old = db.read(ROW_ID)
        expired = Entry(old.to_cache(), clock.now() - 0.001, db_latency_seconds)
        store.set(hot.key, expired.dumps(), ttl_seconds=settings.stale_grace_seconds)
    fresh_version = db.write(ROW_ID, "the price after the update").version
    db.reset_stats()
    if stall_db:
        db.stall()
    if give_up_seconds is None and (stall_db or virtual):
        give_up_seconds = settings.wait_seconds + 1.0 if stall_db else 3600.0

    offsets = list(start_offsets_seconds) if start_offsets_seconds is not None else [0.0] * readers
    outcomes: list[str] = [Outcome.STUCK] * readers
    versions: list[int | None] = [None] * readers
    errors: list[str | None] = [None] * readers
    latencies = np.full(readers, np.nan)
    arrivals = np.full(readers, np.nan)
    barrier = None if virtual else threading.Barrier(readers + 1)
    released = [clock.now()]

    def reader(i: int) -> None:
        rng = random.Random(seed * 100_003 + i)
        if barrier is not None:
            barrier.wait()
        clock.sleep(max(0.0, released[0] + offsets[i] - clock.now()))
        began = clock.now()
        try:
            read = hot.read(i, rng)
        except Exception as exc:  # a broken connection is a result to report, not a crash
            read = Read(Outcome.ERROR, error=f"{type(exc).__name__}: {exc}")
        # On virtual time a store command takes no time: the first lookup answers at once.
        arrivals[i] = (began if virtual else read.first_lookup_at or began) - released[0]
        latencies[i] = clock.now() - began if read.outcome != Outcome.STUCK else np.nan
        outcomes[i], versions[i], errors[i] = read.outcome, read.version, read.error

    commands_before = store.stats.commands
    if virtual:
        for i in range(readers):
            clock.start(reader, i)
        clock.run(until=released[0] + give_up_seconds)
        wall = clock.now() - released[0]
    else:
        threads = [clock.start(reader, i) for i in range(readers)]
        released[0] = clock.now()
        barrier.wait()
        give_up_at = None if give_up_seconds is None else released[0] + give_up_seconds
        for t in threads:
            t.join(None if give_up_at is None else max(0.0, give_up_at - clock.now()))
        # Readers still running have missed every deadline: mark them, then let them go.
        still_running = [i for i, t in enumerate(threads) if t.is_alive()]
        hot.stop.set()
        db.resume()
        for t in threads:
            t.join(10.0)
        for i in still_running:
            outcomes[i], latencies[i] = Outcome.STUCK, np.nan
        for worker in list(hot.background):
            worker.join(10.0)
        wall = clock.now() - released[0]
    commands = store.stats.commands - commands_before
    timeline = [(t - released[0], n) for t, n in db.timeline]
    report = HerdReport(
        defense=defense, readers=readers, backend=VIRTUAL if virtual else store.backend,
        db_latency_seconds=db_latency_seconds, db_queries=db.stats.reads,
        outcomes=outcomes, versions=versions, latencies_seconds=latencies,
        arrival_seconds=arrivals, errors=[e for e in errors if e],
        timeline=timeline, peak_db_in_flight=db.stats.peak_in_flight,
        store_commands=commands, wall_seconds=wall, fresh_version=fresh_version,
        foreign_lock_frees=hot.foreign_lock_frees, lost_leases=hot.lost_leases,
        deadline_seconds=settings.wait_seconds if defense not in ("none", "naive-lock") else None,
    )
    store.delete(hot.key, hot.lock_key)
    db.close()
    return report


def run_expired_lock(
    defense: str = "naive-lock",
    store: Store | None = None,
    *,
    callers: int = 3,
    lock_ttl_seconds: float = 0.05,
    db_latency_seconds: float = 0.15,
    stagger_seconds: float = 0.06,
) -> HerdReport:
    """The common recipe's first flaw: the lock expires while its holder's query still runs.

    ``callers`` arrive ``stagger_seconds`` apart at an empty cache.  With the naive
    lock each newcomer finds the lock expired, takes it and starts its own refresh,
    and a finishing caller's DEL frees a newer caller's lock.  The correct lock
    renews its lease while it works and releases only its own token.
    """
    check_readers(callers)
    return run_herd(
        defense, callers, store,
        db_latency_seconds=db_latency_seconds, lock_ttl_seconds=lock_ttl_seconds,
        stale_copy=False, wait_seconds=max(1.0, 4 * db_latency_seconds),
        start_offsets_seconds=[i * stagger_seconds for i in range(callers)],
    )


# -- the same scenario, step by step, for any acquire/release pair --------------------------

Acquire = Callable[[Store, str, float], "str | None"]
Release = Callable[[Store, str, str], object]


@dataclass
class LockReplay:
    """What happened when an acquire/release pair met the expired-lock scenario."""

    steps: list[str]
    problem: str | None

    @property
    def passed(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        verdict = "OK: no caller ever freed another caller's lock." if self.passed else f"FLAW: {self.problem}"
        return "\n".join([*self.steps, verdict])


def replay_lock(acquire: Acquire, release: Release, *, lock_ttl_seconds: float = 5.0) -> LockReplay:
    """Replay the expired-lock scenario on a virtual clock, one step at a time.

    Caller A takes the lock and starts a slow query; the lock's TTL runs out; caller
    B takes the lock; A finishes and releases.  B's lock must survive A's release,
    and the lock must still work (it expires, and its owner can release it).
    """
    clock = VirtualClock()
    store = MemoryStore(clock, namespace="lock-replay")
    key = "lock:hot:item:7"
    steps: list[str] = []

    def fail(problem: str) -> LockReplay:
        return LockReplay(steps, problem)

    token_a = acquire(store, key, lock_ttl_seconds)
    steps.append(f"t={clock.now():g}s  A acquires the free lock -> {token_a!r}")
    if not token_a:
        return fail("acquire() did not take a free lock; return a token when SET NX succeeds.")
    second = acquire(store, key, lock_ttl_seconds)
    steps.append(f"t={clock.now():g}s  X tries while A holds it -> {second!r}")
    if second:
        return fail("acquire() took a lock that A still holds; use SET with nx=True.")
    clock.advance(lock_ttl_seconds + 1)
    token_b = acquire(store, key, lock_ttl_seconds)
    steps.append(f"t={clock.now():g}s  A's lock has expired (its query is still running); B acquires -> {token_b!r}")
    if not token_b:
        return fail("the lock never expired; give it a TTL (ttl_seconds) so a crashed holder cannot block everyone.")
    if token_b == token_a:
        return fail("A and B got the same token; make each acquire() return a unique token (uuid4).")
    release(store, key, token_a)
    holder = store.get(key)
    steps.append(f"t={clock.now():g}s  A's query finishes; A releases -> the lock now holds {holder!r}")
    if holder != token_b:
        return fail("A's release freed B's lock; delete the lock only if it still holds your own token "
                    "(store.compare_and_delete).")
    release(store, key, token_b)
    token_c = acquire(store, key, lock_ttl_seconds)
    steps.append(f"t={clock.now():g}s  B releases; C acquires -> {token_c!r}")
    if not token_c:
        return fail("B's release did not free B's own lock; release must delete the lock when the token matches.")
    return LockReplay(steps, None)
