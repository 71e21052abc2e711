"""Invalidation: how a cached copy finds out that the database has moved on.

Four mechanisms, each one something you can run and measure:

==============  ===================================================================
``ttl_only``    the backstop: with no other invalidation a reader sees an old value
                for at most the TTL (:func:`simulate_ttl`); stacked TTLs add up
``near``        event-driven: a writer publishes the key it changed, every app
                instance's near cache drops it (:class:`InvalidationBus`,
                :class:`AppInstance`); numbered messages let a near cache notice a
                lost one and flush (:class:`LossSafeNearCache`)
``lossy``       replays that lose, reorder and cut off messages, against any near cache
``versioned``   keys carry a generation (``tenant:7:v3:user:42``); one INCR retires
                them all, with no SCAN (:class:`VersionedNamespace`)
``race``        the stale-set race in cache-aside, step by step, and three fixes
                (:class:`RaceStepper`, :func:`replay`, :func:`run_concurrent`); the
                version guard is the store contract's ``set_if_newer``
``lesson``      the notebook's live charts and exercises (loaded on first use)
``claims``      the numbers notebook 02's prose states
==============  ===================================================================

Cache keys are ``item:<id>`` and values are :meth:`Row.to_cache` strings, so the
staleness meter can compare a cached version with the database's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..course import lesson_attributes
from .lossy import LOSSY_SCENARIOS, LossyRun, run_lossy_scenario
from .near import (
    AppInstance,
    EventRun,
    InvalidationBus,
    LossSafeNearCache,
    NearCache,
    simulate_events,
    write_and_publish,
)
from .race import (
    BAD_INTERLEAVING,
    LEASE_PREFIX,
    STRATEGIES,
    STRATEGY_LABELS,
    THREADED_RACE,
    ConcurrentResult,
    RaceEvent,
    RaceOutcome,
    RaceSettings,
    RaceStepper,
    ReadResult,
    ThreadedRace,
    cached_row,
    cached_version,
    item_key,
    reader_steps,
    replay,
    run_concurrent,
    write_if_newer,
    writer_steps,
)
from .ttl_only import KEY_TRAFFIC, KeyTraffic, TtlRun, simulate_ttl, stacked_worst_case
from .versioned import (
    SCAN_COUNT,
    VersionedKey,
    VersionedNamespace,
    compare_bump_and_scan,
    parse_versioned_key,
    redis_scan_calls,
    scan_and_delete,
)

_LESSON = ("explore_ttl", "explore_events", "explore_versioned", "explore_race", "compare_fixes",
           "draw_ttl", "draw_race", "check_race_fix", "exercises")

if TYPE_CHECKING:
    from .lesson import (
        check_race_fix,
        compare_fixes,
        draw_race,
        draw_ttl,
        exercises,
        explore_events,
        explore_race,
        explore_ttl,
        explore_versioned,
    )

__all__ = [
    "STRATEGIES",
    "STRATEGY_LABELS",
    "BAD_INTERLEAVING",
    "LEASE_PREFIX",
    "item_key",
    "cached_row",
    "cached_version",
    "write_if_newer",
    "reader_steps",
    "writer_steps",
    "RaceSettings",
    "ReadResult",
    "RaceEvent",
    "RaceOutcome",
    "RaceStepper",
    "replay",
    "ConcurrentResult",
    "ThreadedRace",
    "THREADED_RACE",
    "run_concurrent",
    "NearCache",
    "LossSafeNearCache",
    "InvalidationBus",
    "AppInstance",
    "write_and_publish",
    "EventRun",
    "simulate_events",
    "LOSSY_SCENARIOS",
    "LossyRun",
    "run_lossy_scenario",
    "TtlRun",
    "KeyTraffic",
    "KEY_TRAFFIC",
    "simulate_ttl",
    "stacked_worst_case",
    "SCAN_COUNT",
    "VersionedKey",
    "VersionedNamespace",
    "parse_versioned_key",
    "scan_and_delete",
    "redis_scan_calls",
    "compare_bump_and_scan",
    "explore_ttl",
    "explore_events",
    "explore_versioned",
    "explore_race",
    "compare_fixes",
    "draw_ttl",
    "draw_race",
    "check_race_fix",
    "exercises",
]


__getattr__ = lesson_attributes(__name__, _LESSON)
