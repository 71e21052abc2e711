"""The stale-set race across machines: filling a cache from a lagging database replica.

Cache-aside with "update the database, then delete the key" is safe on one machine
(apart from the narrow race of notebook 02).  Add read replicas and it breaks
wide open: the reader that refills the key after the delete reads a replica that
has not applied the write yet, and puts the old row back for a whole TTL.  Facebook's
memcache (Nishtala et al., NSDI 2013) meets this across regions and marks such keys;
the simple fixes are to fill from the primary, or to delete again once the lag has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..clock import VirtualClock
from ..database import Database, Row
from ..errors import check_choice, check_positive
from ..metrics import StalenessMeter
from ..store import MemoryStore

__all__ = ["FILLS", "ReplicaFill", "replica_fill_race"]

FILLS = ("from the replica", "from the primary", "from the replica + delete again after the lag")


class _LaggingReplica:
    """A database read replica that applies each commit ``lag_seconds`` after it happened."""

    def __init__(self, db: Database, lag_seconds: float) -> None:
        self.db, self.lag_seconds = db, lag_seconds
        self._log: dict[int, list[tuple[float, Row]]] = {}

    def committed(self, row: Row) -> None:
        self._log.setdefault(row.id, []).append((self.db.clock.now(), row))

    def read(self, row_id: int) -> Row:
        cutoff = self.db.clock.now() - self.lag_seconds
        applied = [row for t, row in self._log.get(row_id, []) if t <= cutoff]
        return applied[-1] if applied else self._log[row_id][0][1]


@dataclass
class ReplicaFill:
    fill: str
    stale_reads: int
    reads: int
    timeline: list[dict[str, Any]]


def replica_fill_race(fill: str, *, lag_seconds: float = 0.5, ttl_seconds: float = 60.0,
                      read_every_seconds: float = 1.0) -> ReplicaFill:
    """One write, one unlucky refill 50 ms later, then a reader every second for a TTL."""
    check_choice("fill", fill, FILLS)
    check_positive("lag_seconds", lag_seconds, "s")
    clock = VirtualClock()
    db = Database(clock, rows=1, latency_seconds=0.0)
    replica = _LaggingReplica(db, lag_seconds)
    replica.committed(db.peek(0))
    cache = MemoryStore(clock, namespace="race-09")
    cache.set("row:0", db.peek(0).to_cache(), ttl_seconds)
    timeline: list[dict[str, Any]] = []

    def note(who: str, what: str) -> None:
        held = cache.get("row:0")
        timeline.append({"t (s)": round(clock.now(), 2), "who": who, "does": what,
                         "cache holds": f"v{Row.from_cache(held).version}" if held else "(nothing)"})

    clock.advance(1.0)
    replica.committed(db.write(0, "new price"))
    note("writer", "commits v2 on the primary")
    cache.delete("row:0")
    note("writer", "deletes the cached row")
    clock.advance(0.05)
    source = db.peek(0) if fill == "from the primary" else replica.read(0)
    where = "primary" if fill == "from the primary" else "replica"
    cache.set("row:0", source.to_cache(), ttl_seconds)
    note("reader", f"misses, reads v{source.version} from the {where}, fills the cache")
    if fill.endswith("after the lag"):
        clock.advance(lag_seconds)
        cache.delete("row:0")
        note("writer", f"deletes again {lag_seconds:g} s later")
    meter = StalenessMeter(db)
    end = 1.0 + ttl_seconds
    while clock.now() + read_every_seconds <= end:
        clock.advance(read_every_seconds)
        held = cache.get("row:0")
        row = Row.from_cache(held) if held else replica.read(0) if fill != "from the primary" else db.peek(0)
        if held is None:
            cache.set("row:0", row.to_cache(), ttl_seconds)
        meter.observe(0, row.version)
    note("reader", f"after {meter.reads} reads, one a second")
    db.close()
    return ReplicaFill(fill, meter.stale_reads, meter.reads, timeline)
