"""Observability: watching a cache, reading Redis, costing values, sizing memory.

The engine of notebook 10 (no widgets, no charts; those are in ``lesson``):

* :mod:`.metered` - :class:`MeteredStore`, hit ratio / latency / expirations /
  evictions / memory per key prefix.
* :mod:`.workload` - the shop it watches (data sets under prefixes, TTL each).
"""

from .cost import bytes_per_key, encode, decode, key_cost, measure_formats, string_key_bytes
from .metered import MeteredStore, MeterReading, PrefixReading, prefix_of
from .workload import MYSTERY_SHOP, SHOP, DataSet, Rows, WorkloadRun, run_workload

__all__ = [
    "MeteredStore", "MeterReading", "PrefixReading", "prefix_of",
    "DataSet", "SHOP", "MYSTERY_SHOP", "Rows", "WorkloadRun", "run_workload",
    "string_key_bytes", "bytes_per_key", "key_cost", "encode", "decode", "measure_formats",
]
