"""The capstone: design the caching of a whole service, run its day, read the scorecard.

==================  ==================================================================
``service``         the six data sets, their traffic, the day's events and the budgets
``design``          ``Plan`` per data set, ``Design``; ``NAIVE_DESIGN``, ``REFERENCE_DESIGN``
``day``             the day, measured with patterns, stampede, eviction and layers code
``scorecard``       ``score(design)`` -> ``Scorecard``: seven axes, each against a budget
``lesson``          the notebook's charts, live explorer and exercises (loaded on use)
``claims``          the numbers notebook 07's prose states
==================  ==================================================================

>>> card = score(REFERENCE_DESIGN)     # doctest: +SKIP
>>> card.passed                        # doctest: +SKIP
True
"""

from __future__ import annotations

from ..course import lesson_attributes
from .design import DEFENSES, INVALIDATIONS, NAIVE_DESIGN, PATTERNS, POLICIES, REFERENCE_DESIGN, Design, Plan
from .scorecard import AXES, Axis, DataSetScore, Scorecard, score
from .service import DATA_SET_NAMES, DATA_SETS, DataSet

__all__ = [
    "AXES",
    "Axis",
    "DATA_SETS",
    "DATA_SET_NAMES",
    "DEFENSES",
    "DataSet",
    "DayReport",
    "DataSetScore",
    "Design",
    "INVALIDATIONS",
    "NAIVE_DESIGN",
    "PATTERNS",
    "POLICIES",
    "Plan",
    "REFERENCE_DESIGN",
    "Scorecard",
    "compare",
    "draw_db_load",
    "draw_scorecard",
    "exercises",
    "explore",
    "knob_table",
    "run_day",
    "score",
    "service_table",
]

# The lesson layer (charts, widgets) loads when a notebook first asks for it.
_LESSON = {"DayReport", "compare", "draw_db_load", "draw_scorecard", "exercises", "explore", "knob_table",
           "run_day", "service_table"}


__getattr__ = lesson_attributes(__name__, _LESSON)
