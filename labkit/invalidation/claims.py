"""The numbers notebook 02's prose states, computed with the notebook's own settings.

Every run is seeded on a virtual clock over the in-process store, so each value is
the same on every machine; ``holds`` states the teaching fact, not the number.
"""

from __future__ import annotations

import itertools

from ..claims import claim
from ..memo import memo
from ..store import MemoryStore
from .near import EventRun, simulate_events
from .race import BAD_INTERLEAVING, replay
from .ttl_only import simulate_ttl

NOTEBOOK_TTL_SECONDS = 30.0  # explore_ttl's default
NEAR_TTL_SECONDS = 20.0  # explore_events' default


def _store(name: str) -> MemoryStore:
    return MemoryStore(namespace=f"claims-02-{name}", learner="claims")


@claim("ttl_stale_share", notebook="02",
       fact="with a 30 s TTL and no invalidation, a sizeable minority of reads (10-22%) is stale",
       holds=lambda v: 0.10 <= v <= 0.22)
def ttl_stale_share() -> float:
    return simulate_ttl(NOTEBOOK_TTL_SECONDS).stale_share


@claim("ttl_hit_ratio", notebook="02", fact="the same 30 s TTL still gives a hit ratio above 95%",
       holds=lambda v: v > 0.95)
def ttl_hit_ratio() -> float:
    return simulate_ttl(NOTEBOOK_TTL_SECONDS).hit_ratio


@claim("ttl_oldest_read", notebook="02",
       fact="no stale read is older than the TTL, and the oldest comes close to it (over 3/4 of it)",
       holds=lambda v: 0.75 * NOTEBOOK_TTL_SECONDS < v < NOTEBOOK_TTL_SECONDS)
def ttl_oldest_read() -> float:
    return simulate_ttl(NOTEBOOK_TTL_SECONDS).max_stale_age_seconds


@memo(maxsize=4)
def _events(flush_on_loss: bool) -> EventRun:
    return simulate_events(_store(f"events-{flush_on_loss}"), near_ttl_seconds=NEAR_TTL_SECONDS,
                           lose_message=True, flush_on_loss=flush_on_loss)


@claim("lost_message_stale_until", notebook="02",
       fact="instance C, which missed a message, is rescued by its own TTL (copy made at 1 s + 20 s), "
            "long before the next write at 40 s",
       holds=lambda v: v == 1 + NEAR_TTL_SECONDS)
def lost_message_stale_until() -> float:
    return _events(False).stale_until["C"]


@claim("lost_message_stale_reads", notebook="02",
       fact="C serves the old row for a whole stretch of reads (10 or more) until its TTL ends it",
       holds=lambda v: 10 <= v <= NEAR_TTL_SECONDS)
def lost_message_stale_reads() -> int:
    return _events(False).stale_reads["C"]


@claim("flushed_stale_reads", notebook="02",
       fact="a near cache that flushes on reconnect is stale only while it is away (at most 3 reads), "
            "far fewer than without the flush",
       holds=lambda v: 1 <= v <= 3 and v < lost_message_stale_reads())
def flushed_stale_reads() -> int:
    return _events(True).stale_reads["C"]


@claim("orders_that_break_naive", notebook="02",
       fact="of the 10 orders of a reader's 3 steps and a writer's 2, exactly one leaves naive "
            "cache-aside stale (the race is narrow)",
       holds=lambda v: v == 1)
def orders_that_break_naive() -> int:
    store = _store("orders")
    orders = [tuple("writer" if i in at else "reader" for i in range(len(BAD_INTERLEAVING)))
              for at in itertools.combinations(range(len(BAD_INTERLEAVING)), 2)]
    return sum(replay(store, "naive", order).stale for order in orders)


@claim("short_ttl_stale_seconds", notebook="02",
       fact="delete after commit + a 5 s TTL does not prevent the stale set, it caps it at the short TTL",
       holds=lambda v: 0 < v <= 5)
def short_ttl_stale_seconds() -> float:
    return replay(_store("short"), "short-ttl").stale_for_seconds
