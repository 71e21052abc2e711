"""Circuit breaker and bulkhead: the two guards an application puts around a sick cache.

:class:`CircuitBreaker` stops calling a cache that keeps failing, so requests stop
paying its timeout: **closed** (calls go through; ``failure_threshold`` failures in a
row open it), **open** (calls are refused at once for ``reset_timeout_seconds``), then
**half-open** (exactly one probe call goes through; its success closes the breaker,
its failure opens it again).  :class:`Bulkhead` caps how many fallback reads run at
once, so a cache outage cannot send the whole traffic to the database.
"""

from __future__ import annotations

from collections import deque

from ..clock import Clock
from ..errors import LabError, check_positive

__all__ = ["CLOSED", "OPEN", "HALF_OPEN", "CircuitBreaker", "RateCircuitBreaker", "Bulkhead"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """A circuit breaker on ``clock``; ``transitions`` keeps ``(time, state)`` for charts.

    >>> from labkit.clock import VirtualClock
    >>> clock = VirtualClock()
    >>> b = CircuitBreaker(clock, failure_threshold=2, reset_timeout_seconds=5)
    >>> b.record_failure(); b.record_failure(); b.state
    'open'
    >>> b.allow()
    False
    >>> _ = clock.advance(5); b.allow(), b.allow(), b.state
    (True, False, 'half-open')
    >>> b.record_success(); b.state
    'closed'
    """

    max_fallback_reads: int | None = 4  # the bulkhead the lab's replay pairs with this breaker

    def __init__(self, clock: Clock, failure_threshold: int = 5, reset_timeout_seconds: float = 2.0) -> None:
        self.clock = clock
        self.failure_threshold = int(check_positive("failure_threshold", failure_threshold))
        self.reset_timeout_seconds = float(check_positive("reset_timeout_seconds", reset_timeout_seconds, "s"))
        self.state = CLOSED
        self.failures_in_a_row = 0
        self.opened_at = 0.0
        self.probe_in_flight = False
        self.transitions: list[tuple[float, str]] = [(clock.now(), CLOSED)]

    def _move(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.transitions.append((self.clock.now(), state))

    def allow(self) -> bool:
        """May this call try the cache?  (Open: no.  Half-open: only one probe at a time.)"""
        if self.state == OPEN and self.clock.now() - self.opened_at >= self.reset_timeout_seconds:
            self._move(HALF_OPEN)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and not self.probe_in_flight:
            self.probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self.failures_in_a_row = 0
        self.probe_in_flight = False
        self._move(CLOSED)

    def record_failure(self) -> None:
        self.failures_in_a_row += 1
        if self.state == HALF_OPEN or self.failures_in_a_row >= self.failure_threshold:
            self.probe_in_flight = False
            self.opened_at = self.clock.now()
            self._move(OPEN)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.state}, {self.failures_in_a_row} failures in a row>"


class RateCircuitBreaker(CircuitBreaker):
    """Trips on a failure *rate*: ``failure_rate`` of the last ``window`` calls failed (with at
    least ``min_calls`` seen).  Failures scattered among successes still count, so a cache
    node that fails one call in three opens it; a consecutive count would almost never see
    five in a row.  Open, half-open and the probe work as in :class:`CircuitBreaker`.

    >>> from labkit.clock import VirtualClock
    >>> b = RateCircuitBreaker(VirtualClock(), failure_rate=0.5, window=10, min_calls=4)
    >>> for ok in (True, False, True, False, False): (b.record_success if ok else b.record_failure)()
    >>> b.state
    'open'
    """

    def __init__(self, clock: Clock, failure_rate: float = 0.5, window: int = 20, min_calls: int = 10,
                 reset_timeout_seconds: float = 2.0) -> None:
        super().__init__(clock, failure_threshold=1, reset_timeout_seconds=reset_timeout_seconds)
        self.failure_rate = failure_rate
        self.min_calls = int(check_positive("min_calls", min_calls))
        self.outcomes: deque[bool] = deque(maxlen=int(check_positive("window", window)))  # True: failed

    def record_success(self) -> None:
        if self.state == CLOSED:
            self.outcomes.append(False)
        else:                       # the probe succeeded: close, and judge the cache afresh
            self.outcomes.clear()
        super().record_success()

    def record_failure(self) -> None:
        if self.state == CLOSED:
            self.outcomes.append(True)
            failed = sum(self.outcomes)
            if len(self.outcomes) < self.min_calls or failed < self.failure_rate * len(self.outcomes):
                return
        self.probe_in_flight = False
        self.opened_at = self.clock.now()
        self._move(OPEN)


class Bulkhead:
    """At most ``limit`` calls at once; ``try_enter()`` is False (fail fast) when full.

    >>> b = Bulkhead(2)
    >>> b.try_enter(), b.try_enter(), b.try_enter()
    (True, True, False)
    >>> b.leave(); b.try_enter(), b.refused
    (True, 1)
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None:
            check_positive("limit", limit, hint="Use None for no limit.")
        self.limit = None if limit is None else int(limit)
        self.in_flight = 0
        self.peak_in_flight = 0
        self.refused = 0

    def try_enter(self) -> bool:
        if self.limit is not None and self.in_flight >= self.limit:
            self.refused += 1
            return False
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return True

    def leave(self) -> None:
        if self.in_flight <= 0:
            raise LabError("Bulkhead.leave() called more often than try_enter() succeeded.")
        self.in_flight -= 1
