"""Read-your-writes: send a client's reads to the primary for a while after its writes.

Replicas scale reads, but a replica applies writes a little later than its master.
A user who just saved their profile and reloads the page must see the save; other
users may see it a moment later.  This router remembers when *this* client last
wrote each key and sends reads of that key to the primary until ``window_seconds``
have passed - longer than the replica's lag - and to a replica otherwise.  "Last"
matters: a second write to a key starts its window again.
"""

from __future__ import annotations

from ..clock import Clock

__all__ = ["ReadYourWrites"]


class ReadYourWrites:
    """One client's router: ``wrote(key)`` after each write, ``route(key)`` before each read."""

    def __init__(self, clock: Clock, window_seconds: float) -> None:
        self.clock = clock
        self.window_seconds = window_seconds
        self.last_write: dict[str, float] = {}

    def wrote(self, key: str) -> None:
        """This client's write to ``key`` was acknowledged by the primary."""
        self.last_write[key] = self.clock.now()

    def route(self, key: str) -> str:
        """``"primary"`` while this client's last write to ``key`` is recent, else ``"replica"``."""
        written = self.last_write.get(key)
        if written is not None and self.clock.now() - written < self.window_seconds:
            return "primary"
        return "replica"
