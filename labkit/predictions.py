"""The prediction nudge: which predictions this kernel asked, and whether the latest is locked in.

It sits below :mod:`labkit.widgets` (which asks the predictions) and :mod:`labkit.charts`
(whose ``show`` nudges), so neither imports the other.
"""

from __future__ import annotations

NUDGE = "Lock in your prediction above first - the experiment runs anyway."


class _Prediction:
    def __init__(self, question: str) -> None:
        self.question = question
        self.locked = False
        self.nudged = False


_predictions: list[_Prediction] = []


def nudge_if_unlocked() -> bool:
    """Print one line if this kernel's most recent prediction is not locked in yet.

    Experiments call it before they run (LivePlot and charts.show do); it never
    stops them, never raises, and says it once per prediction.  True if it printed.
    """
    try:
        if not _predictions:
            return False
        latest = _predictions[-1]
        if latest.locked or latest.nudged:
            return False
        latest.nudged = True
        print(NUDGE)
        return True
    except Exception:  # a nudge must never break an experiment
        return False
