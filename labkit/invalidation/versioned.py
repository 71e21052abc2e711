"""Versioned keys: retire a whole namespace with one command, no SCAN.

Keys carry a generation read from one counter (``tenant:7:v3:user:42``); one INCR
makes every old key unreachable (:class:`VersionedNamespace`).  The alternative,
:func:`scan_and_delete`, walks the whole keyspace: SCAN visits every key in the
database, matching or not, about 1,000 per call because labkit asks for
``COUNT 1000`` (Redis's default is 10).  :func:`redis_scan_calls` counts those
calls - the one place this lesson sends a raw Redis command.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from ..errors import LabError, check_positive, check_ttl
from ..store import Store
from ..wrappers import RecordingStore

# What labkit passes to SCAN (the store's scan_keys does the same); Redis's default is 10.
SCAN_COUNT = 1000

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
        """Write ``count`` keys ``item:0..`` in the current generation; returns that generation."""
        count = int(check_positive("count", count))
        gen = self.generation()
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


def redis_scan_calls(store: Store, pattern: str = "*") -> int | None:
    """How many SCAN calls (``COUNT 1000``) finding ``pattern`` takes on this store's Redis.

    SCAN pages through the whole database, so the count grows with every key the
    server holds, not only the matches.  None for a store without a Redis client
    (the in-process store has no SCAN).  This is the lesson's raw Redis command.
    """
    client = getattr(store, "client", None)
    if client is None:
        return None
    calls, cursor = 0, 0
    while True:
        cursor, _ = client.scan(cursor, match=store.k(pattern), count=SCAN_COUNT)
        calls += 1
        if int(cursor) == 0:
            return calls


def compare_bump_and_scan(store: Store, keys: int = 2000, *, name: str = "tenant:7") -> dict[str, Any]:
    """Fill one namespace with ``keys`` keys, then invalidate it both ways and time each.

    First a generation bump (the old keys become unreachable), then SCAN+DEL of
    those same old keys, as a namespace without versions would have to do.
    Commands are counted through a :class:`~labkit.wrappers.RecordingStore`; SCAN's
    own round trips by :func:`redis_scan_calls`.
    """
    ns = VersionedNamespace(store, name)
    old_generation = ns.fill(keys)
    recorder = RecordingStore(store)
    bump_ns = VersionedNamespace(recorder, name)
    start = time.perf_counter()
    bump_ns.bump()
    bump_seconds = time.perf_counter() - start
    bump_log = recorder.log
    reachable_after_bump = ns.get("item:0") is not None
    pattern = f"{name}:v{old_generation}:*"
    scan_calls = redis_scan_calls(store, pattern) or 1
    recorder.clear()
    start = time.perf_counter()
    deleted = scan_and_delete(recorder, pattern)
    scan_seconds = time.perf_counter() - start
    delete_batches = len(recorder.commands("delete"))
    store.delete(ns.generation_key)
    return {
        "keys": keys,
        "bump_seconds": bump_seconds,
        "bump_round_trips": len(bump_log),
        "bump_scanned": any(row["command"] == "scan_keys" for row in bump_log),
        "old_key_reachable_after_bump": reachable_after_bump,
        "scan_seconds": scan_seconds,
        "scan_calls": scan_calls,
        "delete_batches": delete_batches,
        "scan_round_trips": scan_calls + delete_batches,
        "scan_deleted": deleted,
    }
