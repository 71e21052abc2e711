"""Shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``, so this folder is on the path)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """(median seconds over ``repeats`` runs, the last result)."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result
