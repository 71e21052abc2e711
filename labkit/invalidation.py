"""Invalidation: how a cached copy finds out that the database has moved on.

Four mechanisms, each one something you can run and measure:

* **TTL expiry**, the backstop: with no other invalidation a reader can see an old
  value for at most the TTL (:func:`simulate_ttl`, :func:`explore_ttl`).
* **Event-driven**: a writer publishes the key it changed; every app instance,
  each with a small in-process :class:`NearCache`, drops its copy
  (:class:`InvalidationBus`, :class:`AppInstance`, :func:`simulate_events`).
  A lost message leaves exactly one instance stale until its own TTL.
* **Versioned keys**: keys carry a generation (``tenant:7:v3:user:42``); one INCR
  makes every old key unreachable, with no SCAN (:class:`VersionedNamespace`,
  :func:`parse_versioned_key`, :func:`compare_bump_and_scan`).
* **The stale-set race** in cache-aside, replayed step by step so any interleaving
  is deterministic, and three fixes side by side (:class:`RaceStepper`,
  :func:`replay`, :func:`run_concurrent`, :func:`explore_race`).

Cache keys are ``item:<id>`` and values are :meth:`Row.to_cache` strings, so the
staleness meter can compare a cached version with the database's.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .clock import Clock, VirtualClock, wall_clock
from .database import Database, Row
from .errors import LabError, check_choice, check_positive, check_ttl
from .metrics import StalenessMeter
from .store import MemoryStore, RedisStore, Store, Subscription

__all__ = [
    "STRATEGIES",
    "BAD_INTERLEAVING",
    "LEASE_PREFIX",
    "item_key",
    "set_if_newer",
    "reader_steps",
    "writer_steps",
    "RaceSettings",
    "RaceEvent",
    "RaceOutcome",
    "RaceStepper",
    "replay",
    "ConcurrentResult",
    "run_concurrent",
    "NearCache",
    "InvalidationBus",
    "AppInstance",
    "write_and_publish",
    "EventRun",
    "simulate_events",
    "TtlRun",
    "simulate_ttl",
    "stacked_worst_case",
    "VersionedKey",
    "VersionedNamespace",
    "parse_versioned_key",
    "scan_and_delete",
    "CommandLog",
    "compare_bump_and_scan",
    "explore_ttl",
    "explore_events",
    "explore_versioned",
    "explore_race",
    "compare_fixes",
    "check_race_fix",
    "exercises",
]

# The four ways a cache-aside reader and writer can be wired, as shown in the notebook.
STRATEGIES = ("naive", "lease", "short-ttl", "write-through")
STRATEGY_LABELS = {
    "naive": "naive cache-aside",
    "lease": "lease token",
    "short-ttl": "delete after commit + short TTL",
    "write-through": "write-through, version-checked",
}
# reader misses, reader reads the old row, writer commits, writer invalidates, reader sets.
BAD_INTERLEAVING: tuple[str, ...] = ("reader", "reader", "writer", "writer", "reader")
# A lease is a placeholder value in the item's own key: a delete removes it with the item.
LEASE_PREFIX = "lease:"


def item_key(row_id: int) -> str:
    return f"item:{row_id}"


def _cached_version(text: str | None) -> int | None:
    """The row version inside a cached value, or None (absent, or a lease placeholder)."""
    if text is None or text.startswith(LEASE_PREFIX):
        return None
    try:
        return Row.from_cache(text).version
    except (ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------------
# A set that never moves the cache backwards (write-through's guard)
# ---------------------------------------------------------------------------------

# Atomic on the server: read the cached row's version and set only if ours is newer.
# A lease placeholder or junk is not a row, so it is replaced.
_SET_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, cached = pcall(cjson.decode, current)
  if ok and type(cached) == 'table' and tonumber(cached[3]) ~= nil
     and tonumber(cached[3]) >= tonumber(ARGV[2]) then
    return 0
  end
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""
_scripts: weakref.WeakKeyDictionary[Store, Any] = weakref.WeakKeyDictionary()


def set_if_newer(store: Store, key: str, row: Row, ttl_seconds: float | None = None) -> bool:
    """Cache ``row`` under ``key`` only if the cache does not already hold that version or newer.

    On Redis this is one Lua script (one round trip, atomic).  On any other store it
    is an optimistic loop over the contract's atomic ``compare_and_set``.
    """
    ttl = check_ttl(ttl_seconds)
    value = row.to_cache()
    if isinstance(store, RedisStore):
        script = _scripts.get(store)
        if script is None:
            script = _scripts[store] = store.client.register_script(_SET_IF_NEWER)
        ttl_ms = 0 if ttl is None else max(1, round(ttl * 1000))
        stored = bool(int(script(keys=[store.k(key)], args=[value, row.version, ttl_ms])))
        store.stats.add(commands=1, sets=int(stored))
        return stored
    for _ in range(100):
        current = store.get(key)
        version = _cached_version(current)
        if version is not None and version >= row.version:
            return False
        if store.compare_and_set(key, current, value, ttl_seconds=ttl):
            return True
    raise LabError(f"Key {key!r} changed 100 times while being set; is something rewriting it in a loop?")


# ---------------------------------------------------------------------------------
# The stale-set race: reader and writer as explicit steps
# ---------------------------------------------------------------------------------


@dataclass
class RaceSettings:
    """Which strategy, and the TTLs it uses (seconds)."""

    store: Store
    db: Database
    strategy: str = "naive"
    ttl_seconds: float = 300.0
    short_ttl_seconds: float = 5.0
    lease_ttl_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_choice("strategy", self.strategy, STRATEGIES)
        for name in ("ttl_seconds", "short_ttl_seconds", "lease_ttl_seconds"):
            check_ttl(getattr(self, name), name)

    @property
    def fill_ttl_seconds(self) -> float:
        return self.short_ttl_seconds if self.strategy == "short-ttl" else self.ttl_seconds


@dataclass
class ReadResult:
    row: Row | None = None
    hit: bool = False


# Each step a generator yields is (phase, description); the phase lets a driver add a
# delay exactly where a real reader spends time (between reading the DB and setting).
Step = tuple[str, str]


def reader_steps(settings: RaceSettings, row_id: int, out: ReadResult) -> Iterator[Step]:
    """A cache-aside read, yielding after every operation that touches the cache or the DB."""
    store, db, key = settings.store, settings.db, item_key(row_id)
    cached = store.get(key)
    if cached is not None and not cached.startswith(LEASE_PREFIX):
        out.row, out.hit = Row.from_cache(cached), True
        yield "lookup", f"GET {key} → hit v{out.row.version}"
        return
    lease = None
    if settings.strategy == "lease" and cached is None:
        # Only the first reader to miss gets the right to fill; a delete revokes it.
        token = LEASE_PREFIX + uuid.uuid4().hex[:8]
        if store.set(key, token, ttl_seconds=settings.lease_ttl_seconds, nx=True):
            lease = token
        yield "lookup", f"GET {key} → miss; " + ("lease granted" if lease else "someone else holds the lease")
    elif settings.strategy == "lease":
        yield "lookup", f"GET {key} → another reader is filling it"
    else:
        yield "lookup", f"GET {key} → miss"
    row = db.read(row_id)
    if row is None:
        raise LabError(f"Row {row_id} does not exist; use an id below {db.rows}.")
    out.row = row
    yield "db-read", f"SELECT id={row_id} → v{row.version}"
    ttl = settings.fill_ttl_seconds
    if settings.strategy == "lease":
        if lease is None:
            yield "fill", "no lease: return the row without caching it"
            return
        stored = store.compare_and_set(key, lease, row.to_cache(), ttl_seconds=ttl)
        yield "fill", f"SET v{row.version} if lease held → " + ("stored" if stored else "refused (lease revoked)")
    elif settings.strategy == "write-through":
        stored = set_if_newer(store, key, row, ttl)
        yield "fill", f"SET v{row.version} if newer → " + ("stored" if stored else "refused (cache is newer)")
    else:
        store.set(key, row.to_cache(), ttl_seconds=ttl)
        yield "fill", f"SET v{row.version} (TTL {ttl:g} s)"


def writer_steps(settings: RaceSettings, row_id: int, value: str) -> Iterator[Step]:
    """An update: commit to the database first, then fix the cache."""
    store, key = settings.store, item_key(row_id)
    row = settings.db.write(row_id, value)
    yield "db-write", f"UPDATE id={row_id} → v{row.version} committed"
    if settings.strategy == "write-through":
        stored = set_if_newer(store, key, row, settings.ttl_seconds)
        yield "invalidate", f"SET v{row.version} if newer → " + ("stored" if stored else "refused")
    else:
        store.delete(key)
        yield "invalidate", f"DEL {key}"


@dataclass(frozen=True)
class RaceEvent:
    index: int
    actor: str
    text: str
    db_version: int
    cache_state: str  # "empty", "lease" or "v<N>"


@dataclass(frozen=True)
class RaceOutcome:
    strategy: str
    db_version: int
    cached_version: int | None
    stale: bool
    stale_for_seconds: float  # how long the stale entry will live (its TTL left); 0 if fresh


class RaceStepper:
    """Replays one reader and one writer on the same key, one operation per :meth:`step`.

    ``schedule`` names who moves next; the default is the bad interleaving.  Each
    reset starts a fresh database (row at v1) and an empty key.
    """

    def __init__(
        self,
        store: Store,
        strategy: str = "naive",
        *,
        schedule: Sequence[str] = BAD_INTERLEAVING,
        row_id: int = 1,
        ttl_seconds: float = 300.0,
        short_ttl_seconds: float = 5.0,
    ) -> None:
        check_choice("strategy", strategy, STRATEGIES)
        for actor in schedule:
            check_choice("actor in schedule", actor, ("reader", "writer"))
        self.store, self.strategy, self.row_id = store, strategy, int(row_id)
        self.schedule = tuple(schedule)
        self.ttl_seconds, self.short_ttl_seconds = ttl_seconds, short_ttl_seconds
        self.reset()

    def reset(self) -> None:
        self.db = Database(VirtualClock(), rows=self.row_id + 1, latency_seconds=0.0)
        self.settings = RaceSettings(
            self.store, self.db, self.strategy,
            ttl_seconds=self.ttl_seconds, short_ttl_seconds=self.short_ttl_seconds,
        )
        self.key = item_key(self.row_id)
        self.store.delete(self.key)
        self.read = ReadResult()
        self._actors: dict[str, Iterator[Step]] = {
            "reader": reader_steps(self.settings, self.row_id, self.read),
            "writer": writer_steps(self.settings, self.row_id, "updated"),
        }
        self.position = 0
        self.events: list[RaceEvent] = []

    @property
    def done(self) -> bool:
        return self.position >= len(self.schedule)

    def cache_state(self) -> str:
        text = self.store.get(self.key)
        if text is None:
            return "empty"
        if text.startswith(LEASE_PREFIX):
            return "lease"
        return f"v{_cached_version(text)}"

    def step(self) -> RaceEvent | None:
        """Run the next scheduled operation (skipping an actor that has finished)."""
        while not self.done:
            actor = self.schedule[self.position]
            self.position += 1
            step = next(self._actors[actor], None)
            if step is None:
                continue
            event = RaceEvent(
                len(self.events) + 1, actor, step[1],
                self.db.current_version(self.row_id), self.cache_state(),
            )
            self.events.append(event)
            return event
        return None

    def run(self) -> RaceOutcome:
        while self.step() is not None:
            pass
        return self.outcome()

    def outcome(self) -> RaceOutcome:
        text = self.store.get(self.key)
        cached = _cached_version(text)
        db_version = self.db.current_version(self.row_id)
        stale = cached is not None and cached < db_version
        ttl = self.store.ttl_seconds(self.key) if stale else None
        return RaceOutcome(self.strategy, db_version, cached, stale, float(ttl or 0.0))


def replay(
    store: Store, strategy: str, schedule: Sequence[str] = BAD_INTERLEAVING, **kw: Any
) -> RaceOutcome:
    """Run one interleaving to the end and say what the cache was left holding."""
    return RaceStepper(store, strategy, schedule=schedule, **kw).run()


@dataclass(frozen=True)
class ConcurrentResult:
    strategy: str
    reads: int
    writes: int
    stale_keys_after_settle: int
    keys: int


def run_concurrent(
    store: Store,
    strategy: str,
    *,
    keys: int = 8,
    readers: int = 3,
    bursts: int = 16,
    fill_delay_seconds: float = 0.01,
    burst_gap_seconds: float = 0.004,
    short_ttl_seconds: float = 0.25,
    seed: int = 0,
) -> ConcurrentResult:
    """Reader threads and a writer thread on real time; count stale keys once writes settle.

    Readers pause ``fill_delay_seconds`` between reading the DB and filling the cache
    (a GC pause, a slow serializer); the writer updates a key twice in quick
    succession, as a user editing twice would.  After the writer stops (and, for
    ``short-ttl``, the short TTL has run out) one more read of every key counts how
    many are still served stale.
    """
    check_choice("strategy", strategy, STRATEGIES)
    check_positive("keys", keys)
    check_positive("readers", readers)
    db = Database(wall_clock, rows=keys, latency_seconds=0.0005, parallel_queries=64)
    settings = RaceSettings(store, db, strategy, short_ttl_seconds=short_ttl_seconds)
    store.delete(*[item_key(i) for i in range(keys)])
    stop = threading.Event()
    reads = [0] * readers
    errors: list[BaseException] = []

    def read_loop(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        try:
            while not stop.is_set():
                for phase, _ in reader_steps(settings, rng.randrange(keys), ReadResult()):
                    if phase == "db-read":
                        # Pauses vary (a GC, a slow serializer): now and then one is long.
                        time.sleep(fill_delay_seconds * rng.expovariate(1.0))
                reads[n] += 1
                time.sleep(0.0005)
        except BaseException as exc:  # surfaced after join, never silently lost
            errors.append(exc)

    threads = [threading.Thread(target=read_loop, args=(n,), daemon=True) for n in range(readers)]
    for t in threads:
        t.start()
    rng = random.Random(seed)
    writes = 0
    try:
        for burst in range(bursts):
            row_id = burst % keys if burst < keys else rng.randrange(keys)
            for edit in range(2):
                for _ in writer_steps(settings, row_id, f"burst {burst} edit {edit}"):
                    pass
                writes += 1
                time.sleep(burst_gap_seconds)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    if errors:
        raise errors[0]
    if strategy == "short-ttl":
        time.sleep(short_ttl_seconds + 0.05)
    meter = StalenessMeter(db)
    for row_id in range(keys):
        out = ReadResult()
        for _ in reader_steps(settings, row_id, out):
            pass
        assert out.row is not None
        meter.observe(row_id, out.row.version)
    store.delete(*[item_key(i) for i in range(keys)])
    return ConcurrentResult(strategy, sum(reads), writes, meter.stale_reads, keys)


# ---------------------------------------------------------------------------------
# Event-driven invalidation: near caches behind pub/sub
# ---------------------------------------------------------------------------------


class NearCache:
    """A small in-process cache with a TTL on ``clock`` (oldest entry out when full)."""

    def __init__(self, clock: Clock, ttl_seconds: float, *, max_entries: int = 1000) -> None:
        ttl = check_ttl(ttl_seconds)
        if ttl is None:
            raise LabError("A near cache needs a TTL > 0 seconds: it is the backstop when a message is lost.")
        self.clock, self.ttl_seconds = clock, ttl
        self.max_entries = int(check_positive("max_entries", max_entries))
        self._entries: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= self.clock.now():
                del self._entries[key]
                return None
            return entry[0]

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (value, self.clock.now() + self.ttl_seconds)

    def drop(self, key: str) -> bool:
        with self._lock:
            return self._entries.pop(key, None) is not None

    def expires_at(self, key: str) -> float | None:
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def __len__(self) -> int:
        return len(self._entries)


class InvalidationBus:
    """Publishes "key changed" messages on one pub/sub channel of the store.

    Messages carry a sequence number so a demo can wait until every instance has
    seen everything published so far (:meth:`AppInstance.drain`).
    """

    def __init__(self, store: Store, channel: str = "invalidations") -> None:
        self.store, self.channel = store, channel
        self.published = 0
        self.closed = False
        self._lock = threading.Lock()

    def publish(self, key: str) -> int:
        """Announce that ``key`` changed; returns how many subscribers received it."""
        if self.closed:
            raise LabError("This invalidation bus is closed; make a new InvalidationBus(store) to publish again.")
        with self._lock:
            self.published += 1
            seq = self.published
        return self.store.publish(self.channel, f"{seq} {key}")

    def subscribe(self) -> Subscription:
        if self.closed:
            raise LabError("This invalidation bus is closed; make a new InvalidationBus(store) to subscribe.")
        return self.store.subscribe(self.channel)

    def close(self) -> None:
        self.closed = True


class AppInstance:
    """One app server: a near cache in front of the shared store, in front of the DB.

    It hears invalidations only when it calls :meth:`drain` (explicit polling: no
    background thread to leak).  :meth:`lose_next_messages` drops the next
    messages it receives, as a subscriber that was briefly disconnected would.
    """

    def __init__(
        self,
        name: str,
        store: Store,
        db: Database,
        bus: InvalidationBus,
        *,
        clock: Clock | None = None,
        near_ttl_seconds: float = 20.0,
        shared_ttl_seconds: float = 300.0,
    ) -> None:
        self.name, self.store, self.db, self.bus = name, store, db, bus
        self.clock = clock or db.clock
        self.near = NearCache(self.clock, near_ttl_seconds)
        self.shared_ttl_seconds = check_ttl(shared_ttl_seconds, "shared_ttl_seconds")
        self.subscription = bus.subscribe()
        self.last_seq = 0
        self.applied = 0
        self.lost: list[str] = []
        self._to_lose = 0
        self.near_hits = self.shared_hits = self.db_reads = 0

    def read(self, row_id: int) -> Row:
        key = item_key(row_id)
        text = self.near.get(key)
        if text is not None:
            self.near_hits += 1
            return Row.from_cache(text)
        text = self.store.get(key)
        if text is not None and not text.startswith(LEASE_PREFIX):
            self.shared_hits += 1
        else:
            row = self.db.read(row_id)
            if row is None:
                raise LabError(f"Row {row_id} does not exist; use an id below {self.db.rows}.")
            self.db_reads += 1
            text = row.to_cache()
            self.store.set(key, text, ttl_seconds=self.shared_ttl_seconds)
        self.near.put(key, text)
        return Row.from_cache(text)

    def lose_next_messages(self, count: int = 1) -> None:
        self._to_lose += int(check_positive("count", count))

    def drain(self, until_seq: int | None = None, timeout_seconds: float = 2.0) -> int:
        """Apply every invalidation that has arrived; with ``until_seq``, wait for that one too."""
        applied = 0
        deadline = time.monotonic() + timeout_seconds
        while True:
            waiting = until_seq is not None and self.last_seq < until_seq
            wait = max(0.0, deadline - time.monotonic()) if waiting else 0.0
            message = self.subscription.get_message(wait)
            if message is None:
                if waiting and time.monotonic() < deadline:
                    continue
                return applied
            seq_text, _, key = message.partition(" ")
            self.last_seq = max(self.last_seq, int(seq_text))
            if self._to_lose:
                self._to_lose -= 1
                self.lost.append(key)
                continue
            self.near.drop(key)
            self.applied += 1
            applied += 1

    def close(self) -> None:
        self.subscription.close()

    def __repr__(self) -> str:
        return f"<AppInstance {self.name} near={len(self.near)} applied={self.applied} lost={len(self.lost)}>"


def write_and_publish(store: Store, db: Database, bus: InvalidationBus, row_id: int, value: str) -> Row:
    """Commit, delete the shared copy, then tell every instance to drop its near copy."""
    if bus.closed:  # refuse before the DB changes, so nothing is left half-invalidated
        raise LabError("This invalidation bus is closed; make a new InvalidationBus(store) to publish again.")
    row = db.write(row_id, value)
    store.delete(item_key(row_id))
    bus.publish(item_key(row_id))
    return row


@dataclass
class EventRun:
    times: list[float]
    db_versions: list[int]
    served: dict[str, list[int]]
    stale_reads: dict[str, int]
    max_stale_age_seconds: dict[str, float]
    stale_until: dict[str, float | None]  # first fresh read after the lost message, per instance
    lost: dict[str, int]
    write_times: tuple[float, ...]
    near_ttl_seconds: float
    first_cached_at: float


def simulate_events(
    store: Store,
    *,
    near_ttl_seconds: float = 20.0,
    lose_message: bool = True,
    instances: Sequence[str] = ("A", "B", "C"),
    seconds: float = 60.0,
    read_every_seconds: float = 1.0,
    write_times: Sequence[float] = (10.0, 40.0),
    row_id: int = 0,
) -> EventRun:
    """Instances read one key every second while a writer updates it; real pub/sub, virtual time.

    With ``lose_message`` the last instance loses the first invalidation.
    """
    check_ttl(near_ttl_seconds, "near_ttl_seconds")
    check_positive("read_every_seconds", read_every_seconds, "s")
    clock = VirtualClock()
    db = Database(clock, rows=row_id + 1, latency_seconds=0.0)
    bus = InvalidationBus(store, "invalidations:sim")
    store.delete(item_key(row_id))
    apps = [AppInstance(n, store, db, bus, clock=clock, near_ttl_seconds=near_ttl_seconds) for n in instances]
    meters = {a.name: StalenessMeter(db) for a in apps}
    if lose_message:
        apps[-1].lose_next_messages(1)
    pending = sorted(write_times)
    run = EventRun([], [], {a.name: [] for a in apps}, {}, {}, {}, {}, tuple(pending), near_ttl_seconds, 0.0)
    first_write = pending[0] if pending else None
    try:
        steps = int(round(seconds / read_every_seconds))
        for i in range(1, steps + 1):
            t = i * read_every_seconds
            while pending and pending[0] <= t:
                clock.set(pending.pop(0))
                write_and_publish(store, db, bus, row_id, f"value at {clock.now():g} s")
            clock.set(t)
            run.times.append(t)
            run.db_versions.append(db.current_version(row_id))
            for app in apps:
                app.drain(until_seq=bus.published)
                row = app.read(row_id)
                run.served[app.name].append(row.version)
                meters[app.name].observe(row_id, row.version)
        run.first_cached_at = read_every_seconds
        for app in apps:
            run.stale_reads[app.name] = meters[app.name].stale_reads
            run.max_stale_age_seconds[app.name] = meters[app.name].max_stale_age_seconds
            run.lost[app.name] = len(app.lost)
            run.stale_until[app.name] = _first_fresh_after(run, app.name, first_write)
    finally:
        for app in apps:
            app.close()
        bus.close()
        store.delete(item_key(row_id))
    return run


def _first_fresh_after(run: EventRun, name: str, since: float | None) -> float | None:
    """When ``name`` first served the newest version again after a stale stretch."""
    was_stale = False
    for t, db_v, served in zip(run.times, run.db_versions, run.served[name], strict=True):
        if since is None or t < since:
            continue
        if served < db_v:
            was_stale = True
        elif was_stale:
            return t
    return None


# ---------------------------------------------------------------------------------
# TTL expiry alone
# ---------------------------------------------------------------------------------


@dataclass
class TtlRun:
    ttl_seconds: float
    shown_key: int                         # the most-written key, whose reads are listed
    times: list[float]
    db_versions: list[int]
    served_versions: list[int]
    stale_times: list[float]               # every stale read, all keys
    stale_ages_seconds: list[float]
    reads: int
    stale_reads: int
    hit_ratio: float

    @property
    def max_stale_age_seconds(self) -> float:
        return max(self.stale_ages_seconds, default=0.0)

    @property
    def stale_share(self) -> float:
        return self.stale_reads / self.reads if self.reads else 0.0


def simulate_ttl(
    ttl_seconds: float,
    *,
    keys: int = 10,
    seconds: float = 240.0,
    read_every_seconds: float = 1.0,
    writes_per_key_per_minute: float = 1.0,
    seed: int = 2,
) -> TtlRun:
    """Cache-aside with *no* invalidation on write: only the TTL corrects a copy.

    Runs on a virtual clock with the in-process store, so four simulated minutes
    take milliseconds.  Writes arrive at random (Poisson) times per key.
    """
    ttl = check_ttl(ttl_seconds)
    if ttl is None:
        raise LabError("This experiment needs a TTL > 0 seconds; with no TTL a stale copy lives forever.")
    check_positive("keys", keys)
    check_positive("seconds", seconds, "s")
    check_positive("read_every_seconds", read_every_seconds, "s")
    check_positive("writes_per_key_per_minute", writes_per_key_per_minute)
    clock = VirtualClock()
    db = Database(clock, rows=keys, latency_seconds=0.0)
    store = MemoryStore(clock, namespace="ttl-sim")
    meter = StalenessMeter(db)
    rng = random.Random(seed)
    writes: list[tuple[float, int]] = []
    rate = writes_per_key_per_minute / 60.0
    for row_id in range(keys):
        t = rng.expovariate(rate)
        while t < seconds:
            writes.append((t, row_id))
            t += rng.expovariate(rate)
    writes.sort()
    counts = [sum(1 for _, k in writes if k == row_id) for row_id in range(keys)]
    shown = counts.index(max(counts))
    run = TtlRun(ttl, shown, [], [], [], [], [], 0, 0, 0.0)
    steps = int(round(seconds / read_every_seconds))
    for i in range(steps + 1):
        t = i * read_every_seconds
        while writes and writes[0][0] <= t:
            when, row_id = writes.pop(0)
            clock.set(when)
            db.write(row_id, f"v at {when:.1f}")  # and no invalidation: that is the point
        clock.set(t)
        for row_id in range(keys):
            key = item_key(row_id)
            text = store.get(key)
            if text is None:
                row = db.read(row_id)
                assert row is not None
                store.set(key, row.to_cache(), ttl_seconds=ttl)
                version = row.version
            else:
                version = Row.from_cache(text).version
            age = meter.observe(row_id, version, t)
            if version < db.current_version(row_id):
                run.stale_times.append(t)
                run.stale_ages_seconds.append(age)
            if row_id == shown:
                run.times.append(t)
                run.db_versions.append(db.current_version(row_id))
                run.served_versions.append(version)
    run.reads, run.stale_reads = meter.reads, meter.stale_reads
    run.hit_ratio = store.stats.hit_ratio
    return run


def stacked_worst_case(
    shared_ttl_seconds: float, near_ttl_seconds: float, *, step_seconds: float = 0.05
) -> float:
    """Measured worst staleness when invalidations are lost at both layers.

    The adversarial timing: the shared (Redis) copy is filled, the row changes at
    once, and a near cache copies the shared entry a moment before it expires.
    Returns the oldest value age a reader saw, in seconds.
    """
    shared_ttl = check_ttl(shared_ttl_seconds, "shared_ttl_seconds")
    near_ttl = check_ttl(near_ttl_seconds, "near_ttl_seconds")
    if shared_ttl is None or near_ttl is None:
        raise LabError("Both TTLs must be > 0 seconds here; with None a lost invalidation is never corrected.")
    clock = VirtualClock()
    db = Database(clock, rows=1, latency_seconds=0.0)
    shared = MemoryStore(clock, namespace="stacked")
    near = NearCache(clock, near_ttl)
    meter = StalenessMeter(db)
    key = item_key(0)
    shared.set(key, db.read(0).to_cache(), ttl_seconds=shared_ttl)  # type: ignore[union-attr]
    clock.advance(step_seconds)
    db.write(0, "changed")  # the invalidation for this write is lost everywhere
    clock.set(max(clock.now(), shared_ttl - step_seconds))
    while True:
        text = near.get(key)
        if text is None:
            text = shared.get(key)
            if text is None:
                row = db.read(0)
                assert row is not None
                text = row.to_cache()
                shared.set(key, text, ttl_seconds=shared_ttl)
            near.put(key, text)
        version = Row.from_cache(text).version
        meter.observe(0, version)
        if version == db.current_version(0):
            return meter.max_stale_age_seconds
        clock.advance(step_seconds)


# ---------------------------------------------------------------------------------
# Versioned keys
# ---------------------------------------------------------------------------------

_VERSIONED_RE = re.compile(r"^(?P<namespace>\S+?):v(?P<generation>\d+):(?P<suffix>\S+)$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+(?::[A-Za-z0-9_.\-]+)*$")


@dataclass(frozen=True)
class VersionedKey:
    namespace: str
    generation: int
    suffix: str

    def __str__(self) -> str:
        return f"{self.namespace}:v{self.generation}:{self.suffix}"


def parse_versioned_key(key: Any) -> VersionedKey:
    """Split ``'tenant:7:v3:user:42'`` into namespace, generation and the key inside."""
    match = _VERSIONED_RE.match(key) if isinstance(key, str) else None
    if match is None:
        raise LabError(
            f"{key!r} is not a versioned key; expected '<namespace>:v<generation>:<key>', "
            "for example 'tenant:7:v3:user:42'."
        )
    return VersionedKey(match["namespace"], int(match["generation"]), match["suffix"])


class VersionedNamespace:
    """Keys under a generation counter: ``<name>:v<gen>:<key>``; :meth:`bump` retires them all.

    A read costs two commands (the generation, then the key); the payoff is that
    invalidating every key of the namespace is one INCR, however many there are.
    Old generations are never deleted, only left to expire, so always set a TTL.
    """

    def __init__(self, store: Store, name: str, *, ttl_seconds: float = 3600.0) -> None:
        if not isinstance(name, str) or not _NAME_RE.match(name) or re.search(r":v\d+(:|$)", name):
            raise LabError(
                f"Namespace name {name!r} must be words joined by ':' (like 'tenant:7') "
                "and must not itself look like a generation (':v3')."
            )
        ttl = check_ttl(ttl_seconds)
        if ttl is None:
            raise LabError("Versioned keys need a TTL > 0 seconds: old generations are only ever removed by expiry.")
        self.store, self.name, self.ttl_seconds = store, name, ttl
        self.generation_key = f"{name}:gen"

    def generation(self) -> int:
        value = self.store.get(self.generation_key)
        return int(value) if value is not None else 0

    def key(self, suffix: str, generation: int | None = None) -> str:
        if not isinstance(suffix, str) or not suffix or any(c.isspace() for c in suffix):
            raise LabError(f"A key inside a namespace must be a non-empty string without spaces (got {suffix!r}).")
        gen = self.generation() if generation is None else generation
        return f"{self.name}:v{gen}:{suffix}"

    def set(self, suffix: str, value: str) -> str:
        key = self.key(suffix)
        self.store.set(key, value, ttl_seconds=self.ttl_seconds)
        return key

    def get(self, suffix: str) -> str | None:
        return self.store.get(self.key(suffix))

    def bump(self) -> int:
        """Make every key of the current generation unreachable: one INCR, no SCAN."""
        return self.store.incr(self.generation_key)

    def fill(self, count: int, value: str = "cached") -> int:
        """Write ``count`` keys ``item:0..`` in the current generation (pipelined on Redis)."""
        count = int(check_positive("count", count))
        gen = self.generation()
        if isinstance(self.store, RedisStore):
            ttl_ms = max(1, round(self.ttl_seconds * 1000))
            for start in range(0, count, 1000):
                pipe = self.store.client.pipeline(transaction=False)
                for i in range(start, min(count, start + 1000)):
                    pipe.set(self.store.k(self.key(f"item:{i}", gen)), value, px=ttl_ms)
                pipe.execute()
            self.store.stats.add(commands=(count + 999) // 1000, sets=count)
        else:
            for i in range(count):
                self.store.set(self.key(f"item:{i}", gen), value, ttl_seconds=self.ttl_seconds)
        return gen


def scan_and_delete(store: Store, pattern: str, *, batch: int = 500) -> int:
    """The alternative to a version bump: find every matching key, then delete them in batches."""
    keys = store.scan_keys(pattern)
    removed = 0
    for start in range(0, len(keys), batch):
        removed += store.delete(*keys[start : start + batch])
    return removed


_STORE_METHODS = (
    "get", "get_many", "set", "delete", "compare_and_delete", "compare_and_set",
    "incr", "expire", "ttl_seconds", "scan_keys", "publish", "subscribe",
)


class CommandLog:
    """Records what a block of code asked of a store.

    ``store_calls`` lists contract methods (every backend); on Redis
    ``redis_commands`` lists the raw commands sent (``SCAN``, ``INCRBY``, ...).

    >>> with CommandLog(store) as log:            # doctest: +SKIP
    ...     ns.bump()
    >>> log.redis_commands                        # doctest: +SKIP
    ['INCRBY']
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.store_calls: list[str] = []
        self.redis_commands: list[str] = []

    def __enter__(self) -> CommandLog:
        for name in _STORE_METHODS:
            method = getattr(self.store, name)

            def wrapped(*args: Any, _name: str = name, _method: Any = method, **kw: Any) -> Any:
                self.store_calls.append(_name)
                return _method(*args, **kw)

            setattr(self.store, name, wrapped)
        if isinstance(self.store, RedisStore):
            client = self.store.client
            execute = client.execute_command

            def recorded(*args: Any, **kw: Any) -> Any:
                self.redis_commands.append(str(args[0]).upper())
                return execute(*args, **kw)

            client.execute_command = recorded
        return self

    def __exit__(self, *exc: object) -> None:
        for name in _STORE_METHODS:
            self.store.__dict__.pop(name, None)
        if isinstance(self.store, RedisStore):
            self.store.client.__dict__.pop("execute_command", None)

    @property
    def scanned(self) -> bool:
        return "scan_keys" in self.store_calls or any(c in ("SCAN", "KEYS") for c in self.redis_commands)

    @property
    def round_trips(self) -> int:
        """Commands sent to the server (Redis) or contract calls (in-process store)."""
        return len(self.redis_commands) if isinstance(self.store, RedisStore) else len(self.store_calls)


def compare_bump_and_scan(store: Store, keys: int = 2000, *, name: str = "tenant:7") -> dict[str, float]:
    """Fill one namespace with ``keys`` keys, then invalidate it both ways and time each.

    First a generation bump (the old keys become unreachable), then SCAN+DEL of
    those same old keys, as a namespace without versions would have to do.
    """
    ns = VersionedNamespace(store, name)
    old_generation = ns.fill(keys)
    with CommandLog(store) as bump_log:
        start = time.perf_counter()
        ns.bump()
        bump_seconds = time.perf_counter() - start
    reachable_after_bump = ns.get("item:0") is not None
    with CommandLog(store) as scan_log:
        start = time.perf_counter()
        deleted = scan_and_delete(store, f"{name}:v{old_generation}:*")
        scan_seconds = time.perf_counter() - start
    store.delete(ns.generation_key)
    return {
        "keys": keys,
        "bump_seconds": bump_seconds,
        "bump_round_trips": bump_log.round_trips,
        "bump_scanned": bump_log.scanned,
        "old_key_reachable_after_bump": reachable_after_bump,
        "scan_seconds": scan_seconds,
        "scan_round_trips": scan_log.round_trips,
        "scan_deleted": deleted,
    }


# ---------------------------------------------------------------------------------
# Live charts for the notebook
# ---------------------------------------------------------------------------------


def _widgets():
    from . import widgets

    return widgets


def draw_ttl(fig: Any, ttl_seconds: float) -> str:
    from .charts import LIMIT_STYLE, finish, series_style

    run = simulate_ttl(ttl_seconds)
    left, right = fig.axes
    for i, (versions, label) in enumerate(
        ((run.db_versions, "version in the DB"), (run.served_versions, "version readers got"))
    ):
        left.step(run.times, versions, where="post", label=label, **series_style(i) | {"marker": None})
    stale = [s < d for s, d in zip(run.served_versions, run.db_versions, strict=True)]
    left.fill_between(run.times, 0, 1, where=stale, step="post", transform=left.get_xaxis_transform(),
                      color=series_style(3)["color"], alpha=0.15, label="stale")
    finish(left, title=f"Key {run.shown_key}: readers lag each write until the copy expires",
           xlabel="time (s, simulated)", ylabel="row version")
    left.yaxis.get_major_locator().set_params(integer=True)
    right.scatter(run.stale_times, run.stale_ages_seconds, s=10, label="one stale read",
                  color=series_style(1)["color"], marker=series_style(1)["marker"])
    right.axhline(ttl_seconds, label=f"TTL = {ttl_seconds:.3g} s", **LIMIT_STYLE)
    right.set_ylim(0, ttl_seconds * 1.25)
    finish(right, title=f"No stale read was older than the TTL (max {run.max_stale_age_seconds:.1f} s)",
           xlabel="time (s, simulated)", ylabel="age of the value read (s)")
    return (
        f"TTL {ttl_seconds:.3g} s, no invalidation on write, 10 keys each written about once a "
        f"minute: {run.stale_share:.0%} of reads were stale, the oldest by "
        f"{run.max_stale_age_seconds:.1f} s; hit ratio {run.hit_ratio:.0%}."
    )


def explore_ttl() -> Any:
    """TTL as the only invalidation: the slider sets the TTL; the stale window follows it."""
    w = _widgets()
    return w.LivePlot(draw_ttl, {"ttl_seconds": w.log_slider("TTL (s)", 1, 120, 30)}, ncols=2, width=11, height=3.8)


def explore_events(store: Store) -> Any:
    """Three instances behind pub/sub; instance C may lose one message."""
    from .charts import finish, series_style

    def draw(fig: Any, near_ttl_seconds: float, lose_message: bool) -> str:
        run = simulate_events(store, near_ttl_seconds=near_ttl_seconds, lose_message=lose_message)
        ax = fig.axes[0]
        ax.step(run.times, run.db_versions, where="post", label="DB", color="#000000", linewidth=3, alpha=0.35)
        for i, name in enumerate(run.served):
            offset = (i - 1) * 0.06  # keep overlapping lines visible
            style = series_style(i) | {"marker": None}
            ax.step(run.times, [v + offset for v in run.served[name]], where="post", label=f"instance {name}", **style)
        for t in run.write_times:
            ax.axvline(t, color="#999999", linewidth=1, linestyle=":")
        last = list(run.served)[-1]
        if run.stale_reads[last]:
            until = run.stale_until[last]
            title = (f"Instance {last} lost one message and served the old row until "
                     f"t = {until:g} s, when its {near_ttl_seconds:g} s TTL ran out")
        else:
            title = "Every instance dropped its copy on each write: nobody served an old row"
        finish(ax, title=title, xlabel="time (s, simulated; dotted lines = writes)", ylabel="row version served")
        ax.yaxis.get_major_locator().set_params(integer=True)
        counts = ", ".join(f"{n}: {run.stale_reads[n]}" for n in run.served)
        return f"Stale reads per instance ({counts}); messages lost: {sum(run.lost.values())}."

    w = _widgets()
    controls = {
        "near_ttl_seconds": w.slider("near-cache TTL (s)", 2, 40, 1, 20),
        "lose_message": w.toggle("C loses the first invalidation", True),
    }
    return w.LivePlot(draw, controls, width=10, height=3.8)


def explore_versioned(store: Store, keys: int = 2000, *, name: str = "tenant:99") -> Any:
    """One bump vs SCAN+DEL over the same ``keys`` keys, measured on ``store``.

    It uses its own namespace (``name``) so the learner's own ``tenant:7`` is untouched.
    """
    from .charts import finish, series_style

    def draw(fig: Any) -> str:
        r = compare_bump_and_scan(store, keys, name=name)
        left, right = fig.axes
        names = ["generation bump", "SCAN + DEL"]
        trips = [r["bump_round_trips"], r["scan_round_trips"]]
        millis = [r["bump_seconds"] * 1000, r["scan_seconds"] * 1000]
        for ax, values in ((left, trips), (right, millis)):
            bars = ax.bar(names, values, color=[series_style(0)["color"], series_style(1)["color"]])
            ax.bar_label(bars, labels=[f"{v:.3g}" for v in values])
        right.set_yscale("log")
        finish(left, title=f"A bump is 1 command; SCAN+DEL needed {trips[1]:g} for {keys:,} keys",
               xlabel="how the tenant was invalidated", ylabel="commands sent")
        finish(right, title=f"SCAN+DEL took {millis[1] / max(millis[0], 1e-6):,.0f}x longer",
               xlabel="how the tenant was invalidated", ylabel="time (ms, log scale)")
        return (f"{keys:,} keys of {name} on {store.backend}: the bump made them unreachable at once "
                f"(old key reachable afterwards: {r['old_key_reachable_after_bump']}); "
                f"SCAN+DEL deleted {r['scan_deleted']:,}.")

    return _widgets().LivePlot(draw, {}, ncols=2, width=10, height=3.6)


def draw_race(fig: Any, stepper: RaceStepper) -> str:
    from .charts import finish, series_style

    lanes, versions = fig.axes
    lanes.set_xlim(0.5, len(stepper.schedule) + 0.5)
    lanes.set_ylim(-0.6, 1.6)
    lanes.set_yticks([0, 1], ["writer", "reader"])
    for i, actor in enumerate(stepper.schedule, start=1):
        y = 1 if actor == "reader" else 0
        lanes.text(i, y, "next" if i == stepper.position + 1 else "…", ha="center", va="center",
                   color="#999999", fontsize=8)
    for ev in stepper.events:
        y = 1 if ev.actor == "reader" else 0
        color = series_style(0 if ev.actor == "reader" else 1)["color"]
        lanes.text(ev.index, y, ev.text.replace(" → ", "\n→ "), ha="center", va="center", fontsize=7.5,
                   bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": color})
    lanes.grid(False)
    label = STRATEGY_LABELS[stepper.strategy]
    finish(lanes, title=f"{label}: the two timelines, one operation per step",
           xlabel="step", ylabel="who acts")
    xs = [0] + [ev.index for ev in stepper.events]
    db_v = [1] + [ev.db_version for ev in stepper.events]
    cache_v = [None] + [int(ev.cache_state[1:]) if ev.cache_state.startswith("v") else None
                        for ev in stepper.events]
    versions.step(xs, db_v, where="post", label="DB", **series_style(1))
    versions.plot(xs, [float("nan") if v is None else v for v in cache_v], linestyle="none",
                  markersize=10, label="cache", color=series_style(0)["color"], marker="o")
    for ev in stepper.events:
        if ev.cache_state in ("empty", "lease"):
            versions.text(ev.index, 0.7, ev.cache_state, ha="center", fontsize=8, color="#555555")
    versions.set_xlim(-0.5, len(stepper.schedule) + 0.5)
    versions.set_ylim(0.4, 2.6)
    versions.set_yticks([1, 2])
    if stepper.done:
        out = stepper.outcome()
        if out.stale:
            title = (f"Stale: the cache keeps v{out.cached_version} while the DB has v{out.db_version}, "
                     f"for the {out.stale_for_seconds:.0f} s left on its TTL")
        else:
            state = "empty" if out.cached_version is None else f"v{out.cached_version}"
            title = f"Safe: the cache ends {state} and the DB has v{out.db_version}; nothing stale"
    else:
        title = "Press Step to run the next operation"
    finish(versions, title=title, xlabel="step", ylabel="row version")
    return ("Steps: reader misses, reader reads the old row, writer commits, writer invalidates, "
            "reader fills. Pick a fix, press Reset, then Step.")


def explore_race(store: Store, strategy: str = "naive") -> Any:
    """The race stepper: a dropdown of fixes, Step and Reset buttons, both timelines drawn."""
    state = {"stepper": RaceStepper(store, strategy)}
    state["stepper"].run()  # the default view already shows how the story ends

    def draw(fig: Any, strategy: str) -> str:
        if state["stepper"].strategy != strategy:
            state["stepper"] = RaceStepper(store, strategy)
            state["stepper"].run()
        return draw_race(fig, state["stepper"])

    w = _widgets()
    plot = w.LivePlot(
        draw,
        {"strategy": w.choice("fix", list(STRATEGIES), strategy)},
        nrows=2, width=10, height=5.6,
        buttons={"Step ▶": lambda _p: state["stepper"].step(), "Reset": lambda _p: state["stepper"].reset()},
    )
    plot.stepper = lambda: state["stepper"]  # type: ignore[attr-defined]
    return plot


def compare_fixes(store: Store, *, concurrent: bool = True) -> Any:
    """All four strategies: the bad interleaving (left) and reader/writer threads (right)."""
    from .charts import finish, series_style

    def draw(fig: Any) -> str:
        left, right = fig.axes
        names = [STRATEGY_LABELS[s].replace(", ", ",\n").replace(" + ", "\n+ ") for s in STRATEGIES]
        colors = [series_style(i)["color"] for i in range(len(STRATEGIES))]
        outcomes = [replay(store, s) for s in STRATEGIES]
        lifetimes = [o.stale_for_seconds for o in outcomes]
        bars = left.barh(names, lifetimes, color=colors)
        left.bar_label(bars, labels=[f"{v:.0f} s" for v in lifetimes])
        left.invert_yaxis()
        finish(left, title="Same interleaving: only a TTL ends the naive stale entry",
               xlabel="how long the stale entry lives (s)", ylabel="strategy")
        if concurrent:
            results = [run_concurrent(store, s) for s in STRATEGIES]
            stale = [r.stale_keys_after_settle for r in results]
            bars = right.barh(names, stale, color=colors)
            right.bar_label(bars, labels=[str(v) for v in stale])
            right.invert_yaxis()
            right.set_xlim(0, results[0].keys)
            fixes_clean = not any(stale[1:])
            if stale[0] and fixes_clean:
                title = f"Threads: naive left {stale[0]} of {results[0].keys} keys stale, fixes 0"
            elif fixes_clean:
                title = "Threads: this run dodged the race; run it again"
            else:
                title = "Threads: stale keys left once writes settle"
            finish(right, title=title,
                   xlabel=f"keys still stale (of {results[0].keys})", ylabel="strategy")
        return ("Left: the scripted bad interleaving. Right: 3 reader threads and a writer "
                "updating each key twice in quick succession, counted once writes stop "
                "(and the short TTL has run out).")

    return _widgets().LivePlot(draw, {}, ncols=2, width=11, height=3.6)


# ---------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------


class _RacingDatabase:
    """A database that lets a writer commit and invalidate right after the first read.

    That replays the bad interleaving against any reader function: whatever it reads
    is already old by the time it can set the cache.
    """

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


def check_race_fix(store: Store, read_fn: Callable[[Store, Any, int], Row]) -> tuple[bool, str]:
    """Does ``read_fn(store, db, row_id)`` survive the bad interleaving and still cache?"""
    if not callable(read_fn):
        return False, "pass your function itself, e.g. ex.check(read_item) (no parentheses)."
    row_id, key = 5, item_key(5)
    db = Database(VirtualClock(), rows=8, latency_seconds=0.0)
    store.delete(key)
    try:
        row = read_fn(store, db, row_id)
        if not isinstance(row, Row) or row.version != db.current_version(row_id):
            return False, "with nobody writing, your function must return the current Row from the DB."
        if _cached_version(store.get(key)) != db.current_version(row_id):
            return False, "with nobody writing, your function must still fill the cache (otherwise it is no cache)."
        store.delete(key)
        racing = _RacingDatabase(db, store, row_id)
        read_fn(store, racing, row_id)
        left = _cached_version(store.get(key))
        now = db.current_version(row_id)
        if left is not None and left < now:
            return False, (f"replaying miss, read, writer commit + DEL, set: the cache kept v{left} "
                           f"while the DB has v{now} - the stale set is still there.")
        after = read_fn(store, db, row_id)
        if not isinstance(after, Row) or after.version != now:
            return False, "after the race the next read must return the new row."
        return True, (f"under the bad interleaving your reader left no stale entry (cache: "
                      f"{'empty' if left is None else f'v{left}'}, DB: v{now}), and it still fills the cache.")
    finally:
        store.delete(key)


def _check_tenant(store: Store, fn: Any) -> tuple[bool, str]:
    if not callable(fn):
        return False, "pass your function itself, e.g. ex.check(invalidate_tenant)."
    seven, eight = VersionedNamespace(store, "tenant:7"), VersionedNamespace(store, "tenant:8")
    try:
        for ns in (seven, eight):
            ns.fill(200)
        with CommandLog(store) as log:
            fn(store, 7)
        if log.scanned:
            return False, "your function scanned the keyspace; the point is to invalidate without SCAN."
        if seven.get("item:0") is not None or seven.get("item:199") is not None:
            return False, "tenant 7's keys are still reachable through VersionedNamespace(store, 'tenant:7')."
        if eight.get("item:0") is None:
            return False, "tenant 8's keys became unreachable too: invalidate only tenant 7."
        return True, (f"tenant 7's 200 keys are unreachable after {log.round_trips} command(s), "
                      "with no SCAN; tenant 8 is untouched.")
    finally:
        for ns in (seven, eight):
            scan_and_delete(store, f"{ns.name}:*")


def _check_budget(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer <= 0:
        return False, f"answer with a number of seconds > 0 (got {answer!r})."
    worst = stacked_worst_case(45, float(answer))
    if worst > 60:
        return False, (f"with a {answer:g} s near-cache TTL a reader can see a value {worst:.1f} s old: "
                       "the two layers' TTLs add up, and 60 s is the budget.")
    if answer < 10:
        return False, (f"{answer:g} s keeps within budget (worst {worst:.1f} s) but expires far more "
                       "often than needed; find the largest TTL that fits.")
    return True, f"worst case measured {worst:.1f} s, within the 60 s budget."


def exercises(store: Store) -> dict[str, Any]:
    """The notebook's three exercises, keyed by name."""
    from .exercises import Exercise

    return {
        "tenant": Exercise(
            "02", "invalidate-tenant", lambda fn: _check_tenant(store, fn),
            hint="invalidation.VersionedNamespace(store, f'tenant:{tenant_id}') builds every key from a "
                 "generation counter. What single command changes it?",
            solution="def invalidate_tenant(store, tenant_id):\n"
                     "    invalidation.VersionedNamespace(store, f'tenant:{tenant_id}').bump()  # one INCR",
        ),
        "race": Exercise(
            "02", "fix-the-race", lambda fn: check_race_fix(store, fn),
            hint="Before reading the DB, claim the key with a placeholder: store.set(key, token, "
                 "ttl_seconds=10, nx=True). The writer's DEL removes it. Set the row only with "
                 "store.compare_and_set(key, token, ...), which fails if the placeholder is gone.",
            solution=(
                "def read_item(store, db, row_id):\n"
                "    key = f'item:{row_id}'\n"
                "    cached = store.get(key)\n"
                "    if cached is not None and not cached.startswith(LEASE_PREFIX):\n"
                "        return Row.from_cache(cached)\n"
                "    token = LEASE_PREFIX + uuid.uuid4().hex\n"
                "    leased = cached is None and store.set(key, token, ttl_seconds=10, nx=True)\n"
                "    row = db.read(row_id)\n"
                "    if leased:  # refused if a writer deleted the key (and our lease) meanwhile\n"
                "        store.compare_and_set(key, token, row.to_cache(), ttl_seconds=300)\n"
                "    return row"
            ),
        ),
        "budget": Exercise(
            "02", "ttl-budget", _check_budget,
            hint="In the worst case the near cache copies the Redis entry just before it expires, "
                 "and then keeps it for its own TTL. The ages add.",
            solution="near_ttl_seconds = 15   # 45 s in Redis + 15 s near = 60 s, the budget",
        ),
    }
