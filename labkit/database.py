"""The database of record: real SQLite, made slow on purpose.

Every query pays ``latency_seconds`` on the given clock, and the load model makes
that latency grow once more than ``parallel_queries`` run at the same time - the
way a real database queues work it cannot do at once - so a stampede visibly
hurts it.  Rows carry a version and an ``updated_at`` time, which lets the
staleness meter tell whether a cached copy is behind the database.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from dataclasses import dataclass, field

from .clock import Clock, VirtualClock, wall_clock
from .counters import Counters
from .errors import LabError, check_non_negative, check_positive

__all__ = ["Row", "Database", "DatabaseStats", "DatabaseTimeout", "DatabaseError"]


class DatabaseTimeout(TimeoutError):
    """A query took longer than the caller was willing to wait."""


class DatabaseError(RuntimeError):
    """An injected failure: the database refused the operation."""


@dataclass(frozen=True)
class Row:
    """One record: what a cache stores a copy of."""

    id: int
    value: str
    version: int
    updated_at: float

    def to_cache(self) -> str:
        return json.dumps([self.id, self.value, self.version, self.updated_at])

    @classmethod
    def from_cache(cls, text: str) -> Row:
        """The row in a cached value: ``to_cache()`` text, or that text in the store's
        version-guarded form ``"<version>|<text>"`` (what ``Store.set_if_newer`` stores)."""
        if not text.startswith("["):
            text = text.partition("|")[2]
        row_id, value, version, updated_at = json.loads(text)
        return cls(int(row_id), value, int(version), float(updated_at))


class DatabaseStats(Counters):
    """What the database was asked and how busy it was, since the last reset."""

    reads: int
    writes: int
    queries: int
    timeouts: int
    peak_in_flight: int
    busy_seconds: float


@dataclass
class _History:
    # superseded[v] = the time version v stopped being the newest
    superseded: dict[int, float] = field(default_factory=dict)
    version: int = 1


class Database:
    """A SQLite table ``items(id, value, version, updated_at)`` behind a latency model.

    >>> db = Database(VirtualClock(), rows=10, latency_seconds=0.01)
    >>> db.read(3).version
    1
    >>> db.write(3, "new").version
    2
    >>> db.stats.queries
    2
    """

    def __init__(
        self,
        clock: Clock = wall_clock,
        *,
        rows: int = 1000,
        latency_seconds: float = 0.005,
        parallel_queries: int = 4,
        path: str = ":memory:",
    ) -> None:
        self.clock = clock
        check_positive("rows", rows, hint="The table needs at least one row.")
        self.latency_seconds = check_non_negative("latency_seconds", latency_seconds, "s")
        self.parallel_queries = int(check_positive("parallel_queries", parallel_queries))
        self.rows = int(rows)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._sql_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._in_flight = 0
        self._stalled = False
        self._resumed = threading.Event()
        self._resumed.set()
        self._fail_writes = 0
        self.stats = DatabaseStats()
        self.timeline: list[tuple[float, int]] = []
        self._history: dict[int, _History] = {}
        self._create(self.rows)

    # -- setup ------------------------------------------------------------------
    def _create(self, rows: int) -> None:
        now = self.clock.now()
        with self._sql_lock:
            self._conn.execute("DROP TABLE IF EXISTS items")
            self._conn.execute(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL, "
                "version INTEGER NOT NULL, updated_at REAL NOT NULL)"
            )
            self._conn.executemany(
                "INSERT INTO items VALUES (?, ?, 1, ?)",
                ((i, f"item {i} v1", now) for i in range(rows)),
            )
        self._history = {i: _History() for i in range(rows)}

    # -- the load model ------------------------------------------------------------
    def latency_for(self, in_flight: int) -> float:
        """Seconds one query takes when ``in_flight`` queries run together."""
        return self.latency_seconds * max(1.0, in_flight / self.parallel_queries)

    def _run(self, fn, timeout_seconds: float | None):
        with self._state_lock:
            self._in_flight += 1
            in_flight = self._in_flight
            self.stats.queries += 1
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, in_flight)
            self.timeline.append((self.clock.now(), in_flight))
            stalled = self._stalled
        try:
            latency = self.latency_for(in_flight)
            if stalled:
                self._wait_out_stall(timeout_seconds)
            elif timeout_seconds is not None and latency > timeout_seconds:
                self.clock.sleep(timeout_seconds)
                self._timed_out(timeout_seconds)
            else:
                self.clock.sleep(latency)
            with self._state_lock:
                self.stats.busy_seconds += latency
            with self._sql_lock:
                return fn()
        finally:
            with self._state_lock:
                self._in_flight -= 1
                self.timeline.append((self.clock.now(), self._in_flight))

    def _wait_out_stall(self, timeout_seconds: float | None) -> None:
        if isinstance(self.clock, VirtualClock):
            if timeout_seconds is None:
                raise LabError(
                    "The database is stalled and this query has no timeout, so it would never "
                    "return; pass timeout_seconds or call db.resume()."
                )
            self.clock.sleep(timeout_seconds)
            self._timed_out(timeout_seconds)
        if not self._resumed.wait(timeout_seconds):
            self._timed_out(timeout_seconds or 0.0)

    def _timed_out(self, timeout_seconds: float) -> None:
        with self._state_lock:
            self.stats.timeouts += 1
        raise DatabaseTimeout(f"The database did not answer within {timeout_seconds:g} s.")

    # -- queries -------------------------------------------------------------------
    def read(self, row_id: int, *, timeout_seconds: float | None = None) -> Row | None:
        """``SELECT`` one row (None if there is no such id); counts one query."""
        row_id = self._check_id(row_id)

        def select() -> Row | None:
            got = self._conn.execute(
                "SELECT id, value, version, updated_at FROM items WHERE id = ?", (row_id,)
            ).fetchone()
            return Row(*got) if got else None

        with self._state_lock:
            self.stats.reads += 1
        return self._run(select, timeout_seconds)

    def write(self, row_id: int, value: str, *, timeout_seconds: float | None = None) -> Row:
        """Update one row (bumping its version); counts one query."""
        return self.write_many([(row_id, value)], timeout_seconds=timeout_seconds)[0]

    def write_many(
        self, updates: list[tuple[int, str]], *, timeout_seconds: float | None = None
    ) -> list[Row]:
        """Apply several updates in one transaction: one query's latency, however many rows."""
        checked = [(self._check_id(i), str(v)) for i, v in updates]
        if not checked:
            return []

        def update() -> list[Row]:
            if self._fail_writes:
                self._fail_writes -= 1
                raise DatabaseError("Injected failure: the database rejected this write.")
            now = self.clock.now()
            out = []
            pending: dict[int, int] = {}  # versions given out in this batch
            self._conn.execute("BEGIN")
            try:
                for row_id, value in checked:
                    hist = self._history.setdefault(row_id, _History(version=0))
                    version = pending.get(row_id, hist.version) + 1
                    pending[row_id] = version
                    self._conn.execute(
                        "INSERT INTO items VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                        "value = excluded.value, version = excluded.version, "
                        "updated_at = excluded.updated_at",
                        (row_id, value, version, now),
                    )
                    out.append(Row(row_id, value, version, now))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            # Only after COMMIT do the new versions count as the truth.
            for row in out:
                hist = self._history[row.id]
                for old in range(hist.version, row.version):
                    hist.superseded[old] = now
                hist.version = row.version
            return out

        with self._state_lock:
            self.stats.writes += len(checked)
        return self._run(update, timeout_seconds)

    def _check_id(self, row_id: object) -> int:
        if isinstance(row_id, bool) or not isinstance(row_id, int) or row_id < 0:
            raise LabError(f"Row ids are integers >= 0 (got {row_id!r}).")
        return row_id

    # -- the truth, for measuring (free: no latency, not counted) -----------------
    def peek(self, row_id: int) -> Row | None:
        """The committed row right now, for measuring: no latency, not counted."""
        with self._sql_lock:
            got = self._conn.execute(
                "SELECT id, value, version, updated_at FROM items WHERE id = ?", (row_id,)
            ).fetchone()
        return Row(*got) if got else None

    def current_version(self, row_id: int) -> int:
        hist = self._history.get(row_id)
        return hist.version if hist else 0

    def stale_age(self, row_id: int, version: int, now: float | None = None) -> float:
        """How long ago ``version`` of the row stopped being the newest (0 if it is)."""
        hist = self._history.get(row_id)
        if hist is None or version >= hist.version:
            return 0.0
        superseded = hist.superseded.get(version, -math.inf)
        when = self.clock.now() if now is None else now
        return max(0.0, when - superseded)

    # -- knobs for the lessons --------------------------------------------------------
    def stall(self) -> None:
        """Every query from now on hangs (until :meth:`resume`) or hits its timeout."""
        with self._state_lock:
            self._stalled = True
            self._resumed.clear()

    def resume(self) -> None:
        with self._state_lock:
            self._stalled = False
            self._resumed.set()

    def fail_next_writes(self, count: int = 1) -> None:
        """The next ``count`` writes raise :class:`DatabaseError` and change nothing."""
        self._fail_writes = int(check_non_negative("count", count))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def reset_stats(self) -> None:
        with self._state_lock:
            self.stats = DatabaseStats()
            self.timeline = []

    def close(self) -> None:
        self.resume()
        with self._sql_lock:
            self._conn.close()

    def __repr__(self) -> str:
        return (
            f"Database(rows={self.rows}, latency_seconds={self.latency_seconds:g}, "
            f"parallel_queries={self.parallel_queries}, clock={self.clock!r})"
        )
