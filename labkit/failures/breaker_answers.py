"""Answers to notebook 08's breaker exercise: the reference, two correct alternatives
written another way, and the mistakes learners really make (each refused by name).

The exercise's replays (:mod:`.checks`) build a breaker as ``Breaker(clock)`` and
call ``allow()`` before each cache read and ``record_success()`` or
``record_failure()`` with its outcome; ``max_fallback_reads`` is the bulkhead on the
database fallback.
"""

from __future__ import annotations

import math
import time
from collections import deque

__all__ = ["Breaker", "RateBreaker", "DeadlineBreaker", "MISTAKES"]


class Breaker:
    """A circuit breaker around the cache, and the bulkhead on its fallback."""

    max_fallback_reads = 4  # DB fallback reads at once: 4 x 80 ms = the DB's 50 queries/s

    def __init__(self, clock, failure_threshold=5, reset_timeout_seconds=2.0):
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.reset_timeout_seconds = reset_timeout_seconds
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.probing = False

    def allow(self):
        """May this request try the cache?"""
        if self.state == "open" and self.clock.now() - self.opened_at >= self.reset_timeout_seconds:
            self.state = "half-open"
        if self.state == "closed":
            return True
        if self.state == "half-open" and not self.probing:
            self.probing = True              # exactly one probe at a time
            return True
        return False

    def record_success(self):
        self.state, self.failures, self.probing = "closed", 0, False

    def record_failure(self):
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self.probing = "open", self.clock.now(), False


# -- correct, written another way ---------------------------------------------------------------


class RateBreaker:
    """Trips on a failure *rate*: half of the last 20 calls failed (and at least
    ``failure_threshold`` of them), so scattered failures never open it."""

    max_fallback_reads = 4
    window = 20

    def __init__(self, clock, failure_threshold=5, reset_timeout_seconds=2.0):
        self.clock = clock
        self.min_failures = failure_threshold
        self.cooldown = reset_timeout_seconds
        self.outcomes = deque(maxlen=self.window)  # True: that call failed
        self.open_until = None                     # None: closed
        self.probe_out = False

    def allow(self):
        if self.open_until is None:
            return True
        if self.probe_out or self.clock.now() < self.open_until:
            return False
        self.probe_out = True
        return True

    def record_success(self):
        if self.open_until is not None:            # the probe answered: close, forget the past
            self.open_until, self.probe_out = None, False
            self.outcomes.clear()
        else:
            self.outcomes.append(False)

    def record_failure(self):
        if self.open_until is not None:            # the probe (or a late call) failed: wait again
            self.open_until, self.probe_out = self.clock.now() + self.cooldown, False
            return
        self.outcomes.append(True)
        failed = sum(self.outcomes)
        if failed >= self.min_failures and 2 * failed >= len(self.outcomes):
            self.open_until = self.clock.now() + self.cooldown


class DeadlineBreaker:
    """No state names: the time the next probe may go (``None`` while closed;
    infinity while a probe is out), and failures in a row."""

    max_fallback_reads = 4

    def __init__(self, clock, failure_threshold=5, reset_timeout_seconds=2.0):
        self.clock, self.threshold, self.cooldown = clock, failure_threshold, reset_timeout_seconds
        self.in_a_row = 0
        self.probe_at = None

    def allow(self):
        if self.probe_at is None:
            return True
        if self.clock.now() < self.probe_at:
            return False
        self.probe_at = math.inf                   # this call is the probe; the rest wait for it
        return True

    def record_success(self):
        self.in_a_row, self.probe_at = 0, None

    def record_failure(self):
        self.in_a_row += 1
        if self.probe_at is not None or self.in_a_row >= self.threshold:
            self.probe_at = self.clock.now() + self.cooldown


# -- mistakes learners write -----------------------------------------------------------------------


class NoHalfOpenProbe(Breaker):
    """After the reset timeout, closes at once: every request tries the cache again."""

    def allow(self):
        if self.state == "open" and self.clock.now() - self.opened_at >= self.reset_timeout_seconds:
            self.state, self.failures = "closed", 0
        return self.state == "closed"


class CountsAcrossSuccesses(Breaker):
    """A success closes the breaker but leaves the failure count as it was."""

    def record_success(self):
        self.state, self.probing = "closed", False


class ProbeDoesNotClose(Breaker):
    """A success resets the count, but the state stays half-open: nothing is let through again."""

    def record_success(self):
        self.failures = 0


class TimerRestartedByCalls(Breaker):
    """Every refused call restarts the reset timer ("last seen"), so under steady traffic it never probes."""

    def allow(self):
        if self.state == "open":
            if self.clock.now() - self.opened_at < self.reset_timeout_seconds:
                self.opened_at = self.clock.now()
                return False
            self.state = "half-open"
        return super().allow()


class WallClock(Breaker):
    """Times the reset timeout with the process's own clock instead of the clock it was given."""

    def allow(self):
        if self.state == "open" and time.monotonic() - self.opened_at >= self.reset_timeout_seconds:
            self.state = "half-open"
        return super().allow()

    def record_failure(self):
        super().record_failure()
        if self.state == "open":
            self.opened_at = time.monotonic()


class WithoutLimit(Breaker):
    max_fallback_reads = None


class LimitInQueriesPerSecond(Breaker):
    max_fallback_reads = 50  # the DB's queries per second, where the bulkhead counts reads at once


MISTAKES = {
    "no half-open probe": NoHalfOpenProbe,
    "counts failures across successes": CountsAcrossSuccesses,
    "a successful probe does not close the breaker": ProbeDoesNotClose,
    "each refused call restarts the reset timer": TimerRestartedByCalls,
    "reads the wall clock": WallClock,
    "fallback without a limit": WithoutLimit,
    "the bulkhead counts queries per second, not reads at once": LimitInQueriesPerSecond,
}
