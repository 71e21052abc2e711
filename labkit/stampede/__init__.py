"""Cache stampede: the herd, and the defenses measured against one query per expiry.

==================  ===================================================================
``defenses``        the cache entry (value + logical expiry + recompute time), the
                    locks (naive and correct), single-flight, XFetch, stale-while-
                    revalidate: one reader's request under each
``herd``            the live herd: N real threads on one hot key (``run_herd``), the
                    expired-lock scenario, and a step-by-step replay of any lock
``simulation``      the same on a virtual clock: 10,000 clients over an hour in well
                    under two seconds, TTL jitter for many keys, the cost of protection
``lesson``          the notebook's live charts and exercises
==================  ===================================================================
"""

from __future__ import annotations

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
from .lesson import (
    brief_lock_replay,
    compare_defenses,
    exercises,
    explore_herd,
    explore_jitter,
    explore_lock_ttl,
    explore_protection,
    explore_stall,
    explore_xfetch,
)
from .simulation import (
    SIM_DEFENSES,
    poisson_arrivals,
    protection_costs,
    simulate_herd,
    simulate_traffic,
    synchronized_expiry,
)

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
    "SIM_DEFENSES",
    "simulate_herd",
    "simulate_traffic",
    "poisson_arrivals",
    "synchronized_expiry",
    "protection_costs",
    "explore_herd",
    "explore_lock_ttl",
    "explore_stall",
    "compare_defenses",
    "explore_xfetch",
    "explore_jitter",
    "explore_protection",
    "brief_lock_replay",
    "exercises",
]
