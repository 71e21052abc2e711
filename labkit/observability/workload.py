"""The shop the notebook watches: data sets under key prefixes, each with its own TTL.

:func:`run_workload` replays cache-aside reads (and database writes) through any
store - a :class:`~.metered.MeteredStore` to watch it.  On a
:class:`~labkit.clock.VirtualClock` the run is seeded and identical every time (the
claims use it); on the wall clock it paces itself in real time (the live
dashboard).  Invalidation is by TTL alone, so a hit can be stale: every hit is
kept with the version it served and the database's version at that moment, which
is the ground truth the staleness sampler of :mod:`.staleness` estimates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..clock import Clock, VirtualClock
from ..errors import LabError
from ..memo import memo
from ..store import MemoryStore, Store, unversioned, versioned
from ..workloads import zipf_probabilities
from .metered import MeteredStore, MeterReading

__all__ = [
    "DataSet",
    "SHOP",
    "Hit",
    "WorkloadRun",
    "run_workload",
    "Rows",
    "SHOP_RUN",
    "watched_run",
    "warm_cache",
]


@dataclass(frozen=True)
class DataSet:
    """Keys ``<prefix>:<id>``: how many, their share of reads, TTL, writes, value size."""

    prefix: str
    keys: int
    read_share: float
    ttl_seconds: float
    writes_per_second: float
    value_bytes: int
    alpha: float = 0.9  # Zipf skew of reads (and writes) over the keys


# The notebook's shop.  Prices were meant to live 30 s; the config said 0.5 (minutes)
# and the cache helper took it as seconds, so their hit ratio collapses - at 10% of
# the reads it barely moves the average.
SHOP: tuple[DataSet, ...] = (
    DataSet("product", 1_000, 0.60, 300.0, 1.0, 300),
    DataSet("user", 600, 0.30, 120.0, 0.5, 200),
    DataSet("price", 500, 0.10, 0.5, 2.0, 40),
)

def check_data_sets(data_sets: Sequence[DataSet]) -> tuple[DataSet, ...]:
    data_sets = tuple(data_sets)
    if not data_sets or not all(isinstance(d, DataSet) for d in data_sets):
        raise LabError("Give one or more DataSet(...) entries, e.g. labkit.observability.SHOP.")
    if len({d.prefix for d in data_sets}) != len(data_sets):
        raise LabError("Each data set needs its own prefix; two share one.")
    return data_sets


class Rows:
    """The database of record: a version per key, and a read latency model
    (log-normal, median ``median_ms``) - slept on the wall clock, only recorded on a
    virtual one so a replay's timeline stays the same."""

    def __init__(self, *, median_ms: float = 2.0, seed: int = 0) -> None:
        self.versions: dict[str, int] = {}
        self.reads = 0
        self.median_ms = median_ms
        self._rng = np.random.default_rng(seed + 404)
        self._lock = threading.Lock()

    def version(self, key: str) -> int:
        return self.versions.get(key, 0)

    def write(self, key: str) -> int:
        with self._lock:
            self.versions[key] = self.versions.get(key, 0) + 1
            return self.versions[key]

    def read_seconds(self) -> float:
        """The latency of the next read (seeded)."""
        with self._lock:
            self.reads += 1
            return float(self.median_ms / 1000 * np.exp(0.5 * self._rng.standard_normal()))


@dataclass(frozen=True)
class Hit:
    """One cache hit: what it served and what the database held at that moment."""

    index: int
    key: str
    served_version: int
    db_version: int

    @property
    def stale(self) -> bool:
        return self.served_version < self.db_version


@dataclass
class WorkloadRun:
    """What a replay did: requests, writes, and every hit with its ground truth."""

    requests: int = 0
    writes: int = 0
    hits: list[Hit] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def stale_share(self) -> float:
        """The true share of hits that were stale (what sampling estimates)."""
        return sum(h.stale for h in self.hits) / len(self.hits) if self.hits else 0.0


def _plan(data_sets: tuple[DataSet, ...], n_requests: int, rate: float, seed: int):
    rng = np.random.default_rng(seed)
    shares = np.array([d.read_share for d in data_sets], dtype=float)
    which = rng.choice(len(data_sets), size=n_requests, p=shares / shares.sum())
    ids = np.empty(n_requests, dtype=np.int64)
    for i, d in enumerate(data_sets):
        mask = which == i
        cdf = np.cumsum(zipf_probabilities(d.keys, d.alpha))
        ids[mask] = np.minimum(np.searchsorted(cdf, rng.random(int(mask.sum()))), d.keys - 1)
    # Writes: a Poisson stream per data set, as the index of the request they precede.
    writes: list[tuple[int, int, int]] = []
    duration = n_requests / rate
    for i, d in enumerate(data_sets):
        n_writes = int(rng.poisson(d.writes_per_second * duration))
        cdf = np.cumsum(zipf_probabilities(d.keys, d.alpha))
        at = np.sort(rng.integers(0, n_requests, n_writes))
        keys = np.minimum(np.searchsorted(cdf, rng.random(n_writes)), d.keys - 1)
        writes += [(int(a), i, int(k)) for a, k in zip(at, keys, strict=True)]
    writes.sort()
    return which, ids, writes


def run_workload(
    store: Store,
    data_sets: Sequence[DataSet] = SHOP,
    *,
    n_requests: int = 40_000,
    requests_per_second: float = 2_000.0,
    seed: int = 0,
    rows: Rows | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int], None] | None = None,
    paced: bool = True,
    seconds: float | None = None,
) -> WorkloadRun:
    """Cache-aside reads through ``store`` at ``requests_per_second``.

    On a :class:`VirtualClock` (``store.clock``) request ``i`` happens at
    ``i / requests_per_second`` seconds and nothing sleeps; on the wall clock the
    replay keeps that pace in real time (and sleeps each database read's latency),
    and stops early when ``stop`` is set or ``seconds`` of wall time have passed.
    ``paced=False`` runs as fast as it can and sleeps nothing.
    Misses go through ``store.db_read`` when the store has it (a metered store).
    """
    data_sets = check_data_sets(data_sets)
    if isinstance(n_requests, bool) or not isinstance(n_requests, int) or n_requests < 1:
        raise LabError(f"n_requests must be a whole number >= 1 (got {n_requests!r}).")
    if not requests_per_second > 0:
        raise LabError(f"requests_per_second must be > 0 (got {requests_per_second!r}).")
    rows = rows or Rows(seed=seed)
    clock: Clock = store.clock
    virtual = isinstance(clock, VirtualClock)
    start = clock.now()
    which, ids, writes = _plan(data_sets, n_requests, requests_per_second, seed)
    payloads = {d.prefix: "v" * d.value_bytes for d in data_sets}
    db_read = getattr(store, "record_db", None)
    run = WorkloadRun()
    w = 0
    for i in range(n_requests):
        due = start + i / requests_per_second
        if virtual:
            clock.set(due)
        elif i % 50 == 0 and (
            (stop is not None and stop.is_set()) or (seconds is not None and clock.now() - start >= seconds)
        ):
            break
        if not virtual and paced and i % 50 == 0:
            ahead = due - clock.now()
            if ahead > 0:
                clock.sleep(ahead)
        while w < len(writes) and writes[w][0] <= i:
            _, d, k = writes[w]
            rows.write(f"{data_sets[d].prefix}:{k}")
            run.writes += 1
            w += 1
        d = data_sets[int(which[i])]
        key = f"{d.prefix}:{int(ids[i])}"
        cached = store.get(key)
        run.requests += 1
        if cached is not None:
            served, _ = unversioned(cached)
            run.hits.append(Hit(i, key, served if served is not None else -1, rows.version(key)))
        else:
            db_seconds = rows.read_seconds()
            if paced and not virtual:
                clock.sleep(db_seconds)
            if db_read is not None:
                db_read(key, db_seconds)
            store.set(key, versioned(payloads[d.prefix], rows.version(key)), d.ttl_seconds)
        if on_progress is not None and i % 500 == 0:
            on_progress(i)
    run.seconds = clock.now() - start
    return run


def warm_cache(store: Store, data_sets: Sequence[DataSet] = SHOP, *, share: float = 0.5) -> int:
    """Write the most popular ``share`` of each data set's keys (version 0, their own
    TTL), as a shop that has been running a while would hold them.  Returns the count."""
    written = 0
    for d in check_data_sets(data_sets):
        payload = "v" * d.value_bytes
        for key_id in range(int(d.keys * share)):
            store.set(f"{d.prefix}:{key_id}", versioned(payload, 0), d.ttl_seconds)
            written += 1
    return written


# The notebook's runs: seeded, on a virtual clock, so every number they give is the
# same on every machine (the claims and the exercises read them).
SHOP_RUN: tuple[tuple[DataSet, ...], int, int] = (SHOP, 12_000, 0)


@memo(maxsize=8)
def watched_run(spec: tuple[tuple[DataSet, ...], int, int] = SHOP_RUN) -> tuple[MeterReading, WorkloadRun]:
    """``(data sets, requests, seed)`` replayed through a metered in-process store on
    a virtual clock, its cache warmed first as the live dashboard's is: the reading
    and the run (with every hit's ground truth)."""
    data_sets, n_requests, seed = spec
    meter = MeteredStore(MemoryStore(VirtualClock(), namespace="watch", learner="lab"))
    warm_cache(meter, data_sets)
    meter.restart()
    run = run_workload(meter, data_sets, n_requests=n_requests, seed=seed)
    return meter.reading(), run
