"""The reference loader of notebook 04's exercise, and the common mistakes it is graded against.

Each mistake is the reference with one property taken away, so the replay that
refuses it shows exactly which property that replay checks.
"""

from __future__ import annotations

import secrets
import uuid

from ..database import DatabaseError, DatabaseTimeout
from ..wrappers import StoreWrapper
from .loader import DB_DOWN, NOT_FOUND, pack, unpack

__all__ = ["read", "MISTAKES", "ALTERNATIVES", "EQUIVALENT_MUTANTS"]


def read(store, db, row_id, clock, *, ttl_seconds=30.0, not_found_ttl_seconds=5.0,
         lock_ttl_seconds=1.0, wait_seconds=0.5):
    """One request for a row through the cache: the value, None if the row does not exist."""
    key, lock = f"item:{row_id}", f"lock:item:{row_id}"
    deadline = clock.now() + wait_seconds
    while True:
        stale = None
        raw = store.get(key)
        if raw is not None:
            value, fresh = unpack(raw, clock)
            if fresh and value == DB_DOWN:
                raise DatabaseError("the database is down (a refresh just failed); try again shortly")
            if fresh:
                return None if value == NOT_FOUND else value
            if value not in (NOT_FOUND, DB_DOWN):
                stale = value
        token = uuid.uuid4().hex                          # only this caller knows it
        if store.set(lock, token, ttl_seconds=lock_ttl_seconds, nx=True):
            try:
                raw = store.get(key)                      # filled while we took the lock?
                if raw is not None and unpack(raw, clock)[1] and unpack(raw, clock)[0] != DB_DOWN:
                    value = unpack(raw, clock)[0]
                    return None if value == NOT_FOUND else value
                row = db.read(row_id, timeout_seconds=max(0.001, deadline - clock.now()))
                keep = ttl_seconds if row is not None else not_found_ttl_seconds
                store.set(key, pack(row.value if row else NOT_FOUND, keep, clock), ttl_seconds=10 * keep)
                return None if row is None else row.value
            except (DatabaseError, DatabaseTimeout):
                if stale is not None:
                    return stale
                store.set(key, pack(DB_DOWN, 1.0, clock), ttl_seconds=2.0)   # waiters fail fast too
                raise
            finally:
                store.compare_and_delete(lock, token)     # release only our own lock
        if stale is not None:
            return stale                                  # someone else refreshes: serve stale now
        if clock.now() >= deadline:
            raise TimeoutError(f"no value for row {row_id} within {wait_seconds} s")
        clock.sleep(0.01)


# -- the mistakes: the reference with one property taken away --------------------------------
# Each is the reference loader reading through a store (or database) that undoes one
# property, so the learner-facing behaviour is exactly that mistake and nothing else.


class _CommonRecipeLock(StoreWrapper):
    """No token: every holder writes the same value, and release is a plain DEL."""

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        return self.inner.set(key, "locked" if key.startswith("lock:") else value, ttl_seconds, nx=nx)

    def compare_and_delete(self, key, expected):
        return bool(self.inner.delete(key))


class _HidesStale(StoreWrapper):
    """Never serves stale: an expired copy reads as a miss."""

    def get(self, key):
        raw = self.inner.get(key)
        return raw if raw is None or key.startswith("lock:") or unpack(raw, self.clock)[1] else None


class _Drops(StoreWrapper):
    """Never writes one sentinel (NOT_FOUND, or DB_DOWN), or writes it with no expiry."""

    def __init__(self, inner, sentinel: str, *, forever: bool = False) -> None:
        super().__init__(inner)
        self.sentinel, self.forever = sentinel, forever

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        if key.startswith("lock:") or unpack(value, self.clock)[0] != self.sentinel:
            return self.inner.set(key, value, ttl_seconds, nx=nx)
        if self.forever:
            return self.inner.set(key, pack(self.sentinel, 1e9, self.clock), None, nx=nx)
        return False


class _LockWithoutTtl(StoreWrapper):
    """The lock taken with NX alone: nothing frees it if its holder dies."""

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        return self.inner.set(key, value, None if key.startswith("lock:") else ttl_seconds, nx=nx)


class _GetThenDel(StoreWrapper):
    """Release checks the token with GET, then DELs: two commands, not one."""

    def compare_and_delete(self, key, expected):
        if self.get(key) == expected:  # the lock can expire and change hands right here
            return bool(self.delete(key))
        return False


class _NoTimeout:
    """No deadline: every query waits as long as the database takes."""

    def __init__(self, db) -> None:
        self.db = db

    def read(self, row_id, *, timeout_seconds=None):
        return self.db.read(row_id)


def _through(make_store=None, make_db=None, **fixed):
    def loader(store, db, row_id, clock, **settings):
        return read(make_store(store) if make_store else store, make_db(db) if make_db else db,
                    row_id, clock, **{**settings, **fixed})

    return loader


MISTAKES = {
    "no token": _through(_CommonRecipeLock),
    "never serves stale": _through(_HidesStale),
    "never caches not-found": _through(lambda s: _Drops(s, NOT_FOUND)),
    "not-found cached forever": _through(lambda s: _Drops(s, NOT_FOUND, forever=True)),
    "every waiter retries the failing database": _through(lambda s: _Drops(s, DB_DOWN)),
    "no deadline": _through(make_db=_NoTimeout, wait_seconds=1e9),
    "lock without a TTL": _through(_LockWithoutTtl),
    "release with GET then DEL": _through(_GetThenDel),
}


# -- correct loaders written another way --------------------------------------------------------


class _Lock:
    """A lock owned by a random token and released only by its owner, in one atomic command."""

    def __init__(self, store, key, ttl_seconds):
        self.store, self.key, self.ttl_seconds = store, key, ttl_seconds
        self.token, self.held = secrets.token_hex(16), False

    def __enter__(self):
        self.held = bool(self.store.set(self.key, self.token, ttl_seconds=self.ttl_seconds, nx=True))
        return self.held

    def __exit__(self, *exc):
        if self.held:
            self.store.compare_and_delete(self.key, self.token)


def _read_with_a_lock_object(store, db, row_id, clock, *, ttl_seconds=30.0, not_found_ttl_seconds=5.0,
                             lock_ttl_seconds=1.0, wait_seconds=0.5):
    key = f"item:{row_id}"
    give_up_at = clock.now() + wait_seconds

    def cached():
        raw = store.get(key)
        return (None, False) if raw is None else unpack(raw, clock)

    def answer(value):
        if value == DB_DOWN:
            raise DatabaseError("the database is down; try again shortly")
        return None if value == NOT_FOUND else value

    while True:
        value, fresh = cached()
        if fresh:
            return answer(value)
        stale = value if value not in (None, NOT_FOUND, DB_DOWN) else None
        with _Lock(store, f"lock:{key}", lock_ttl_seconds) as mine:
            if mine:
                value, fresh = cached()
                if fresh and value != DB_DOWN:
                    return answer(value)
                try:
                    row = db.read(row_id, timeout_seconds=max(0.001, give_up_at - clock.now()))
                except (DatabaseError, DatabaseTimeout):
                    if stale is None:
                        store.set(key, pack(DB_DOWN, 1.0, clock), ttl_seconds=2.0)
                        raise
                    return stale
                fresh_for = ttl_seconds if row else not_found_ttl_seconds
                store.set(key, pack(row.value if row else NOT_FOUND, fresh_for, clock), ttl_seconds=10 * fresh_for)
                return row.value if row else None
        if stale is not None:
            return stale
        if clock.now() >= give_up_at:
            raise TimeoutError(f"row {row_id}: no answer within {wait_seconds} s")
        clock.sleep(0.01)


def _read_releasing_by_compare_and_set(store, db, row_id, clock, *, ttl_seconds=30.0,
                                       not_found_ttl_seconds=5.0, lock_ttl_seconds=1.0, wait_seconds=0.5):
    """Releases by swapping its own token for a marker that expires at once (also atomic, also owned)."""
    key, lock, token = f"item:{row_id}", f"lock:item:{row_id}", str(uuid.uuid4())
    deadline = clock.now() + wait_seconds
    while clock.now() < deadline:
        raw = store.get(key)
        value, fresh = unpack(raw, clock) if raw else (None, False)
        if fresh and value != DB_DOWN:
            return None if value == NOT_FOUND else value
        if fresh:
            raise DatabaseError("a refresh just failed; the database is down")
        stale = None if value in (None, NOT_FOUND, DB_DOWN) else value
        if not store.set(lock, token, lock_ttl_seconds, nx=True):
            if stale is not None:
                return stale
            clock.sleep(0.01)
            continue
        try:
            raw = store.get(key)
            if raw and unpack(raw, clock)[1] and unpack(raw, clock)[0] != DB_DOWN:
                value = unpack(raw, clock)[0]
                return None if value == NOT_FOUND else value
            try:
                row = db.read(row_id, timeout_seconds=max(0.001, deadline - clock.now()))
            except (DatabaseError, DatabaseTimeout):
                if stale is not None:
                    return stale
                store.set(key, pack(DB_DOWN, 1.0, clock), 2.0)
                raise
            if row is None:
                store.set(key, pack(NOT_FOUND, not_found_ttl_seconds, clock), 10 * not_found_ttl_seconds)
                return None
            store.set(key, pack(row.value, ttl_seconds, clock), 10 * ttl_seconds)
            return row.value
        finally:
            store.compare_and_set(lock, token, "released", ttl_seconds=0.001)
    raise TimeoutError(f"no value for row {row_id} within {wait_seconds} s")


ALTERNATIVES = {"a lock object": _read_with_a_lock_object,
                "release by compare-and-set": _read_releasing_by_compare_and_set}

_DOWN = 'raise DatabaseError("the database is down (a refresh just failed); try again shortly")'
_WORDS = ("the words of an error: a replay checks that the reader raises, and fast, not what the message "
          "says (a learner's own wording is as good).")
EQUIVALENT_MUTANTS = {
    f"read: {_DOWN} => raise DatabaseError(None)": _WORDS,
    f"read: {_DOWN} => raise DatabaseError(\"XXthe database is down (a refresh just failed); try again shortlyXX\")":
        _WORDS,
    f"read: {_DOWN} => raise DatabaseError(\"THE DATABASE IS DOWN (A REFRESH JUST FAILED); TRY AGAIN SHORTLY\")":
        _WORDS,
    'read: raise TimeoutError(f"no value for row {row_id} within {wait_seconds} s") => raise TimeoutError(None)':
        _WORDS,
    "read: store.set(key, pack(DB_DOWN, 1.0, clock), ttl_seconds=2.0)   # waiters fail fast too => "
    "store.set(key, pack(DB_DOWN, 1.0, clock), ttl_seconds=3.0)   # waiters fail fast too":
        "the DB_DOWN mark is fresh for 1 s either way, and once stale it is never served (a reader treats it as "
        "a miss), so whether the key lingers 2 s or 3 s changes no answer any reader gets.",
    "read: if clock.now() >= deadline: => if clock.now() > deadline:":
        "the two differ only when the clock reads exactly the deadline, and then by one 10 ms poll: the same "
        "deadline, kept to within a poll, which is all the exercise asks.",
}
