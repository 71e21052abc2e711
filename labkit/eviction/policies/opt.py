"""Belady's clairvoyant optimum: the ceiling every real policy is measured against."""

from __future__ import annotations

import heapq

import numpy as np

from ...errors import LabError
from .base import Policy

__all__ = ["OPT", "next_use_positions"]


def next_use_positions(trace: np.ndarray) -> np.ndarray:
    """For each request, the position of the next request for the same key, or
    ``len(trace) + i`` (later than anything, and unique) if it is never asked again."""
    trace = np.asarray(trace)
    n = len(trace)
    nxt = np.arange(n, 2 * n, dtype=np.int64)
    order = np.argsort(trace, kind="stable")
    same = trace[order[1:]] == trace[order[:-1]]
    nxt[order[:-1][same]] = order[1:][same]
    return nxt


class OPT(Policy):
    """Belady's MIN (IBM Systems Journal, 1966): evict the key whose next request is
    furthest in the future.  It needs the whole trace in advance, so it is a
    ceiling to measure real policies against, not something a cache can run."""

    name = "opt"
    summary = "Belady's clairvoyant optimum: evict the key needed furthest in the future"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._next_use: list[int] = []
        self._trace: list[int] = []
        self._position = 0
        self._due: dict[int, int] = {}  # key -> position of its next request
        self._heap: list[int] = []  # -next position (max-heap), stale entries skipped

    def prepare(self, keys: list[int]) -> None:
        self._trace = list(keys)
        self._next_use = next_use_positions(np.asarray(keys, dtype=np.int64)).tolist()
        self._position = 0
        self._due.clear()
        self._heap.clear()

    def access(self, key: int) -> bool:
        if not self._next_use:
            raise LabError("OPT needs the whole trace first: call prepare(trace) before access().")
        next_request = self._next_use[self._position]
        self._position += 1
        hit = key in self._due
        if not hit and len(self._due) >= self.capacity:
            self._evict_furthest()
        self._due[key] = next_request
        heapq.heappush(self._heap, -next_request)
        return hit

    def _evict_furthest(self) -> None:
        """Evict the cached key whose next request comes last (heap entries that no
        longer describe a cached key are skipped)."""
        n = len(self._trace)
        while True:
            far = -heapq.heappop(self._heap)
            victim = self._trace[far if far < n else far - n]
            if self._due.get(victim) == far:
                del self._due[victim]
                return

    def run(self, keys: list[int]) -> int:
        if not self._next_use:
            self.prepare(keys)
        next_use, due, heap = self._next_use, self._due, self._heap
        capacity, push, evict = self.capacity, heapq.heappush, self._evict_furthest
        i, hits = self._position, 0
        for key in keys:
            nxt = next_use[i]
            i += 1
            if key in due:
                hits += 1
            elif len(due) >= capacity:
                evict()
            due[key] = nxt
            push(heap, -nxt)
        self._position = i
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._due)
