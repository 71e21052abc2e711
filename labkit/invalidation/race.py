"""The stale-set race in cache-aside: reader and writer as explicit steps.

A reader misses, reads the old row, a writer commits and deletes the key, and the
reader then sets the old row: nothing corrects it until its TTL.  Each actor is a
generator that yields after every operation, so any interleaving is replayed
deterministically (:class:`RaceStepper`, :func:`replay`); :func:`run_concurrent`
runs the same steps on real threads.

Four wirings (:data:`STRATEGIES`): naive, a lease (a client-side imitation of
memcache's server-issued leases: a placeholder set with ``SET NX`` in the item's own
key, so the writer's delete revokes it), delete after commit with a short TTL, and
write-through with the store contract's version guard (:meth:`Store.set_if_newer`).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..clock import VirtualClock, wall_clock
from ..database import Database, Row
from ..errors import LabError, check_choice, check_positive, check_ttl
from ..metrics import StalenessMeter
from ..store import Store, unversioned

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


def cached_row(text: str | None) -> Row | None:
    """The row inside a cached value (plain or version-guarded), or None (absent, a lease)."""
    if text is None:
        return None
    payload = unversioned(text)[1]
    if payload.startswith(LEASE_PREFIX):
        return None
    try:
        return Row.from_cache(payload)
    except (ValueError, TypeError):
        return None


def cached_version(text: str | None) -> int | None:
    """The row version inside a cached value, or None (absent, or a lease placeholder)."""
    row = cached_row(text)
    return None if row is None else row.version


def write_if_newer(store: Store, key: str, row: Row, ttl_seconds: float | None = None) -> bool:
    """Cache ``row`` unless the cache already holds that version or a newer one.

    One atomic operation of the store contract (a Lua script on Redis, a lock in
    memory); a lease placeholder counts as older than any version, so it is replaced.
    """
    return store.set_if_newer(key, row.to_cache(), row.version, ttl_seconds=ttl_seconds)



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
    hit = cached_row(cached)
    if hit is not None:
        out.row, out.hit = hit, True
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
        stored = write_if_newer(store, key, row, ttl)
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
        stored = write_if_newer(store, key, row, settings.ttl_seconds)
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
        version = cached_version(text)
        return "lease" if version is None else f"v{version}"

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
        cached = cached_version(text)
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


@dataclass(frozen=True)
class ThreadedRace:
    """How :func:`run_concurrent` races: its threads, their pauses, and the short TTL."""

    keys: int = 8
    readers: int = 3                  # reader threads, each reading random keys in a loop
    bursts: int = 16                  # times the writer updates one key twice in quick succession
    fill_delay_seconds: float = 0.01  # a reader's mean pause between its DB read and its cache fill
    burst_gap_seconds: float = 0.004  # the writer's pause after each update
    short_ttl_seconds: float = 0.25   # short-ttl's TTL here: short enough to wait out

    def __post_init__(self) -> None:
        check_positive("keys", self.keys)
        check_positive("readers", self.readers)


THREADED_RACE = ThreadedRace()


def run_concurrent(
    store: Store, strategy: str, race: ThreadedRace = THREADED_RACE, *, seed: int = 0
) -> ConcurrentResult:
    """Reader threads and a writer thread on real time; count stale keys once writes settle.

    Readers pause about ``race.fill_delay_seconds`` between reading the DB and filling
    the cache (a GC pause, a slow serializer); the writer updates a key twice in quick
    succession, as a user editing twice would.  After the writer stops (and, for
    ``short-ttl``, the short TTL has run out) one more read of every key counts how
    many are still served stale.
    """
    check_choice("strategy", strategy, STRATEGIES)
    keys, readers = race.keys, race.readers
    db = Database(wall_clock, rows=keys, latency_seconds=0.0005, parallel_queries=64)
    settings = RaceSettings(store, db, strategy, short_ttl_seconds=race.short_ttl_seconds)
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
                        time.sleep(race.fill_delay_seconds * rng.expovariate(1.0))
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
        for burst in range(race.bursts):
            row_id = burst % keys if burst < keys else rng.randrange(keys)
            for edit in range(2):
                for _ in writer_steps(settings, row_id, f"burst {burst} edit {edit}"):
                    pass
                writes += 1
                time.sleep(race.burst_gap_seconds)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    if errors:
        raise errors[0]
    if strategy == "short-ttl":
        time.sleep(race.short_ttl_seconds + 0.05)
    meter = StalenessMeter(db)
    for row_id in range(keys):
        out = ReadResult()
        for _ in reader_steps(settings, row_id, out):
            pass
        assert out.row is not None
        meter.observe(row_id, out.row.version)
    store.delete(*[item_key(i) for i in range(keys)])
    return ConcurrentResult(strategy, sum(reads), writes, meter.stale_reads, keys)

