"""Observability: watching a cache, reading Redis, costing values, sizing memory.

The engine of notebook 10 (no widgets, no charts; those live in ``lesson``, loaded
on first use):

* :mod:`.metered` - :class:`MeteredStore`: hit ratio, latency percentiles,
  expirations, evictions and memory per key prefix.
* :mod:`.workload` - the shop it watches (data sets under prefixes, a TTL each).
* :mod:`.server` - ``INFO``, ``MEMORY USAGE``, ``OBJECT FREQ``, ``SLOWLOG`` and the
  key scans, from the server or computed (and marked so).
* :mod:`.cost` - what a value costs in Redis, per format.
* :mod:`.sizing` - hit-ratio curve -> memory budget -> checked on the lab's server.
* :mod:`.pressure` - too small or TTL too short: ``evicted_keys`` against ``expired_keys``.
* :mod:`.staleness` - the stale share estimated from a sample of hits.
"""

from __future__ import annotations

from ..course import lesson_attributes
from . import cost, pressure, sizing, staleness
from .answers import plant_shelf
from .cost import bytes_per_key, decode, encode, key_cost, measure_formats, string_key_bytes
from .metered import MeteredStore, MeterReading, PrefixReading, prefix_of
from .server import big_keys, hot_keys, info_snapshot, mem_keys, memory_usage, object_freq, read_info, slowlog
from .staleness import sample_staleness, wilson_interval
from .workload import SHOP, DataSet, Rows, WorkloadRun, run_workload, warm_cache, watched_run

__all__ = [
    "MeteredStore", "MeterReading", "PrefixReading", "prefix_of",
    "DataSet", "SHOP", "Rows", "WorkloadRun", "run_workload", "warm_cache", "watched_run",
    "string_key_bytes", "bytes_per_key", "key_cost", "encode", "decode", "measure_formats",
    "info_snapshot", "read_info", "memory_usage", "object_freq", "slowlog", "big_keys", "mem_keys", "hot_keys",
    "sample_staleness", "wilson_interval", "plant_shelf", "cost", "pressure", "sizing", "staleness", "lesson",
]

_LESSON_NAMES = {
    "lesson", "live_dashboard", "Dashboard", "redis_readings", "key_scans", "key_cost_table",
    "explore_formats", "explore_sizing", "show_verification", "show_pressure", "explore_sampling", "exercises",
}


__getattr__ = lesson_attributes(__name__, _LESSON_NAMES)
