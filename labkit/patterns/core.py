"""The four caching patterns behind one small interface: ``read``, ``write``, ``close``.

Every pattern keeps rows in the cache under ``item:<id>`` as ``Row.to_cache()``
text, so a cached copy carries the database version it came from and the
staleness meter can tell whether it is behind.  Version-guarded writes go through
the store contract's one atomic operation, :meth:`~labkit.store.Store.set_if_newer`
(stored as ``"<version>|<row>"``; :func:`parse_cached` reads both forms).

===============  ===========================  ===================================
pattern          on a read miss               on a write
===============  ===========================  ===================================
cache-aside      the app loads from the DB    DB, then delete the cached key
read-through     the cache layer's loader     (through the cache layer) DB, delete
write-through    the app loads from the DB    DB, then cache, in that order
write-behind     the app loads from the DB    cache + queue; a flusher batches DB
===============  ===========================  ===================================

Every pattern runs on any :class:`~labkit.store.Store` (fakeredis, a real Redis,
or the in-process store on a virtual clock) in front of a
:class:`~labkit.database.Database`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, VirtualClock
from ..counters import Counters
from ..database import Database, Row
from ..errors import LabError, check_choice, check_non_negative, check_ttl
from ..memo import memo
from ..store import Store, versioned

__all__ = [
    "PATTERNS",
    "Pattern",
    "PatternStats",
    "CacheAside",
    "ReadThrough",
    "ReadThroughCache",
    "WriteThrough",
    "WriteBehind",
    "make_pattern",
    "cache_key",
    "parse_cached",
    "cache_if_newer",
]

PATTERNS = ("cache-aside", "read-through", "write-through", "write-behind")
DEFAULT_TTL_SECONDS = 300.0


def cache_key(row_id: int) -> str:
    """The cache key of a database row: ``item:<id>``."""
    return f"item:{row_id}"


@memo(maxsize=8192)
def parse_cached(text: str) -> Row:
    """``Row.from_cache`` remembered per text: hot keys are parsed once, not per hit.
    (Rows are immutable, so sharing one object between readers is safe.)  Reads a
    plain cached row and the version-guarded form alike."""
    return Row.from_cache(text)


def _check_row_id(row_id: Any) -> int:
    if isinstance(row_id, bool) or not isinstance(row_id, int) or row_id < 0:
        raise LabError(f"Row ids are integers >= 0 (got {row_id!r}).")
    return row_id


def cache_if_newer(store: Store, row: Row, ttl_seconds: float | None) -> bool:
    """Cache ``row`` unless the cache already holds the same or a newer version.

    Two writers (or a slow reader and a writer) can reach the cache in the opposite
    order to the one in which they reached the database.  The store checks the
    version and writes in one atomic step, so the cache can only move forward: it
    never ends up holding an older version than one it already had.
    """
    return store.set_if_newer(cache_key(row.id), row.to_cache(), row.version, ttl_seconds)


class PatternStats(Counters):
    """What a pattern did since it was made (all counts, no latencies)."""

    reads: int
    writes: int
    cache_hits: int
    cache_misses: int
    db_reads: int
    db_writes: int  # rows written to the database
    db_write_queries: int  # statements sent (a write-behind batch is one)
    cache_repairs: int  # keys deleted because the cache half of a write failed
    flushes: int
    flush_failures: int  # background flushes the database refused (retried later)
    flush_seconds: float  # time the write-behind flusher spent, off the request path

    def lookup(self, hit: bool) -> None:
        """One read that found the row in the cache or not (the hottest counter)."""
        with self._lock:
            self.reads += 1
            if hit:
                self.cache_hits += 1
            else:
                self.cache_misses += 1

    @property
    def hit_ratio(self) -> float:
        lookups = self.cache_hits + self.cache_misses
        return self.cache_hits / lookups if lookups else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**super().as_dict(), "hit_ratio": self.hit_ratio}


StepHook = Callable[[int], None]


class Pattern(ABC):
    """One caching pattern: ``read(row_id) -> Row``, ``write(row_id, value)``, ``close()``.

    ``between_steps`` (None by default) is called with the row id between a
    pattern's database step and its cache step.  The race demos and tests put
    another request there to show what happens when two requests interleave.
    """

    name: str = "abstract"

    def __init__(self, store: Store, *, ttl_seconds: float | None, clock: Clock | None) -> None:
        if not isinstance(store, Store):
            raise LabError(
                f"A pattern needs a labkit store such as labkit.connect(...) (got {type(store).__name__})."
            )
        self.store = store
        self.ttl_seconds = check_ttl(ttl_seconds)
        self.clock: Clock = clock if clock is not None else store.clock
        self.stats = PatternStats()
        self.closed = False
        self.between_steps: StepHook | None = None

    # -- the interface ----------------------------------------------------------------
    @abstractmethod
    def read(self, row_id: int) -> Row:
        """The row, from the cache when it holds it."""

    @abstractmethod
    def write(self, row_id: int, value: str) -> None:
        """Change the row's value; returns once the write is acknowledged."""

    def close(self) -> None:
        """Finish cleanly.  After this, using the pattern raises LabError."""
        self.closed = True

    def crash(self) -> list[tuple[int, str]]:
        """The process dies now: return the acknowledged writes that never reached the DB.

        Only write-behind can lose anything; the others commit before they acknowledge.
        """
        self.closed = True
        return []

    # -- shared plumbing ----------------------------------------------------------------
    def _check_open(self, row_id: Any) -> int:
        if not self.closed and type(row_id) is int and row_id >= 0:
            return row_id  # the common case, kept cheap: it runs on every request
        self._ensure_open()
        return _check_row_id(row_id)

    def _ensure_open(self) -> None:
        if self.closed:
            raise LabError(
                f"This {self.name} pattern is closed; make a new one with "
                f"labkit.patterns.make_pattern({self.name!r}, store, db)."
            )

    def _step(self, row_id: int) -> None:
        if self.between_steps is not None:
            self.between_steps(row_id)

    def _cached(self, row_id: int, *, count_read: bool = True) -> Row | None:
        """The cached row or None; counts the read and its hit or miss."""
        text = self.store.get(cache_key(row_id))
        if count_read:
            self.stats.lookup(text is not None)
        return None if text is None else parse_cached(text)

    def __enter__(self) -> Pattern:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.closed:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self.name!r} on {self.store.backend} ({state})>"


def _load(db: Database, row_id: int) -> Row:
    row = db.read(row_id)
    if row is None:
        raise LabError(
            f"Row {row_id} is not in the database (it holds ids 0 to {db.rows - 1}); "
            "read an id in that range."
        )
    return row


class _AppLoads(Pattern):
    """Patterns whose *application* loads a missing row from the database and fills
    the cache.  They differ only in how the fill is written (:meth:`_fill`) and in
    what a write does."""

    def __init__(
        self,
        store: Store,
        db: Database,
        *,
        ttl_seconds: float | None = DEFAULT_TTL_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(store, ttl_seconds=ttl_seconds, clock=clock)
        self.db = db

    def read(self, row_id: int) -> Row:
        row_id = self._check_open(row_id)
        cached = self._cached(row_id)
        if cached is not None:
            return cached
        row = _load(self.db, row_id)
        self.stats.add(db_reads=1)
        self._step(row_id)
        self._fill(row)
        return row

    @abstractmethod
    def _fill(self, row: Row) -> None: ...


class CacheAside(_AppLoads):
    """The application owns both halves: it reads the cache, and on a miss loads the
    row from the database and puts it in the cache.  A write goes to the database
    and deletes the cached key, so the next read loads the new row."""

    name = "cache-aside"

    def _fill(self, row: Row) -> None:
        # A plain SET, as most cache-aside code does: a slow reader can put back a
        # row older than one a writer just committed (the race in notebooks 01 and 02).
        self.store.set(cache_key(row.id), row.to_cache(), self.ttl_seconds)

    def write(self, row_id: int, value: str) -> None:
        row_id = self._check_open(row_id)
        self.stats.add(writes=1)
        self.db.write(row_id, value)
        self.stats.add(db_writes=1, db_write_queries=1)
        self._step(row_id)
        # Delete rather than overwrite: a delete can never install an old value.
        self.store.delete(cache_key(row_id))


class ReadThroughCache:
    """A cache layer that owns loading, like a caching library's loader or a proxy.

    It is built once with a ``loader`` (and a ``writer``); callers only ever ask it
    for rows, so the database is reached through this object alone.
    """

    def __init__(
        self,
        store: Store,
        loader: Callable[[int], Row | None],
        writer: Callable[[int, str], Any],
        *,
        ttl_seconds: float | None = DEFAULT_TTL_SECONDS,
        stats: PatternStats | None = None,
    ) -> None:
        self.store = store
        self._loader = loader
        self._writer = writer
        self.ttl_seconds = check_ttl(ttl_seconds)
        self.stats = stats if stats is not None else PatternStats()
        self.between_steps: StepHook | None = None

    def get(self, row_id: int) -> Row:
        text = self.store.get(cache_key(row_id))
        self.stats.lookup(text is not None)
        if text is not None:
            return parse_cached(text)
        row = self._load(row_id)
        if self.between_steps is not None:
            self.between_steps(row_id)
        self.store.set(cache_key(row_id), row.to_cache(), self.ttl_seconds)
        return row

    def put(self, row_id: int, value: str) -> None:
        self._writer(row_id, value)
        self.stats.add(db_writes=1, db_write_queries=1)
        if self.between_steps is not None:
            self.between_steps(row_id)
        self.store.delete(cache_key(row_id))

    def _load(self, row_id: int) -> Row:
        row = self._loader(row_id)
        if row is None:
            raise LabError(f"Row {row_id} is not in the database; read an id that exists.")
        self.stats.add(db_reads=1)
        return row


class ReadThrough(Pattern):
    """The caller talks to the cache layer only; the layer loads on a miss.

    The numbers match cache-aside: what changes is who owns the loading code.
    The application holds no database handle at all.
    """

    name = "read-through"

    def __init__(self, cache: ReadThroughCache, *, clock: Clock | None = None) -> None:
        super().__init__(cache.store, ttl_seconds=cache.ttl_seconds, clock=clock)
        self.cache = cache
        self.stats = cache.stats

    def read(self, row_id: int) -> Row:
        row_id = self._check_open(row_id)
        self.cache.between_steps = self.between_steps
        return self.cache.get(row_id)

    def write(self, row_id: int, value: str) -> None:
        row_id = self._check_open(row_id)
        self.stats.add(writes=1)
        self.cache.between_steps = self.between_steps
        self.cache.put(row_id, value)


class WriteThrough(_AppLoads):
    """A write updates the database and then the cache before it is acknowledged.

    Order matters.  The database is the source of truth, so it goes first: if it
    refuses the write, the cache was never touched and still agrees with it.  If
    the cache update then fails, the key is deleted, so no entry can disagree with
    the committed row (the next read reloads it).  Cache updates only ever move a
    key to a newer version (:func:`cache_if_newer`), so concurrent writers cannot
    leave an older row in the cache than the database holds.
    """

    name = "write-through"

    def _fill(self, row: Row) -> None:
        # A writer may have cached a newer row while we were loading: never go back.
        cache_if_newer(self.store, row, self.ttl_seconds)

    def write(self, row_id: int, value: str) -> None:
        row_id = self._check_open(row_id)
        self.stats.add(writes=1)
        row = self.db.write(row_id, value)  # raises before the cache is touched
        self.stats.add(db_writes=1, db_write_queries=1)
        self._step(row_id)
        try:
            cache_if_newer(self.store, row, self.ttl_seconds)
        except Exception:
            # The row is committed; the cache must not keep an older copy of it.
            # If this delete fails too, the error reaches the caller: the cache
            # may then hold the old row until its TTL runs out.
            self.stats.add(cache_repairs=1)
            self.store.delete(cache_key(row_id))


@dataclass
class _Pending:
    """The queued, not yet durable, writes to one row (coalesced into one DB update)."""

    version: int  # the version the database will give the row when this is flushed
    values: list[str]


class WriteBehind(Pattern):
    """Writes land in the cache and a queue; a flusher writes batches to the database.

    The flusher runs when ``flush_interval_seconds`` have passed since the last
    flush or ``flush_batch_size`` writes are queued.  Several writes to one row
    before a flush become a single row update (coalescing): that is why the
    pattern suits counters.  The flusher runs at the start and end of every call
    (and on :meth:`tick`), so a replay on a virtual clock is exactly repeatable;
    :meth:`start_flusher` also runs it on a timer thread, as production does, so
    writes reach the database when traffic stops.  Its time is kept in
    ``stats.flush_seconds`` and is not part of any request's latency.

    :meth:`close` flushes everything.  :meth:`crash` drops the queue, as a process
    that dies would, and returns the acknowledged writes that were lost.
    """

    name = "write-behind"

    def __init__(
        self,
        store: Store,
        db: Database,
        *,
        ttl_seconds: float | None = DEFAULT_TTL_SECONDS,
        clock: Clock | None = None,
        flush_interval_seconds: float = 1.0,
        flush_batch_size: int = 100,
    ) -> None:
        super().__init__(store, ttl_seconds=ttl_seconds, clock=clock if clock is not None else db.clock)
        self.db = db
        self.flush_interval_seconds = float(
            check_non_negative(
                "flush_interval_seconds", flush_interval_seconds, "s",
                "Use 0 to flush after every write.",
            )
        )
        if isinstance(flush_batch_size, bool) or not isinstance(flush_batch_size, int) or flush_batch_size < 1:
            raise LabError(f"flush_batch_size must be a whole number >= 1 (got {flush_batch_size!r}).")
        self.flush_batch_size = flush_batch_size
        self._pending: dict[int, _Pending] = {}
        self._queued_writes = 0
        self._lock = threading.RLock()
        self._last_flush = self.clock.now()
        self.lost_writes: list[tuple[int, str]] = []
        self._flusher: threading.Thread | None = None
        self._stop_flusher = threading.Event()

    @property
    def queued_writes(self) -> int:
        """Acknowledged writes not yet in the database (lost if the process dies now)."""
        return self._queued_writes

    def pending(self) -> list[tuple[int, str]]:
        """The queued writes, oldest first per row: ``(row_id, value)``."""
        with self._lock:
            return [(row_id, v) for row_id, p in self._pending.items() for v in p.values]

    def read(self, row_id: int) -> Row:
        row_id = self._check_open(row_id)
        self._maybe_flush()
        cached = self._cached(row_id)
        if cached is not None:
            return cached
        with self._lock:
            queued = self._pending.get(row_id)
        if queued is not None:
            # The cache lost a row whose write is still queued: the database has the
            # old value, so rebuild the acknowledged one (read-your-writes).
            row = Row(row_id, queued.values[-1], queued.version, self.clock.now())
        else:
            row = _load(self.db, row_id)
            self.stats.add(db_reads=1)
        self._step(row_id)
        cache_if_newer(self.store, row, self.ttl_seconds)
        return row

    def write(self, row_id: int, value: str) -> None:
        row_id = self._check_open(row_id)
        value = str(value)
        self._maybe_flush()
        # One writer at a time: the queued version and the cached row must agree.
        with self._lock:
            queued = self._pending.get(row_id)
            if queued is not None:
                version = queued.version  # coalesced: one DB update, one new version
            else:
                base = self._cached(row_id, count_read=False)
                if base is None:
                    # To give the cached row the version the DB will assign, the
                    # pattern needs the row's current version: one DB read on a cold key.
                    base = _load(self.db, row_id)
                    self.stats.add(db_reads=1)
                version = base.version + 1
            self.stats.add(writes=1)
            # Cache first: only a write that is in the cache is acknowledged and queued.
            row = Row(row_id, value, version, self.clock.now())
            # Stored with its version, so a slow reader's older fill cannot replace it.
            self.store.set(cache_key(row_id), versioned(row.to_cache(), version), self.ttl_seconds)
            self._step(row_id)
            self._pending.setdefault(row_id, _Pending(version, [])).values.append(value)
            self._queued_writes += 1
        self._maybe_flush()

    def tick(self) -> int:
        """Let the flusher run if it is due (time passed with no traffic); rows flushed."""
        self._ensure_open()
        return self._maybe_flush()

    def start_flusher(self) -> threading.Thread:
        """Run the flusher on its own thread: every ``flush_interval_seconds`` of wall
        time it writes whatever is due, traffic or not.  ``close()`` and ``crash()``
        stop it."""
        self._ensure_open()
        if isinstance(self.clock, VirtualClock):
            raise LabError(
                "start_flusher() needs wall time, and this pattern runs on a VirtualClock; "
                "call tick() after advancing the clock instead."
            )
        if self._flusher is None:
            self._stop_flusher.clear()
            self._flusher = threading.Thread(target=self._flush_periodically,
                                             name="write-behind-flusher", daemon=True)
            self._flusher.start()
        return self._flusher

    def _flush_periodically(self) -> None:
        period = max(self.flush_interval_seconds, 0.001)
        while not self._stop_flusher.wait(period):
            with self._lock:
                if self.closed:
                    return
                try:
                    self._maybe_flush()
                except Exception:
                    # The batch stays queued and the next tick retries it; a timer
                    # thread has no caller to raise to.
                    self.stats.add(flush_failures=1)

    def _stop_flushing(self) -> None:
        self._stop_flusher.set()
        flusher, self._flusher = self._flusher, None
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join()

    def _maybe_flush(self) -> int:
        with self._lock:
            if not self._pending:
                return 0
            due = self.clock.now() - self._last_flush >= self.flush_interval_seconds
            if due or self._queued_writes >= self.flush_batch_size:
                return self.flush()
        return 0

    def flush(self) -> int:
        """Write every queued row to the database, in batches; returns rows written.

        A batch the database refuses stays queued and is retried on the next flush.
        """
        written = 0
        with self._lock:
            started = self.clock.now()
            try:
                while self._pending:
                    batch = list(self._pending.items())[: self.flush_batch_size]
                    rows = self.db.write_many([(row_id, p.values[-1]) for row_id, p in batch])
                    for (row_id, p), row in zip(batch, rows, strict=True):
                        del self._pending[row_id]
                        self._queued_writes -= len(p.values)
                        if row.version != p.version:
                            # Someone else wrote this row meanwhile; cache the real one.
                            cache_if_newer(self.store, row, self.ttl_seconds)
                    self.stats.add(db_writes=len(batch), db_write_queries=1)
                    written += len(batch)
            finally:
                self._last_flush = self.clock.now()
                self.stats.add(flushes=1, flush_seconds=self._last_flush - started)
        return written

    def close(self) -> None:
        """Flush every queued write, then close.  Nothing acknowledged is lost."""
        if self.closed:
            return
        self._stop_flushing()
        self.flush()
        self.closed = True

    def crash(self) -> list[tuple[int, str]]:
        """Die now: the queue vanishes.  Returns (and keeps in ``lost_writes``) the
        acknowledged writes that never reached the database.  The cache still holds
        their values until they expire, so cache and database now disagree."""
        self._stop_flusher.set()  # a dead process runs no timers
        with self._lock:
            lost = self.pending()
            self._pending.clear()
            self._queued_writes = 0
            self.closed = True
            self.lost_writes = lost
        self._stop_flushing()
        return lost


def make_pattern(
    name: str,
    store: Store,
    db: Database,
    *,
    ttl_seconds: float | None = DEFAULT_TTL_SECONDS,
    clock: Clock | None = None,
    **write_behind: Any,
) -> Pattern:
    """One of :data:`PATTERNS` by name, on ``store`` in front of ``db``.

    ``write_behind`` holds :class:`WriteBehind`'s own settings (``flush_interval_seconds``,
    ``flush_batch_size``); the other patterns ignore them.
    """
    check_choice("pattern", name, PATTERNS)
    if name == "cache-aside":
        return CacheAside(store, db, ttl_seconds=ttl_seconds, clock=clock)
    if name == "read-through":
        cache = ReadThroughCache(store, loader=db.read, writer=db.write, ttl_seconds=ttl_seconds)
        return ReadThrough(cache, clock=clock)
    if name == "write-through":
        return WriteThrough(store, db, ttl_seconds=ttl_seconds, clock=clock)
    return WriteBehind(store, db, ttl_seconds=ttl_seconds, clock=clock, **write_behind)
