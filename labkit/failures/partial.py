"""Partial failure: one cache node of N is frozen, and which breaker notices.

Requests (Poisson, ``rate_per_second``) read keys spread evenly over ``nodes`` cache
nodes.  From ``down_from`` to ``down_until`` one node is frozen: a read sent to it
waits for the client's ``timeout_seconds`` and then falls back to the database; a read
of a healthy node is a hit.  The breaker hears of each read when it ends - a success
at once, a failure only after the timeout - exactly as the application's code would.

With one node of ten frozen, one call in ten fails, scattered among successes: a
breaker that opens after five failures *in a row* waits for an event of probability
about ``0.1 ** 5`` and never opens.  A breaker that counts the failure *rate* per node
opens for the frozen node at once, and only for it.  (With one node of four, a single
breaker does open now and then - and then refuses the healthy nodes too.)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..clock import VirtualClock
from ..errors import check_choice, check_positive
from ..memo import memo
from .breaker import OPEN, CircuitBreaker, RateCircuitBreaker

__all__ = ["PartialSetup", "PARTIAL", "PARTIAL_BREAKERS", "PartialRun", "partial_failure"]


@dataclass(frozen=True)
class PartialSetup:
    rate_per_second: float = 200.0
    duration_seconds: float = 60.0
    down_from: float = 10.0
    down_until: float = 50.0
    timeout_seconds: float = 0.25        # the client's cache timeout
    hit_seconds: float = 0.001           # a healthy node's answer
    db_seconds: float = 0.08             # a fallback read
    db_capacity_qps: float = 50.0        # as in the rest of the notebook
    seed: int = 0


PARTIAL = PartialSetup()


def _consecutive(clock: Any) -> CircuitBreaker:
    return CircuitBreaker(clock, failure_threshold=5, reset_timeout_seconds=2.0)


def _rate(clock: Any) -> RateCircuitBreaker:
    return RateCircuitBreaker(clock, failure_rate=0.5, window=20, min_calls=10, reset_timeout_seconds=2.0)


# name -> (breaker factory, one breaker per node?)
PARTIAL_BREAKERS: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "one breaker, 5 failures in a row": (_consecutive, False),
    "one breaker, failure rate >= 50%": (_rate, False),
    "a breaker per node, failure rate >= 50%": (_rate, True),
}


@dataclass(frozen=True)
class PartialRun:
    breaker: str
    nodes: int
    setup: PartialSetup
    arrivals: np.ndarray
    latencies: np.ndarray
    waited: np.ndarray            # this read waited for the frozen node's timeout
    to_db: np.ndarray             # this read went to the database (after a timeout, or skipped the cache)
    skipped_healthy: np.ndarray   # a breaker kept this read from a node that was healthy
    openings: int                 # how many times any breaker opened

    def _during(self) -> np.ndarray:
        return (self.arrivals >= self.setup.down_from) & (self.arrivals < self.setup.down_until)

    def waited_share(self) -> float:
        """Share of the reads during the incident that waited for the timeout."""
        return float(self.waited[self._during()].mean())

    def skipped_healthy_share(self) -> float:
        return float(self.skipped_healthy[self._during()].mean())

    def p99_ms(self) -> float:
        return float(np.percentile(self.latencies[self._during()], 99) * 1000)

    def db_per_second(self) -> np.ndarray:
        seconds = int(self.setup.duration_seconds)
        return np.bincount(self.arrivals[self.to_db].astype(int), minlength=seconds)[:seconds]

    def peak_db_qps(self) -> int:
        return int(self.db_per_second().max())

    def waited_per_second(self) -> np.ndarray:
        """Share of each second's reads that waited for a timeout (for the chart)."""
        seconds = int(self.setup.duration_seconds)
        second = self.arrivals.astype(int)
        total = np.bincount(second, minlength=seconds)[:seconds]
        waited = np.bincount(second[self.waited], minlength=seconds)[:seconds]
        return waited / np.maximum(total, 1)


@memo(maxsize=16)
def partial_failure(breaker: str, nodes: int = 10, setup: PartialSetup = PARTIAL) -> PartialRun:
    """Replay ``setup`` with one of ``nodes`` cache nodes frozen, under the named breaker."""
    make, per_node = PARTIAL_BREAKERS[check_choice("breaker", breaker, PARTIAL_BREAKERS)]
    check_positive("nodes", nodes)
    rng = np.random.default_rng(setup.seed)
    n = int(rng.poisson(setup.rate_per_second * setup.duration_seconds))
    times = np.sort(rng.uniform(0, setup.duration_seconds, n))
    node_of = rng.integers(0, nodes, n)  # keys spread evenly over the nodes; node 0 is the one that freezes
    clock = VirtualClock()
    guards = [make(clock) for _ in range(nodes)] if per_node else [make(clock)]
    latency, waited = np.zeros(n), np.zeros(n, bool)
    to_db, skipped = np.zeros(n, bool), np.zeros(n, bool)
    pending: list[tuple[float, int, bool]] = []  # (ends at, read, succeeded): the breaker hears then
    openings = 0

    def hear(until: float) -> None:
        nonlocal openings
        while pending and pending[0][0] <= until:
            t, i, ok = heapq.heappop(pending)
            clock.set(max(clock.now(), t))
            guard = guards[node_of[i] if per_node else 0]
            before = guard.state
            (guard.record_success if ok else guard.record_failure)()
            openings += guard.state == OPEN and before != OPEN

    for i, t in enumerate(times.tolist()):
        hear(t)
        clock.set(t)
        node = int(node_of[i])
        frozen = node == 0 and setup.down_from <= t < setup.down_until
        if not guards[node if per_node else 0].allow():
            to_db[i], skipped[i] = True, not frozen
            latency[i] = setup.db_seconds
            continue
        if frozen:
            waited[i] = to_db[i] = True
            latency[i] = setup.timeout_seconds + setup.db_seconds
            heapq.heappush(pending, (t + setup.timeout_seconds, i, False))
        else:
            latency[i] = setup.hit_seconds
            heapq.heappush(pending, (t + setup.hit_seconds, i, True))
    return PartialRun(breaker, nodes, setup, times, latency, waited, to_db, skipped, openings)
