"""Replay a service through a cache incident, request by request, on virtual time.

The service: ``rate_per_second`` requests (Poisson arrivals, Zipf keys) read through
a real store (a :class:`~labkit.store.MemoryStore` behind a :class:`.FaultyStore`)
in front of a database with a fixed capacity: ``workers`` queries at once, each
``query_seconds`` long, a FIFO queue of at most ``queue_limit`` waiting queries (the
connection pool), and clients that give up after ``client_timeout_seconds`` - while
the database, which cannot know, still does the work.  Its capacity is
``workers / query_seconds`` queries per second.

An :class:`Incident` freezes or kills the cache for a while; :class:`Defenses` is
what the application does about it (fallback, bulkhead, breaker, gutter, retries,
shedding, warming).  The replay is an event queue: every cache answer, timeout and
database answer happens at its own virtual time, so concurrency (how many requests
pay a timeout before a breaker opens, how long the database queue gets) is exact,
and the same seed gives the same run.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..clock import VirtualClock
from ..errors import LabError, check_choice, check_non_negative, check_positive
from ..store import MemoryStore
from ..workloads import zipf_probabilities
from .breaker import Bulkhead
from .faults import CACHE_ERRORS, ChargeClock, FaultyStore

__all__ = ["Traffic", "Incident", "DatabaseCapacity", "Defenses", "ReplayReport", "replay", "QueueDatabase"]

FALLBACKS = ("fail", "database", "gutter")
_STALE = "stale"
_FRESH = "fresh"


@dataclass(frozen=True)
class Traffic:
    rate_per_second: float = 200.0   # requests, arriving at random (Poisson)
    duration_seconds: float = 90.0
    keys: int = 10000                # read with Zipf(zipf_alpha) popularity
    zipf_alpha: float = 0.9
    cache_ttl_seconds: float = 600.0
    seed: int = 0


@dataclass(frozen=True)
class Incident:
    """The cache fails at ``start_seconds`` for ``down_seconds``, then returns warm or empty."""

    fault: str = "hang"              # "hang" (frozen: timeouts), "refuse" (gone: refused), "none"
    start_seconds: float = 20.0
    down_seconds: float = 30.0
    comes_back: str = "warm"         # "warm" (frozen and resumed) or "empty" (restarted)

    @property
    def end_seconds(self) -> float:
        return self.start_seconds + self.down_seconds


@dataclass(frozen=True)
class DatabaseCapacity:
    workers: int = 4                     # queries at once
    query_seconds: float = 0.08          # each query's time
    queue_limit: int = 100               # queries waiting for a worker (the pool); more are refused
    client_timeout_seconds: float = 1.0  # clients give up; the database still does the work

    @property
    def queries_per_second(self) -> float:
        return self.workers / self.query_seconds


@dataclass(frozen=True)
class Defenses:
    """What the application does when the cache fails (the default: the naive app)."""

    fallback: str = "database"               # on a cache failure: "fail", "database", "gutter"
    fallback_limit: int | None = None        # bulkhead: fallback DB reads at once (None: no limit)
    breaker: Callable[[Any], Any] | None = None  # factory(clock) -> allow/record_success/record_failure
    cache_timeout_seconds: float | None = 0.25
    retries: int = 0                         # whole-request retries after a failure
    retry_budget: float | None = None        # retries allowed per request (0.1: one retry per ten)
    backoff_seconds: float = 0.0             # first backoff; doubles per retry, full jitter
    shed_after_seconds: float | None = None  # the DB drops queries that waited longer (load shedding)
    single_flight: bool = False              # coalesce identical loads
    prewarm_keys: int = 0                    # hottest keys loaded before the cache takes traffic
    prewarm_rate_per_second: float = 25.0    # how fast the warmer may query the DB
    ramp_seconds: float = 0.0                # the returning cache's traffic share ramps up
    ramp_to: str = "replicas"                # where the rest goes: "replicas" (a warm copy) or "database"
    serve_stale: bool = False                # the cache returns with a stale snapshot
    stale_refresh_limit: int = 2             # background refreshes at once when serving stale
    gutter_ttl_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_choice("fallback", self.fallback, FALLBACKS)
        check_choice("ramp_to", self.ramp_to, ("replicas", "database"))
        if self.fallback_limit is not None:
            check_positive("fallback_limit", self.fallback_limit, hint="Use None for no limit.")
        check_non_negative("retries", self.retries)
        check_non_negative("backoff_seconds", self.backoff_seconds, "s")


class QueueDatabase:
    """The database's capacity as an exact FIFO queue with ``workers`` servers.

    Start times in a FIFO queue never decrease, so each query's start and finish are
    known when it arrives; ``submit`` returns ``(status, answered_at)`` with status
    ``"ok"``, ``"refused"`` (the queue is full) or ``"shed"`` (it waited too long).
    """

    def __init__(self, capacity: DatabaseCapacity, shed_after_seconds: float | None, seconds: int) -> None:
        self.capacity = capacity
        self.shed_after = shed_after_seconds
        self._free = [0.0] * capacity.workers
        self._waiting: deque[float] = deque()
        self.offered = np.zeros(seconds + 1, dtype=np.int64)
        self.served = np.zeros(seconds + 1, dtype=np.int64)
        self.refused = 0
        self.shed = 0

    def submit(self, now: float) -> tuple[str, float]:
        waiting = self._waiting
        while waiting and waiting[0] <= now:
            waiting.popleft()
        second = min(int(now), len(self.offered) - 1)
        self.offered[second] += 1
        if len(waiting) >= self.capacity.queue_limit:
            self.refused += 1
            return "refused", now + 0.001
        start = max(now, self._free[0])
        waiting.append(start)
        if self.shed_after is not None and start - now > self.shed_after:
            self.shed += 1
            return "shed", start
        heapq.heapreplace(self._free, start + self.capacity.query_seconds)
        self.served[min(int(start), len(self.served) - 1)] += 1
        return "ok", start + self.capacity.query_seconds


@dataclass
class ReplayReport:
    """Per request: arrival, latency, success; per second: the database's load."""

    defenses: Defenses
    traffic: Traffic
    incident: Incident
    capacity: DatabaseCapacity
    arrivals: np.ndarray
    latencies: np.ndarray
    succeeded: np.ndarray
    db_offered_per_second: np.ndarray
    db_served_per_second: np.ndarray
    cache_attempts_while_down: int
    db_wasted: int                  # answered after the client had given up
    db_refused: int
    db_shed: int
    bulkhead_refused: int
    breaker_transitions: list[tuple[float, str]] = field(default_factory=list)
    breaker_states: list[str] = field(default_factory=list)  # the breaker's state at each whole second
    cache_tries: np.ndarray = field(default_factory=lambda: np.zeros(0))  # when each cache call started

    @property
    def capacity_qps(self) -> float:
        return self.capacity.queries_per_second

    def _window(self, start: float, end: float) -> np.ndarray:
        return (self.arrivals >= start) & (self.arrivals < end)

    def success_rate(self, start: float = 0.0, end: float = math.inf) -> float:
        w = self._window(start, end)
        return float(self.succeeded[w].mean()) if w.any() else 1.0

    def p99_ms(self, start: float = 0.0, end: float = math.inf) -> float:
        w = self._window(start, end)
        return float(np.percentile(self.latencies[w], 99) * 1000) if w.any() else 0.0

    def _seconds(self, start: float, end: float) -> tuple[int, int]:
        n = len(self.db_offered_per_second) - 1  # the last slot only collects stragglers
        return int(start), n if math.isinf(end) else min(int(math.ceil(end)), n)

    def peak_db_qps(self, start: float = 0.0, end: float = math.inf) -> int:
        lo, hi = self._seconds(start, end)
        return int(self.db_offered_per_second[lo:hi].max()) if hi > lo else 0

    def mean_db_qps(self, start: float = 0.0, end: float = math.inf) -> float:
        lo, hi = self._seconds(start, end)
        return float(self.db_offered_per_second[lo:hi].mean()) if hi > lo else 0.0

    def seconds_over_capacity(self, start: float = 0.0) -> int:
        lo, hi = self._seconds(start, math.inf)
        return int((self.db_offered_per_second[lo:hi] > self.capacity_qps).sum())

    def per_second(self, width: int = 1) -> dict[str, np.ndarray]:
        """Time series for charts: DB load, success rate and p99 per ``width`` seconds."""
        n = int(self.traffic.duration_seconds) // width
        bucket = np.minimum((self.arrivals // width).astype(np.int64), n - 1)
        success = np.ones(n)
        p99 = np.zeros(n)
        order = np.argsort(bucket, kind="stable")
        edges = np.searchsorted(bucket[order], np.arange(n + 1))
        for b in range(n):
            idx = order[edges[b]:edges[b + 1]]
            if len(idx):
                success[b] = self.succeeded[idx].mean()
                p99[b] = np.percentile(self.latencies[idx], 99) * 1000
        db = self.db_offered_per_second[: n * width].reshape(n, width).mean(axis=1)
        return {"t": np.arange(n) * width, "db_qps": db, "success": success, "p99_ms": p99}


class _Request:
    __slots__ = ("key", "arrived", "attempt", "index")

    def __init__(self, key: int, arrived: float, index: int) -> None:
        self.key, self.arrived, self.attempt, self.index = key, arrived, 0, index


class _Replay:
    def __init__(self, defenses: Defenses, traffic: Traffic, incident: Incident, capacity: DatabaseCapacity):
        self.d, self.tr, self.inc, self.cap = defenses, traffic, incident, capacity
        self.rng = random.Random(traffic.seed + 1)
        self.clock = VirtualClock()
        self.charge = ChargeClock(self.clock)
        self.inner = MemoryStore(self.charge, namespace="failures-replay")
        self.cache = FaultyStore(self.inner, timeout_seconds=defenses.cache_timeout_seconds)
        self.gutter = MemoryStore(self.charge, namespace="failures-gutter")
        self.breaker = defenses.breaker(self.clock) if defenses.breaker else None
        limit = defenses.fallback_limit
        if limit is None and self.breaker is not None:
            limit = getattr(self.breaker, "max_fallback_reads", None)
        self.bulkhead = Bulkhead(limit)
        self.refreshers = Bulkhead(defenses.stale_refresh_limit)
        seconds = int(math.ceil(traffic.duration_seconds))
        self.db = QueueDatabase(capacity, defenses.shed_after_seconds, seconds)
        self.events: list[tuple[float, int, Callable[..., None], tuple]] = []
        self.seq = 0
        self.flights: dict[int, list[_Request]] = {}
        self.refreshing: set[int] = set()
        self.retry_tokens = 10.0
        self.wasted = 0
        self.attempts_while_down = 0
        self.down = False
        self.ramp_from = -math.inf
        self.states: list[str] = []
        self.tries: list[float] = []

    # -- the event queue ------------------------------------------------------------------
    def at(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, fn, args))

    def run(self, keys: np.ndarray, times: np.ndarray) -> None:
        self.latency = np.zeros(len(keys))
        self.ok = np.zeros(len(keys), dtype=bool)
        self.at(self.inc.start_seconds, self.fail_cache)
        self.at(self.inc.end_seconds, self.heal_cache)
        events, clock, heappop = self.events, self.clock, heapq.heappop
        arrivals = zip(range(len(keys)), keys.tolist(), times.tolist(), strict=True)  # plain floats: fast
        nxt = next(arrivals, None)
        while nxt is not None or events:
            if nxt is not None and (not events or nxt[2] <= events[0][0]):
                index, key, t = nxt
                if self.breaker is not None:
                    while len(self.states) < t:
                        self.states.append(str(getattr(self.breaker, "state", "?")))
                clock.set(t)
                self.arrive(t, _Request(key, t, index))
                nxt = next(arrivals, None)
                continue
            t, _, fn, args = heappop(events)
            if t > clock.now():
                clock.set(t)
            fn(t, *args)

    # -- the incident -----------------------------------------------------------------------
    def fail_cache(self, t: float) -> None:
        if self.inc.fault != "none":
            self.down = True
            self.cache.inject(self.inc.fault)

    def heal_cache(self, t: float) -> None:
        self.down = False
        self.cache.heal()
        if self.inc.comes_back == "empty":
            snapshot = self.inner.scan_keys("*")
            self.inner.reset()
            if self.d.serve_stale:
                for key in snapshot:
                    self.inner.set(key, _STALE)
            self.prewarm(t)
            if self.d.ramp_seconds:
                self.ramp_from = t

    def prewarm(self, t: float) -> None:
        """The warmer loads the hottest keys at its own rate; they count as DB load."""
        for i in range(self.d.prewarm_keys):
            when = t - (self.d.prewarm_keys - i) / self.d.prewarm_rate_per_second
            self.db.offered[max(0, int(when))] += 1
            self.inner.set(str(i), _FRESH, self.tr.cache_ttl_seconds * (1 + self.rng.random()))
        self.charge.take()

    # -- one request -------------------------------------------------------------------------
    def arrive(self, t: float, req: _Request) -> None:
        if t - self.ramp_from < self.d.ramp_seconds and self.rng.random() > (t - self.ramp_from) / self.d.ramp_seconds:
            # Not yet this node's share.  A replicated pool sends it to a warm copy (served at once);
            # in a sharded cache no other node holds the key, so it reads the database.
            if self.d.ramp_to == "replicas":
                self.finish(t + 0.0005, req, True)
            else:
                self.load(t, req, fill=None, limited=False)
            return
        if self.breaker is not None and not self.breaker.allow():
            self.fallback(t, req)
            return
        if self.down:
            self.attempts_while_down += 1
        self.tries.append(t)
        try:
            value, ok = self.cache.get(str(req.key)), True
        except CACHE_ERRORS:
            value, ok = None, False
        self.at(t + self.charge.take(), self.cache_answered, req, ok, value)

    def cache_answered(self, t: float, req: _Request, ok: bool, value: str | None) -> None:
        if self.breaker is not None:
            (self.breaker.record_success if ok else self.breaker.record_failure)()
        if not ok:
            self.fallback(t, req)
        elif value is None:
            self.load(t, req, fill=self.cache, limited=False)
        else:
            if value == _STALE:
                self.refresh_in_background(t, req.key)
            self.finish(t, req, True)

    def fallback(self, t: float, req: _Request) -> None:
        if self.d.fallback == "fail":
            self.fail(t, req)
        elif self.d.fallback == "gutter":
            value = self.gutter.get(str(req.key))
            self.charge.take()
            if value is None:
                self.load(t + 0.0005, req, fill=self.gutter, limited=True)
            else:
                self.finish(t + 0.0005, req, True)
        else:
            self.load(t, req, fill=None, limited=True)

    def load(self, t: float, req: _Request, fill: Any, limited: bool) -> None:
        if self.d.single_flight:
            waiting = self.flights.get(req.key)
            if waiting is not None:
                waiting.append(req)
                return
            self.flights[req.key] = [req]
        if limited and not self.bulkhead.try_enter():
            self.loaded(t, req, False, None, False)
            return
        status, answered = self.db.submit(t)
        give_up = t + self.cap.client_timeout_seconds
        success = status == "ok" and answered <= give_up
        if status == "ok" and not success:
            self.wasted += 1
        self.at(answered if success else min(answered, give_up), self.loaded, req, success, fill, limited)

    def loaded(self, t: float, req: _Request, success: bool, fill: Any, limited: bool) -> None:
        if limited:
            self.bulkhead.leave()
        if success and fill is not None:
            ttl = self.d.gutter_ttl_seconds if fill is self.gutter else self.tr.cache_ttl_seconds
            with contextlib.suppress(*CACHE_ERRORS):  # a fill into a failed cache is simply lost
                fill.set(str(req.key), _FRESH, ttl)
            self.charge.take()
        group = self.flights.pop(req.key, [req]) if self.d.single_flight else [req]
        for r in group:
            if success:
                self.finish(t, r, True)
            else:
                self.fail(t, r)

    def refresh_in_background(self, t: float, key: int) -> None:
        if key in self.refreshing or not self.refreshers.try_enter():
            return
        self.refreshing.add(key)
        status, answered = self.db.submit(t)
        self.at(answered, self.refreshed, key, status == "ok")

    def refreshed(self, t: float, key: int, ok: bool) -> None:
        self.refreshers.leave()
        self.refreshing.discard(key)
        if ok and not self.down:
            self.inner.set(str(key), _FRESH, self.tr.cache_ttl_seconds)
            self.charge.take()

    def fail(self, t: float, req: _Request) -> None:
        d = self.d
        if req.attempt < d.retries and (d.retry_budget is None or self.retry_tokens >= 1.0):
            if d.retry_budget is not None:
                self.retry_tokens -= 1.0  # a token bucket: each first attempt adds retry_budget
            req.attempt += 1
            delay = self.rng.uniform(0, d.backoff_seconds * 2 ** (req.attempt - 1)) if d.backoff_seconds else 0.0
            self.at(t + delay, self.arrive, req)
            return
        self.finish(t, req, False)

    def finish(self, t: float, req: _Request, success: bool) -> None:
        if req.attempt == 0 and self.d.retry_budget is not None:
            self.retry_tokens = min(10.0, self.retry_tokens + self.d.retry_budget)
        self.latency[req.index] = t - req.arrived
        self.ok[req.index] = success


def _steady_cache(run: _Replay, probabilities: np.ndarray, requested: np.ndarray) -> None:
    """Fill the cache as it would be after a long healthy run: key k present with
    probability rT/(1+rT) (r its read rate, T the TTL), its TTL partly used up.
    Only keys the replay will ask for are stored: the others cannot change its outcome."""
    tr = run.tr
    rng = np.random.default_rng(tr.seed + 2)
    rt = probabilities * tr.rate_per_second * tr.cache_ttl_seconds
    present = rng.random(len(rt)) < rt / (1 + rt)
    ttl_left = tr.cache_ttl_seconds * rng.uniform(0.01, 1.0, len(rt))
    present[np.setdiff1d(np.arange(len(rt)), requested)] = False
    for key in np.flatnonzero(present).tolist():
        run.inner.set(str(key), _FRESH, float(ttl_left[key]))
    run.charge.take()


def replay(
    defenses: Defenses = Defenses(),
    *,
    traffic: Traffic = Traffic(),
    incident: Incident = Incident(),
    capacity: DatabaseCapacity = DatabaseCapacity(),
) -> ReplayReport:
    """Run the service through the incident with these defenses; see the module docstring."""
    check_positive("rate_per_second", traffic.rate_per_second, "requests/s")
    check_positive("duration_seconds", traffic.duration_seconds, "s")
    check_choice("fault", incident.fault, ("hang", "refuse", "none"))
    check_choice("comes_back", incident.comes_back, ("warm", "empty"))
    if incident.end_seconds > traffic.duration_seconds:
        raise LabError(
            f"The incident ends at {incident.end_seconds:g} s, after the replay's "
            f"{traffic.duration_seconds:g} s; make the replay longer or the outage shorter."
        )
    rng = np.random.default_rng(traffic.seed)
    n = int(rng.poisson(traffic.rate_per_second * traffic.duration_seconds))
    times = np.sort(rng.uniform(0, traffic.duration_seconds, n))
    p = zipf_probabilities(traffic.keys, traffic.zipf_alpha)
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    keys = np.searchsorted(cdf, rng.random(n), side="right")
    run = _Replay(defenses, traffic, incident, capacity)
    _steady_cache(run, p, np.unique(keys))
    run.run(keys, times)
    return ReplayReport(
        defenses=defenses, traffic=traffic, incident=incident, capacity=capacity,
        arrivals=times, latencies=run.latency, succeeded=run.ok,
        db_offered_per_second=run.db.offered, db_served_per_second=run.db.served,
        cache_attempts_while_down=run.attempts_while_down, db_wasted=run.wasted,
        db_refused=run.db.refused, db_shed=run.db.shed, bulkhead_refused=run.bulkhead.refused,
        breaker_transitions=list(getattr(run.breaker, "transitions", [])),
        breaker_states=run.states, cache_tries=np.array(run.tries),
    )

