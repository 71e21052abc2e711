"""Single-flight: concurrent calls for one key inside one process share one call.

The first caller (the leader) runs the function; callers arriving while it runs wait
for its result instead of running it again (Go's ``golang.org/x/sync/singleflight``).
It saves queries only inside one process: N app processes still send N.

>>> from labkit.clock import AutoClock
>>> clock, flight, queries, got = AutoClock(), None, [], []
>>> flight = SingleFlight(clock)
>>> def query():
...     queries.append(clock.now())
...     clock.sleep(0.05)                   # the database takes 50 ms
...     return "row 7"
>>> for _ in range(3):
...     _ = clock.start(lambda: got.append(flight.do("item:7", query)))
>>> clock.run()
>>> queries, got
([0.0], [('row 7', True), ('row 7', False), ('row 7', False)])
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import wall_clock

__all__ = ["SingleFlight", "FlightTimeout"]


class FlightTimeout(TimeoutError):
    """A follower stopped waiting for the leader's result."""


@dataclass
class _Call:
    done: Any  # the clock's event: set when the leader's result is in
    result: Any = None
    error: BaseException | None = None


class SingleFlight:
    """Coalesce concurrent calls for one key; ``clock`` times the waits (a virtual one in a preview)."""

    def __init__(self, clock: Any = wall_clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._calls: dict[str, _Call] = {}

    def do(self, key: str, fn: Callable[[], Any], timeout_seconds: float | None = None) -> tuple[Any, bool]:
        """``(result, was_leader)``; raises the leader's error, or FlightTimeout."""
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call(self.clock.event())
        if not leader:
            if not call.done.wait(timeout_seconds):
                raise FlightTimeout(f"no result for {key!r} within {timeout_seconds} s")
            if call.error is not None:
                raise call.error
            return call.result, False
        try:
            call.result = fn()
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()
        return call.result, True
