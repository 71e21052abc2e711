"""Grading a learner's cache-aside with the lab's own race replays.

The learner subclasses :class:`CacheAsideBase` and writes ``read(row_id)`` and
``write(row_id, value)``.  Each scenario builds a fresh cache (the in-process store
on a virtual clock, so expiry is exact and nothing waits) and a fresh database,
gives every app its own watched view of them (:class:`~.replay.InterleavedStore`,
:class:`~.replay.InterleavedDatabase`) and puts a second request between two steps
of the first, as a busy server does.  A failure names the scenario and the mistake
it is the sign of, and shows the timeline that broke it.

The scenarios, in order: hits after a fill; the TTL backstop (the TTL the copy
carries on the store, then time passing: still there at 90 % of it, gone after it);
the write path (a reader in the middle of a write, then two writers overlapping);
the stale-set race; a database failure mid-write.
"""

from __future__ import annotations

import inspect
import math
import textwrap
from typing import Any

import labkit

from ..clock import VirtualClock
from ..database import Database, DatabaseError, Row
from ..exercises import Scenario, Verdict
from ..store import MemoryStore
from .core import cache_key, parse_cached
from .replay import Actor, InterleavedDatabase, InterleavedStore, Timeline

__all__ = [
    "CacheAsideBase",
    "MyCacheAside",
    "solution_source",
    "SCENARIOS",
    "MISTAKES",
    "SKELETON",
    "GRADER_TTL_SECONDS",
]

GRADER_TTL_SECONDS = 300.0
_DB_LATENCY_SECONDS = 0.005


class CacheAsideBase:
    """What a cache-aside is given: ``self.store`` (the cache), ``self.db`` (the
    database), ``self.ttl_seconds`` (the backstop TTL) and ``self.key(row_id)``.

    Subclass it and write ``read(row_id)`` and ``write(row_id, value)``.
    """

    def __init__(self, store: Any, db: Any, ttl_seconds: float = GRADER_TTL_SECONDS) -> None:
        self.store, self.db, self.ttl_seconds = store, db, ttl_seconds

    def key(self, row_id: int) -> str:
        """The row's cache key: ``item:<id>``."""
        return cache_key(row_id)

    def read(self, row_id: int) -> Row:
        raise NotImplementedError("Write read(self, row_id) in your subclass.")

    def write(self, row_id: int, value: str) -> None:
        raise NotImplementedError("Write write(self, row_id, value) in your subclass.")


SKELETON = '''\
from labkit import patterns


class MyCacheAside(patterns.CacheAsideBase):
    """Cache-aside: self.store is the cache, self.db the database, self.ttl_seconds the TTL.
    Cache a row under self.key(row_id) as row.to_cache(); labkit.Row.from_cache(text)
    turns the cached text back into a row."""

    def read(self, row_id):
        """Return the row: from the cache if it is there; otherwise load it with
        self.db.read(row_id), keep a copy in the cache, and return it."""
        ...

    def write(self, row_id, value):
        """Change the row in the database (self.db.write(row_id, value)) so that no
        reader goes on being served the old value from the cache."""
        ...
'''


class MyCacheAside(CacheAsideBase):
    def read(self, row_id):
        cached = self.store.get(self.key(row_id))
        if cached is not None:
            return labkit.Row.from_cache(cached)  # a hit: no database query
        row = self.db.read(row_id)
        # The TTL is the backstop: whatever goes wrong, a stale copy dies with it.
        self.store.set(self.key(row_id), row.to_cache(), ttl_seconds=self.ttl_seconds)
        return row

    def write(self, row_id, value):
        self.db.write(row_id, value)  # the database first: it is the truth
        self.store.delete(self.key(row_id))  # then drop the copy; the next read reloads it


def solution_source() -> str:
    """The reference as the notebook's cell would hold it (the base class as the notebook names it)."""
    source = textwrap.dedent(inspect.getsource(MyCacheAside)).rstrip()
    return source.replace("(CacheAsideBase):", "(patterns.CacheAsideBase):", 1)


# -- the mistakes the scenarios must refuse, by name ----------------------------------------


class _CachesBeforeCommit(MyCacheAside):
    def write(self, row_id, value):
        old = self.read(row_id)
        new = Row(row_id, value, old.version + 1, old.updated_at)
        self.store.set(self.key(row_id), new.to_cache(), ttl_seconds=self.ttl_seconds)
        self.db.write(row_id, value)


class _DeletesBeforeWrite(MyCacheAside):
    def write(self, row_id, value):
        self.store.delete(self.key(row_id))
        self.db.write(row_id, value)


class _SetsWithoutGuard(MyCacheAside):
    def write(self, row_id, value):
        row = self.db.write(row_id, value)
        self.store.set(self.key(row_id), row.to_cache(), ttl_seconds=self.ttl_seconds)


class _NoTtl(MyCacheAside):
    def read(self, row_id):
        cached = self.store.get(self.key(row_id))
        if cached is not None:
            return Row.from_cache(cached)
        row = self.db.read(row_id)
        self.store.set(self.key(row_id), row.to_cache())
        return row


class _TtlInTheWrongUnit(MyCacheAside):
    def read(self, row_id):
        cached = self.store.get(self.key(row_id))
        if cached is not None:
            return Row.from_cache(cached)
        row = self.db.read(row_id)
        self.store.set(self.key(row_id), row.to_cache(), ttl_seconds=self.ttl_seconds / 1000)
        return row


MISTAKES: dict[str, type] = {
    "caching before the DB commit": _CachesBeforeCommit,
    "deleting before the write": _DeletesBeforeWrite,
    "setting the cache on write without a version guard": _SetsWithoutGuard,
    "no TTL": _NoTtl,
    "TTL in the wrong unit": _TtlInTheWrongUnit,
}


# -- correct answers written another way ---------------------------------------------------


class _MissFirst(CacheAsideBase):
    """The miss branch first, the key named once, the TTL passed by position."""

    def read(self, row_id):
        key = self.key(row_id)
        text = self.store.get(key)
        if text is None:
            row = self.db.read(row_id)
            self.store.set(key, row.to_cache(), self.ttl_seconds)
            return row
        return Row.from_cache(text)

    def write(self, row_id, value):
        key = self.key(row_id)
        self.db.write(row_id, value)
        self.store.delete(key)


class _VersionGuarded(CacheAsideBase):
    """Refreshes the copy on write, guarded by the row's version, instead of deleting it."""

    def read(self, row_id):
        text = self.store.get(self.key(row_id))
        if text is not None:
            return Row.from_cache(text)
        row = self.db.read(row_id)
        self.store.set_if_newer(self.key(row_id), row.to_cache(), row.version, ttl_seconds=self.ttl_seconds)
        return row

    def write(self, row_id, value):
        row = self.db.write(row_id, value)
        self.store.set_if_newer(self.key(row_id), row.to_cache(), row.version, ttl_seconds=self.ttl_seconds)


ALTERNATIVES: dict[str, type] = {"miss branch first": _MissFirst, "version-guarded refresh": _VersionGuarded}


# -- the world one scenario runs in ----------------------------------------------------------


class _World:
    """A fresh cache and database on one virtual clock, and the apps that use them."""

    def __init__(self, answer: type, row_id: int) -> None:
        self.answer = answer
        self.clock = VirtualClock()
        self.store = MemoryStore(self.clock, namespace="grader")
        self.db = Database(self.clock, rows=10, latency_seconds=_DB_LATENCY_SECONDS)
        self.timeline = Timeline(self.store, self.db, row_id)

    @classmethod
    def of(cls, answer: Any, row_id: int) -> _World:
        """A world for ``answer``, once it is known to be a cache-aside class."""
        _check_class(answer)
        return cls(answer, row_id)

    def apps(self, *names: str) -> list[tuple[Any, Actor]]:
        return [self.app(name) for name in names]

    def app(self, name: str) -> tuple[Any, Actor]:
        actor = Actor(name, self.timeline)
        app = self.answer(InterleavedStore(self.store, actor), InterleavedDatabase(self.db, actor),
                          ttl_seconds=GRADER_TTL_SECONDS)
        return app, actor

    def focus(self, row_id: int) -> None:
        self.timeline.row_id = row_id

    def cached(self, row_id: int) -> Row | None:
        text = self.store.get(cache_key(row_id))
        return None if text is None else parse_cached(text)

    def committed(self, row_id: int) -> Row:
        row = self.db.peek(row_id)
        assert row is not None
        return row

    def fail(self, message: str) -> Verdict:
        return Verdict(False, message, self.timeline.rows)


def _describe(row: Row | None) -> str:
    return "nothing" if row is None else f"v{row.version} {row.value!r}"


def _not_a_row(got: Any) -> str | None:
    if isinstance(got, Row):
        return None
    return (f"read() returned {type(got).__name__} {got!r:.60}; return the row itself "
            "(labkit.Row.from_cache(text) turns the cached text back into one).")


def _check_class(answer: Any) -> None:
    if not (isinstance(answer, type) and issubclass(answer, CacheAsideBase)):
        raise labkit.LabError(
            "Pass your class itself, a subclass of patterns.CacheAsideBase: check(MyCacheAside)."
        )


# -- the scenarios -----------------------------------------------------------------------------


def hits_after_a_fill(answer: type) -> Verdict:
    world = _World.of(answer, row_id=3)
    app, _ = world.app("reader")
    got = [app.read(3) for _ in range(3)]
    for row in got:
        if (problem := _not_a_row(row)) is not None:
            return world.fail(problem)
    truth = world.committed(3)
    if any((row.value, row.version) != (truth.value, truth.version) for row in got):
        return world.fail(f"read(3) returned {[_describe(r) for r in got]}, but the database holds "
                          f"{_describe(truth)}.")
    if world.db.stats.reads != 1:
        return world.fail(f"three reads of one row queried the database {world.db.stats.reads} times: "
                          "the first read should fill the cache and the next two hit it.")
    return Verdict(True, "one database read, then hits.")


def _writer_order(actor: Actor) -> str:
    """'delete first', 'db first' or 'no cache step', from what the writer did."""
    if "cache" not in actor.steps:
        return "no cache step"
    if "db write" not in actor.steps or actor.steps.index("cache") < actor.steps.index("db write"):
        return "cache first"
    return "db first"


def the_write_path(answer: type) -> Verdict:
    world = _World.of(answer, row_id=3)
    (reader, _), (writer, writing) = world.apps("reader", "writer")
    reader.read(3)
    served: list[Row] = []
    truth_then: list[Row] = []

    def a_reader_in_the_middle() -> None:
        truth_then.append(world.committed(3))
        served.append(reader.read(3))

    writing.after_change = a_reader_in_the_middle
    writer.write(3, "new")
    if served and served[0].version > truth_then[0].version:
        return world.fail(
            f"in the middle of the write a reader was served {_describe(served[0])}, which the database "
            f"had not committed (it held {_describe(truth_then[0])}) - the sign of caching before the DB "
            "commit. Write the database first; if it refuses, nothing may claim the new value exists.")
    cached, truth = world.cached(3), world.committed(3)
    if truth.value != "new":
        return world.fail(f"after write(3, 'new') the database holds {_describe(truth)}: call self.db.write.")
    if cached is not None and cached.version < truth.version:
        order = _writer_order(writing)
        if order == "cache first":
            return world.fail(
                f"after the write the cache holds {_describe(cached)} and the database {_describe(truth)}: "
                "a reader came between your delete and your database write and put the old row back "
                "- the sign of deleting before the write. Write the database first, then delete.")
        return world.fail(f"after the write the cache still holds {_describe(cached)} while the database "
                          f"holds {_describe(truth)}: delete the cached copy after the database write.")
    after = reader.read(3)
    if (problem := _not_a_row(after)) is not None or after.value != "new":
        return world.fail(problem or f"the read after the write returned {_describe(after)}, not 'new'.")
    return _two_writers(answer)


def _two_writers(answer: type) -> Verdict:
    world = _World.of(answer, row_id=5)
    (reader, _), (first, first_writing), (second, _) = world.apps("reader", "writer A", "writer B")
    reader.read(5)
    first_writing.after_change = lambda: second.write(5, "from B")
    first.write(5, "from A")
    cached, truth = world.cached(5), world.committed(5)
    if cached is not None and cached.version < truth.version:
        return world.fail(
            f"two writers overlapped: B committed after A, but the cache went back to {_describe(cached)} "
            f"while the database holds {_describe(truth)} - the sign of setting the cache on write without "
            "a version guard. Delete the key instead (or store it with self.store.set_if_newer).")
    return Verdict(True, "the write path leaves no older copy behind.")


def the_stale_set_race(answer: type) -> Verdict:
    world = _World.of(answer, row_id=4)
    (reader, reading), (writer, _) = world.apps("slow reader", "writer")
    reading.after_db_read = lambda: writer.write(4, "new")
    reader.read(4)  # misses, loads v1; the writer commits v2 and does its cache step; then the fill
    if reading.after_db_read is not None:
        return world.fail("read() of an uncached row never queried the database.")
    world.clock.advance(GRADER_TTL_SECONDS + 1)
    world.timeline.add("(clock)", f"{GRADER_TTL_SECONDS + 1:g} s later (self.ttl_seconds + 1)")
    later, _ = world.app("a later reader")
    seen, truth = later.read(4), world.committed(4)
    if (problem := _not_a_row(seen)) is not None:
        return world.fail(problem)
    if seen.version < truth.version:
        ttl = world.store.ttl_seconds(cache_key(4))
        why = ("the cached copy has no TTL - the sign of no TTL" if ttl == math.inf else
               f"the cached copy's TTL is longer than self.ttl_seconds ({GRADER_TTL_SECONDS:g} s)")
        return world.fail(
            f"the slow reader put {_describe(seen)} back after the writer's {_describe(truth)}, and "
            f"{GRADER_TTL_SECONDS + 1:g} s later readers still get it: {why}. Cache-aside cannot stop this "
            "race; the TTL bounds how long it lasts (notebook 02 closes it with leases).")
    return Verdict(True, "a stale copy from the race expires with the TTL.")


def a_database_failure_mid_write(answer: type) -> Verdict:
    world = _World.of(answer, row_id=6)
    (reader, _), (writer, _) = world.apps("reader", "writer")
    reader.read(6)
    world.db.fail_next_writes(1)
    try:
        writer.write(6, "never committed")
    except DatabaseError:
        pass
    else:
        return world.fail("the database refused the write, but write() returned as if it had succeeded: "
                          "let the error reach the caller, who must not think the value was saved.")
    cached = world.cached(6)
    if cached is not None and cached.value == "never committed":
        return world.fail(
            f"the database refused the write, yet the cache holds {_describe(cached)}: readers are served "
            "a value that never existed - the sign of caching before the DB commit.")
    seen = reader.read(6)
    if (problem := _not_a_row(seen)) is not None or seen.value == "never committed":
        return world.fail(problem or "after the refused write, a read returned the refused value.")
    return Verdict(True, "a refused write leaves the cache agreeing with the database.")


def _ttl_problem(world: _World, row_id: int, when: str) -> Verdict | None:
    """None if the copy of ``row_id`` carries self.ttl_seconds on the store (or nothing is cached)."""
    ttl = world.store.ttl_seconds(cache_key(row_id))  # seconds left, the store's unit; inf: no expiry
    world.timeline.add("(store)", f"TTL left on {cache_key(row_id)}: " + (
        "not cached" if ttl is None else "none (never expires)" if ttl == math.inf else f"{ttl:g} s"))
    if ttl is None or 0.99 * GRADER_TTL_SECONDS <= ttl <= GRADER_TTL_SECONDS + 1e-6:
        return None
    if ttl == math.inf:
        return world.fail(f"{when} the copy of row {row_id} has no TTL on the store - the sign of no TTL: if a "
                          "delete is ever lost (a crash, the stale-set race), that copy is served forever. Pass "
                          "ttl_seconds=self.ttl_seconds.")
    unit = ""
    ratio = ttl / GRADER_TTL_SECONDS
    if math.isclose(ratio, 1e-3, rel_tol=0.02) or math.isclose(ratio, 1e3, rel_tol=0.02):
        unit = (" That is 1000 times off - a TTL in the wrong unit: the store's ttl_seconds= takes "
                "seconds, as self.ttl_seconds already is.")
    return world.fail(f"{when} the copy of row {row_id} carries a TTL of {ttl:g} s on the store, but "
                      f"self.ttl_seconds is {GRADER_TTL_SECONDS:g} s.{unit}")


def the_ttl_backstop(answer: type) -> Verdict:
    """The TTL the copy carries on the store, then time passing: kept at 90 %, gone after it."""
    world = _World.of(answer, row_id=8)
    (reader, _), (writer, _) = world.apps("reader", "writer")
    reader.read(8)
    if (failed := _ttl_problem(world, 8, "right after the fill")) is not None:
        return failed
    queries = world.db.stats.reads
    world.clock.advance(0.9 * GRADER_TTL_SECONDS)
    world.timeline.add("(clock)", f"{0.9 * GRADER_TTL_SECONDS:g} s later (90 % of the TTL)")
    reader.read(8)
    if world.db.stats.reads != queries:
        return world.fail(f"at 90 % of self.ttl_seconds ({0.9 * GRADER_TTL_SECONDS:g} s after the fill) the "
                          "copy was gone and the read queried the database: the copy must live its whole TTL.")
    world.clock.advance(0.1 * GRADER_TTL_SECONDS + 1)
    world.timeline.add("(clock)", f"{GRADER_TTL_SECONDS + 1:g} s after the fill (the TTL + 1 s)")
    if world.cached(8) is not None:
        return world.fail(f"{GRADER_TTL_SECONDS + 1:g} s after the fill the copy of row 8 is still on the "
                          f"store: it outlives self.ttl_seconds ({GRADER_TTL_SECONDS:g} s).")
    writer.write(8, "new")
    reader.read(8)
    if (failed := _ttl_problem(world, 8, "after a write and a read")) is not None:
        return failed
    return Verdict(True, "each copy carries self.ttl_seconds, lives 90 % of it and is gone after it.")


SCENARIOS: list[Scenario] = [
    Scenario("hits after a fill", hits_after_a_fill),
    Scenario("the TTL backstop", the_ttl_backstop),
    Scenario("the write path", the_write_path),
    Scenario("the stale-set race", the_stale_set_race),
    Scenario("a database failure mid-write", a_database_failure_mid_write),
]
