"""Replay a learner's policy beside the lab's and find where they part.

:func:`first_divergence` feeds the same requests to two policies, one request
at a time through :meth:`~labkit.eviction.Policy.access`, and reports the first
request on which one hits and the other misses.  A time limit (on the main
thread, where notebook cells run) stops a policy whose eviction loop never ends
and says so, instead of hanging the kernel.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import LabError
from .policies import Policy

__all__ = ["Replay", "TooSlow", "Divergence", "replay", "first_divergence", "divergence_rows", "same_hits",
           "time_limit", "make_learner_policy"]


class TooSlow(Exception):
    """The replay ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TooSlow` in the body after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def stop(_signum: int, _frame: Any) -> None:
        raise TooSlow

    previous = signal.signal(signal.SIGALRM, stop)
    started = time.monotonic()
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # someone else's alarm (a test timeout, say) keeps running
            left = outer_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), outer_interval)


def make_learner_policy(answer: Any, capacity: int) -> Policy:
    """An instance of the learner's class, or one sentence saying what is wrong with it."""
    if not isinstance(answer, type) or not callable(getattr(answer, "access", None)):
        raise LabError("Give the class itself (e.g. MySieve), with an access(self, key) method.")
    try:
        policy = answer(capacity)
    except TypeError as exc:
        raise LabError(f"MySieve(capacity) failed ({exc}); keep the __init__(self, capacity, *, seed=0) "
                       "signature.") from None
    return policy


@dataclass
class Replay:
    """Per-request hits of one policy on a trace (cut short if it ran out of time)."""

    hits: list[bool] = field(default_factory=list)
    timed_out: bool = False

    @property
    def hit_count(self) -> int:
        return sum(self.hits)


def replay(policy: Policy, keys: Sequence[int], *, seconds: float = 1.0) -> Replay:
    """Feed ``keys`` to ``policy.access`` one by one, within ``seconds``."""
    result = Replay()
    hits, access = result.hits, policy.access
    try:
        with time_limit(seconds):
            for key in keys:
                hits.append(bool(access(key)))
    except TooSlow:
        result.timed_out = True
    return result


@dataclass(frozen=True)
class Divergence:
    request: int  # index in the trace
    expected_hit: bool
    got_hit: bool


def first_divergence(expected: Sequence[bool], got: Sequence[bool]) -> Divergence | None:
    """The first request where two hit sequences differ (None if they agree on their common part)."""
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return Divergence(i, a, b)
    return None


def divergence_rows(keys: Sequence[int], expected: Sequence[bool], got: Sequence[bool], at: int,
                    *, before: int = 4) -> list[dict[str, Any]]:
    """The table a learner sees: the requests leading up to the first difference."""
    def word(hit: bool) -> str:
        return "hit" if hit else "miss"

    rows = []
    for i in range(max(0, at - before), at + 1):
        rows.append({
            "request #": i, "key": keys[i], "reference": word(expected[i]),
            "yours": word(got[i]) if i < len(got) else "-",
            "": "← first difference" if i == at else "",
        })
    return rows


def same_hits(factory: Callable[[], Policy], keys: Sequence[int], hits: Sequence[bool],
              *, seconds: float = 1.0) -> bool:
    """True if a fresh policy from ``factory`` gives exactly ``hits`` on ``keys``."""
    other = replay(factory(), keys, seconds=seconds)
    return not other.timed_out and other.hits == list(hits)
