"""TTL expiry alone: the backstop, measured.

With no invalidation on write, only the TTL corrects a copy: a reader can see an
old value for at most the TTL (:func:`simulate_ttl`).  Stacked caches add their
TTLs up (:func:`stacked_worst_case`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..clock import VirtualClock
from ..database import Database, Row
from ..errors import LabError, check_positive, check_ttl
from ..memo import memo
from ..metrics import StalenessMeter
from ..store import MemoryStore
from .near import NearCache
from .race import item_key

__all__ = ["TtlRun", "KeyTraffic", "KEY_TRAFFIC", "simulate_ttl", "stacked_worst_case"]


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


@dataclass(frozen=True)
class KeyTraffic:
    """What :func:`simulate_ttl` replays: every key read on one beat, written at random."""

    keys: int = 10
    seconds: float = 240.0
    read_every_seconds: float = 1.0         # each beat reads every key once
    writes_per_key_per_minute: float = 1.0  # on average: writes arrive at random (Poisson) times
    seed: int = 2

    def __post_init__(self) -> None:
        check_positive("keys", self.keys)
        check_positive("seconds", self.seconds, "s")
        check_positive("read_every_seconds", self.read_every_seconds, "s")
        check_positive("writes_per_key_per_minute", self.writes_per_key_per_minute)


KEY_TRAFFIC = KeyTraffic()


@memo(maxsize=64)
def simulate_ttl(ttl_seconds: float, traffic: KeyTraffic = KEY_TRAFFIC) -> TtlRun:
    """Cache-aside with *no* invalidation on write: only the TTL corrects a copy.

    Runs on a virtual clock with the in-process store, so four simulated minutes
    take milliseconds.
    """
    ttl = check_ttl(ttl_seconds)
    if ttl is None:
        raise LabError("This experiment needs a TTL > 0 seconds; with no TTL a stale copy lives forever.")
    keys, seconds, read_every_seconds = traffic.keys, traffic.seconds, traffic.read_every_seconds
    clock = VirtualClock()
    db = Database(clock, rows=keys, latency_seconds=0.0)
    store = MemoryStore(clock, namespace="ttl-sim")
    meter = StalenessMeter(db)
    rng = random.Random(traffic.seed)
    writes: list[tuple[float, int]] = []
    rate = traffic.writes_per_key_per_minute / 60.0
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
    parsed: dict[str, int] = {}
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
                # The same cached text is read again and again: parse each copy once.
                version = parsed.get(text) or parsed.setdefault(text, Row.from_cache(text).version)
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

