"""The numbers notebook 01's prose states, computed with the notebook's settings.

The side-by-side numbers come from the replay at ``patterns.explore()``'s starting
values (:data:`~.replay.EXPLORE_DEFAULTS`); the crash numbers from ``crash_demo``
with its defaults, on the in-process store (the demo runs on a virtual clock, so
every backend gives the same counts).
"""

from __future__ import annotations

from typing import Any

from ..claims import claim
from ..clock import VirtualClock
from ..memo import memo
from ..store import MemoryStore
from .demos import CrashReport, crash_demo
from .replay import EXPLORE_DEFAULTS, PatternReport, compare

NOTEBOOK = "01"


@memo(maxsize=4)
def _side_by_side(**changes: Any) -> dict[str, PatternReport]:
    return compare(**{**EXPLORE_DEFAULTS, **changes})


@memo(maxsize=1)
def _crash() -> CrashReport:
    return crash_demo(MemoryStore(VirtualClock(), namespace="claims-01"))


@claim("through_reads_less", notebook=NOTEBOOK,
       fact="write-through reads the database about three times less than cache-aside",
       holds=lambda v: 2.5 <= v <= 4.0)
def through_reads_less() -> float:
    runs = _side_by_side()
    return runs["cache-aside"].db_reads / runs["write-through"].db_reads


@claim("behind_write_queries", notebook=NOTEBOOK,
       fact="write-behind sends a handful of batched write queries (hundreds of writes, at most 10 queries)",
       holds=lambda v: 1 <= v <= 10)
def behind_write_queries() -> int:
    return _side_by_side()["write-behind"].db_write_queries


@claim("behind_app_writes", notebook=NOTEBOOK, fact="the app made hundreds of writes (over 100)",
       holds=lambda v: v > 100)
def behind_app_writes() -> int:
    return _side_by_side()["write-behind"].writes


@claim("behind_ahead_share", notebook=NOTEBOOK,
       fact="for about half of write-behind's reads the database did not have the value yet",
       holds=lambda v: 0.35 <= v <= 0.65)
def behind_ahead_share() -> float:
    return _side_by_side()["write-behind"].ahead_of_db_share


@claim("aside_hit_ratio_half_writes", notebook=NOTEBOOK,
       fact="at 50% writes cache-aside's hit ratio falls below one half", holds=lambda v: v < 0.5)
def aside_hit_ratio_half_writes() -> float:
    return _side_by_side(write_ratio=0.5)["cache-aside"].hit_ratio


@claim("crash_lost", notebook=NOTEBOOK,
       fact="the crash loses a handful of increments: under half a second's worth (at most 10 of 20/s)",
       holds=lambda v: 1 <= v <= 10)
def crash_lost() -> int:
    return _crash().lost


@claim("crash_acknowledged", notebook=NOTEBOOK, fact="dozens of increments were acknowledged before the crash",
       holds=lambda v: 30 <= v <= 60)
def crash_acknowledged() -> int:
    return _crash().acknowledged_writes


@claim("aside_median_read_ms_half_writes", notebook=NOTEBOOK,
       fact="at 50% writes cache-aside's median read pays a database query (>= the 5 ms query) "
            "while write-through's median read is still a hit (under 1 ms)",
       holds=lambda v: v >= EXPLORE_DEFAULTS["db_latency_ms"]
       and _side_by_side(write_ratio=0.5)["write-through"].read_p50_ms < 1.0)
def aside_median_read_ms_half_writes() -> float:
    return _side_by_side(write_ratio=0.5)["cache-aside"].read_p50_ms
