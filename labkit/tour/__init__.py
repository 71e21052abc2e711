"""Notebook 00's tour: the toy system (an app, a slow database, maybe a cache).

The package exports the engine (:mod:`~labkit.tour.system`); the lesson layer
(``explore``, ``exercises``, ``course_map``) loads on first use.
"""

from __future__ import annotations

from ..course import lesson_attributes
from .system import TOUR_TRAFFIC, Measurement, longest_ttl_under, mean_cut, mean_read_ms, measure

__all__ = ["Measurement", "TOUR_TRAFFIC", "measure", "longest_ttl_under", "mean_read_ms", "mean_cut",
           "explore", "exercises", "course_map"]

_LESSON = {"explore", "exercises", "course_map", "CourseMap"}


__getattr__ = lesson_attributes(__name__, _LESSON)
