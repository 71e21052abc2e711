"""The stampede on a virtual clock: large herds, long horizons, no threads.

Time here is just numbers.  Reads arrive as a Poisson stream (seeded numpy), and the
simulation jumps from one *expiry window* to the next: from a refill of the hot key
to the refresh that replaces it.  Inside a window only the readers around the
expiry matter, so an hour of 10,000 clients (3.6 million reads) costs a few hundred
window steps, not 3.6 million events.

The database follows the same load model as :class:`~labkit.database.Database`: a
query that starts while ``n`` queries are in flight takes
``recompute_seconds * max(1, n / parallel_queries)``.  The first query of a window
starts alone, so it refills the cache after exactly ``recompute_seconds``.

Also here: :func:`synchronized_expiry` (many keys filled together, with and without
TTL jitter) and :func:`protection_costs` (what a lock costs and saves, key by key).
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import LabError, check_choice, check_positive
from ..workloads import zipf_probabilities
from .defenses import check_beta, check_readers
from .xfetch import refresh_early

__all__ = [
    "BETA_TASK",
    "beta_task_run",
    "SIM_DEFENSES",
    "SimulatedHerd",
    "TrafficReport",
    "simulate_herd",
    "simulate_traffic",
    "poisson_arrivals",
    "synchronized_expiry",
    "protection_costs",
    "ProtectionCosts",
]

SIM_DEFENSES = ("none", "lock", "single-flight", "xfetch", "swr")


def _check_positive(name: str, value: object) -> float:
    return float(check_positive(name, value))


# -- one refresh round ----------------------------------------------------------------------


@dataclass
class _Round:
    """What happened from the first reader that acted on an expiring value to the refill."""

    queries: int
    misses: int           # readers that found no fresh value and had to wait or query
    stale_reads: int
    last_write: float     # when the last refill landed (last writer wins, as in Redis)
    last_delta: float     # how long that refill's query took (XFetch's delta next time)
    starts: list[float]
    ends: list[float]
    reader_times: np.ndarray
    reader_latencies: np.ndarray
    reader_outcomes: list[str]
    end_index: int        # first arrival after the round


def _queries_under_load(starts: np.ndarray, recompute: float, parallel: int) -> np.ndarray:
    """Completion time of each query, with latency growing with the queries in flight."""
    ends = np.empty_like(starts)
    running: list[float] = []
    for j, t in enumerate(starts):
        while running and running[0] <= t:
            heapq.heappop(running)
        in_flight = len(running) + 1
        ends[j] = t + recompute * max(1.0, in_flight / parallel)
        heapq.heappush(running, ends[j])
    return ends


def _round(
    defense: str,
    arrivals: np.ndarray,
    first: int,
    expires_at: float,
    *,
    recompute: float,
    parallel: int,
    queriers: np.ndarray | None,
    processes: np.ndarray | None,
) -> _Round:
    """Play one refresh starting with reader ``first``.

    ``queriers`` (xfetch only): which of the readers before expiry decided to
    recompute early; readers at or after ``expires_at`` always recompute.
    """
    t0 = float(arrivals[first])
    fill = t0 + recompute  # the first query starts alone
    end = int(np.searchsorted(arrivals, fill, side="left"))
    end = max(end, first + 1)
    times = arrivals[first:end]
    n = len(times)
    outcomes: list[str]
    if defense in ("none", "xfetch"):
        if defense == "xfetch" and queriers is not None:
            asks = (times >= expires_at) | queriers[: n]
            asks[0] = True
        else:
            asks = np.ones(n, dtype=bool)
        starts = times[asks]
        ends = _queries_under_load(starts, recompute, parallel)
        latencies = np.zeros(n)
        latencies[asks] = ends - starts
        missed = times >= expires_at
        outcomes = ["db" if a else "hit" for a in asks]
        queries = int(asks.sum())
        misses = int(missed.sum())
        last = int(np.argmax(ends))
        return _Round(queries, misses, 0, float(ends[last]), float(ends[last] - starts[last]),
                      list(starts), list(ends), times, latencies, outcomes, end)
    if defense == "lock":
        latencies = fill - times
        outcomes = ["db"] + ["waited"] * (n - 1)
        return _Round(1, n, 0, fill, recompute, [t0], [fill], times, latencies, outcomes, end)
    if defense == "swr":
        # The first reader starts a background refresh; everyone until the refill gets
        # the stale copy at once.
        latencies = np.zeros(n)
        return _Round(1, 0, n, fill, recompute, [t0], [fill], times, latencies, ["stale"] * n, end)
    if defense == "single-flight":
        assert processes is not None
        procs = processes[first:end]
        _, leaders = np.unique(procs, return_index=True)
        leaders.sort()
        starts = times[leaders]
        ends = _queries_under_load(starts, recompute, parallel)
        done_by_proc = dict(zip(procs[leaders].tolist(), ends.tolist(), strict=True))
        finish = np.array([done_by_proc[p] for p in procs.tolist()])
        latencies = finish - times
        leader_set = set(leaders.tolist())
        outcomes = ["db" if i in leader_set else "waited" for i in range(n)]
        last = int(np.argmax(ends))
        return _Round(len(starts), n, 0, float(ends[last]), float(ends[last] - starts[last]),
                      list(starts), list(ends), times, latencies, outcomes, end)
    raise LabError(f"Unknown defense {defense!r}. Choose one of: {', '.join(SIM_DEFENSES)}.")


# -- one expiry, a burst of readers (the live herd's twin) ----------------------------------


@dataclass
class SimulatedHerd:
    defense: str
    readers: int
    db_queries: int
    outcomes: list[str]
    latencies_seconds: np.ndarray
    arrival_seconds: np.ndarray
    timeline: list[tuple[float, int]]
    peak_db_in_flight: int


def _timeline(starts: list[float], ends: list[float]) -> tuple[list[tuple[float, int]], int]:
    events = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends], key=lambda e: (e[0], e[1]))
    level, peak, out = 0, 0, []
    for t, step in events:
        level += step
        peak = max(peak, level)
        out.append((t, level))
    return out, peak


def simulate_herd(
    defense: str,
    arrival_seconds: np.ndarray | list[float] | int,
    *,
    recompute_seconds: float = 0.05,
    parallel_queries: int = 16,
    app_processes: int = 1,
    seed: int = 0,
) -> SimulatedHerd:
    """One expiry met by a burst of readers, on virtual time.

    ``arrival_seconds`` gives each reader's arrival after the expiry (pass a
    live :class:`HerdReport`'s offsets to replay the same herd), or an int: that
    many readers arriving at the same instant.  XFetch and no defense behave alike
    here: once the value has expired there is nothing left to refresh early.
    """
    check_choice("defense", defense, SIM_DEFENSES)
    if isinstance(arrival_seconds, (int, np.integer)) and not isinstance(arrival_seconds, bool):
        offsets = np.zeros(check_readers(int(arrival_seconds)))
    else:
        offsets = np.sort(np.asarray(arrival_seconds, dtype=float))
        check_readers(len(offsets))
    recompute = _check_positive("recompute_seconds", recompute_seconds)
    rng = np.random.default_rng(seed)
    processes = np.arange(len(offsets)) % max(1, int(app_processes))
    rng.shuffle(processes)
    # Everyone arrives after expiry (at time 0), so every window reader has missed.
    got = _round(defense, offsets, 0, 0.0, recompute=recompute, parallel=int(parallel_queries),
                 queriers=None, processes=processes)
    latencies = np.zeros(len(offsets))
    outcomes = ["hit"] * len(offsets)
    latencies[: got.end_index] = got.reader_latencies
    outcomes[: got.end_index] = got.reader_outcomes
    timeline, peak = _timeline(got.starts, got.ends)
    return SimulatedHerd(defense, len(offsets), got.queries, outcomes, latencies, offsets, timeline, peak)


# -- steady traffic over a long horizon ------------------------------------------------------


def poisson_arrivals(rate_per_second: float, seconds: float, seed: int = 0) -> np.ndarray:
    """Sorted arrival times of a Poisson stream (exponential gaps, summed)."""
    rate = _check_positive("rate_per_second", rate_per_second)
    seconds = _check_positive("seconds", seconds)
    rng = np.random.default_rng(seed)
    expected = rate * seconds
    size = int(expected + 6 * math.sqrt(expected) + 16)
    times = np.cumsum(rng.exponential(1.0 / rate, size))
    while times[-1] < seconds:  # astronomically rare: draw more
        times = np.concatenate([times, times[-1] + np.cumsum(rng.exponential(1.0 / rate, size))])
    return times[: int(np.searchsorted(times, seconds))]


@dataclass
class TrafficReport:
    """Steady traffic on one hot key: one entry per expiry window."""

    defense: str
    clients: int
    reads: int
    seconds: float
    ttl_seconds: float
    beta: float
    queries_per_window: np.ndarray
    misses_per_window: np.ndarray
    stale_per_window: np.ndarray
    refresh_lead_seconds: np.ndarray  # how long before expiry the refresh started (<0: after)
    runtime_seconds: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def windows(self) -> int:
        return int(len(self.queries_per_window))

    @property
    def db_queries(self) -> int:
        return int(self.queries_per_window.sum())

    @property
    def mean_queries_per_expiry(self) -> float:
        return float(self.queries_per_window.mean()) if self.windows else 0.0

    @property
    def max_queries_per_expiry(self) -> int:
        return int(self.queries_per_window.max()) if self.windows else 0

    @property
    def share_windows_without_miss(self) -> float:
        return float(np.mean(self.misses_per_window == 0)) if self.windows else 1.0

    @property
    def misses(self) -> int:
        return int(self.misses_per_window.sum())

    @property
    def stale_reads(self) -> int:
        return int(self.stale_per_window.sum())

    @property
    def mean_refresh_lead_seconds(self) -> float:
        return float(self.refresh_lead_seconds.mean()) if self.windows else 0.0


def simulate_traffic(
    defense: str,
    *,
    clients: int = 10_000,
    reads_per_client_per_second: float = 0.1,
    seconds: float = 3600.0,
    ttl_seconds: float = 30.0,
    recompute_seconds: float = 0.05,
    parallel_queries: int = 8,
    beta: float = 1.0,
    app_processes: int = 1,
    seed: int = 0,
    arrivals: np.ndarray | None = None,
) -> TrafficReport:
    """``clients`` each reading the hot key ``reads_per_client_per_second``, for ``seconds``.

    Pass ``arrivals`` (from :func:`poisson_arrivals`) to compare defenses on the very
    same reads.
    """
    check_choice("defense", defense, SIM_DEFENSES)
    check_readers(clients)
    beta = check_beta(beta)
    ttl = _check_positive("ttl_seconds", ttl_seconds)
    recompute = _check_positive("recompute_seconds", recompute_seconds)
    started = time.perf_counter()
    if arrivals is None:
        arrivals = poisson_arrivals(clients * reads_per_client_per_second, seconds, seed)
    rng = np.random.default_rng(seed + 1)
    processes = (rng.integers(0, max(1, int(app_processes)), len(arrivals))
                 if defense == "single-flight" else None)
    queries, misses, stale, leads = [], [], [], []
    # The key was filled at time 0 by a query that took recompute_seconds.
    expires_at, delta, i, n = ttl, recompute, 0, len(arrivals)
    while i < n:
        queriers = None
        if defense == "xfetch":
            # Each read before expiry recomputes early if  t - delta*beta*ln(u) >= expiry.
            stop = int(np.searchsorted(arrivals, expires_at, side="left"))
            seg = arrivals[i:stop]
            u = 1.0 - rng.random(len(seg))
            early = refresh_early(seg, expires_at, delta, beta, u)
            hit = int(np.argmax(early)) if early.any() else -1
            first = i + hit if hit >= 0 else stop
            if first >= n:
                break
            # Readers during the refresh that would also recompute early (XFetch has no lock).
            window_end = int(np.searchsorted(arrivals, arrivals[first] + recompute, side="left"))
            tail = arrivals[first:max(window_end, first + 1)]
            tail_u = 1.0 - rng.random(len(tail))
            queriers = refresh_early(tail, expires_at, delta, beta, tail_u)
        else:
            first = int(np.searchsorted(arrivals, expires_at, side="left"))
            if first >= n:
                break
        got = _round(defense, arrivals, first, expires_at, recompute=recompute,
                     parallel=int(parallel_queries), queriers=queriers, processes=processes)
        queries.append(got.queries)
        misses.append(got.misses)
        stale.append(got.stale_reads)
        leads.append(expires_at - float(arrivals[first]))
        expires_at = got.last_write + ttl
        delta = got.last_delta
        i = got.end_index
    return TrafficReport(
        defense=defense, clients=clients, reads=int(n), seconds=float(seconds), ttl_seconds=ttl,
        beta=beta, queries_per_window=np.array(queries, dtype=int),
        misses_per_window=np.array(misses, dtype=int), stale_per_window=np.array(stale, dtype=int),
        refresh_lead_seconds=np.array(leads, dtype=float),
        runtime_seconds=time.perf_counter() - started,
    )


def xfetch_miss_probability(reads_per_second: float, recompute_seconds: float, beta: float) -> float:
    """About how often XFetch lets a window expire before anyone refreshed it.

    Early recomputes form a Poisson stream whose rate rises as ``exp(-x / (delta*beta))``
    at ``x`` seconds before expiry; no recompute in the last ``delta`` seconds'
    worth of it leaves a miss.  So P(miss) ~ exp(-rate * delta * beta * e^(-1/beta)).
    """
    if beta <= 0:
        return 1.0
    return math.exp(-reads_per_second * recompute_seconds * beta * math.exp(-1.0 / beta))


# -- many keys expiring together --------------------------------------------------------------


def synchronized_expiry(
    keys: int = 1000,
    *,
    ttl_seconds: float = 300.0,
    jitter_fraction: float = 0.0,
    seconds: float = 3600.0,
    seed: int = 0,
) -> np.ndarray:
    """DB refreshes per second when ``keys`` hot keys were all filled at time 0.

    Each key is refreshed the moment it expires (it is hot) and gets a new TTL of
    ``ttl_seconds * (1 + U(-jitter, +jitter))``.  Without jitter, every key expires in
    the same second, again and again.
    """
    check_readers(keys)
    ttl = _check_positive("ttl_seconds", ttl_seconds)
    if isinstance(jitter_fraction, bool) or not isinstance(jitter_fraction, (int, float)) or not (
        0 <= jitter_fraction < 1
    ):
        raise LabError(f"jitter_fraction must be in [0, 1) (got {jitter_fraction!r}); 0.1 means +/-10% of the TTL.")
    rng = np.random.default_rng(seed)
    t = np.zeros(keys)
    refreshes = []
    while True:
        t = t + ttl * (1.0 + rng.uniform(-jitter_fraction, jitter_fraction, keys))
        inside = t[t < seconds]
        if inside.size == 0:
            break
        refreshes.append(inside)
    times = np.concatenate(refreshes) if refreshes else np.zeros(0)
    return np.bincount(times.astype(int), minlength=int(seconds))[: int(seconds)]


# -- what protection costs, key by key ----------------------------------------------------------


@dataclass
class ProtectionCosts:
    """Per key (most popular first), per second: refreshes, duplicate queries, lock bookkeeping."""

    reads_per_second: np.ndarray
    refreshes_per_second: np.ndarray
    duplicates_per_second: np.ndarray       # queries a lock would have saved
    bookkeeping_per_second: np.ndarray      # extra store commands a lock costs

    def protect_top(self, hot_keys: int) -> tuple[float, float]:
        """(share of avoidable duplicate queries removed, share of all-keys bookkeeping paid)."""
        k = int(hot_keys)
        saved = self.duplicates_per_second[:k].sum() / max(self.duplicates_per_second.sum(), 1e-12)
        paid = self.bookkeeping_per_second[:k].sum() / max(self.bookkeeping_per_second.sum(), 1e-12)
        return float(saved), float(paid)


def protection_costs(
    keys: int = 10_000,
    *,
    alpha: float = 1.0,
    reads_per_second: float = 5000.0,
    ttl_seconds: float = 30.0,
    recompute_seconds: float = 0.05,
    lock_commands: int = 2,
) -> ProtectionCosts:
    """Expected-value model of a lock on every key of a Zipf workload.

    A key read ``r`` times a second is refreshed about once per ``ttl + 1/r`` seconds
    (it waits for its next reader after expiring).  Readers arriving during the
    ``recompute_seconds`` of a refresh - about ``r * recompute`` of them - would each
    query the database without protection: those are the duplicates a lock saves.
    The lock costs ``lock_commands`` (SET NX + compare-and-delete) per refresh, on
    every protected key, hot or not.  The simulation checks these formulas for one key.
    """
    check_readers(keys)
    ttl = _check_positive("ttl_seconds", ttl_seconds)
    recompute = _check_positive("recompute_seconds", recompute_seconds)
    rates = zipf_probabilities(keys, alpha) * _check_positive("reads_per_second", reads_per_second)
    refreshes = 1.0 / (ttl + 1.0 / rates)
    duplicates = refreshes * rates * recompute
    bookkeeping = refreshes * lock_commands
    return ProtectionCosts(rates, refreshes, duplicates, bookkeeping)


# The beta exercise: a slow page with modest traffic.
BETA_TASK = {
    "reads_per_second": 20.0,
    "recompute_seconds": 0.4,
    "ttl_seconds": 60.0,
    "seconds": 36_000.0,
    "min_share_without_miss": 0.99,
    "max_mean_lead_seconds": 10.0,
}


def beta_task_run(beta: float) -> TrafficReport:
    """XFetch at ``beta`` on the beta exercise's page (:data:`BETA_TASK`), ten hours of it."""
    t = BETA_TASK
    return simulate_traffic("xfetch", clients=int(t["reads_per_second"]), reads_per_client_per_second=1.0,
                            seconds=t["seconds"], ttl_seconds=t["ttl_seconds"],
                            recompute_seconds=t["recompute_seconds"], beta=beta, seed=4)
