"""The one base every eviction policy shares, the lab's and a learner's.

A policy needs one method: :meth:`Policy.access`, one request in, "was it a hit?"
out.  That is also how each of the lab's policies states its rule readably.
:meth:`Policy.run` replays a whole chunk of requests; by default it calls
:meth:`access` per request, and the lab's policies override it with a fast loop
that gives exactly the same hits (a test holds every pair to that).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

from ...errors import LabError

__all__ = ["Policy"]


class Policy(ABC):
    """A cache of ``capacity`` objects that decides what to evict when full."""

    name: ClassVar[str] = "custom"
    summary: ClassVar[str] = "a policy of your own"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        self.capacity = capacity
        self.seed = seed

    def prepare(self, keys: list[int]) -> None:  # noqa: B027 - optional hook
        """Called once with the whole trace before replaying it; only OPT looks ahead."""

    @abstractmethod
    def access(self, key: int) -> bool:
        """One request for ``key``: True if it was cached (a hit); on a miss, make
        room if the cache is full and admit the key (or decide not to)."""

    def run(self, keys: Iterable[int]) -> int:
        """Replay ``keys`` in order; return the number of hits.  The state carries
        over, so a trace can be replayed in windows."""
        access = self.access
        return sum(1 for key in keys if access(key))

    def cached_keys(self) -> set[int]:
        """The keys in the cache now (for tests and demos, not the hot path)."""
        raise LabError(f"{type(self).__name__} does not list its keys; define cached_keys() to return them.")

    def __len__(self) -> int:
        return len(self.cached_keys())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} capacity={self.capacity}>"
