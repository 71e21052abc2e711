"""The metered store: the four numbers an app should export about its cache.

:class:`MeteredStore` wraps any store (memory, fakeredis, real Redis) and records,
**per key prefix** (``product:42`` -> ``product``), what a dashboard needs:

1. hit ratio (lookups, hits, misses),
2. latency percentiles of the cache commands and of the database reads it wraps
   (:meth:`MeteredStore.db_read`),
3. expirations and evictions per second - computed client-side: a key it wrote
   that is gone after its TTL expired, or gone *before* it (evicted, or deleted by
   someone else),
4. memory - computed from the values it wrote (``MEMORY USAGE``'s formula, see
   :mod:`.cost`); :mod:`.server` reads the server's own ``used_memory``.

Per prefix matters: one data set with a bad TTL hides inside a good average.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LabError
from ..store import Store
from ..wrappers import StoreWrapper
from .cost import bytes_per_key

__all__ = ["prefix_of", "PrefixReading", "MeterReading", "MeteredStore"]

_MAX_LATENCY_SAMPLES = 20_000  # per prefix and kind: enough for a stable p99, bounded memory


def prefix_of(key: str, depth: int = 1) -> str:
    """The first ``depth`` colon-separated parts of a key: ``prefix_of("user:7:cart") == "user"``."""
    parts = key.split(":", depth)
    return ":".join(parts[:depth]) if len(parts) > depth else "(no prefix)"


class _Counters:
    __slots__ = ("hits", "misses", "sets", "db_queries", "expirations", "evictions", "cache_seconds", "db_seconds")

    def __init__(self) -> None:
        self.hits = self.misses = self.sets = self.db_queries = self.expirations = self.evictions = 0
        self.cache_seconds: deque[float] = deque(maxlen=_MAX_LATENCY_SAMPLES)
        self.db_seconds: deque[float] = deque(maxlen=_MAX_LATENCY_SAMPLES)


def _ms(samples: Iterable[float], q: float) -> float:
    values = np.fromiter(samples, dtype=float)
    return float(np.percentile(values, q)) * 1000 if values.size else 0.0


@dataclass(frozen=True)
class PrefixReading:
    """One prefix's numbers since the meter started (or the whole cache: ``"all"``)."""

    prefix: str
    hits: int
    misses: int
    sets: int
    db_queries: int
    expirations: int
    evictions: int
    memory_bytes: int
    cache_p50_ms: float
    cache_p99_ms: float
    db_p50_ms: float
    db_p99_ms: float

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


@dataclass(frozen=True)
class MeterReading:
    """A snapshot of a :class:`MeteredStore`: every prefix, and ``overall``."""

    seconds: float  # on the store's clock, since the meter started
    prefixes: dict[str, PrefixReading]
    overall: PrefixReading
    memory_source: str = "computed"

    def per_second(self, count: int) -> float:
        return count / self.seconds if self.seconds > 0 else 0.0

    def hit_ratios(self) -> dict[str, float]:
        return {name: r.hit_ratio for name, r in self.prefixes.items()}

    def worst(self) -> PrefixReading:
        """The prefix with the lowest hit ratio (among those with lookups)."""
        looked = [r for r in self.prefixes.values() if r.lookups]
        if not looked:
            raise LabError("No lookups recorded yet; run some reads through the metered store first.")
        return min(looked, key=lambda r: r.hit_ratio)

    def rows(self) -> list[dict[str, str]]:
        """The dashboard table: one row per prefix, then the whole cache."""
        total = max(self.overall.lookups, 1)
        out = []
        for r in [*sorted(self.prefixes.values(), key=lambda r: -r.lookups), self.overall]:
            out.append(
                {
                    "prefix": r.prefix,
                    "share of reads": f"{r.lookups / total:.0%}",
                    "hit ratio": f"{r.hit_ratio:.1%}",
                    "cache p50 / p99 (ms)": f"{r.cache_p50_ms:.2f} / {r.cache_p99_ms:.2f}",
                    "DB p50 / p99 (ms)": f"{r.db_p50_ms:.1f} / {r.db_p99_ms:.1f}" if r.db_queries else "-",
                    "DB queries/s": f"{self.per_second(r.db_queries):,.0f}",
                    "expired/s": f"{self.per_second(r.expirations):,.1f}",
                    "evicted/s": f"{self.per_second(r.evictions):,.1f}",
                    f"memory ({self.memory_source})": f"{r.memory_bytes / 1024:,.0f} KiB",
                }
            )
        return out

    def _repr_html_(self) -> str:
        rows = self.rows()
        head = "".join(f"<th>{h}</th>" for h in rows[0])
        body = "".join(
            "<tr>"
            + "".join(f"<td>{'<b>' + v + '</b>' if r['prefix'] == 'all' else v}</td>" for v in r.values())
            + "</tr>"
            for r in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    def __str__(self) -> str:
        rows = self.rows()
        widths = {h: max(len(h), *(len(r[h]) for r in rows)) for h in rows[0]}
        lines = ["  ".join(h.rjust(w) for h, w in widths.items())]
        lines += ["  ".join(r[h].rjust(w) for h, w in widths.items()) for r in rows]
        return "\n".join(lines)


class MeteredStore(StoreWrapper):
    """A store that meters itself per key prefix; every command still reaches ``inner``.

    >>> from labkit.store import MemoryStore
    >>> m = MeteredStore(MemoryStore()); m.get("user:1"); m.set("user:1", "x"); m.get("user:1")
    'x'
    >>> m.reading().prefixes["user"].hit_ratio
    0.5
    """

    def __init__(self, inner: Store, *, prefix_depth: int = 1, timer: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(inner)
        if isinstance(prefix_depth, bool) or not isinstance(prefix_depth, int) or prefix_depth < 1:
            raise LabError(f"prefix_depth must be a whole number >= 1 (got {prefix_depth!r}).")
        self.prefix_depth = prefix_depth
        self._timer = timer
        self._lock = threading.Lock()
        self.restart()

    def restart(self) -> None:
        """Zero every counter.  The cache's contents are untouched, and so is what the
        meter knows of them (the keys it wrote, for memory and expirations)."""
        with self._lock:
            self._counters: dict[str, _Counters] = {}
            if not hasattr(self, "_written"):
                self._written: dict[str, tuple[float, int]] = {}  # key -> (expiry deadline, bytes)
            self._started = self.clock.now()

    def _for(self, key: str) -> _Counters:
        name = prefix_of(key, self.prefix_depth)
        counters = self._counters.get(name)
        if counters is None:
            counters = self._counters[name] = _Counters()
        return counters

    def _missed(self, key: str, counters: _Counters) -> None:
        # A key this meter wrote and cannot find: expired if its TTL has passed, else evicted.
        written = self._written.pop(key, None)
        if written is not None:
            if written[0] <= self.clock.now():
                counters.expirations += 1
            else:
                counters.evictions += 1

    def _lookup(self, key: str, value: str | None, seconds: float | None) -> None:
        with self._lock:
            counters = self._for(key)
            if seconds is not None:
                counters.cache_seconds.append(seconds)
            if value is None:
                counters.misses += 1
                self._missed(key, counters)
            else:
                counters.hits += 1

    # -- the metered commands ---------------------------------------------------------
    def get(self, key: str) -> str | None:
        start = self._timer()
        value = super().get(key)
        self._lookup(key, value, self._timer() - start)
        return value

    def get_many(self, keys: Iterable[str]) -> list[str | None]:
        keys = list(keys)
        start = self._timer()
        values = super().get_many(keys)
        each = (self._timer() - start) / max(len(keys), 1)
        for key, value in zip(keys, values, strict=True):
            self._lookup(key, value, each)
        return values

    def set(self, key: str, value: str, ttl_seconds: float | None = None, *, nx: bool = False) -> bool:
        start = self._timer()
        stored = super().set(key, value, ttl_seconds, nx=nx)
        seconds = self._timer() - start
        if stored:
            deadline = float("inf") if ttl_seconds is None else self.clock.now() + ttl_seconds
            size = bytes_per_key(self.k(key), str(value), ttl=ttl_seconds is not None)
            with self._lock:
                counters = self._for(key)
                counters.sets += 1
                counters.cache_seconds.append(seconds)
                self._written[key] = (deadline, size)
        return stored

    def delete(self, *keys: str) -> int:
        removed = super().delete(*keys)
        with self._lock:
            for key in keys:
                self._written.pop(key, None)
        return removed

    def db_read(self, key: str, loader: Callable[[], Any]) -> Any:
        """Run ``loader()`` (the database read behind ``key``), timing it under the key's prefix."""
        start = self._timer()
        value = loader()
        self.record_db(key, self._timer() - start)
        return value

    def record_db(self, key: str, seconds: float) -> None:
        """Record one database read of ``seconds`` for ``key``'s prefix (a replay's own timing)."""
        with self._lock:
            counters = self._for(key)
            counters.db_queries += 1
            counters.db_seconds.append(float(seconds))

    # -- reading ------------------------------------------------------------------------
    def reading(self) -> MeterReading:
        """Every prefix's numbers now.  Keys whose TTL has passed count as expired."""
        now = self.clock.now()
        with self._lock:
            for key, (deadline, _size) in list(self._written.items()):
                if deadline <= now:
                    del self._written[key]
                    self._for(key).expirations += 1
            memory: dict[str, int] = {}
            for key, (_deadline, size) in self._written.items():
                name = prefix_of(key, self.prefix_depth)
                memory[name] = memory.get(name, 0) + size
            prefixes = {name: _read(name, c, memory.get(name, 0)) for name, c in sorted(self._counters.items())}
            everything = _Counters()
            for c in self._counters.values():
                for field in ("hits", "misses", "sets", "db_queries", "expirations", "evictions"):
                    setattr(everything, field, getattr(everything, field) + getattr(c, field))
            cache_all = [s for c in self._counters.values() for s in c.cache_seconds]
            db_all = [s for c in self._counters.values() for s in c.db_seconds]
        overall = _read("all", everything, sum(memory.values()), cache_all, db_all)
        return MeterReading(seconds=now - self._started, prefixes=prefixes, overall=overall)


def _read(
    name: str, c: _Counters, memory_bytes: int, cache: Iterable[float] | None = None, db: Iterable[float] | None = None
) -> PrefixReading:
    cache = list(c.cache_seconds if cache is None else cache)
    db = list(c.db_seconds if db is None else db)
    return PrefixReading(
        prefix=name,
        hits=c.hits,
        misses=c.misses,
        sets=c.sets,
        db_queries=c.db_queries,
        expirations=c.expirations,
        evictions=c.evictions,
        memory_bytes=memory_bytes,
        cache_p50_ms=_ms(cache, 50),
        cache_p99_ms=_ms(cache, 99),
        db_p50_ms=_ms(db, 50),
        db_p99_ms=_ms(db, 99),
    )
