"""Replay one workload through every pattern, side by side, on a virtual clock.

Each pattern gets its own in-process store and database on its own
:class:`~labkit.clock.VirtualClock`, and sees exactly the same requests at the
same arrival times.  Cache round trips and database queries cost virtual time,
so latency percentiles are meaningful, and 20,000 requests through all four
patterns take well under a second of real time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..clock import VirtualClock
from ..database import Database
from ..errors import LabError, check_choice, check_positive
from ..metrics import StalenessMeter, percentile
from ..store import MemoryStore, Store
from ..workloads import SteadyTraffic
from ..wrappers import StoreWrapper
from .core import PATTERNS, make_pattern

__all__ = [
    "PatternReport",
    "compare",
    "lost_writes_by_db_state",
    "CACHE_LATENCY_SECONDS",
    "EXPLORE_DEFAULTS",
    "Actor",
    "Timeline",
    "InterleavedStore",
    "InterleavedDatabase",
]

# One cache round trip over a fast network (a real Redis over loopback: 0.15-0.2 ms).
CACHE_LATENCY_SECONDS = 0.0002
# The side-by-side comparison notebook 01 opens with (its sliders' starting values).
EXPLORE_DEFAULTS: dict[str, Any] = dict(write_ratio=0.2, alpha=0.9, db_latency_ms=5.0, flush_interval_ms=500.0,
                                        n_requests=2000, n_keys=200, seed=0)


@dataclass(frozen=True)
class PatternReport:
    """What one pattern did with the workload."""

    pattern: str
    reads: int
    writes: int
    hit_ratio: float
    db_reads: int
    db_writes: int  # rows written to the database
    db_write_queries: int  # statements (a write-behind batch counts once)
    read_p50_ms: float
    read_p99_ms: float
    write_p50_ms: float
    write_p99_ms: float
    stale_share: float  # reads that returned an older version than the DB held
    ahead_of_db_share: float  # reads that returned a value the DB did not hold yet
    lost_on_crash: int  # acknowledged writes missing from the DB after the crash
    lost_keys: int  # rows whose newest acknowledged value the DB never got
    requests_run: int  # requests served before the crash

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def lost_writes_by_db_state(writes: Sequence[tuple[int, str]], db: Database) -> list[tuple[int, str]]:
    """The acknowledged writes the database does not reflect, worked out from its rows.

    ``writes`` is every acknowledged ``(row_id, value)`` in order, with values
    unique per write.  A write is durable if the row holds it or a later write to
    the same row; every write after the one the row holds was lost.
    """
    last_index: dict[int, int] = {}
    held = {}
    for row_id in {row_id for row_id, _ in writes}:
        row = db.peek(row_id)
        held[row_id] = None if row is None else row.value
    for i, (row_id, value) in enumerate(writes):
        if held[row_id] == value:
            last_index[row_id] = i
    return [
        (row_id, value)
        for i, (row_id, value) in enumerate(writes)
        if i > last_index.get(row_id, -1)
    ]


def _check_ratio(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise LabError(f"{name} must be a share between 0 and 1 (got {value!r}).")
    return float(value)


def compare(
    write_ratio: float = 0.2,
    alpha: float = 0.9,
    db_latency_ms: float = 5.0,
    flush_interval_ms: float = 500.0,
    n_requests: int = 20_000,
    seed: int = 0,
    *,
    n_keys: int = 500,
    requests_per_second: float = 1000.0,
    ttl_seconds: float = 300.0,
    flush_batch_size: int = 500,
    crash_at: int | None = None,
    patterns: Sequence[str] = PATTERNS,
) -> dict[str, PatternReport]:
    """Replay one seeded workload through each pattern; one report per pattern.

    Requests arrive every ``1 / requests_per_second`` virtual seconds; a share
    ``write_ratio`` of them are writes; keys follow Zipf(``alpha``) over
    ``n_keys`` rows.  The process crashes after ``crash_at`` requests (default:
    after the last one) without a clean shutdown, so ``lost_on_crash`` counts the
    acknowledged writes that were still only in the write-behind queue.
    """
    _check_ratio("write_ratio", write_ratio)
    check_positive("db_latency_ms", db_latency_ms, "ms")
    flush_interval_seconds = float(
        check_positive("flush_interval_ms", flush_interval_ms, "ms")
    ) / 1000
    check_positive("requests_per_second", requests_per_second)
    for name in patterns:
        check_choice("pattern", name, PATTERNS)
    traffic = SteadyTraffic(n_keys, n_requests, requests_per_second, alpha, write_ratio, seed)
    keys, is_write = traffic.keys(), traffic.writes()
    stop = n_requests if crash_at is None else int(crash_at)
    if not 0 <= stop <= n_requests:
        raise LabError(f"crash_at must be between 0 and n_requests={n_requests} (got {crash_at!r}).")
    return {
        name: _replay(
            name, keys[:stop].tolist(), is_write[:stop].tolist(),
            n_keys=n_keys, db_latency_seconds=db_latency_ms / 1000,
            flush_interval_seconds=flush_interval_seconds, flush_batch_size=flush_batch_size,
            ttl_seconds=ttl_seconds, spacing_seconds=traffic.gap_seconds,
        )
        for name in patterns
    }


def _replay(
    name: str,
    keys: list[int],
    is_write: list[bool],
    *,
    n_keys: int,
    db_latency_seconds: float,
    flush_interval_seconds: float,
    flush_batch_size: int,
    ttl_seconds: float,
    spacing_seconds: float,
) -> PatternReport:
    clock = VirtualClock()
    # Round trips are charged once per request from the store's command count
    # (same virtual time as charging each command, a fraction of the real time).
    store = MemoryStore(clock, namespace="replay")
    db = Database(clock, rows=n_keys, latency_seconds=db_latency_seconds)
    pattern = make_pattern(
        name, store, db, ttl_seconds=ttl_seconds, clock=clock,
        flush_interval_seconds=flush_interval_seconds, flush_batch_size=flush_batch_size,
    )
    meter = StalenessMeter(db)
    read_seconds: list[float] = []
    write_seconds: list[float] = []
    ahead = 0
    stats, store_stats = pattern.stats, store.stats
    now, advance, observe, version_in_db = clock.now, clock.advance, meter.observe, db.current_version
    for i, (row_id, write) in enumerate(zip(keys, is_write, strict=True)):
        started = now()
        arrival = i * spacing_seconds
        if started < arrival:
            started = clock.set(arrival)
        flushing_before, commands_before = stats.flush_seconds, store_stats.commands
        if write:
            pattern.write(row_id, f"w{i}")
        else:
            row = pattern.read(row_id)
        ended = advance((store_stats.commands - commands_before) * CACHE_LATENCY_SECONDS)
        # The flusher runs off the request path in production: not request latency.
        elapsed = ended - started - (stats.flush_seconds - flushing_before)
        if write:
            write_seconds.append(elapsed)
        else:
            read_seconds.append(elapsed)
            observe(row_id, row.version, ended)
            ahead += row.version > version_in_db(row_id)
    lost = pattern.crash()
    lost_keys = len({row_id for row_id, _ in lost})
    return PatternReport(
        pattern=name,
        reads=stats.reads,
        writes=stats.writes,
        hit_ratio=stats.hit_ratio,
        db_reads=db.stats.reads,
        db_writes=db.stats.writes,
        db_write_queries=stats.db_write_queries,
        read_p50_ms=percentile(read_seconds, 50) * 1000,
        read_p99_ms=percentile(read_seconds, 99) * 1000,
        write_p50_ms=percentile(write_seconds, 50) * 1000,
        write_p99_ms=percentile(write_seconds, 99) * 1000,
        stale_share=meter.stale_share,
        ahead_of_db_share=ahead / meter.reads if meter.reads else 0.0,
        lost_on_crash=len(lost),
        lost_keys=lost_keys,
        requests_run=len(keys),
    )


# -- Interleavings: another request between two steps of this one ---------------------------
#
# The race replays put a second request between two steps of a first one, as a busy
# server does.  The patterns above expose a ``between_steps`` hook for that; code a
# learner writes has none, so it gets a store and a database that watch it instead:
# every step it takes is logged, and an :class:`Actor` can run another request right
# after its first cache change or database write, or right after it reads the database.


class Actor:
    """One request-making app in a replay: its name, its pending interleavings, the log.

    ``after_change`` runs once, right after this actor's first cache change (set,
    delete, set-if-newer) or database write; ``after_db_read`` runs once, right after
    its next database read returns.
    """

    def __init__(self, name: str, log: Timeline) -> None:
        self.name = name
        self.log = log
        self.after_change: Callable[[], Any] | None = None
        self.after_db_read: Callable[[], Any] | None = None
        self.steps: list[str] = []  # "cache" or "db write", in order

    def did(self, kind: str, what: str) -> None:
        self.steps.append(kind)
        self.log.add(self.name, what)

    def fire(self, hook: str) -> None:
        action = getattr(self, hook)
        if action is not None:
            setattr(self, hook, None)
            action()


class Timeline:
    """What each actor did, in order, with what the cache and the database held after."""

    def __init__(self, store: Store, db: Database, row_id: int) -> None:
        self.store, self.db = store, db
        self.row_id = row_id  # the row whose cache and DB state each step shows
        self.rows: list[dict[str, Any]] = []

    def holds(self, row_id: int) -> tuple[str, str]:
        from .core import cache_key, parse_cached

        text = self.store.get(cache_key(row_id))
        row = self.db.peek(row_id)
        cached = "-" if text is None else _short(parse_cached(text))
        return cached, "-" if row is None else _short(row)

    def add(self, who: str, what: str) -> None:
        cached, stored = self.holds(self.row_id)
        self.rows.append({"step": len(self.rows) + 1, "t (s)": f"{self.db.clock.now():.3f}", "who": who,
                          "did": what, "cache holds": cached, "DB holds": stored})


def _short(row: Any) -> str:
    return f"v{row.version} {row.value!r}"


class InterleavedStore(StoreWrapper):
    """The store as one actor sees it: its cache steps are logged and may let another request in."""

    def __init__(self, inner: Store, actor: Actor) -> None:
        super().__init__(inner)
        self.actor = actor

    def _changed(self, what: str) -> None:
        self.actor.did("cache", what)
        self.actor.fire("after_change")

    def get(self, key: str) -> str | None:
        text = self.inner.get(key)
        self.actor.log.add(self.actor.name, f"GET {key}: {'miss' if text is None else 'hit'}")
        return text

    def set(self, key: str, value: str, ttl_seconds: float | None = None, *, nx: bool = False) -> bool:
        ok = self.inner.set(key, value, ttl_seconds, nx=nx)
        self._changed(f"SET {key}" + ("" if ttl_seconds is None else f" (TTL {ttl_seconds:g} s)"))
        return ok

    def set_if_newer(self, key: str, value: str, version: int, ttl_seconds: float | None = None) -> bool:
        ok = self.inner.set_if_newer(key, value, version, ttl_seconds)
        self._changed(f"SET-IF-NEWER {key} v{version}: {'stored' if ok else 'refused, older'}")
        return ok

    def compare_and_set(self, key: str, expected: str | None, value: str,
                        ttl_seconds: float | None = None) -> bool:
        ok = self.inner.compare_and_set(key, expected, value, ttl_seconds)
        self._changed(f"COMPARE-AND-SET {key}: {'stored' if ok else 'refused'}")
        return ok

    def delete(self, *keys: str) -> int:
        n = self.inner.delete(*keys)
        self._changed(f"DEL {' '.join(keys)}")
        return n


class InterleavedDatabase:
    """The database as one actor sees it: reads and writes are logged and may let another request in."""

    def __init__(self, db: Database, actor: Actor) -> None:
        self._db, self.actor = db, actor

    def read(self, row_id: int, **kwargs: Any) -> Any:
        row = self._db.read(row_id, **kwargs)
        self.actor.log.add(self.actor.name, f"DB read row {row_id}: " + ("none" if row is None else _short(row)))
        self.actor.fire("after_db_read")
        return row

    def write(self, row_id: int, value: str, **kwargs: Any) -> Any:
        try:
            row = self._db.write(row_id, value, **kwargs)
        except Exception:
            self.actor.log.add(self.actor.name, f"DB write row {row_id}: REFUSED by the database")
            raise
        self.actor.did("db write", f"DB write row {row_id}: committed {_short(row)}")
        self.actor.fire("after_change")
        return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)
