"""Grading notebook 02's fix-the-race: ``read_item(store, db, row_id)`` with a lease.

The replays: nobody writing (the copy carries its 300 s TTL on the store, and the
next read hits); the stale-set race (a writer commits and deletes right after the
reader's DB read); readers arriving during someone else's fill (they neither crash
on the lease nor replace a cached row with one); and a reader killed mid-query while
holding the lease (the lease carries a short TTL, which the replay lets pass on a
virtual clock, and the key is filled again).
"""

from __future__ import annotations

import contextlib
import math
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from ..clock import VirtualClock
from ..database import Database, Row
from ..exercises import Scenario, Verdict
from ..store import MemoryStore, Store
from ..wrappers import RecordingStore, StoreWrapper
from .race import LEASE_PREFIX, cached_version, item_key
from .tenant_grader import _callable, _short

ROW_TTL_SECONDS = 300.0  # the TTL the naive reader gives its copy: the fix keeps it
LEASE_TTL_LIMIT_SECONDS = 30.0  # a dead reader may block its key this long at most
_RACE_ROW = 5


def _ttl_text(ttl: float | None) -> str:
    return "not set" if ttl is None else "none (never expires)" if ttl == math.inf else f"{ttl:g} s"


class _RacingDatabase:
    """A database that lets a writer commit and invalidate right after the first read."""

    def __init__(self, db: Database, store: Store, row_id: int) -> None:
        self._db, self._store, self._row_id = db, store, row_id
        self.fired = False

    def read(self, row_id: int, **kw: Any) -> Row | None:
        row = self._db.read(row_id, **kw)
        if not self.fired and row_id == self._row_id:
            self.fired = True
            self._db.write(row_id, "changed while you were reading")
            self._store.delete(item_key(row_id))
        return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class _ReaderStore(StoreWrapper):
    """The store as one reader sends to it: each command logged; none arrive once it is dead."""

    def __init__(self, inner: Store, reader: _Reader) -> None:
        super().__init__(inner)
        self.reader = reader

    def get(self, key):
        return self.reader.send("get", self.inner.get, key)

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        return self.reader.send("set", self.inner.set, key, value, ttl_seconds=ttl_seconds, nx=nx)

    def compare_and_set(self, key, expected, value, ttl_seconds=None):
        return self.reader.send("compare_and_set", self.inner.compare_and_set, key, expected, value,
                                ttl_seconds=ttl_seconds)

    def set_if_newer(self, key, value, version, ttl_seconds=None):
        return self.reader.send("set_if_newer", self.inner.set_if_newer, key, value, version,
                                ttl_seconds=ttl_seconds)

    def delete(self, *keys):
        return self.reader.send("delete", self.inner.delete, *keys)

    def compare_and_delete(self, key, expected):
        return self.reader.send("compare_and_delete", self.inner.compare_and_delete, key, expected)

    def expire(self, key, ttl_seconds):
        return self.reader.send("expire", self.inner.expire, key, ttl_seconds)


class _Reader:
    """One reader's view of a shared store and database (``.store``, and itself as the
    database), its steps logged by name in ``rows``.

    ``after_get`` runs once, right after its first GET; ``during_query`` once, while
    its first database read is in flight; ``dies`` makes that read the moment the
    process is killed: it raises, and nothing the reader sends afterwards arrives.
    """

    class ReaderDied(BaseException):
        """The process running this reader was killed (no finally block reaches the store)."""

    def __init__(self, name: str, store: Store, db: Database, rows: list[dict[str, Any]]) -> None:
        self.name, self.db, self.rows = name, db, rows
        self.store = _ReaderStore(store, self)
        self.after_get: Callable[[], None] | None = None
        self.during_query: Callable[[], None] | None = None
        self.dies = self.dead = False

    def log(self, did: str) -> None:
        self.rows.append({"step": len(self.rows) + 1, "t (s)": f"{self.db.clock.now():g}",
                          "who": self.name, "did": did})

    def send(self, command: str, forward: Callable[..., Any], *args: Any, **options: Any) -> Any:
        if self.dead:
            return None
        result = forward(*args, **options)
        shown = "".join(f" {k}={v}" for k, v in options.items() if v not in (None, False))
        self.log(f"{command} {' '.join(_short(a, 24) for a in args)}{shown} -> {_short(result, 24)}")
        if command == "get" and self.after_get is not None:
            run, self.after_get = self.after_get, None
            run()
        return result

    def read(self, row_id: int, **kw: Any) -> Row | None:
        if self.during_query is not None:
            run, self.during_query = self.during_query, None
            run()
        if self.dies:
            self.dead = True
            self.log("DB read ... the process is killed mid-query")
            raise _Reader.ReaderDied(f"{self.name} was killed mid-query")
        row = self.db.read(row_id, **kw)
        self.log(f"DB read row {row_id} -> v{row.version}" if row else f"DB read row {row_id} -> none")
        return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def _virtual_world() -> tuple[MemoryStore, Database]:
    clock = VirtualClock()
    return MemoryStore(clock, namespace="02-race-replay"), Database(clock, rows=8, latency_seconds=0.01)


def race_scenarios(store: Store) -> list[Scenario]:
    """The replays for a reader ``read_fn(store, db, row_id)``."""
    key = item_key(_RACE_ROW)

    def quiet(read_fn: Callable[..., Any]) -> Verdict:
        _callable(read_fn, "read_item")
        db = Database(VirtualClock(), rows=8, latency_seconds=0.0)
        store.delete(key)
        try:
            log = RecordingStore(store)
            row = read_fn(log, db, _RACE_ROW)
            ttl = store.ttl_seconds(key)
            table = [{"command": r["command"], "key": r["key"], "args": _short(r["args"]), "result": r["result"]}
                     for r in log.log]
            if not isinstance(row, Row) or row.version != db.current_version(_RACE_ROW):
                return Verdict(False, f"with nobody writing, your function returned {_short(row)!s}; it must "
                                      "return the current Row from the DB.", table)
            if cached_version(store.get(key)) != db.current_version(_RACE_ROW):
                return Verdict(False, "with nobody writing, the cache stayed empty: your reader never caches, "
                                      "so it is no cache at all.", table)
            if ttl is None or not ROW_TTL_SECONDS - 5 <= ttl <= ROW_TTL_SECONDS + 1e-3:
                return Verdict(False, f"the cached copy of {key} carries a TTL of {_ttl_text(ttl)} on the store; "
                                      f"keep the {ROW_TTL_SECONDS:g} s of the reader you started from (the "
                                      "backstop if a delete is ever lost).", table)
            queries = db.stats.reads
            again = read_fn(log, db, _RACE_ROW)
            table = table + [{"command": r["command"], "key": r["key"], "args": _short(r["args"]),
                              "result": r["result"]} for r in log.log[len(table):]]
            if not isinstance(again, Row) or again.version != row.version or db.stats.reads != queries:
                return Verdict(False, f"a second read of row {_RACE_ROW}, with its copy in the cache, returned "
                                      f"{_short(again)} after {db.stats.reads - queries} DB read(s); it must "
                                      "return the cached Row without a DB read.", table)
            return Verdict(True, "fills the cache, then hits")
        finally:
            store.delete(key)

    def race(read_fn: Callable[..., Any]) -> Verdict:
        db = Database(VirtualClock(), rows=8, latency_seconds=0.0)
        store.delete(key)
        try:
            log = RecordingStore(store)
            read_fn(log, _RacingDatabase(db, log, _RACE_ROW), _RACE_ROW)
            left, now = cached_version(store.get(key)), db.current_version(_RACE_ROW)
            timeline = [{"step": i, "command": row["command"], "key": row["key"], "args": _short(row["args"]),
                         "result": row["result"]} for i, row in enumerate(log.log, start=1)]
            if left is not None and left < now:
                return Verdict(False, f"a writer committed v{now} and deleted the key right after your DB read; "
                                      f"your reader then left v{left} in the cache - it sets after the writer's "
                                      "delete (the stale set).", timeline)
            after = read_fn(store, db, _RACE_ROW)
            if not isinstance(after, Row) or after.version != now:
                return Verdict(False, "after the race the next read must return the new row.", timeline)
            state = "empty" if left is None else f"v{left}"
            return Verdict(True, f"no stale entry (cache {state}, DB v{now})")
        finally:
            store.delete(key)

    def a_crowd(read_fn: Callable[..., Any]) -> Verdict:
        """B misses; A then fills while C arrives mid-fill; B goes on while D arrives mid-query."""
        shared, db = _virtual_world()
        rows: list[dict[str, Any]] = []
        a, b, c, d = (_Reader(n, shared, db, rows) for n in ("reader A", "reader B", "reader C", "reader D"))
        got: dict[str, Any] = {}

        def read(reader: _Reader) -> None:
            try:
                got[reader.name] = read_fn(reader.store, reader, _RACE_ROW)
            except Exception as exc:  # noqa: BLE001 - what one reader did is the evidence
                got[reader.name] = f"{type(exc).__name__}: {exc}"
                reader.log(f"raised {got[reader.name]}")

        a.during_query = lambda: read(c)
        b.after_get = lambda: read(a)
        b.during_query = lambda: read(d)
        read(b)
        current = db.current_version(_RACE_ROW)
        wrong = {n: g for n, g in got.items() if not isinstance(g, Row) or g.version != current}
        if wrong:
            name, what = next(iter(wrong.items()))
            steps = [r["did"] for r in rows if r["who"] == name]
            saw_lease = any(s.startswith("get") and f"-> {LEASE_PREFIX}" in s for s in steps)
            why = (" - it serves a lease as a row: a reader that finds someone else's lease must read the "
                   "database (and leave the lease alone)" if saw_lease and not any("DB read" in s for s in steps)
                   else "")
            return Verdict(False, f"{name} arrived while another reader was filling {key} and returned "
                                  f"{_short(what, 60)} instead of the current row{why}.", rows)
        d_queried = any(r["who"] == "reader D" and r["did"].startswith("DB read") for r in rows)
        if d_queried:
            return Verdict(False, "reader A had cached the row, yet reader D, arriving a moment later, found no "
                                  "row and read the database: reader B's SET of its lease replaced A's cached "
                                  "row - a lease without NX. Take the lease only if the key is empty (nx=True).",
                           rows)
        if cached_version(shared.get(key)) != current:
            return Verdict(False, f"after four readers and no writer, the cache holds {_short(shared.get(key))} "
                                  f"instead of v{current}.", rows)
        return Verdict(True, "readers during a fill got the row and left the cached copy alone")

    def a_reader_dies(read_fn: Callable[..., Any]) -> Verdict:
        shared, db = _virtual_world()
        rows: list[dict[str, Any]] = []
        dying = _Reader("reader A", shared, db, rows)
        dying.dies = True
        with contextlib.suppress(_Reader.ReaderDied):
            read_fn(dying.store, dying, _RACE_ROW)
        held, ttl = shared.get(key), shared.ttl_seconds(key)
        rows.append({"step": len(rows) + 1, "t (s)": f"{db.clock.now():g}", "who": "(store)",
                     "did": f"{key} holds {_short(held, 30)}, TTL {_ttl_text(ttl)}"})
        if held is not None and cached_version(held) is None:
            if ttl == math.inf:
                return Verdict(False, f"reader A was killed mid-query while {key} held {_short(held, 30)} with no "
                                      "TTL: no reader will ever fill this key again - a lease without a TTL. "
                                      "Give the lease a short ttl_seconds.", rows)
            if ttl is not None and ttl > LEASE_TTL_LIMIT_SECONDS:
                return Verdict(False, f"reader A was killed mid-query while {key} held its lease for {ttl:g} s "
                                      f"more: that key stays uncached that long. Keep a lease short (at most "
                                      f"{LEASE_TTL_LIMIT_SECONDS:g} s: a query takes milliseconds).", rows)
            db.clock.advance((ttl or 0) + 0.001)
            rows.append({"step": len(rows) + 1, "t (s)": f"{db.clock.now():g}", "who": "(clock)",
                         "did": "the lease's TTL has run out"})
        later = _Reader("reader B", shared, db, rows)
        row = read_fn(later.store, later, _RACE_ROW)
        if not isinstance(row, Row) or cached_version(shared.get(key)) != db.current_version(_RACE_ROW):
            return Verdict(False, f"after reader A died and its lease expired, reader B returned {_short(row)} and "
                                  f"left {_short(shared.get(key))} in the cache: the key must be filled again.",
                           rows)
        return Verdict(True, "a dead reader's lease expires and the key is filled again")

    return [Scenario("nobody writing", quiet), Scenario("the stale-set race", race),
            Scenario("readers during a fill", a_crowd), Scenario("a reader dies holding the lease", a_reader_dies)]


def check_race_fix(store: Store, read_fn: Callable[..., Any]) -> tuple[bool, str]:
    """Does ``read_fn(store, db, row_id)`` survive the bad interleaving and still cache?"""
    for scenario in race_scenarios(store):
        verdict = scenario.run(read_fn)
        if not verdict.passed:
            return False, verdict.message
    return True, "under the bad interleaving your reader left no stale entry, and it still fills the cache."


def read_item(store, db, row_id):
    """A cache-aside read with a lease: a writer's delete revokes the right to fill."""
    key = f"item:{row_id}"
    cached = store.get(key)
    if cached is not None and not cached.startswith(LEASE_PREFIX):
        return Row.from_cache(cached)
    token = LEASE_PREFIX + uuid.uuid4().hex
    leased = cached is None and store.set(key, token, ttl_seconds=10, nx=True)
    row = db.read(row_id)
    if leased:  # refused if a writer deleted the key (and our lease) meanwhile
        store.compare_and_set(key, token, row.to_cache(), ttl_seconds=300)
    return row


def _naive_read(store, db, row_id):
    key = f"item:{row_id}"
    cached = store.get(key)
    if cached is not None:
        return Row.from_cache(cached)
    row = db.read(row_id)
    store.set(key, row.to_cache(), ttl_seconds=300)
    return row


def _never_caches(store, db, row_id):
    return db.read(row_id)


def _lease_with(*, ttl_seconds: float | None, nx: bool) -> Callable[..., Any]:
    def read(store, db, row_id):
        key = f"item:{row_id}"
        cached = store.get(key)
        if cached is not None and not cached.startswith(LEASE_PREFIX):
            return Row.from_cache(cached)
        token = LEASE_PREFIX + uuid.uuid4().hex
        leased = cached is None and store.set(key, token, ttl_seconds=ttl_seconds, nx=nx)
        row = db.read(row_id)
        if leased:
            store.compare_and_set(key, token, row.to_cache(), ttl_seconds=300)
        return row

    return read


def _serves_the_lease(store, db, row_id):
    key = f"item:{row_id}"
    cached = store.get(key)
    if cached is not None:
        return Row.from_cache(cached)  # someone else's lease is no row
    token = LEASE_PREFIX + uuid.uuid4().hex
    leased = store.set(key, token, ttl_seconds=10, nx=True)
    row = db.read(row_id)
    if leased:
        store.compare_and_set(key, token, row.to_cache(), ttl_seconds=300)
    return row


def _lease_then_branch(store, db, row_id):
    key = f"item:{row_id}"
    cached = store.get(key)
    if cached is None:
        token = f"{LEASE_PREFIX}{secrets.token_hex(8)}"
        if store.set(key, token, ttl_seconds=2, nx=True):
            row = db.read(row_id)
            store.compare_and_set(key, token, row.to_cache(), ttl_seconds=300)
            return row
    elif not cached.startswith(LEASE_PREFIX):
        return Row.from_cache(cached)
    return db.read(row_id)  # someone else holds the lease: read, but leave the filling to them


def _lease_with_early_returns(store, db, row_id):
    key = f"item:{row_id}"
    text = store.get(key)
    if text is not None and not text.startswith(LEASE_PREFIX):
        return Row.from_cache(text)
    if text is not None:  # another reader's lease: read, and leave the filling to them
        return db.read(row_id)
    mine = LEASE_PREFIX + str(uuid.uuid4())
    got_lease = store.set(key, mine, 5, nx=True)
    row = db.read(row_id)
    if got_lease:
        store.compare_and_set(key, mine, row.to_cache(), 300)
    return row


RACE_MISTAKES = {
    "sets after the writer's delete": _naive_read, "never caches": _never_caches,
    "lease without a TTL": _lease_with(ttl_seconds=None, nx=True),
    "lease without NX": _lease_with(ttl_seconds=10, nx=False),
    "serves a lease as a row": _serves_the_lease,
}
RACE_EQUIVALENT_MUTANTS = {
    "read_item: leased = cached is None and store.set(key, token, ttl_seconds=10, nx=True) => "
    "leased = cached is None and store.set(key, token, ttl_seconds=11, nx=True)":
        "a lease of 11 s instead of 10 s: both are short (the replay's limit is 30 s) and far longer than a "
        "query; a reader that dies blocks its key 1 s longer, which no requirement of the exercise tells apart.",
}
RACE_ALTERNATIVES = {"branch on the lease": _lease_then_branch, "early returns": _lease_with_early_returns}
