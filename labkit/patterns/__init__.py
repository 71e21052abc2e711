"""Caching patterns: cache-aside, read-through, write-through and write-behind.

The engine, exported here:

* ``core`` - the four patterns behind one interface (``read``, ``write``, ``close``);
* ``replay`` - one workload through all four on a virtual clock, and the
  interleavings the race replays use;
* ``demos`` - step-by-step tables on the notebook's own store (walk-through,
  race, crash);
* ``grader`` - the replays that grade a learner's cache-aside.

The lesson layer (``explore``, ``draw_comparison``, ``exercises``) loads on first use.
"""

from __future__ import annotations

from ..course import lesson_attributes
from .core import (
    PATTERNS,
    CacheAside,
    Pattern,
    PatternStats,
    ReadThrough,
    ReadThroughCache,
    WriteBehind,
    WriteThrough,
    cache_if_newer,
    cache_key,
    make_pattern,
    parse_cached,
)
from .demos import PAGE_VIEWS, CrashReport, PageViews, Table, crash_demo, race_demo, walkthrough
from .grader import CacheAsideBase
from .replay import PatternReport, compare, lost_writes_by_db_state

__all__ = [  # the engine's names, then the lesson's (loaded on use)
    "PATTERNS", "Pattern", "PatternStats", "CacheAside", "ReadThrough", "ReadThroughCache",
    "WriteThrough", "WriteBehind", "make_pattern", "cache_key", "parse_cached", "cache_if_newer",
    "PatternReport",
    "compare",
    "lost_writes_by_db_state",
    "Table",
    "walkthrough",
    "race_demo",
    "crash_demo",
    "CrashReport",
    "PageViews",
    "PAGE_VIEWS",
    "CacheAsideBase",
    "explore",
    "draw_comparison",
    "exercises",
]

_LESSON = {"explore", "draw_comparison", "exercises", "FITS"}


__getattr__ = lesson_attributes(__name__, _LESSON)
