"""How one reader gets a hot key's value, under each stampede defense.

The mechanisms live in modules named after them - :mod:`.lock` (the recipe's lock,
the correct lock and its lease), :mod:`.single_flight`, :mod:`.xfetch` - and
:class:`HotKey` puts each one in a reader's request.  The same code runs a live herd
on real threads and a preview on virtual time: everything that waits or starts a
thread asks the store's clock (a :class:`~labkit.clock.WallClock` or an
:class:`~labkit.clock.AutoClock`).

The cache entry
---------------
One key holds an :class:`Entry`: the value, its *logical* expiry (``expires_at``) and
how long the last recompute took (``delta_seconds``).  The key itself lives longer
than the logical expiry (``ttl_seconds + stale_grace_seconds``), so after the value
expires a **stale copy** stays readable for a while.  A plain cache treats a
logically expired entry exactly like a missing key; the defenses that can use an
old value (the lock's fallback, stale-while-revalidate) find it there.

Why one key and not a value key plus a longer-lived "stale" key: one GET returns the
value *and* its freshness in one round trip, and the two can never disagree (two
keys can: one expires, one write fails).  XFetch needs the expiry and the recompute
time next to the value anyway.

The defenses
------------
``none``           cache-aside: every reader that finds the value expired queries the DB.
``naive-lock``     the common lock recipe, faithfully: SET NX lock, unconditional DEL,
                   fixed 50 ms retry with no deadline (two flaws, kept on purpose).
``lock``           SET NX PX with a unique token, a lease renewed while the refresh
                   runs, release by compare-and-delete, bounded jittered wait, then the
                   stale copy or a fast, clear error.
``single-flight``  in-process coalescing: one query per key per app process.
``xfetch``         probabilistic early recompute (Vattani et al., VLDB 2015).
``swr``            stale-while-revalidate: serve the stale copy, refresh once in the
                   background.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from dataclasses import dataclass
from typing import Any

from ..database import Database, DatabaseTimeout, Row
from ..errors import LabError, check_choice, check_positive, is_number
from ..store import Store
from .lock import Lease, acquire_lock, naive_acquire, naive_release
from .single_flight import FlightTimeout, SingleFlight
from .xfetch import refresh_early

__all__ = [
    "DEFENSES",
    "Entry",
    "Settings",
    "Outcome",
    "CacheUnavailable",
    "HotKey",
    "check_readers",
    "check_beta",
    "check_lock_ttl",
]

DEFENSES = ("none", "naive-lock", "lock", "single-flight", "xfetch", "swr")


class Outcome:
    """How a read ended (one string per reader in a report)."""

    HIT = "hit"            # fresh value from the cache
    LOADED = "db"          # this reader queried the database
    WAITED = "waited"      # waited for someone else's refresh, got the fresh value
    STALE = "stale"        # served the old copy
    ERROR = "error"        # gave up in time, with a clear error
    STUCK = "stuck"        # had not returned when the run gave up on it

    ALL = (HIT, LOADED, WAITED, STALE, ERROR, STUCK)


class CacheUnavailable(RuntimeError):
    """No fresh value before the reader's deadline and no stale copy to serve."""


# -- input checks: one sentence each ---------------------------------------------------


def check_readers(readers: Any) -> int:
    if isinstance(readers, bool) or not isinstance(readers, int) or readers <= 0:
        raise LabError(f"readers must be a whole number > 0 (got {readers!r}); a herd needs at least one reader.")
    return readers


def check_beta(beta: Any) -> float:
    if not is_number(beta) or beta < 0:
        raise LabError(
            f"beta must be a number >= 0 (got {beta!r}); 1 is XFetch's usual choice, "
            "larger refreshes earlier and 0 never refreshes early."
        )
    return float(beta)


def check_lock_ttl(lock_ttl_seconds: Any) -> float:
    if not is_number(lock_ttl_seconds) or lock_ttl_seconds <= 0:
        raise LabError(
            f"lock_ttl_seconds must be > 0 (got {lock_ttl_seconds!r}); a lock needs an expiry "
            "so that a crashed holder cannot block every reader forever."
        )
    return float(lock_ttl_seconds)


# -- the entry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A cached value with its logical expiry and the time its recompute took."""

    value: str
    expires_at: float
    delta_seconds: float

    def dumps(self) -> str:
        return json.dumps([self.value, self.expires_at, self.delta_seconds])

    @classmethod
    def loads(cls, text: str) -> Entry:
        value, expires_at, delta = json.loads(text)
        return cls(value, float(expires_at), float(delta))

    def is_fresh(self, now: float) -> bool:
        return now < self.expires_at

    @property
    def version(self) -> int:
        return Row.from_cache(self.value).version


@dataclass(frozen=True)
class Settings:
    """The knobs every defense reads; validated once, here."""

    ttl_seconds: float = 30.0          # the value's logical expiry
    stale_grace_seconds: float = 300.0  # the key outlives it by this much: the stale copy
    lock_ttl_seconds: float = 1.0      # the lock's lease (the correct lock renews it)
    wait_seconds: float = 1.0          # the longest a reader waits, for a refresh or its own query
    poll_seconds: float = 0.01         # a waiting reader's first pause (then longer, jittered)
    beta: float = 1.0                  # XFetch's eagerness: higher refreshes earlier
    serve_stale: bool = True           # a reader out of time gets the stale copy, not an error
    naive_retry_seconds: float = 0.05  # the recipe's wait(50ms)

    def __post_init__(self) -> None:
        check_lock_ttl(self.lock_ttl_seconds)
        check_beta(self.beta)
        for name in ("ttl_seconds", "stale_grace_seconds", "wait_seconds", "poll_seconds",
                     "naive_retry_seconds"):
            check_positive(name, getattr(self, name), "s")


# -- the readers ---------------------------------------------------------------------------


@dataclass
class Read:
    outcome: str
    version: int | None = None
    error: str | None = None
    first_lookup_at: float | None = None  # clock.now() when the first cache GET answered


class HotKey:
    """One hot key, its database row, and what all its readers share.

    ``read(i, rng)`` is one reader's request under ``defense``; it never raises for
    a slow or stalled database (the outcome says what happened).
    """

    def __init__(
        self,
        store: Store,
        db: Database,
        defense: str,
        settings: Settings,
        *,
        row_id: int = 7,
        app_processes: int = 1,
    ) -> None:
        self.store, self.db = store, db
        self.defense = check_choice("defense", defense, DEFENSES)
        self.settings = settings
        self.row_id = row_id
        self.key = f"hot:item:{row_id}"
        self.lock_key = f"lock:{self.key}"
        self.clock = store.clock
        self.flights = [SingleFlight(self.clock) for _ in range(max(1, int(app_processes)))]
        self.stop = threading.Event()  # lets a run abandon the naive lock's endless retry
        self.background: list[Any] = []  # stale-while-revalidate's refreshes (to join)
        self._counts_lock = threading.Lock()
        self.foreign_lock_frees = 0
        self.lost_leases = 0
        self._local = threading.local()

    # -- plumbing ------------------------------------------------------------------------
    def get_entry(self) -> Entry | None:
        raw = self.store.get(self.key)
        if getattr(self._local, "first_lookup_at", 0.0) is None:
            # The moment this reader learned whether the value was there: its
            # arrival, as far as the cache is concerned.
            self._local.first_lookup_at = self.clock.now()
        return None if raw is None else Entry.loads(raw)

    def put_entry(self, row: Row, delta_seconds: float) -> Entry:
        s = self.settings
        entry = Entry(row.to_cache(), self.clock.now() + s.ttl_seconds, delta_seconds)
        self.store.set(self.key, entry.dumps(), ttl_seconds=s.ttl_seconds + s.stale_grace_seconds)
        return entry

    def load(self, timeout_seconds: float | None) -> Row:
        """Query the database and refill the cache; the query time becomes XFetch's delta."""
        started = self.clock.now()
        row = self.db.read(self.row_id, timeout_seconds=timeout_seconds)
        if row is None:
            raise LabError(f"Row {self.row_id} does not exist in the database.")
        self.put_entry(row, self.clock.now() - started)
        return row

    def _fallback(self, stale: Entry | None) -> Read:
        if self.settings.serve_stale and stale is not None:
            return Read(Outcome.STALE, stale.version)
        return Read(
            Outcome.ERROR,
            error=(
                f"No fresh value within {self.settings.wait_seconds:g} s and no stale copy to "
                "serve, so this read fails fast instead of waiting forever."
            ),
        )

    def _count(self, name: str) -> None:
        with self._counts_lock:
            setattr(self, name, getattr(self, name) + 1)

    def _peek_lock(self) -> str | None:
        """Who holds the lock, read without counting as the learner's traffic."""
        client = getattr(self.store, "client", None)
        if client is not None:
            return client.get(self.store.k(self.lock_key))
        value = self.store.get(self.lock_key)
        self.store.stats.add(commands=-1, hits=-(value is not None), misses=-(value is None))
        return value

    # -- one read per defense ----------------------------------------------------------------
    def read(self, reader: int = 0, rng: random.Random | None = None) -> Read:
        rng = rng or random.Random(reader)
        handler = {
            "none": self._read_none,
            "naive-lock": self._read_naive_lock,
            "lock": self._read_lock,
            "single-flight": self._read_single_flight,
            "xfetch": self._read_xfetch,
            "swr": self._read_swr,
        }[self.defense]
        self._local.first_lookup_at = None
        read = handler(reader, rng)
        read.first_lookup_at = self._local.first_lookup_at
        return read

    def _read_none(self, reader: int, rng: random.Random) -> Read:
        entry = self.get_entry()
        if entry is not None and entry.is_fresh(self.clock.now()):
            return Read(Outcome.HIT, entry.version)
        return Read(Outcome.LOADED, self.load(None).version)

    def _read_naive_lock(self, reader: int, rng: random.Random) -> Read:
        # The common recipe's getUser, as written: no deadline, no stale fallback, and a
        # release that does not check whose lock it deletes.
        retried = False
        while not self.stop.is_set():
            entry = self.get_entry()
            if entry is not None and entry.is_fresh(self.clock.now()):
                return Read(Outcome.WAITED if retried else Outcome.HIT, entry.version)
            token = naive_acquire(self.store, self.lock_key, self.settings.lock_ttl_seconds)
            if token:
                try:
                    return Read(Outcome.LOADED, self.load(None).version)
                finally:
                    # Observation only: the peek and the DEL are two commands, so this
                    # count can miss a race, never invent one.
                    holder = self._peek_lock()
                    if holder is not None and holder != token:
                        self._count("foreign_lock_frees")
                    naive_release(self.store, self.lock_key, token)
            retried = True
            self.clock.sleep(self.settings.naive_retry_seconds)
        return Read(Outcome.STUCK)

    def _read_lock(self, reader: int, rng: random.Random) -> Read:
        s = self.settings
        deadline = self.clock.now() + s.wait_seconds
        waited = False
        polls = 0
        stale: Entry | None = None
        while True:
            entry = self.get_entry()
            if entry is not None:
                if entry.is_fresh(self.clock.now()):
                    return Read(Outcome.WAITED if waited else Outcome.HIT, entry.version)
                stale = entry
            token = acquire_lock(self.store, self.lock_key, s.lock_ttl_seconds)
            if token:
                return self._refresh_holding(token, deadline, stale)
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return self._fallback(stale)
            # Back off (x1.5 per poll, at most 10 polls' worth) with jitter, so that a
            # crowd of waiters neither polls in lockstep nor hammers the cache.
            pause = s.poll_seconds * min(1.5**polls, 10.0) * (0.5 + rng.random())
            polls += 1
            waited = True
            self.clock.sleep(min(remaining, pause))

    def _refresh_holding(self, token: str, deadline: float, stale: Entry | None) -> Read:
        with Lease(self.store, self.lock_key, token, self.settings.lock_ttl_seconds) as lease:
            # Someone may have refreshed between our GET and our SET NX: check again,
            # or a reader that lost that race would query the database a second time.
            entry = self.get_entry()
            if entry is not None and entry.is_fresh(self.clock.now()):
                return Read(Outcome.WAITED, entry.version)
            remaining = deadline - self.clock.now()
            if remaining <= 0:  # out of time already: a query now could not be waited for
                return self._fallback(stale)
            try:
                row = self.load(timeout_seconds=remaining)
                return Read(Outcome.LOADED, row.version)
            except DatabaseTimeout:
                return self._fallback(stale)
            finally:
                if lease.lost:
                    self._count("lost_leases")

    def _read_single_flight(self, reader: int, rng: random.Random) -> Read:
        s = self.settings
        entry = self.get_entry()
        if entry is not None and entry.is_fresh(self.clock.now()):
            return Read(Outcome.HIT, entry.version)
        flight = self.flights[reader % len(self.flights)]

        def recheck_or_load() -> tuple[int, bool]:
            again = self.get_entry()
            if again is not None and again.is_fresh(self.clock.now()):
                return again.version, False
            return self.load(timeout_seconds=s.wait_seconds).version, True

        try:
            (version, loaded), leader = flight.do(self.key, recheck_or_load, s.wait_seconds)
        except (DatabaseTimeout, FlightTimeout):
            return self._fallback(entry)
        return Read(Outcome.LOADED if leader and loaded else Outcome.WAITED, version)

    def _read_xfetch(self, reader: int, rng: random.Random) -> Read:
        entry = self.get_entry()
        now = self.clock.now()
        if entry is not None:
            # 1 - random() lies in (0, 1], as XFetch's u must.
            u = 1.0 - rng.random()
            if not refresh_early(now, entry.expires_at, entry.delta_seconds, self.settings.beta, u):
                return Read(Outcome.HIT, entry.version)
        try:
            return Read(Outcome.LOADED, self.load(timeout_seconds=self.settings.wait_seconds).version)
        except DatabaseTimeout:
            return self._fallback(entry)

    def _read_swr(self, reader: int, rng: random.Random) -> Read:
        entry = self.get_entry()
        if entry is None:
            return self._read_lock(reader, rng)  # nothing stale to serve: wait like the lock
        if entry.is_fresh(self.clock.now()):
            return Read(Outcome.HIT, entry.version)
        token = acquire_lock(self.store, self.lock_key, self.settings.lock_ttl_seconds)
        if token:
            worker = self.clock.start(self._background_refresh, token)
            with self._counts_lock:
                self.background.append(worker)
        return Read(Outcome.STALE, entry.version)

    def _background_refresh(self, token: str) -> None:
        with Lease(self.store, self.lock_key, token, self.settings.lock_ttl_seconds):
            entry = self.get_entry()
            if entry is not None and entry.is_fresh(self.clock.now()):
                return
            # On a timeout the stale copy keeps being served; the next reader tries again.
            with contextlib.suppress(DatabaseTimeout):
                self.load(timeout_seconds=self.settings.wait_seconds)
