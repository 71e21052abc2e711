"""A cache that fails on purpose: refused connections, hangs, slow answers, lost replies.

:class:`FaultyStore` wraps any store of the contract and, while a fault is switched
on, makes each command fail the way a sick Redis does to a redis-py client:

``refuse``  the process is gone: the connection is refused at once (``CacheDown``).
``hang``    the process is frozen (SIGSTOP, a full network buffer): nothing answers,
            so the client waits for its own timeout (``CacheTimeout``); with no
            timeout it would wait forever.
``slow``    every answer takes ``delay_seconds``; past the client timeout it is a hang.
``drop``    each reply is lost with probability ``drop_share`` (a flaky network).

Time is charged on the wrapper's clock: on the wall clock a hang really waits, on a
:class:`ChargeClock` the replay adds the waiting to the request that paid it.
"""

from __future__ import annotations

import random
from typing import Any

from ..clock import VirtualClock
from ..errors import LabError, check_choice, check_non_negative, check_positive
from ..store import Store
from ..wrappers import StoreWrapper

__all__ = [
    "FAULTS",
    "CacheDown",
    "CacheTimeout",
    "CACHE_ERRORS",
    "ChargeClock",
    "FaultyStore",
    "is_cache_failure",
]

FAULTS = ("none", "refuse", "hang", "slow", "drop")


class CacheDown(ConnectionError):
    """The cache refused the connection (its process is gone)."""


class CacheTimeout(TimeoutError):
    """The cache did not answer within the client's timeout."""


def _redis_errors() -> tuple[type[BaseException], ...]:
    try:
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency of the lab
        return ()
    return (redis.RedisError,)


# What an application should treat as "the cache failed": ours, redis-py's, the OS's.
CACHE_ERRORS: tuple[type[BaseException], ...] = (CacheDown, CacheTimeout, OSError) + _redis_errors()


def is_cache_failure(exc: BaseException) -> bool:
    return isinstance(exc, CACHE_ERRORS)


class ChargeClock:
    """A clock whose ``sleep`` is added up instead of waited: ``take()`` returns and clears it.

    ``now()`` is the base clock's time plus what has been charged so far, so a store
    that checks expiry after charging a round trip sees the time move as it should.
    """

    def __init__(self, base: VirtualClock) -> None:
        self.base = base
        self.charged = 0.0

    def now(self) -> float:
        return self.base.now() + self.charged

    def sleep(self, seconds: float) -> None:
        self.charged += seconds

    def take(self) -> float:
        charged, self.charged = self.charged, 0.0
        return charged


class FaultyStore(StoreWrapper):
    """The store contract, forwarded to ``inner``; :meth:`inject` makes its commands fail.

    Time is charged on the inner store's clock (a :class:`ChargeClock` in a replay).

    >>> from labkit.store import MemoryStore
    >>> cache = FaultyStore(MemoryStore(VirtualClock()), timeout_seconds=0.25)
    >>> cache.set("k", "v"); cache.inject("refuse")
    True
    >>> try:
    ...     cache.get("k")
    ... except CacheDown as exc:
    ...     print(exc)
    Connection refused: the cache is down (injected).
    """

    def __init__(
        self,
        inner: Store,
        *,
        timeout_seconds: float | None = 0.25,
        latency_seconds: float = 0.0005,
        refuse_seconds: float = 0.001,
        seed: int = 0,
    ) -> None:
        super().__init__(inner)
        self.timeout_seconds = None if timeout_seconds is None else check_positive(
            "timeout_seconds", timeout_seconds, "s", "Use None for no timeout.")
        self.latency_seconds = check_non_negative("latency_seconds", latency_seconds, "s")
        self.refuse_seconds = check_non_negative("refuse_seconds", refuse_seconds, "s")
        self.fault = "none"
        self.delay_seconds = 0.0
        self.drop_share = 0.0
        self.failures = 0
        self._rng = random.Random(seed)

    # -- switching faults on and off ---------------------------------------------------
    def inject(self, fault: str, *, delay_seconds: float = 0.1, drop_share: float = 0.5) -> None:
        """Switch a fault on (``"none"`` switches it off); see the module docstring."""
        self.fault = check_choice("fault", fault, FAULTS)
        self.delay_seconds = check_non_negative("delay_seconds", delay_seconds, "s")
        if not 0.0 <= drop_share <= 1.0:
            raise LabError(f"drop_share is a share of replies between 0 and 1 (got {drop_share!r}).")
        self.drop_share = float(drop_share)

    def heal(self) -> None:
        self.inject("none")

    # -- what each command pays ----------------------------------------------------------
    def _wait_for_timeout(self) -> None:
        if self.timeout_seconds is None:
            raise LabError(
                "The cache is not answering and this client has no timeout, so the call would "
                "hang forever; set timeout_seconds (redis-py: socket_timeout)."
            )
        self.clock.sleep(self.timeout_seconds)
        self.failures += 1
        raise CacheTimeout(f"Timeout reading from the cache after {self.timeout_seconds:g} s (injected).")

    def _pay(self) -> None:
        fault = self.fault
        if fault == "none":
            self.clock.sleep(self.latency_seconds)
        elif fault == "refuse":
            self.clock.sleep(self.refuse_seconds)
            self.failures += 1
            raise CacheDown("Connection refused: the cache is down (injected).")
        elif fault == "hang":
            self._wait_for_timeout()
        elif fault == "slow":
            if self.timeout_seconds is not None and self.delay_seconds >= self.timeout_seconds:
                self._wait_for_timeout()
            self.clock.sleep(self.delay_seconds)
        elif self._rng.random() < self.drop_share:  # drop
            self._wait_for_timeout()
        else:
            self.clock.sleep(self.latency_seconds)

    def __repr__(self) -> str:
        return f"<FaultyStore fault={self.fault} over {self.inner!r}>"


def _through_the_fault(name: str) -> Any:
    forward = getattr(StoreWrapper, name)

    def command(self: FaultyStore, *args: Any, **kwargs: Any) -> Any:
        self._pay()
        return forward(self, *args, **kwargs)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = f"``{name}`` through the injected fault, then the inner store."
    return command


# Every data command goes through the fault; the lab's own bookkeeping (reset,
# scan_keys, stats) does not, so cleaning up works while the "cache" is down.
for _name in ("get", "get_many", "set", "delete", "compare_and_delete", "compare_and_set",
              "set_if_newer", "incr", "expire", "ttl_seconds", "exists", "publish"):
    setattr(FaultyStore, _name, _through_the_fault(_name))
