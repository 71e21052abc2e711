"""Replays of a loader on a virtual clock that read what it leaves on the store.

The threaded replays in :mod:`.loader` judge outcomes under real concurrency.  These
step in at exact moments - a reader killed mid-query, a lock expiring between two
commands, a fill landing just before the lock - and read the store itself: the TTL
the copy and the lock carry (in the store's unit, seconds), whether a lock is still
held, what a waiter does while the clock runs.  Deterministic and instant.

===========================  ==============================================================
replay                       what a complete loader does
===========================  ==============================================================
``the copy on the store``    the copy is fresh for ``ttl_seconds`` and kept 10x as long; it
                             still hits at 90 % of that (one GET), is refreshed after it; the
                             filler returns when its query ends and releases the lock
``the lock on the store``    the lock carries ``lock_ttl_seconds``: when its holder is killed
                             mid-query, it expires and the next reader gets the value
``the lock changes hands``   a holder whose lock expired (mid-query, or between a GET of the
                             lock and a DEL) never deletes the next holder's lock
``a fill before the lock``   a reader that takes the lock reads the key again first: what
                             another reader just stored (a value, not-found, the database-
                             down mark, fresh for one second) is used, never re-queried
``a failed refresh``         a stale copy is served when the reader's refresh fails
``waiting``                  a reader that finds the lock held waits for the value, and gives
                             up (raises) at ``wait_seconds``
``a stalled query``          the query's own timeout is what is left of ``wait_seconds``
===========================  ==============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..clock import VirtualClock
from ..database import Database, DatabaseError
from ..store import MemoryStore
from ..wrappers import StoreWrapper
from .loader import DB_DOWN, NOT_FOUND, ROW_ID, Replay, cache_key, lock_key, pack

__all__ = ["STORE_REPLAYS"]

# The signature's defaults: every replay here calls the loader without settings.
TTL_SECONDS, NOT_FOUND_TTL_SECONDS, LOCK_TTL_SECONDS, WAIT_SECONDS = 30.0, 5.0, 1.0, 0.5
KEEP_FACTOR = 10  # a key is kept 10x as long as it is fresh, so it can be served stale
DB_DOWN_FRESH_SECONDS = 1.0  # a failed refresh is shared for a second
MISSING_ID = 999
_GIVE_UP_SECONDS = 20.0  # virtual seconds after which the replay stops watching a waiter


class _Killed(BaseException):
    """The process running a reader was killed (nothing it sends afterwards arrives)."""


class _StillWaiting(BaseException):
    """A reader waited far past its deadline; the replay stopped watching."""


class _Clock(VirtualClock):
    """A virtual clock that runs scheduled events as time passes, and gives up on a waiter."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[float, Callable[[], None]]] = []
        self.give_up_at = math.inf

    def at(self, t: float, event: Callable[[], None]) -> None:
        self.events = sorted([*self.events, (t, event)], key=lambda e: e[0])

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        while self.events and self.events[0][0] <= self.now():
            self.events.pop(0)[1]()
        if self.now() > self.give_up_at:
            raise _StillWaiting


class _CallerStore(StoreWrapper):
    """The shared store as one reader sends to it: logged, with the replay's hooks."""

    def __init__(self, inner: Any, caller: _Caller) -> None:
        super().__init__(inner)
        self.caller = caller

    def get(self, key):
        if self.caller.dead:
            return None
        self.caller.commands.append(f"GET {key}")
        value = self.inner.get(key)
        self.caller.note(f"GET {key} -> {_show(value)}")
        hook = self.caller.after_get.get(key)
        if hook is not None and hook(value):
            del self.caller.after_get[key]
        return value

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        return self.caller.send(f"SET {key} {_show(value)}" + (" NX" if nx else "") +
                                (f" TTL {ttl_seconds:g} s" if ttl_seconds is not None else " (no TTL)"),
                                lambda: self.inner.set(key, value, ttl_seconds, nx=nx))

    def delete(self, *keys):
        return self.caller.send(f"DEL {' '.join(keys)}", lambda: self.inner.delete(*keys))

    def compare_and_delete(self, key, expected):
        return self.caller.send(f"COMPARE-AND-DELETE {key} {_show(expected)}",
                                lambda: self.inner.compare_and_delete(key, expected))

    def compare_and_set(self, key, expected, value, ttl_seconds=None):
        return self.caller.send(f"COMPARE-AND-SET {key} {_show(expected)} -> {_show(value)}",
                                lambda: self.inner.compare_and_set(key, expected, value, ttl_seconds))

    def expire(self, key, ttl_seconds):
        return self.caller.send(f"EXPIRE {key} {ttl_seconds:g} s", lambda: self.inner.expire(key, ttl_seconds))


class _Caller:
    """One reader: its view of the store (``.store``), of the database (itself), and its log."""

    def __init__(self, world: _World, name: str) -> None:
        self.world, self.name = world, name
        self.store = _CallerStore(world.store, self)
        self.after_get: dict[str, Callable[[Any], bool]] = {}  # key -> hook(value), True when done
        self.during_query: Callable[[], None] | None = None
        self.killed_mid_query = self.query_fails = self.dead = False
        self.query_timeouts: list[float | None] = []
        self.commands: list[str] = []  # every command this reader sent to the store

    def note(self, did: str) -> None:
        self.world.note(self.name, did)

    def send(self, what: str, command: Callable[[], Any]) -> Any:
        if self.dead:
            return None
        self.commands.append(what)
        result = command()
        self.note(f"{what} -> {_show(result)}")
        return result

    def read(self, row_id: int, *, timeout_seconds: float | None = None) -> Any:
        self.query_timeouts.append(timeout_seconds)
        if self.during_query is not None:
            step, self.during_query = self.during_query, None
            step()
        if self.killed_mid_query:
            self.dead = True
            self.note(f"DB read row {row_id} ... the process is killed mid-query")
            raise _Killed
        if self.query_fails:
            self.note(f"DB read row {row_id} -> failed (injected)")
            raise DatabaseError("Injected failure: the database refused the connection.")
        row = self.world.db.read(row_id, timeout_seconds=timeout_seconds)
        self.note(f"DB read row {row_id} -> {'none' if row is None else repr(row.value)}")
        return row


class _World:
    """A store and a database on one virtual clock, and the readers of one replay."""

    def __init__(self, read: Callable[..., Any]) -> None:
        self.read = read
        self.clock = _Clock()
        self.store = MemoryStore(self.clock, namespace="loader-replay")
        self.db = Database(self.clock, rows=10, latency_seconds=0.05)
        self.rows: list[dict[str, Any]] = []

    def note(self, who: str, did: str) -> None:
        self.rows.append({"t (s)": f"{self.clock.now():.3f}", "who": who, "did": did})

    def call(self, caller: _Caller, row_id: int = ROW_ID) -> tuple[str, Any]:
        """('value' | 'none' | 'raised' | 'killed' | 'still waiting', what) of one read, defaults only."""
        self.clock.give_up_at = self.clock.now() + _GIVE_UP_SECONDS
        try:
            value = self.read(caller.store, caller, row_id, self.clock)
        except _Killed:
            return "killed", None
        except _StillWaiting:
            caller.note(f"still waiting at {self.clock.now():g} s: the replay stopped watching")
            return "still waiting", None
        except Exception as exc:  # the learner's loader raising is an answer
            caller.note(f"raised {type(exc).__name__}: {exc}")
            return "raised", f"{type(exc).__name__}: {exc}"
        caller.note(f"returned {value!r}")
        return ("none" if value is None else "value"), value

    def look(self, key: str) -> tuple[float | None, float | None]:
        """(seconds the value in ``key`` stays fresh, seconds the key stays on the store)."""
        raw, kept = self.store.get(key), self.store.ttl_seconds(key)
        try:
            fresh = None if raw is None else float(raw.partition("|")[0]) - self.clock.now()
        except ValueError:
            fresh = None
        self.note("(store)", f"{key}: " + ("absent" if raw is None else
                                            f"{_show(raw)}, fresh for {_secs(fresh)}, kept {_secs(kept)}"))
        return fresh, kept

    def fail(self, name: str, message: str) -> Replay:
        return Replay(name, False, message, self.rows)


def _show(value: Any, limit: int = 28) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _secs(seconds: float | None) -> str:
    return "-" if seconds is None else "forever (no TTL)" if seconds == math.inf else f"{seconds:.3g} s"


def _near(value: float | None, target: float) -> bool:
    return value is not None and math.isclose(value, target, rel_tol=0.01)


# -- the replays ---------------------------------------------------------------------------


def replay_copy_on_the_store(read: Callable[..., Any]) -> Replay:
    name, w = "the copy on the store", _World(read)
    reader, key = _Caller(w, "reader"), cache_key(ROW_ID)
    first = w.call(reader)
    if first != ("value", "item 7 v1"):
        return w.fail(name, f"a read of an existing row must return its value ('item 7 v1'); got {first[1]!r}.")
    query_ended = w.db.latency_seconds
    if w.clock.now() > query_ended + 0.001:
        return w.fail(name, f"the reader's query ended at t = {query_ended:g} s, but it returned only at t = "
                            f"{w.clock.now():.3g} s: after storing the row it went round the loop again. Return "
                            "the row you just read.")
    if (w.store.ttl_seconds(lock_key(ROW_ID)) or 0) > 0.01:  # 10 ms left: as good as released
        return w.fail(name, f"the lock {lock_key(ROW_ID)} is still held after the read returned: every other "
                            "reader waits for it to expire. Release it (compare_and_delete with your token).")
    fresh, kept = w.look(key)
    if not _near(fresh, TTL_SECONDS):
        return w.fail(name, f"the copy is fresh for {_secs(fresh)}; ttl_seconds is {TTL_SECONDS:g} s "
                            "(pack(value, ttl_seconds, clock)).")
    if not _near(kept, KEEP_FACTOR * TTL_SECONDS):
        return w.fail(name, f"the key {key} carries a TTL of {_secs(kept)} on the store; keep it "
                            f"{KEEP_FACTOR}x ttl_seconds ({KEEP_FACTOR * TTL_SECONDS:g} s), so an expired copy "
                            "can still be served stale.")
    queries = w.db.stats.reads
    w.clock.advance(0.9 * TTL_SECONDS)
    w.note("(clock)", "90 % of ttl_seconds later")
    reader.commands.clear()
    second = w.call(reader)
    if second != first or w.db.stats.reads != queries:
        return w.fail(name, f"at 90 % of ttl_seconds the read returned {second[1]!r} after "
                            f"{w.db.stats.reads - queries} DB query(ies): the copy is fresh, serve it.")
    if reader.commands != [f"GET {key}"]:
        return w.fail(name, f"a hit on a fresh copy sent {len(reader.commands)} commands ("
                            f"{'; '.join(reader.commands)}): a hit is one GET. Taking the lock on a hit costs "
                            "every hit extra round trips, and makes it wait whenever a refresh holds the lock.")
    w.clock.advance(0.1 * TTL_SECONDS + 0.01)
    w.note("(clock)", "ttl_seconds after the fill: the copy has expired")
    third = w.call(reader)
    if third != first or w.db.stats.reads != queries + 1:
        return w.fail(name, f"after ttl_seconds the read returned {third[1]!r} after "
                            f"{w.db.stats.reads - queries} DB query(ies): an expired copy is refreshed once.")
    return Replay(name, True, "fresh for ttl_seconds, kept 10x, hit at 90 %, refreshed after.", w.rows)


def replay_lock_on_the_store(read: Callable[..., Any]) -> Replay:
    name, w, lock = "the lock on the store", _World(read), lock_key(ROW_ID)
    holder = _Caller(w, "reader A")
    seen: dict[str, Any] = {}

    def look_at_the_lock() -> None:
        seen["value"], seen["ttl"] = w.store.get(lock), w.store.ttl_seconds(lock)
        w.note("(store)", f"{lock}: {_show(seen['value'])}, TTL {_secs(seen['ttl'])}")

    holder.during_query, holder.killed_mid_query = look_at_the_lock, True
    w.call(holder)
    if seen.get("value") is None:
        return Replay(name, True, "no lock held during the query (the herd replay judges that).", w.rows)
    if seen["ttl"] == math.inf:
        return w.fail(name, f"the lock {lock} has no TTL: reader A was killed mid-query, and its lock stays "
                            "forever - every later reader waits out its deadline and fails. A lock without a "
                            "TTL; take it with ttl_seconds=lock_ttl_seconds.")
    if not 0.9 * LOCK_TTL_SECONDS <= seen["ttl"] <= LOCK_TTL_SECONDS + 1e-6:
        return w.fail(name, f"while reader A queried, the lock {lock} carried a TTL of {_secs(seen['ttl'])} on the "
                            f"store; lock_ttl_seconds is {LOCK_TTL_SECONDS:g} s.")
    w.clock.advance(LOCK_TTL_SECONDS + 0.001)
    w.note("(clock)", "lock_ttl_seconds after reader A was killed")
    got = w.call(_Caller(w, "reader B"))
    if got != ("value", "item 7 v1"):
        return w.fail(name, f"reader A was killed holding the lock; once its TTL had run out, reader B got "
                            f"{got[1]!r} instead of the value.")
    return Replay(name, True, "the lock carries lock_ttl_seconds and outlives no crash.", w.rows)


def _lock_changes_hands(read: Callable[..., Any], *, at_get: bool) -> tuple[_World, bool]:
    """Reader A's lock expires and reader B takes it - mid-query, or right after A GETs the lock."""
    w, lock = _World(read), lock_key(ROW_ID)
    holder, taken = _Caller(w, "reader A"), []

    def expire_and_take(*_: Any) -> bool:
        left = w.store.ttl_seconds(lock)
        if left is None or left == math.inf:
            return False
        w.clock.advance(left + 0.001)
        taken.append(w.store.set(lock, "reader B's token", LOCK_TTL_SECONDS, nx=True))
        w.note("reader B", f"A's lock expired; SET {lock} 'reader B's token' NX -> {taken[-1]}")
        return True

    if at_get:
        holder.after_get[lock] = lambda value: value is not None and expire_and_take()
    else:
        holder.during_query = expire_and_take
    w.call(holder)
    return w, bool(taken) and w.store.get(lock) != "reader B's token"


def replay_lock_changes_hands(read: Callable[..., Any]) -> Replay:
    name = "the lock changes hands"
    w, freed = _lock_changes_hands(read, at_get=False)
    if freed:
        return w.fail(name, "reader A's query outlived its lock, which expired and was taken by reader B; when A "
                            "finished, B's lock was gone: A deleted a lock it no longer held - a release without "
                            "a token check (no token). Give each acquire a unique token and release with "
                            "store.compare_and_delete(lock, token).")
    w, freed = _lock_changes_hands(read, at_get=True)
    if freed:
        return w.fail(name, "reader A read the lock and found its own token; before its DEL arrived the lock "
                            "expired and reader B took it, so A's DEL deleted B's lock. A GET and a DEL are two "
                            "commands and the lock can change hands between them: a release with GET then DEL "
                            "is not atomic. Use store.compare_and_delete(lock, token), one atomic command.")
    return Replay(name, True, "a holder whose lock expired never deleted the next holder's.", w.rows)


def replay_fill_before_the_lock(read: Callable[..., Any]) -> Replay:
    name = "a fill before the lock"
    for what, row_id, a_fails in (("a value", ROW_ID, False), ("not found", MISSING_ID, False),
                                  ("a failed refresh", ROW_ID, True)):
        w, key = _World(read), cache_key(row_id)
        first, second = _Caller(w, "reader A"), _Caller(w, "reader B")
        first.query_fails = a_fails
        left: dict[str, Any] = {}

        def a_fills_meanwhile(value: Any, w=w, first=first, key=key, row_id=row_id, left=left) -> bool:
            if value is not None:
                return False
            w.call(first, row_id)
            left["raw"] = w.store.get(key)
            left["fresh"], left["kept"] = w.look(key)
            return True

        second.after_get[key] = a_fills_meanwhile
        got = w.call(second, row_id)
        raw, fresh = left.get("raw"), left.get("fresh")
        if raw is None or fresh is None or fresh <= 0:
            continue  # reader A left nothing fresh: the replays of each sentinel judge that
        marked = raw.partition("|")[2]
        if a_fails and marked == DB_DOWN:
            if not _near(fresh, DB_DOWN_FRESH_SECONDS):
                return w.fail(name, f"after its refresh failed, reader A's {DB_DOWN} mark is fresh for {_secs(fresh)}; "
                                    f"a failure is shared for {DB_DOWN_FRESH_SECONDS:g} s, then a reader tries again.")
            if left["kept"] == math.inf or left["kept"] < fresh:
                return w.fail(name, f"reader A's {DB_DOWN} mark is kept {_secs(left['kept'])} on the store: give "
                                    "every key a TTL at least as long as it is fresh.")
        sentinel = got[0] == "value" and got[1] in (NOT_FOUND, DB_DOWN)
        if sentinel or (a_fails and got != ("value", "item 7 v1") and got[0] != "raised"):
            return w.fail(name, f"reader B took the lock after reader A had stored {what} and returned {got[1]!r}"
                                + (": a sentinel is never a value." if sentinel else ", not the row's value."))
        expected = ("none", None) if row_id == MISSING_ID else ("value", "item 7 v1")
        if not a_fails and (got != expected or w.db.stats.reads != 1):
            return w.fail(name, f"reader B missed, then reader A stored {what} and released the lock; B took the "
                                f"lock and returned {got[1]!r} after {w.db.stats.reads} DB queries in all. After "
                                "taking the lock, read the key again: it may have been filled meanwhile.")
    return Replay(name, True, "a reader that takes the lock uses what was stored just before.", [])


def replay_failed_refresh(read: Callable[..., Any]) -> Replay:
    name, w, key = "a failed refresh", _World(read), cache_key(ROW_ID)
    w.store.set(key, pack("item 7 v1", TTL_SECONDS, w.clock), KEEP_FACTOR * TTL_SECONDS)
    w.clock.advance(TTL_SECONDS + 1)
    w.note("(store)", f"{key} holds 'item 7 v1', expired 1 s ago and kept: a stale copy")
    reader = _Caller(w, "reader")
    reader.query_fails = True
    got = w.call(reader)
    if got == ("value", "item 7 v1"):
        return Replay(name, True, "a failed refresh served the stale copy.", w.rows)
    # Does it serve stale at all? The same stale copy while another reader holds the lock.
    other = _World(read)
    other.store.set(key, pack("item 7 v1", TTL_SECONDS, other.clock), KEEP_FACTOR * TTL_SECONDS)
    other.clock.advance(TTL_SECONDS + 1)
    other.store.set(lock_key(ROW_ID), "reader A's token", LOCK_TTL_SECONDS)
    while_refreshing = other.call(_Caller(other, "reader B"))
    never = ("; nor did it serve the stale copy while another reader held the lock: it never serves stale"
             if while_refreshing != ("value", "item 7 v1") else "")
    return w.fail(name, f"the copy was stale and the refresh failed; the reader answered {got[1]!r}{never}. The "
                        "stale copy was kept for this moment: when the database fails, serve it.")


def replay_waiting(read: Callable[..., Any]) -> Replay:
    name, lock, key = "waiting", lock_key(ROW_ID), cache_key(ROW_ID)
    w = _World(read)
    w.store.set(lock, "reader A's token", LOCK_TTL_SECONDS)
    w.note("reader A", f"holds {lock} and is querying")

    def a_fills() -> None:
        w.store.set(key, pack("item 7 v1", TTL_SECONDS, w.clock), KEEP_FACTOR * TTL_SECONDS)
        w.store.compare_and_delete(lock, "reader A's token")
        w.note("reader A", f"stored the value in {key} and released the lock")

    w.clock.at(0.2, a_fills)
    got = w.call(_Caller(w, "reader B"))
    if got != ("value", "item 7 v1") or w.db.stats.reads:
        return w.fail(name, f"reader A held the lock and stored the value at t = 0.2 s; reader B returned "
                            f"{got[1]!r} at t = {w.clock.now():.3f} s after {w.db.stats.reads} DB queries of its "
                            "own. While another reader holds the lock, sleep a little (clock.sleep) and read the "
                            "key again, until wait_seconds.")
    w = _World(read)
    w.store.set(lock, "a stuck reader's token", 10.0)
    w.note("reader A", f"holds {lock} and never finishes")
    got = w.call(_Caller(w, "reader B"))
    waited = w.clock.now()
    if got[0] == "still waiting" or waited > WAIT_SECONDS + 0.05:
        why = (" - the sign of no deadline" if got[0] == "still waiting" or waited > 10 * WAIT_SECONDS else "")
        until = "was still waiting at" if got[0] == "still waiting" else "answered only at"
        return w.fail(name, f"the lock was held and nothing cached: reader B {until} t = {waited:.3g} s, past "
                            f"wait_seconds ({WAIT_SECONDS:g} s){why}. Stop waiting at wait_seconds and raise.")
    if got[0] != "raised" or waited < WAIT_SECONDS - 0.05:
        return w.fail(name, f"the lock was held and nothing cached: reader B returned {got[1]!r} at t = "
                            f"{waited:.3f} s. It cannot answer: wait until wait_seconds ({WAIT_SECONDS:g} s), "
                            "then raise.")
    return Replay(name, True, "a waiter got the holder's value, and gave up at its deadline.", w.rows)


def replay_stalled_query(read: Callable[..., Any]) -> Replay:
    name, w = "a stalled query", _World(read)
    w.db.stall()
    w.note("(database)", "stalled: no query will ever be answered")
    reader = _Caller(w, "reader")
    got = w.call(reader)
    if None in reader.query_timeouts:
        return w.fail(name, "the reader queried the stalled database with no timeout_seconds, so the query would "
                            "never return - the sign of no deadline. Give the query what is left of wait_seconds.")
    if w.clock.now() > WAIT_SECONDS + 0.05:
        return w.fail(name, f"the database stalled; the reader answered only at t = {w.clock.now():.3g} s, past "
                            f"wait_seconds ({WAIT_SECONDS:g} s): the query's timeout_seconds must be what is left "
                            "of wait_seconds.")
    if got[0] != "raised":
        return w.fail(name, f"the database stalled and nothing was cached; the reader returned {got[1]!r}. It "
                            "cannot answer: raise.")
    return Replay(name, True, "the query's timeout kept the reader within wait_seconds.", w.rows)


STORE_REPLAYS: tuple[tuple[str, Callable[[Callable[..., Any]], Replay]], ...] = (
    ("the copy on the store", replay_copy_on_the_store),
    ("the lock on the store", replay_lock_on_the_store),
    ("the lock changes hands", replay_lock_changes_hands),
    ("a fill before the lock", replay_fill_before_the_lock),
    ("a failed refresh", replay_failed_refresh),
    ("waiting", replay_waiting),
    ("a stalled query", replay_stalled_query),
)
