"""Caching patterns: cache-aside, read-through, write-through and write-behind.

``core`` holds the four patterns behind one interface (``read``, ``write``,
``close``); ``replay`` runs one workload through all four on a virtual clock;
``lab`` holds what notebook 01 shows: walk-throughs on the real store, the race
and crash demos, the live comparison and the exercises.
"""

from __future__ import annotations

from .core import (
    PATTERNS,
    CacheAside,
    Pattern,
    PatternStats,
    ReadThrough,
    ReadThroughCache,
    WriteBehind,
    WriteThrough,
    cache_key,
    make_pattern,
    set_if_newer,
)
from .lab import CrashReport, crash_demo, draw_comparison, exercises, explore, race_demo, walkthrough
from .replay import PatternReport, compare, lost_writes_by_db_state

__all__ = [
    "PATTERNS",
    "Pattern",
    "PatternStats",
    "CacheAside",
    "ReadThrough",
    "ReadThroughCache",
    "WriteThrough",
    "WriteBehind",
    "make_pattern",
    "cache_key",
    "set_if_newer",
    "PatternReport",
    "compare",
    "lost_writes_by_db_state",
    "walkthrough",
    "race_demo",
    "crash_demo",
    "CrashReport",
    "explore",
    "draw_comparison",
    "exercises",
]
