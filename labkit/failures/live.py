"""A real outage, in real time: a redis-server the lab starts, freezes, kills and restarts.

The learner's own server (``REDIS_URL``) is never touched: :func:`run_live_outage`
starts a throwaway ``redis-server`` on a free loopback port, freezes it with SIGSTOP
(the client sees real redis-py timeouts), kills it with SIGKILL (real "connection
refused"), starts a new one on the same port (empty: a cold cache), and stops it
at the end.  Where no ``redis-server`` is installed, the same phases run on the
fault-injecting wrapper over an in-process store.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import wall_clock
from ..database import Database
from ..redis_server import LocalRedis, redis_server_binary
from ..store import MemoryStore
from .breaker import CircuitBreaker
from .faults import CACHE_ERRORS, FaultyStore

__all__ = ["LivePhase", "LiveOutage", "run_live_outage", "PHASES", "ClientDefaults", "redis_client_defaults"]

PHASES = ("healthy", "frozen", "killed", "restarted (empty)")
# How each backend brings a phase about, shown next to its name.
_HOW_REAL = {"frozen": "SIGSTOP", "killed": "SIGKILL"}
_HOW_WRAPPER = {"frozen": "injected hang", "killed": "injected refusal"}


@dataclass
class LivePhase:
    name: str
    requests: int = 0
    cache_hits: int = 0
    cache_errors: int = 0
    skipped_by_breaker: int = 0
    db_reads: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors_seen: set[str] = field(default_factory=set)

    def row(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms) or [0.0]
        return {
            "phase": self.name, "requests": self.requests, "cache hits": self.cache_hits,
            "cache errors": self.cache_errors, "skipped (breaker open)": self.skipped_by_breaker,
            "DB reads": self.db_reads, "slowest (ms)": round(lat[-1], 1),
            "errors the app saw": ", ".join(sorted(self.errors_seen)) or "-",
        }


@dataclass
class LiveOutage:
    backend: str            # "lab-started redis-server" or "fault-injecting wrapper"
    breaker: bool
    timeout_ms: float
    phases: list[LivePhase]
    note: str = ""

    def rows(self) -> list[dict[str, Any]]:
        return [p.row() for p in self.phases]


class _Wrapper:
    """The no-binary stand-in: the same four phases, injected on an in-process store."""

    def __init__(self, timeout_seconds: float) -> None:
        self.store = FaultyStore(MemoryStore(wall_clock, namespace="failures-live"),
                                 timeout_seconds=timeout_seconds, latency_seconds=0.0002)

    def get(self, key: str) -> str | None:
        return self.store.get(key)

    def set(self, key: str, value: str) -> None:
        self.store.set(key, value, 60)

    def phase(self, name: str) -> None:
        if name == PHASES[1]:
            self.store.inject("hang")
        elif name == PHASES[2]:
            self.store.inject("refuse")
        elif name == PHASES[3]:
            self.store.heal()
            self.store.inner.reset()

    def close(self) -> None:
        self.store.inner.reset()


class _RealServer:
    """A lab-started redis-server, read with short timeouts and no client-side retries."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = timeout_seconds
        self.server = LocalRedis()
        self.client = self._client()
        self.pid = int(self.client.info("server")["process_id"])
        self.stopped = False

    def _client(self) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(host="127.0.0.1", port=self.server.port, decode_responses=True,
                           socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                           retry=Retry(NoBackoff(), 0), protocol=2)

    def get(self, key: str) -> str | None:
        return self.client.get(key)

    def set(self, key: str, value: str) -> None:
        self.client.set(key, value, ex=60)

    def phase(self, name: str) -> None:
        if name == PHASES[1]:
            os.kill(self.pid, signal.SIGSTOP)
        elif name == PHASES[2]:
            os.kill(self.pid, signal.SIGKILL)  # a frozen process dies at once on SIGKILL
            self.server.stop()                 # reaps it and removes its folder
        elif name == PHASES[3]:
            self.client.close()
            self.server = LocalRedis(port=self.server.port)
            self.client = self._client()
            self.pid = int(self.client.info("server")["process_id"])

    def close(self) -> None:
        self.client.close()
        self.server.stop()


def run_live_outage(
    *,
    use_real_server: bool,
    breaker: bool = True,
    phase_seconds: float = 0.6,
    timeout_seconds: float = 0.05,
    keys: int = 50,
    on_phase: Callable[[str], None] | None = None,
) -> LiveOutage:
    """Read ``keys`` keys in a loop for four phases of ``phase_seconds`` each, in real time."""
    note = ""
    if use_real_server and redis_server_binary() is None:
        note = "No redis-server binary here, so this demo injects the same faults with the wrapper."
        use_real_server = False
    cache: Any = _RealServer(timeout_seconds) if use_real_server else _Wrapper(timeout_seconds)
    db = Database(wall_clock, rows=keys, latency_seconds=0.002)
    guard = CircuitBreaker(wall_clock, failure_threshold=3, reset_timeout_seconds=0.2) if breaker else None
    phases = []
    try:
        for k in range(keys):
            cache.set(str(k), f"item {k}")
        how = _HOW_REAL if use_real_server else _HOW_WRAPPER
        for name in PHASES:
            cache.phase(name)
            if on_phase:
                on_phase(name)
            phase = LivePhase(f"{name} ({how[name]})" if name in how else name)
            phases.append(phase)
            end = time.perf_counter() + phase_seconds
            i = 0
            while time.perf_counter() < end:
                key, i = str(i % keys), i + 1
                started = time.perf_counter()
                _read(cache, db, guard, key, phase)
                phase.latencies_ms.append((time.perf_counter() - started) * 1000)
                phase.requests += 1
    finally:
        cache.close()
        db.close()
    backend = "lab-started redis-server" if use_real_server else "fault-injecting wrapper"
    return LiveOutage(backend, breaker, timeout_seconds * 1000, phases, note)


def _read(cache: Any, db: Database, guard: CircuitBreaker | None, key: str, phase: LivePhase) -> None:
    """Cache-aside with a breaker; on any cache failure, fall back to the database."""
    if guard is None or guard.allow():
        try:
            value = cache.get(key)
        except CACHE_ERRORS as exc:
            phase.cache_errors += 1
            phase.errors_seen.add(type(exc).__name__)
            if guard:
                guard.record_failure()
        else:
            if guard:
                guard.record_success()
            if value is not None:
                phase.cache_hits += 1
                return
            row = db.read(int(key))
            phase.db_reads += 1
            with contextlib.suppress(*CACHE_ERRORS):
                cache.set(key, row.value if row else "")
            return
    else:
        phase.skipped_by_breaker += 1
    db.read(int(key))
    phase.db_reads += 1


@dataclass(frozen=True)
class ClientDefaults:
    """What a redis-py client built with no settings does when its server freezes."""

    version: str
    socket_timeout: float | None
    retries: int
    worst_wait_seconds: float  # one command: every attempt waits the timeout; each retry sleeps first


def redis_client_defaults() -> ClientDefaults:
    """Read the installed redis-py's defaults from a client object (it never connects) and
    compute one command's worst wait on a frozen server: ``1 + retries`` attempts of
    ``socket_timeout`` each, plus the largest backoff before each retry (redis-py's
    exponential backoff with jitter sleeps at most ``min(cap, base * 2**n)``).
    ``tests/test_failures.py`` checks the premise on a real frozen server."""
    import redis

    client = redis.Redis()
    retry = client.get_retry()
    retries = retry.get_retries() if retry is not None else 0
    timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
    backoff = getattr(retry, "_backoff", None)

    def largest_sleep(n: int) -> float:
        cap, base = getattr(backoff, "_cap", None), getattr(backoff, "_base", None)
        if cap is not None and base is not None:
            return float(min(cap, base * 2**n))
        return max(backoff.compute(n) for _ in range(200)) if backoff is not None else 0.0

    wait = (retries + 1) * (timeout or 0.0) + sum(largest_sleep(n) for n in range(1, retries + 1))
    return ClientDefaults(redis.__version__, timeout, retries, round(wait, 1))
