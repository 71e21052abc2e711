"""Cache stampede: the herd, and the defenses measured against one query per expiry.

==================  ===================================================================
``lock``            the common recipe's lock, the correct lock and its lease
``single_flight``   one call per key per process, the others wait for its result
``xfetch``          probabilistic early recompute: one reader's decision
``defenses``        the cache entry (value + logical expiry + recompute time) and one
                    reader's request under each defense (stale-while-revalidate's here)
``herd``            the herd: N threads on one hot key (``run_herd``), live on the wall
                    clock or on an ``AutoClock``; the expired-lock scenario, and a
                    step-by-step replay of any lock
``preview``         the live experiments on virtual time (what a slider shows): the
                    same herd, the same defense code
``simulation``      the expiry-window model for scale: 10,000 clients over an hour,
                    TTL jitter for many keys, the cost of protection
``loader``          a complete loader's five properties, each checked by a replay
``loaders``         the reference loader and the common mistakes it is graded against
``lesson``          the notebook's live charts and exercises (loaded on use)
``claims``          the numbers notebook 04's prose states
==================  ===================================================================
"""

from __future__ import annotations

from ..course import lesson_attributes
from . import simulation
from .defenses import DEFENSES, CacheUnavailable, Entry, HotKey, Outcome, Settings
from .herd import HerdReport, replay_lock, run_expired_lock, run_herd
from .loader import DB_DOWN, NOT_FOUND, pack, unpack
from .lock import Lease, acquire_lock, naive_acquire, naive_release, release_lock
from .preview import preview_expired_lock, preview_herd, preview_stall
from .simulation import *  # noqa: F403 - the package exports the simulation's __all__ (added below)
from .single_flight import SingleFlight
from .xfetch import refresh_early

__all__ = [
    "DEFENSES",
    "CacheUnavailable",
    "Entry",
    "HotKey",
    "Lease",
    "Outcome",
    "Settings",
    "SingleFlight",
    "refresh_early",
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
