"""Cache stampede: the herd, and the defenses measured against one query per expiry.

==================  ===================================================================
``defenses``        the cache entry (value + logical expiry + recompute time), the
                    locks (the common recipe and the correct one), single-flight,
                    XFetch, stale-while-revalidate: one reader's request under each
``herd``            the live herd: N real threads on one hot key (``run_herd``), the
                    expired-lock scenario, and a step-by-step replay of any lock
``simulation``      the same on a virtual clock: 10,000 clients over an hour in well
                    under two seconds, TTL jitter for many keys, the cost of protection
``preview``         the live experiments' virtual-clock twins (what a slider shows)
``loader``          a complete loader's five properties, each checked by a replay
``loaders``         the reference loader and the common mistakes it is graded against
``lesson``          the notebook's live charts and exercises (loaded on use)
``claims``          the numbers notebook 04's prose states
==================  ===================================================================
"""

from __future__ import annotations

from ..course import lesson_attributes
from . import simulation
from .defenses import (
    DEFENSES,
    CacheUnavailable,
    Entry,
    HotKey,
    Lease,
    Outcome,
    Settings,
    SingleFlight,
    acquire_lock,
    naive_acquire,
    naive_release,
    release_lock,
)
from .herd import HerdReport, replay_lock, run_expired_lock, run_herd
from .loader import DB_DOWN, NOT_FOUND, pack, unpack
from .preview import preview_expired_lock, preview_herd, preview_stall
from .simulation import *  # noqa: F403 - the package exports the simulation's __all__ (added below)

__all__ = [
    "DEFENSES",
    "CacheUnavailable",
    "Entry",
    "HotKey",
    "Lease",
    "Outcome",
    "Settings",
    "SingleFlight",
    "acquire_lock",
    "release_lock",
    "naive_acquire",
    "naive_release",
    "HerdReport",
    "run_herd",
    "run_expired_lock",
    "replay_lock",
    "preview_herd",
    "preview_expired_lock",
    "preview_stall",
    "NOT_FOUND",
    "DB_DOWN",
    "pack",
    "unpack",
    *simulation.__all__,
]

# The lesson layer (charts, widgets) loads when a notebook first asks for it.
_LESSON = {"explore_herd", "explore_lock_ttl", "explore_stall", "compare_defenses", "explore_xfetch",
           "explore_jitter", "explore_protection", "common_lock_replay", "exercises"}


__getattr__ = lesson_attributes(__name__, _LESSON)
