"""Clocks: the same code runs on wall time in a live demo and on virtual time in a sweep.

Everything in labkit that cares about time takes a ``clock`` with two methods:
``now()`` (seconds, a float) and ``sleep(seconds)``.  :class:`WallClock` really
waits; :class:`VirtualClock` moves time forward instantly, so a simulated day
runs in milliseconds and gives the same numbers every run.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

from .errors import LabError, check_non_negative

__all__ = ["Clock", "WallClock", "VirtualClock", "wall_clock"]


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Real time: ``now()`` is ``time.time()``, ``sleep`` really waits.

    It uses the epoch clock rather than a monotonic one so that its readings can
    be compared with the expiry times a Redis server keeps.
    """

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        check_non_negative("sleep seconds", seconds, "s")
        time.sleep(seconds)

    def __repr__(self) -> str:
        return "WallClock()"


wall_clock = WallClock()


class VirtualClock:
    """Simulated time that only moves when told to.

    ``sleep(s)`` and ``advance(s)`` add ``s`` seconds at once; ``set(t)`` jumps to
    ``t`` (never backwards).  Safe to share between threads.
    """

    def __init__(self, start: float = 0.0) -> None:
        check_non_negative("start", start, "s")
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._t

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> float:
        if not seconds >= 0:  # also catches NaN; kept cheap, this is the hot path of every sweep
            check_non_negative("advance seconds", seconds, "s", "A clock cannot run backwards.")
        with self._lock:
            self._t += seconds
            return self._t

    def set(self, t: float) -> float:
        with self._lock:
            if t < self._t:
                raise LabError(
                    f"Cannot move a VirtualClock back from {self._t:g} s to {t:g} s; "
                    "make a new VirtualClock to start over."
                )
            self._t = float(t)
            return self._t

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._t:g})"
