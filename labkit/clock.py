"""Clocks: the same code runs on wall time in a live demo and on virtual time in a sweep.

Everything in labkit that cares about time takes a ``clock`` with two methods:
``now()`` (seconds, a float) and ``sleep(seconds)``.  :class:`WallClock` really
waits; :class:`VirtualClock` moves time forward instantly, so a simulated day
runs in milliseconds and gives the same numbers every run.

Code that runs threads (a herd of readers, a lease renewed in the background)
also asks its clock to ``start(fn, *args)`` a thread (something to ``join``) and for an ``event()``.
:class:`WallClock` gives real ones; :class:`AutoClock` runs the very same code on
virtual time: its threads take turns, and when every one of them waits, time
jumps to the earliest wake-up (the idea of trio's ``MockClock(autojump_threshold=0)``).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from greenlet import getcurrent, greenlet

from .errors import LabError, check_non_negative

__all__ = ["Clock", "WallClock", "VirtualClock", "AutoClock", "wall_clock"]


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

    def event(self) -> threading.Event:
        return threading.Event()

    def start(self, fn: Callable[..., Any], *args: Any) -> threading.Thread:
        """Run ``fn(*args)`` on a new (daemon) thread; the thread, to ``join``."""
        thread = threading.Thread(target=fn, args=args, daemon=True)
        thread.start()
        return thread

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


class Abandoned(BaseException):
    """Thrown into an :class:`AutoClock` task still waiting when its run gave up (unwinds it)."""


class _Event:
    """An event whose ``wait(timeout)`` counts virtual seconds."""

    def __init__(self, clock: AutoClock) -> None:
        self._clock, self._set, self._waiters = clock, False, []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for task, wait_id in waiters:
            self._clock._wake(task, wait_id)

    def wait(self, timeout: float | None = None) -> bool:
        if not self._set:
            self._clock._park(timeout, self._waiters)
        return self._set


class _Task:
    """What :meth:`AutoClock.start` returns: ``join`` it as you would a thread."""

    def __init__(self, clock: AutoClock, fn: Callable[[], Any]) -> None:
        self.done = _Event(clock)
        self.wait_id = 0  # bumped on every wake-up, so a stale timer cannot wake it twice
        self.greenlet = greenlet(fn)

    def join(self, timeout: float | None = None) -> None:
        self.done.wait(timeout)

    def is_alive(self) -> bool:
        return not self.done.is_set()


class AutoClock(VirtualClock):
    """Virtual time for code written for threads: tasks take turns, and time jumps when all wait.

    :meth:`start` makes a task (a thread's stand-in, on a greenlet) and :meth:`run`
    plays them: each runs until it sleeps, waits on an :meth:`event` or ends; then
    the next ready one runs, and when none is ready the clock jumps to the earliest
    wake-up.  Tasks still waiting at ``run(until=...)`` are unwound with
    :class:`Abandoned`.  Outside a task it is a plain :class:`VirtualClock`.

    >>> clock, log = AutoClock(), []
    >>> def reader(name, pause):
    ...     clock.sleep(pause)
    ...     log.append((clock.now(), name))
    >>> _ = clock.start(reader, "slow", 0.5), clock.start(reader, "fast", 0.1)
    >>> clock.run()
    >>> log
    [(0.1, 'fast'), (0.5, 'slow')]

    The tasks share one real thread, so code that takes turns may only block on the
    clock (``sleep``, its events, joining its tasks), never on a real lock held across
    a sleep or a real ``threading.Event``.
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(start)
        self._ready: deque[_Task] = deque()
        self._timers: list[tuple[float, int, _Task, int]] = []
        self._order = itertools.count()
        self._parked: dict[_Task, int] = {}
        self._current: _Task | None = None
        self._alive = 0
        self._abandon = False

    def event(self) -> _Event:
        return _Event(self)

    def start(self, fn: Callable[..., Any], *args: Any) -> _Task:
        """A task that will run ``fn(*args)`` when :meth:`run` plays it."""

        def body() -> None:
            try:
                fn(*args)
            except Abandoned:
                pass
            finally:
                self._alive -= 1
                task.done.set()

        task = _Task(self, body)
        self._alive += 1
        self._ready.append(task)
        return task

    def sleep(self, seconds: float) -> None:
        if self._current is None:
            super().sleep(seconds)
            return
        check_non_negative("sleep seconds", seconds, "s")
        self._park(seconds, None)

    def run(self, until: float | None = None) -> None:
        """Play every started task to its end, or until the clock reads ``until``."""
        until = math.inf if until is None else until
        hub = getcurrent()
        while True:
            while not self._ready and self._timers and self._timers[0][0] <= until:
                at, _, task, wait_id = heapq.heappop(self._timers)
                if self._parked.get(task) == wait_id:
                    self._t = max(self._t, at)
                    self._wake(task, wait_id)
            if not self._ready:
                break
            self._switch_to(self._ready.popleft(), hub)
        if self._alive:  # still waiting at ``until``: unwind them; time stands still
            self._abandon = True
            try:
                for task in list(self._parked):
                    self._switch_to(task, hub)
            finally:
                self._abandon, self._parked, self._timers = False, {}, []
            if until < math.inf:
                self._t = max(self._t, float(until))

    # -- taking turns -----------------------------------------------------------------------
    def _switch_to(self, task: _Task, hub: Any) -> None:
        task.greenlet.parent = hub
        self._current = task
        try:
            task.greenlet.switch()
        finally:
            self._current = None

    def _park(self, timeout: float | None, waiters: list | None) -> None:
        task = self._current
        if task is None:
            raise LabError("Only a task of this AutoClock can wait on its events; start() one.")
        if self._abandon:
            raise Abandoned
        task.wait_id += 1
        self._parked[task] = task.wait_id
        if waiters is not None:
            waiters.append((task, task.wait_id))
        if timeout is not None and timeout < math.inf:
            heapq.heappush(self._timers, (self._t + timeout, next(self._order), task, task.wait_id))
        task.greenlet.parent.switch()
        if self._abandon:
            raise Abandoned

    def _wake(self, task: _Task, wait_id: int) -> None:
        if self._parked.get(task) == wait_id:
            del self._parked[task]
            task.wait_id += 1
            self._ready.append(task)
