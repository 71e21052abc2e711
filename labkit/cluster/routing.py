"""Read-your-writes: send a client's reads to the primary for a while after its writes.

Replicas scale reads, but a replica applies writes a little later than its master.
A user who just saved their profile and reloads the page must see the save; other
users may see it a moment later.  This router remembers when *this* client last
wrote each key and sends reads of that key to the primary until ``window_seconds``
have passed - longer than the replica's lag - and to a replica otherwise.
"""

from __future__ import annotations

import math

from ..clock import Clock
from ..errors import check_non_negative

__all__ = ["ReadYourWrites"]


class ReadYourWrites:
    """One client's router: ``wrote(key)`` after each write, ``route(key)`` before each read."""

    def __init__(self, clock: Clock, window_seconds: float) -> None:
        self.clock = clock
        if window_seconds != math.inf:
            check_non_negative("window_seconds", window_seconds, "s",
                               "Make it longer than the replica's lag (seconds).")
        self.window_seconds = window_seconds
        self._last_write: dict[str, float] = {}

    def wrote(self, key: str) -> None:
        """This client's write to ``key`` was acknowledged by the primary."""
        self._last_write[key] = self.clock.now()

    def route(self, key: str) -> str:
        """``"primary"`` while this client's last write to ``key`` is recent, else ``"replica"``."""
        written = self._last_write.get(key)
        if written is not None and self.clock.now() - written < self.window_seconds:
            return "primary"
        return "replica"
