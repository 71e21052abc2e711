"""Reading Redis itself: ``INFO``, ``MEMORY USAGE``, ``OBJECT FREQ``, ``SLOWLOG``,
and the key scans of ``redis-cli --hotkeys / --bigkeys / --memkeys``.

On a real server these are the server's own numbers.  fakeredis (and the
in-process store) have none of these commands, so each reader falls back to the
same figure computed by labkit - from a :class:`~.metered.MeteredStore`'s counts
and :func:`~.cost.string_key_bytes` - and every reading says which it is
(``source="server"`` or ``"computed"``).

Nothing here changes a server: these are read-only commands, and the scans walk
only the lab's own keys (``store.prefix``).  ``INFO`` counters are server-wide, so
:func:`read_info` reports the change between two readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..store import Store
from .cost import string_key_bytes
from .metered import MeteredStore

__all__ = [
    "Reading",
    "server_client",
    "info_snapshot",
    "read_info",
    "memory_usage",
    "lfu_counter",
    "object_freq",
    "slowlog",
    "KeyFinding",
    "scan_keys",
    "big_keys",
    "mem_keys",
    "hot_keys",
]

INFO_FIELDS = (
    "keyspace_hits",
    "keyspace_misses",
    "evicted_keys",
    "expired_keys",
    "used_memory",
    "mem_fragmentation_ratio",
    "maxmemory",
    "maxmemory_policy",
)
_COUNTERS = ("keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys")


@dataclass(frozen=True)
class Reading:
    """One number, where it came from, and what it means."""

    name: str
    value: Any
    source: str  # "server" (Redis said so) or "computed" (labkit worked it out)
    meaning: str

    def as_row(self) -> dict[str, str]:
        value = (
            f"{self.value:,}"
            if isinstance(self.value, int)
            else (f"{self.value:.3g}" if isinstance(self.value, float) else str(self.value))
        )
        return {"figure": self.name, "value": value, "source": self.source, "what it tells you": self.meaning}


def server_client(store: Store) -> Any | None:
    """The redis-py client of a real server behind ``store``, or None (fakeredis, memory).

    The one place this lesson reaches past the store contract: these commands are
    about Redis itself."""
    inner = store
    while hasattr(inner, "inner"):  # unwrap StoreWrappers
        inner = inner.inner
    if getattr(inner, "backend", None) != "redis":
        return None
    return getattr(inner, "client", None)


def info_snapshot(store: Store) -> dict[str, Any] | None:
    """The ``INFO stats`` and ``INFO memory`` fields this lesson reads, or None without a server."""
    client = server_client(store)
    if client is None:
        return None
    try:
        info = {**client.info("stats"), **client.info("memory")}
    except Exception:  # noqa: BLE001 - a server that refuses INFO is read as "no server"
        return None
    return {name: info.get(name) for name in INFO_FIELDS}


def read_info(store: Store, meter: MeteredStore | None = None, before: dict[str, Any] | None = None) -> list[Reading]:
    """The INFO figures a cache is watched by.  On a real server: the change in its
    counters since ``before`` (an :func:`info_snapshot`) - server-wide, other clients
    included - and its memory now.  Otherwise computed from ``meter``."""
    now = info_snapshot(store)
    if now is not None:
        base = before or {}
        delta = {name: int(now[name]) - int(base.get(name) or 0) for name in _COUNTERS}
        looked = delta["keyspace_hits"] + delta["keyspace_misses"]
        return [
            Reading("keyspace_hits", delta["keyspace_hits"], "server", "GETs that found a key (whole server)"),
            Reading("keyspace_misses", delta["keyspace_misses"], "server", "GETs that found nothing"),
            Reading(
                "hit ratio",
                delta["keyspace_hits"] / looked if looked else 0.0,
                "server",
                "hits / (hits + misses) - every client's, not only yours",
            ),
            Reading("evicted_keys", delta["evicted_keys"], "server", "keys thrown out to stay under maxmemory"),
            Reading("expired_keys", delta["expired_keys"], "server", "keys removed because their TTL ran out"),
            Reading(
                "used_memory", int(now["used_memory"]), "server", "bytes the allocator holds for data and overhead"
            ),
            Reading(
                "mem_fragmentation_ratio",
                float(now["mem_fragmentation_ratio"] or 0.0),
                "server",
                "RSS / used_memory: above ~1.5 on a full server, memory is lost to fragmentation "
                "(a nearly empty server reads high: RSS holds the allocator's fixed pools)",
            ),
        ]
    if meter is None:
        return [Reading("INFO", "unavailable", "computed", "no server and no metered store to compute from")]
    r = meter.reading().overall
    return [
        Reading("keyspace_hits", r.hits, "computed", "hits the metered store counted"),
        Reading("keyspace_misses", r.misses, "computed", "misses the metered store counted"),
        Reading("hit ratio", r.hit_ratio, "computed", "hits / (hits + misses), this app only"),
        Reading("evicted_keys", r.evictions, "computed", "keys it wrote that vanished before their TTL"),
        Reading("expired_keys", r.expirations, "computed", "keys it wrote whose TTL has passed"),
        Reading("used_memory", r.memory_bytes, "computed", "MEMORY USAGE's formula over the live keys it wrote"),
        Reading("mem_fragmentation_ratio", "n/a", "computed", "only a real allocator can say"),
    ]


def memory_usage(store: Store, key: str) -> Reading:
    """``MEMORY USAGE`` of one of the lab's keys (server), or the same formula computed."""
    client = server_client(store)
    if client is not None:
        try:
            value = client.memory_usage(store.k(key), samples=0)
        except Exception:  # noqa: BLE001
            value = None
        if value is not None:
            return Reading(f"MEMORY USAGE {key}", int(value), "server", "bytes this key holds, overhead included")
    stored = store.get(key)
    if stored is None:
        return Reading(f"MEMORY USAGE {key}", 0, "computed", "no such key")
    return Reading(
        f"MEMORY USAGE {key}",
        string_key_bytes(store.k(key), stored),
        "computed",
        "dict entry + key name + value object, rounded to jemalloc's size classes",
    )


def lfu_counter(accesses: int, *, log_factor: int = 10, seed: int = 0) -> int:
    """The 8-bit counter Redis's LFU keeps for a key read ``accesses`` times (no decay):
    it starts at 5 and each access raises it with probability 1 / ((counter - 5) * log_factor + 1),
    so it grows like a logarithm and tops out at 255."""
    rng = np.random.default_rng(seed)
    counter = 5
    draws = rng.random(accesses)
    for r in draws:
        if counter >= 255:
            break
        if r < 1.0 / ((counter - 5) * log_factor + 1):
            counter += 1
    return counter


def object_freq(store: Store, key: str, accesses: int | None = None) -> Reading:
    """``OBJECT FREQ`` (only under an LFU policy), or the counter computed from ``accesses``."""
    client = server_client(store)
    if client is not None:
        try:
            return Reading(
                f"OBJECT FREQ {key}",
                int(client.object("freq", store.k(key))),
                "server",
                "Redis's logarithmic access counter (0-255)",
            )
        except Exception:  # noqa: BLE001 - "An LFU maxmemory policy is not selected"
            pass
    if accesses is None:
        return Reading(f"OBJECT FREQ {key}", "n/a", "computed", "needs an LFU policy on the server, or an access count")
    return Reading(
        f"OBJECT FREQ {key}",
        lfu_counter(accesses),
        "computed",
        f"the LFU counter {accesses:,} reads would give (lfu-log-factor 10)",
    )


def slowlog(store: Store, count: int = 5, meter: MeteredStore | None = None) -> tuple[str, list[dict[str, Any]]]:
    """``SLOWLOG GET`` rows (server execution time), or the slowest round trips the
    meter saw (client side: network and client included, not the same figure)."""
    client = server_client(store)
    if client is not None:
        try:
            entries = client.slowlog_get(count)
            return "server", [
                {
                    "duration (µs)": e["duration"],
                    "command": " ".join(str(a) for a in e["command"][:3])
                    if isinstance(e["command"], list)
                    else str(e["command"])[:60],
                }
                for e in entries
            ]
        except Exception:  # noqa: BLE001
            pass
    if meter is None:
        return "computed", []
    reading = meter.reading()
    rows = [{"prefix": name, "cache p99 (µs)": round(r.cache_p99_ms * 1000, 1)} for name, r in reading.prefixes.items()]
    return "computed", sorted(rows, key=lambda r: -r["cache p99 (µs)"])[:count]


# -- key scans (redis-cli --bigkeys / --memkeys / --hotkeys) ------------------------------


@dataclass(frozen=True)
class KeyFinding:
    key: str
    value_bytes: int
    memory_bytes: int
    reads: int | None
    source: str


def scan_keys(store: Store, pattern: str = "*", reads: dict[str, int] | None = None) -> list[KeyFinding]:
    """Every lab key matching ``pattern`` with its size, memory and (if known) reads.

    One SCAN, then a pipeline of STRLEN + MEMORY USAGE on a real server; elsewhere the
    values are read and their memory computed."""
    keys = sorted(store.scan_keys(pattern))
    client = server_client(store)
    reads = reads or {}
    out: list[KeyFinding] = []
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.strlen(store.k(key))
                pipe.memory_usage(store.k(key), samples=0)
            answers = pipe.execute()
            for i, key in enumerate(keys):
                out.append(KeyFinding(key, int(answers[2 * i]), int(answers[2 * i + 1] or 0), reads.get(key), "server"))
            return out
        except Exception:  # noqa: BLE001 - fall back to computing
            out = []
    for key, value in zip(keys, store.get_many(keys), strict=True):
        if value is not None:
            out.append(
                KeyFinding(key, len(value.encode()), string_key_bytes(store.k(key), value), reads.get(key), "computed")
            )
    return out


def big_keys(store: Store, n: int = 5, pattern: str = "*") -> list[KeyFinding]:
    """The ``n`` longest values (``--bigkeys`` reports the biggest by length)."""
    return sorted(scan_keys(store, pattern), key=lambda f: -f.value_bytes)[:n]


def mem_keys(store: Store, n: int = 5, pattern: str = "*") -> list[KeyFinding]:
    """The ``n`` keys holding the most memory (``--memkeys``, from MEMORY USAGE)."""
    return sorted(scan_keys(store, pattern), key=lambda f: -f.memory_bytes)[:n]


def hot_keys(reads: dict[str, int], n: int = 5) -> list[tuple[str, int, int]]:
    """The ``n`` most-read keys with their read count and LFU counter (``--hotkeys``
    ranks by ``OBJECT FREQ``; here computed from counted reads)."""
    top = sorted(reads.items(), key=lambda kv: -kv[1])[:n]
    return [(key, count, lfu_counter(count)) for key, count in top]
