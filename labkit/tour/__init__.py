"""Notebook 00's tour: the toy system (an app, a slow database, maybe a cache).

The package exports the engine (:mod:`~labkit.tour.system`); the lesson layer
(``explore``, ``exercises``, ``course_map``) loads on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .system import Measurement, longest_ttl_under, mean_cut, mean_read_ms, measure

__all__ = ["Measurement", "measure", "longest_ttl_under", "mean_read_ms", "mean_cut",
           "explore", "exercises", "course_map"]

_LESSON = {"explore", "exercises", "course_map", "CourseMap"}


def __getattr__(name: str) -> Any:
    if name in _LESSON:
        return getattr(importlib.import_module(".lesson", __name__), name)
    raise AttributeError(f"module 'labkit.tour' has no attribute {name!r}")
