"""Notebook 08: when the cache fails - down, slow, cold, penetrated, metastable, partial.

The engine (pure: no widgets, no charts): :mod:`.faults` (a store that refuses,
hangs, slows or drops), :mod:`.breaker` (circuit breakers, bulkhead), :mod:`.bloom`
(a Bloom filter and its false-positive formula), :mod:`.replay` (a service replayed
through an incident, request by request, on virtual time), :mod:`.incidents` (the
notebook's named incidents and defenses), :mod:`.slow` (a slow cache's latency),
:mod:`.negative` (penetration and negative caching), :mod:`.partial` (one
cache node of N frozen, and which breaker notices), :mod:`.live` (a real
redis-server the lab starts, freezes and kills), :mod:`.checks` (the replays
that grade the exercises) and :mod:`.breaker_answers` (the breaker exercise's
reference, correct alternatives and real mistakes).  The notebook's views and exercises are in
:mod:`.lesson`, loaded on first use; :mod:`.claims` holds the numbers its prose states.
"""

from __future__ import annotations

from ..course import lesson_attributes
from .bloom import BloomFilter, bits_for, expected_false_positive_rate, optimal_hashes
from .breaker import CLOSED, HALF_OPEN, OPEN, Bulkhead, CircuitBreaker
from .faults import CACHE_ERRORS, CacheDown, CacheTimeout, ChargeClock, FaultyStore, is_cache_failure
from .replay import DatabaseCapacity, Defenses, Incident, ReplayReport, Traffic, replay

__all__ = [
    "BloomFilter", "bits_for", "expected_false_positive_rate", "optimal_hashes",
    "CLOSED", "OPEN", "HALF_OPEN", "CircuitBreaker", "Bulkhead",
    "CACHE_ERRORS", "CacheDown", "CacheTimeout", "ChargeClock", "FaultyStore", "is_cache_failure",
    "DatabaseCapacity", "Defenses", "Incident", "ReplayReport", "Traffic", "replay",
]

_LESSON = {"explore_outage", "outage_table", "live_outage", "explore_slow_cache", "explore_cold_start",
           "explore_penetration", "bloom_table", "explore_metastable", "explore_partial", "exercises"}


__getattr__ = lesson_attributes(__name__, _LESSON)
