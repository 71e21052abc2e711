"""TTL tuning: hit ratio against staleness, simulated and modelled side by side.

A cache-aside entry that is filled on a miss and kept for ``ttl_seconds`` turns
each key's reads into a renewal process: a miss fills the entry, every read in
the next ``T`` seconds hits, the first read after that misses again.  If a key
is read at Poisson rate λ and written at Poisson rate μ (and writes do not
invalidate the cache, so only the TTL corrects a copy):

* hit ratio                 h = λT / (1 + λT)
* stale share of hits       s = 1 - (1 - e^(-μT)) / (μT)
* DB reads per second       λ / (1 + λT)

(Jung, Berger & Balakrishnan, "Modeling TTL-based Internet Caches", INFOCOM 2003.)

This module offers three views of the same question, so each checks the others:

* :func:`model` / :func:`model_curve` - the closed form above, summed over a
  Zipf key space (weighted by reads).
* :func:`simulate` / :func:`simulate_keys` - a seeded simulation of the actual
  read and write times (millions of events per second of CPU, numpy only) that
  decides hit, miss and stale for every read.  It never uses the formulas above
  except to start each key in its steady state (see :func:`simulate_keys`).
* :func:`replay_through_store` - the same events replayed one by one through a
  real :class:`~labkit.store.MemoryStore` on a :class:`~labkit.clock.VirtualClock`
  in front of the SQLite :class:`~labkit.database.Database`, judged by the
  :class:`~labkit.metrics.StalenessMeter`.  The fast simulation must agree with
  it read for read.

Plus the cost side (:func:`break_even_ttl`: below it the cache only adds
latency), TTL jitter after a bulk warm-up (:func:`jitter_timeline`), a demo on
the notebook's own Redis (:func:`bulk_warm_up`), the notebook's live charts and
its exercises.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import LabError, check_choice
from .workloads import zipf_probabilities

if TYPE_CHECKING:
    from .exercises import Exercise
    from .store import Store
    from .widgets import LivePlot

__all__ = [
    "TICKS_PER_SECOND",
    "Traffic",
    "Events",
    "make_events",
    "ReadOutcomes",
    "run_events",
    "Band",
    "popularity_bands",
    "SimResult",
    "BandResult",
    "simulate",
    "simulate_keys",
    "ModelResult",
    "hit_ratio_model",
    "stale_share_of_hits_model",
    "mean_stale_age_model",
    "model",
    "model_curve",
    "break_even_hit_ratio",
    "read_latency_ms",
    "break_even_ttl",
    "longest_ttl_within",
    "JitterResult",
    "jitter_timeline",
    "jittered_ttl",
    "bulk_warm_up",
    "replay_through_store",
    "chart_duration_seconds",
    "explore",
    "explore_bands",
    "explore_cost",
    "explore_jitter",
    "DataSet",
    "DATA_SETS",
    "needs_event_invalidation",
    "exercises",
]

# Event times live on an integer grid of 2**-20 s (about 1 µs).  Every time, TTL
# and expiry is then an exact binary fraction, so the float arithmetic of the
# MemoryStore replay (now + ttl, expiry <= now) gives bit-for-bit the answers the
# integer simulation gives.
TICKS_PER_SECOND = 2**20
# A read's sort code is key * 2**41 + tick: one sorted int64 array holds every
# key's reads in time order, and one searchsorted finds "the first read of this
# key at or after t" for all reads at once.
_KEY_SHIFT = 41
_KEY_SPAN = 1 << _KEY_SHIFT
_HALF_SPAN = _KEY_SPAN // 2
_MAX_SPAN_SECONDS = _HALF_SPAN // TICKS_PER_SECOND  # history + duration must fit
_MAX_KEYS = 1_000_000
_STARTS = ("steady", "bulk", "cold")


# ---------------------------------------------------------------------------------
# Input checks: one sentence each, saying how to fix it
# ---------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and not math.isnan(float(value))
    )


def _check_ttl(ttl_seconds: Any, name: str = "ttl_seconds") -> float:
    if not _is_number(ttl_seconds) or ttl_seconds <= 0 or math.isinf(float(ttl_seconds)):
        raise LabError(
            f"{name} must be a number of seconds > 0 (got {ttl_seconds!r}); "
            "a TTL cache needs a finite TTL, for example 300 for five minutes."
        )
    if float(ttl_seconds) * TICKS_PER_SECOND < 1:
        raise LabError(f"{name} must be at least 1 µs (got {ttl_seconds!r}).")
    return float(ttl_seconds)


def _check_rate(name: str, value: Any, *, allow_zero: bool) -> float:
    ok = _is_number(value) and math.isfinite(float(value)) and (
        value >= 0 if allow_zero else value > 0
    )
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise LabError(f"{name} must be a finite number {bound} (got {value!r}); a rate cannot be negative.")
    return float(value)


def _check_alpha(alpha: Any) -> float:
    if not _is_number(alpha) or alpha <= 0 or not math.isfinite(float(alpha)):
        raise LabError(
            f"alpha must be > 0 (got {alpha!r}); Zipf skew around 0.6-1.2 is typical, "
            "and a small alpha such as 0.1 is close to uniform."
        )
    return float(alpha)


def _check_fraction(name: str, value: Any, *, upper: float = 1.0) -> float:
    if not _is_number(value) or not 0 <= value < upper:
        raise LabError(f"{name} must be at least 0 and below {upper:g} (got {value!r}), e.g. 0.1 for ±10%.")
    return float(value)


def _check_duration(name: str, value: Any) -> float:
    if not _is_number(value) or value <= 0 or value > _MAX_SPAN_SECONDS:
        raise LabError(
            f"{name} must be between 0 and {_MAX_SPAN_SECONDS:,} seconds (got {value!r})."
        )
    return float(value)


def _ticks(seconds: float) -> int:
    return max(1, int(round(seconds * TICKS_PER_SECOND)))


# ---------------------------------------------------------------------------------
# The traffic: Zipf popularity, Poisson reads and writes
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """Who reads and writes how often.

    ``reads_per_second`` is the total over all keys, split by Zipf popularity
    (key 0 is the most popular); every key is written ``writes_per_key_per_hour``
    times an hour on average, by someone who does not tell the cache.
    """

    n_keys: int = 1000
    alpha: float = 0.9
    reads_per_second: float = 100.0
    writes_per_key_per_hour: float = 2.0

    def __post_init__(self) -> None:
        n = self.n_keys
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= _MAX_KEYS:
            raise LabError(f"n_keys must be a whole number from 1 to {_MAX_KEYS:,} (got {n!r}).")
        _check_alpha(self.alpha)
        _check_rate("reads_per_second", self.reads_per_second, allow_zero=False)
        _check_rate("writes_per_key_per_hour", self.writes_per_key_per_hour, allow_zero=True)

    @property
    def write_rate_per_second(self) -> float:
        """μ, per key."""
        return self.writes_per_key_per_hour / 3600.0

    def read_rates(self) -> np.ndarray:
        """λ for every key, reads per second (key 0 the most popular)."""
        return _read_rates(int(self.n_keys), float(self.alpha), float(self.reads_per_second))

    def replace(self, **changes: Any) -> Traffic:
        values = {**self.__dict__, **changes}
        return Traffic(**values)


@functools.lru_cache(maxsize=16)
def _read_rates(n_keys: int, alpha: float, reads_per_second: float) -> np.ndarray:
    rates = zipf_probabilities(n_keys, alpha) * reads_per_second
    rates.setflags(write=False)
    return rates


@dataclass(frozen=True)
class Band:
    """A slice of the key space by popularity rank (1 = the most popular)."""

    label: str
    first_rank: int
    last_rank: int

    @property
    def keys(self) -> slice:
        return slice(self.first_rank - 1, self.last_rank)


def popularity_bands(n_keys: int) -> tuple[Band, ...]:
    """Decades of popularity rank: the top 10 keys, ranks 11-100, 101-1,000, ..."""
    bands, first, last = [], 1, 10
    while first <= n_keys:
        end = min(last, n_keys)
        label = f"top {end:,} keys" if first == 1 else f"ranks {first:,}-{end:,}"
        bands.append(Band(label, first, end))
        first, last = last + 1, last * 10
    return tuple(bands)


# ---------------------------------------------------------------------------------
# Events: every read and write time, drawn once and shared by every TTL
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Writes:
    """One history of writes, sorted by key then time (codes as for reads)."""

    code: np.ndarray
    key: np.ndarray
    tick: np.ndarray
    bounds: np.ndarray  # writes of key k are [bounds[k], bounds[k+1])


class Events:
    """The reads and writes of one simulated run, sorted by key and then time.

    Reads fall in ``[0, duration)``; writes in ``[-history, duration)``, because a
    key that starts the run holding a copy filled up to ``history`` seconds ago can
    be stale from the start.  The same events are replayed for every TTL (common
    random numbers), so a curve over TTLs is smooth and differences are real.
    """

    def __init__(
        self,
        read_rates: np.ndarray,
        write_rate_per_second: float,
        duration_seconds: float,
        history_seconds: float,
        seed: int,
    ) -> None:
        rates = np.asarray(read_rates, dtype=np.float64)
        if rates.ndim != 1 or rates.size == 0 or rates.size > _MAX_KEYS:
            raise LabError(f"read_rates must be a 1-D array of 1 to {_MAX_KEYS:,} per-key rates.")
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise LabError("read_rates must be finite numbers >= 0 (reads per second, per key).")
        self.read_rates = rates
        self.write_rate = _check_rate("write_rate_per_second", write_rate_per_second, allow_zero=True)
        self.duration_seconds = _check_duration("duration_seconds", duration_seconds)
        self.history_seconds = float(history_seconds)
        if not _is_number(history_seconds) or history_seconds < 0:
            raise LabError(f"history_seconds must be >= 0 (got {history_seconds!r}).")
        _check_duration("history_seconds + duration_seconds", self.history_seconds + duration_seconds)
        self.seed = int(seed)
        self.n_keys = rates.size
        self.duration_ticks = _ticks(self.duration_seconds)
        self.history_ticks = int(round(self.history_seconds * TICKS_PER_SECOND))

        rng = self._rng = np.random.default_rng([self.seed, 0])
        keys = np.arange(self.n_keys, dtype=np.int64)
        counts = rng.poisson(rates * self.duration_seconds)
        codes = (np.repeat(keys, counts) << _KEY_SHIFT) + rng.integers(
            0, self.duration_ticks, int(counts.sum()), dtype=np.int64
        )
        codes.sort()
        self.read_code = codes
        self.read_key = codes >> _KEY_SHIFT
        self.read_tick = codes - (self.read_key << _KEY_SHIFT)
        self.read_bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        # Prefix sums of read times: the total age of a run of stale reads in O(1).
        self.read_tick_prefix = np.concatenate(([0], np.cumsum(self.read_tick)))

        self._writes: dict[int, Writes] = {}
        self._start_draws: dict[int, np.ndarray] = {}
        self._jitter_draws: np.ndarray | None = None
        first = self.writes(0)
        self.write_code, self.write_key = first.code, first.key
        self.write_tick, self.write_bounds = first.tick, first.bounds

    @property
    def n_reads(self) -> int:
        return int(self.read_code.size)

    @property
    def n_writes(self) -> int:
        return int(self.write_code.size)

    def writes(self, replica: int = 0) -> Writes:
        """The writes of one replica: an independent draw over the same reads.

        Writes never change which reads hit, so replaying the same reads against
        several independent write histories (and starting states) is an honest way
        to average out the luck of a few writes to the hottest keys.
        """
        if replica not in self._writes:
            rng = np.random.default_rng([self.seed, 3, replica]) if replica else self._rng
            span = self.history_seconds + self.duration_seconds
            counts = rng.poisson(np.full(self.n_keys, self.write_rate * span))
            keys = np.arange(self.n_keys, dtype=np.int64)
            codes = (np.repeat(keys, counts) << _KEY_SHIFT) + rng.integers(
                -self.history_ticks, self.duration_ticks, int(counts.sum()), dtype=np.int64
            )
            codes.sort()
            key = (codes + _HALF_SPAN) >> _KEY_SHIFT
            bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
            self._writes[replica] = Writes(codes, key, codes - (key << _KEY_SHIFT), bounds)
        return self._writes[replica]

    def start_draws(self, replica: int = 0) -> np.ndarray:
        """Two uniform draws per key for its starting state (own stream per replica)."""
        if replica not in self._start_draws:
            rng = np.random.default_rng([self.seed, 1, replica])
            self._start_draws[replica] = rng.random((2, self.n_keys))
        return self._start_draws[replica]

    def jitter_draws(self) -> tuple[np.ndarray, np.ndarray]:
        """Uniform draws in [-1, 1): one per key (its warm-up fill), one per read."""
        if self._jitter_draws is None:
            rng = np.random.default_rng([self.seed, 2])
            self._jitter_draws = rng.uniform(-1.0, 1.0, self.n_keys + self.n_reads)
        return self._jitter_draws[: self.n_keys], self._jitter_draws[self.n_keys :]

    def __repr__(self) -> str:
        return (
            f"Events(keys={self.n_keys:,}, reads={self.n_reads:,}, writes={self.n_writes:,}, "
            f"duration={self.duration_seconds:g} s, seed={self.seed})"
        )


def make_events(
    read_rates: np.ndarray,
    write_rate_per_second: float,
    *,
    duration_seconds: float,
    history_seconds: float = 0.0,
    seed: int = 0,
) -> Events:
    """Draw every read and write time of a run (Poisson per key, seeded)."""
    return Events(read_rates, write_rate_per_second, duration_seconds, history_seconds, seed)


@functools.lru_cache(maxsize=6)
def _traffic_events(traffic: Traffic, duration_seconds: float, history_seconds: float, seed: int) -> Events:
    return Events(
        traffic.read_rates(), traffic.write_rate_per_second, duration_seconds, history_seconds, seed
    )


# ---------------------------------------------------------------------------------
# The fast simulation
# ---------------------------------------------------------------------------------

# Chains are first walked one miss per step for every key at once; keys that
# still have misses left after this many steps (hot keys under short TTLs) are
# finished by pointer doubling over their remaining reads.
_WALK_STEPS = 256


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, e)`` for every pair, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


def _double(next_read: np.ndarray, roots: np.ndarray, n_reads: int) -> np.ndarray:
    """Every read reachable from ``roots`` by following ``next_read``.

    Pointer doubling walks all chains in log2(longest chain) numpy steps.
    Invariant: ``reached`` holds every read 0 .. 2**k - 1 steps from a root, and
    ``jump`` is ``next_read`` applied 2**k times (``n_reads`` means "no more").
    """
    reached = roots[roots < n_reads]
    found = [reached]
    jump = next_read
    while True:
        further = jump[reached]
        further = further[further < n_reads]
        if further.size == 0:
            return np.concatenate(found)
        found.append(further)
        reached = np.concatenate((reached, further))
        jump = jump[jump]


def _find_misses(
    events: Events, read_ttl: np.ndarray | int, roots: np.ndarray, key_end: np.ndarray
) -> np.ndarray:
    """Indices of every read that misses, given each key's first miss (``roots``).

    From a miss at read j, the next miss is the first read of the same key at or
    after t_j + TTL: the entry expires at ``expiry <= now``, as in the store.
    """
    code, n_reads = events.read_code, events.n_reads
    keys = np.flatnonzero(roots < key_end)
    current = roots[keys]
    found = [current]
    for _ in range(_WALK_STEPS):
        ttl = read_ttl if np.isscalar(read_ttl) else read_ttl[current]
        current = np.searchsorted(code, code[current] + ttl, side="left")
        alive = current < key_end[keys]
        current, keys = current[alive], keys[alive]
        if current.size == 0:
            return _sorted_unique(found, n_reads)
        found.append(current)
    # Long chains: double over the remaining reads of just those keys.
    subset = _ranges(current, key_end[keys])
    sub_code = code[subset]
    sub_end = np.repeat(np.cumsum(key_end[keys] - current), key_end[keys] - current)
    ttl = read_ttl if np.isscalar(read_ttl) else read_ttl[subset]
    nxt = np.searchsorted(sub_code, sub_code + ttl, side="left")
    nxt[nxt >= sub_end] = subset.size
    nxt = np.append(nxt, subset.size)
    sub_roots = np.cumsum(key_end[keys] - current) - (key_end[keys] - current)
    found.append(subset[_double(nxt, sub_roots, subset.size)])
    # The walk's last step and the doubling's roots are the same reads.
    return _sorted_unique(found, n_reads)


def _sorted_unique(parts: list[np.ndarray], n_reads: int) -> np.ndarray:
    # A mask over all reads is O(n), where sorting millions of misses is not.
    mask = np.zeros(n_reads, dtype=bool)
    for part in parts:
        mask[part] = True
    return np.flatnonzero(mask)


@dataclass(frozen=True)
class Run:
    """One TTL over one set of events, described by its fills ("cycles").

    A cycle is one copy in the cache: filled at ``fill_tick`` (by a miss, or before
    time 0 for a key that starts with a copy) and serving the key's reads
    ``first .. end-1``.  The copy turns stale at ``first_write_tick``, the first
    write after the fill; reads ``stale_from .. end-1`` got it stale.
    """

    events: Events
    ttl_seconds: float
    miss_index: np.ndarray  # sorted read indices that missed
    cycle_key: np.ndarray
    cycle_first: np.ndarray
    cycle_end: np.ndarray
    cycle_fill_tick: np.ndarray
    cycle_first_write_tick: np.ndarray  # _NO_WRITE if none before the run ends
    cycle_stale_from: np.ndarray
    initial_fill_tick: np.ndarray  # per key (meaningful where initially_cached)
    initial_expiry_tick: np.ndarray
    initially_cached: np.ndarray
    replica: int

    @property
    def cycle_stale_reads(self) -> np.ndarray:
        return self.cycle_end - self.cycle_stale_from

    def outcomes(self) -> ReadOutcomes:
        """Per-read arrays (for checking against the store replay; costs memory)."""
        n = self.events.n_reads
        miss = np.zeros(n, dtype=bool)
        miss[self.miss_index] = True
        stale = np.zeros(n, dtype=bool)
        age = np.zeros(n, dtype=np.int64)
        idx = _ranges(self.cycle_stale_from, self.cycle_end)
        stale[idx] = True
        age[idx] = self.events.read_tick[idx] - np.repeat(
            self.cycle_first_write_tick, self.cycle_stale_reads
        )
        return ReadOutcomes(miss, stale, age)


@dataclass(frozen=True)
class ReadOutcomes:
    """What happened to every read (aligned with ``events.read_code``)."""

    miss: np.ndarray  # bool: went to the database and refilled the cache
    stale: np.ndarray  # bool: a hit that returned a superseded version
    stale_age_ticks: np.ndarray  # int64: how long ago that version was superseded (0 if fresh)


_NO_WRITE = np.iinfo(np.int64).max // 4


def run_events(
    events: Events,
    ttl_seconds: float,
    *,
    start: str = "steady",
    jitter_fraction: float = 0.0,
    replica: int = 0,
) -> Run:
    """Decide hit, miss and stale for every read of ``events`` under one TTL.

    ``start`` says what the cache holds at time 0:

    * ``"steady"`` - each key is already in its long-run state, as in a cache that
      has been serving for a while: it holds a copy with probability
      λT / (1 + λT) (the share of time a copy is present), filled uniformly
      within the last T seconds.  Without this, a short run would count every
      key's first read as a miss and overstate the misses of rarely read keys.
    * ``"bulk"`` - a warm-up job filled every key at time 0 (after a deploy).
    * ``"cold"`` - the cache is empty.

    With ``jitter_fraction`` x, every fill gets a TTL drawn uniformly from
    [T(1-x), T(1+x)] (the steady start's copies keep exactly T).  ``replica``
    picks an independent starting state and write history over the same reads.
    """
    ttl = _check_ttl(ttl_seconds)
    check_choice("start", start, _STARTS)
    jitter = _check_fraction("jitter_fraction", jitter_fraction)
    if start == "steady" and ttl > events.history_seconds + 1e-9:
        raise LabError(
            f"These events keep {events.history_seconds:g} s of write history, less than the "
            f"TTL of {ttl:g} s; make them with history_seconds >= the largest TTL you will run."
        )
    ttl_ticks = _ticks(ttl)
    n_keys = events.n_keys
    key_code = np.arange(n_keys, dtype=np.int64) << _KEY_SHIFT
    key_start, key_end = events.read_bounds[:-1], events.read_bounds[1:]

    read_ttl: np.ndarray | int = ttl_ticks
    first_ttl = np.full(n_keys, ttl_ticks, dtype=np.int64)
    if jitter > 0:
        first_u, read_u = events.jitter_draws()
        read_ttl = np.maximum(1, np.round(ttl_ticks * (1.0 + jitter * read_u))).astype(np.int64)
        first_ttl = np.maximum(1, np.round(ttl_ticks * (1.0 + jitter * first_u))).astype(np.int64)

    if start == "steady":
        rates = events.read_rates
        draws = events.start_draws(replica)
        cached = draws[0] < rates * ttl / (1.0 + rates * ttl)
        fill = -np.floor(draws[1] * ttl_ticks).astype(np.int64)
        expiry = fill + ttl_ticks
    elif start == "bulk":
        cached = np.ones(n_keys, dtype=bool)
        fill = np.zeros(n_keys, dtype=np.int64)
        expiry = first_ttl
    else:
        cached = np.zeros(n_keys, dtype=bool)
        fill = np.zeros(n_keys, dtype=np.int64)
        expiry = fill.copy()
    # Each key's first miss: its first read at or after the starting copy expires
    # (its very first read if it starts empty).
    roots = np.where(
        cached, np.searchsorted(events.read_code, key_code + expiry, side="left"), key_start
    )
    roots = np.minimum(roots, key_end)
    miss_index = _find_misses(events, read_ttl, roots, key_end)

    # Cycles: the starting copies (reads before the first miss), then one per miss.
    miss_key = events.read_key[miss_index]
    next_same_key = np.append(miss_index[1:], 0)
    last_of_key = np.append(miss_key[1:] != miss_key[:-1], True)
    miss_end = np.where(last_of_key, key_end[miss_key], next_same_key)
    start_keys = np.flatnonzero(cached)
    cycle_key = np.concatenate((start_keys, miss_key))
    cycle_first = np.concatenate((key_start[start_keys], miss_index))
    cycle_end = np.concatenate((roots[start_keys], miss_end))
    cycle_fill = np.concatenate((fill[start_keys], events.read_tick[miss_index]))
    is_miss = np.concatenate((np.zeros(start_keys.size, dtype=bool), np.ones(miss_index.size, dtype=bool)))
    order = np.argsort(cycle_first, kind="stable")
    cycle_key, cycle_first, cycle_end, cycle_fill, is_miss = (
        a[order] for a in (cycle_key, cycle_first, cycle_end, cycle_fill, is_miss)
    )

    # The copy turns stale at the first write after its fill.  (At one instant a
    # write comes before a fill or a read.)
    writes = events.writes(replica)
    w_pos = np.searchsorted(writes.code, key_code[cycle_key] + cycle_fill, side="right")
    has_write = w_pos < writes.bounds[1:][cycle_key]
    if writes.code.size:
        w_tick = np.where(has_write, writes.tick[np.minimum(w_pos, writes.code.size - 1)], _NO_WRITE)
    else:
        w_tick = np.full(cycle_key.size, _NO_WRITE, dtype=np.int64)
    stale_from = np.searchsorted(
        events.read_code, key_code[cycle_key] + np.minimum(w_tick, _KEY_SPAN - 1), side="left"
    )
    # A miss reads the database itself, so a miss cycle's first read is never stale.
    stale_from = np.clip(stale_from, cycle_first + is_miss, cycle_end)
    return Run(
        events, ttl, miss_index, cycle_key, cycle_first, cycle_end, cycle_fill, w_tick,
        stale_from, fill, expiry, cached, replica,
    )


# ---------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BandResult:
    band: Band
    reads: int
    hit_ratio: float
    stale_read_share: float


@dataclass(frozen=True)
class SimResult:
    """What one simulated run measured."""

    ttl_seconds: float
    duration_seconds: float
    reads: int
    hits: int
    db_reads: int
    stale_reads: int
    mean_stale_age_seconds: float
    max_stale_age_seconds: float
    bands: tuple[BandResult, ...]
    replicas: int = 1

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.reads if self.reads else 0.0

    @property
    def db_reads_per_second(self) -> float:
        return self.db_reads / self.duration_seconds

    @property
    def stale_read_share(self) -> float:
        """Stale reads as a share of all reads."""
        return self.stale_reads / self.reads if self.reads else 0.0

    @property
    def stale_share_of_hits(self) -> float:
        return self.stale_reads / self.hits if self.hits else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "ttl_seconds": self.ttl_seconds,
            "reads": self.reads,
            "hit_ratio": self.hit_ratio,
            "db_reads_per_second": self.db_reads_per_second,
            "stale_read_share": self.stale_read_share,
            "stale_share_of_hits": self.stale_share_of_hits,
            "mean_stale_age_seconds": self.mean_stale_age_seconds,
            "max_stale_age_seconds": self.max_stale_age_seconds,
        }


def summarize(runs: Run | list[Run], bands: tuple[Band, ...] = ()) -> SimResult:
    """Totals, staleness ages and per-band figures, summed over replicas.

    Works per cycle (one per fill), not per read: the stale reads of a cycle are
    a contiguous run of its reads, so counts and ages come from index arithmetic.
    """
    runs = [runs] if isinstance(runs, Run) else list(runs)
    events = runs[0].events
    n_keys = events.n_keys
    per_key_misses = np.zeros(n_keys)
    per_key_stale = np.zeros(n_keys)
    total_stale, age_sum, max_age = 0, 0, 0
    for run in runs:
        stale_counts = run.cycle_stale_reads
        has_stale = stale_counts > 0
        # Σ (t - w) over a cycle's stale reads, from prefix sums of the read times.
        prefix = events.read_tick_prefix
        first_write = np.where(has_stale, run.cycle_first_write_tick, 0)
        age_sum += int(
            ((prefix[run.cycle_end] - prefix[run.cycle_stale_from]) - stale_counts * first_write).sum()
        )
        total_stale += int(stale_counts.sum())
        if has_stale.any():
            last = events.read_tick[run.cycle_end[has_stale] - 1]
            max_age = max(max_age, int((last - run.cycle_first_write_tick[has_stale]).max()))
        per_key_misses += np.bincount(events.read_key[run.miss_index], minlength=n_keys)
        per_key_stale += np.bincount(run.cycle_key, weights=stale_counts, minlength=n_keys)
    per_key_reads = np.diff(events.read_bounds) * len(runs)
    band_results = []
    for band in bands:
        reads = int(per_key_reads[band.keys].sum())
        misses = int(per_key_misses[band.keys].sum())
        stale = int(per_key_stale[band.keys].sum())
        band_results.append(
            BandResult(
                band,
                reads,
                (reads - misses) / reads if reads else 0.0,
                stale / reads if reads else 0.0,
            )
        )
    reads = events.n_reads * len(runs)
    misses = int(per_key_misses.sum())
    return SimResult(
        ttl_seconds=runs[0].ttl_seconds,
        duration_seconds=events.duration_seconds * len(runs),
        reads=reads,
        hits=reads - misses,
        db_reads=misses,
        stale_reads=total_stale,
        mean_stale_age_seconds=age_sum / total_stale / TICKS_PER_SECOND if total_stale else 0.0,
        max_stale_age_seconds=max_age / TICKS_PER_SECOND,
        bands=tuple(band_results),
        replicas=len(runs),
    )


# Replicas (independent starting states and write histories over the same reads)
# are added until the most-read key has lived through about _HOT_KEY_COPIES
# copies, within a budget of simulated copies ("cycles").  They are cheap when the
# TTL is long, which is exactly when a single run's stale share hinges on a
# handful of writes to the hottest keys.
_HOT_KEY_COPIES = 600
_CYCLE_BUDGET = 400_000
_MAX_REPLICAS = 96


def _run_replicas(events: Events, ttl: float, replicas: int | None, start: str) -> list[Run]:
    runs = [run_events(events, ttl, start=start)]
    if replicas is None:
        hottest = int(np.argmax(events.read_rates))
        hot_copies = max(1, int(np.count_nonzero(runs[0].cycle_key == hottest)))
        by_budget = _CYCLE_BUDGET // max(1, runs[0].cycle_key.size)
        # Staleness near 0% or 100% barely varies from copy to copy: fewer needed.
        hits = events.n_reads - runs[0].miss_index.size
        share = float(runs[0].cycle_stale_reads.sum()) / hits if hits else 0.0
        wanted = math.ceil(_HOT_KEY_COPIES * 4 * share * (1 - share) / hot_copies)
        replicas = int(np.clip(min(wanted, by_budget), 1, _MAX_REPLICAS))
    elif isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 256:
        raise LabError(
            f"replicas must be a whole number from 1 to 256, or None for automatic (got {replicas!r})."
        )
    runs += [run_events(events, ttl, start=start, replica=r) for r in range(1, replicas)]
    return runs


def simulate_keys(
    read_rates: np.ndarray,
    write_rate_per_second: float,
    ttl_seconds: float,
    *,
    duration_seconds: float = 3600.0,
    seed: int = 0,
    start: str = "steady",
    replicas: int | None = 1,
) -> SimResult:
    """Simulate keys with the given read rates (per second, per key) under one TTL."""
    ttl = _check_ttl(ttl_seconds)
    events = make_events(
        read_rates, write_rate_per_second, duration_seconds=duration_seconds,
        history_seconds=ttl, seed=seed,
    )
    return summarize(_run_replicas(events, ttl, replicas, start))


def simulate(
    traffic: Traffic,
    ttl_seconds: float,
    *,
    duration_seconds: float = 3600.0,
    seed: int = 0,
    history_seconds: float | None = None,
    replicas: int | None = None,
) -> SimResult:
    """A seeded simulation of ``traffic`` under a TTL, with per-band figures.

    Events are cached per (traffic, duration, history, seed), so sweeping TTLs up
    to ``history_seconds`` (default: this TTL) replays the same reads and writes.
    ``replicas=None`` adds independent write histories until enough copies have
    been simulated (see ``_CYCLE_BUDGET``); pass 1 for a single run.
    """
    ttl = _check_ttl(ttl_seconds)
    history = ttl if history_seconds is None else max(float(history_seconds), ttl)
    events = _traffic_events(traffic, float(duration_seconds), history, int(seed))
    return summarize(_run_replicas(events, ttl, replicas, "steady"), popularity_bands(traffic.n_keys))

# ---------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------


def hit_ratio_model(read_rate: Any, ttl_seconds: Any) -> Any:
    """λT / (1 + λT): the share of one key's reads that hit (works on arrays)."""
    x = np.asarray(read_rate, dtype=float) * np.asarray(ttl_seconds, dtype=float)
    return x / (1.0 + x)


def stale_share_of_hits_model(write_rate: Any, ttl_seconds: Any) -> Any:
    """1 - (1 - e^(-μT)) / (μT): the share of hits that return a superseded copy.

    A hit lands uniformly within its copy's life of T seconds; it is stale if a
    write happened since the fill.  Note it does not depend on the read rate.
    """
    x = np.asarray(write_rate, dtype=float) * np.asarray(ttl_seconds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fresh = np.where(x > 1e-12, -np.expm1(-x) / np.where(x > 1e-12, x, 1.0), 1.0 - x / 2)
    return 1.0 - fresh


def mean_stale_age_model(write_rate: float, ttl_seconds: float) -> float:
    """Mean age of a stale read, in seconds: (T/2 - s/μ) / s, with s the stale share."""
    if write_rate <= 0:
        return 0.0
    s = float(stale_share_of_hits_model(write_rate, ttl_seconds))
    if s <= 0:
        return 0.0
    return (ttl_seconds / 2 - s / write_rate) / s


@dataclass(frozen=True)
class ModelResult:
    ttl_seconds: float
    hit_ratio: float
    stale_share_of_hits: float
    stale_read_share: float
    db_reads_per_second: float
    mean_stale_age_seconds: float
    band_hit_ratios: tuple[float, ...]

    @property
    def max_stale_age_seconds(self) -> float:
        """A copy lives at most T, so no stale read is older than the TTL."""
        return self.ttl_seconds


def model_curve(traffic: Traffic, ttl_seconds: Any, band: Band | None = None) -> dict[str, np.ndarray]:
    """The model for many TTLs at once (fast enough to redraw on every slider move).

    Returns arrays: ``hit_ratio``, ``stale_read_share``, ``stale_share_of_hits``,
    ``db_reads_per_second``, each aligned with ``ttl_seconds``.
    """
    ttls = np.atleast_1d(np.asarray(ttl_seconds, dtype=float))
    for t in ttls:
        _check_ttl(float(t))
    rates = traffic.read_rates()
    if band is not None:
        rates = rates[band.keys]
    total = rates.sum()
    # Sum over keys weighted by reads: Σ λ h / Σ λ; misses per second Σ λ / (1 + λT).
    misses = (rates[:, None] / (1.0 + rates[:, None] * ttls[None, :])).sum(axis=0)
    hit = 1.0 - misses / total
    stale_of_hits = stale_share_of_hits_model(traffic.write_rate_per_second, ttls)
    return {
        "ttl_seconds": ttls,
        "hit_ratio": hit,
        "stale_share_of_hits": stale_of_hits,
        "stale_read_share": hit * stale_of_hits,
        "db_reads_per_second": misses,
    }


def model(traffic: Traffic, ttl_seconds: float) -> ModelResult:
    """The closed-form prediction for ``traffic`` under one TTL."""
    ttl = _check_ttl(ttl_seconds)
    curve = model_curve(traffic, ttl)
    bands = tuple(
        float(model_curve(traffic, ttl, band)["hit_ratio"][0])
        for band in popularity_bands(traffic.n_keys)
    )
    return ModelResult(
        ttl_seconds=ttl,
        hit_ratio=float(curve["hit_ratio"][0]),
        stale_share_of_hits=float(curve["stale_share_of_hits"][0]),
        stale_read_share=float(curve["stale_read_share"][0]),
        db_reads_per_second=float(curve["db_reads_per_second"][0]),
        mean_stale_age_seconds=mean_stale_age_model(traffic.write_rate_per_second, ttl),
        band_hit_ratios=bands,
    )


def _solve_ttl(f: Any, target: float, *, low: float = 1e-4, high: float = 1e7) -> float:
    """The TTL where the increasing function f crosses ``target`` (bisection on log T)."""
    if f(low) >= target:
        return low
    if f(high) < target:
        return math.inf
    lo, hi = math.log(low), math.log(high)
    for _ in range(60):
        mid = (lo + hi) / 2
        if f(math.exp(mid)) < target:
            lo = mid
        else:
            hi = mid
    return math.exp(hi)


def longest_ttl_within(traffic: Traffic, stale_read_budget: float) -> float:
    """The longest TTL whose stale reads stay within ``stale_read_budget`` (a share of reads)."""
    budget = _check_fraction("stale_read_budget", stale_read_budget)
    if traffic.writes_per_key_per_hour == 0:
        return math.inf
    # stale_read_share rises with T, so the crossing is the longest TTL within budget.
    return _solve_ttl(
        lambda t: float(model_curve(traffic, t)["stale_read_share"][0]), budget * (1 + 1e-12)
    )


# ---------------------------------------------------------------------------------
# Cost: when is the cache worth its round trip?
# ---------------------------------------------------------------------------------


def _check_costs(cache_ms: Any, db_ms: Any) -> tuple[float, float]:
    return (
        _check_rate("cache_ms", cache_ms, allow_zero=True),
        _check_rate("db_ms", db_ms, allow_zero=False),
    )


def read_latency_ms(hit_ratio: Any, cache_ms: float, db_ms: float) -> Any:
    """Mean read latency through a cache-aside cache.

    Every read pays one cache round trip (the GET); a miss also pays the query and
    a second round trip (the SET that refills the entry).
    """
    cache_ms, db_ms = _check_costs(cache_ms, db_ms)
    miss = 1.0 - np.asarray(hit_ratio, dtype=float)
    return cache_ms + miss * (db_ms + cache_ms)


def break_even_hit_ratio(cache_ms: float, db_ms: float) -> float:
    """The hit ratio at which the cache saves exactly what it costs: 2c / (c + d).

    From c + (1 - h)(d + c) = d.  Below it, reading the database directly is faster.
    """
    cache_ms, db_ms = _check_costs(cache_ms, db_ms)
    return 2 * cache_ms / (cache_ms + db_ms)


def break_even_ttl(traffic: Traffic, cache_ms: float, db_ms: float) -> float:
    """The TTL below which the cache is pure overhead (``math.inf`` if it always is)."""
    target = break_even_hit_ratio(cache_ms, db_ms)
    if target >= 1:
        return math.inf
    return _solve_ttl(lambda t: float(model_curve(traffic, t)["hit_ratio"][0]), target)


# ---------------------------------------------------------------------------------
# Jitter: a bulk warm-up makes every key expire in the same second
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JitterResult:
    ttl_seconds: float
    jitter_fraction: float
    db_reads_per_second: np.ndarray  # one bin per simulated second

    @property
    def peak_db_reads_per_second(self) -> int:
        return int(self.db_reads_per_second.max()) if self.db_reads_per_second.size else 0

    @property
    def mean_db_reads_per_second(self) -> float:
        return float(self.db_reads_per_second.mean()) if self.db_reads_per_second.size else 0.0


def jitter_timeline(
    traffic: Traffic,
    ttl_seconds: float,
    jitter_fraction: float,
    *,
    duration_seconds: float | None = None,
    seed: int = 0,
) -> JitterResult:
    """DB reads per second after a bulk warm-up filled every key at time 0.

    Without jitter every key expires at exactly T, and every key read in the next
    second misses in that second.  The run lasts three TTLs unless told otherwise.
    """
    ttl = _check_ttl(ttl_seconds)
    jitter = _check_fraction("jitter_fraction", jitter_fraction)
    duration = 3 * ttl if duration_seconds is None else _check_duration("duration_seconds", duration_seconds)
    events = _traffic_events(traffic, float(duration), 0.0, int(seed))
    outcomes = run_events(events, ttl, start="bulk", jitter_fraction=jitter)
    seconds = events.read_tick[outcomes.miss_index] // TICKS_PER_SECOND
    per_second = np.bincount(seconds, minlength=int(math.ceil(duration)))
    return JitterResult(ttl, jitter, per_second)


def jittered_ttl(ttl_seconds: float, jitter_fraction: float, rng: np.random.Generator) -> float:
    """A TTL drawn uniformly from [T(1-x), T(1+x)]."""
    ttl = _check_ttl(ttl_seconds)
    jitter = _check_fraction("jitter_fraction", jitter_fraction)
    return ttl * (1.0 + jitter * rng.uniform(-1.0, 1.0))


def bulk_warm_up(
    store: Store,
    n_keys: int = 8,
    *,
    ttl_seconds: float = 300.0,
    jitter_fraction: float = 0.1,
    seed: int = 0,
) -> list[tuple[str, float, float]]:
    """Fill ``n_keys`` keys on a real store, each with a jittered TTL (SET ... PX).

    Returns (key, ttl set, ttl the store reports) for each, so a learner can see
    that the store itself keeps the spread-out expiry times.
    """
    if isinstance(n_keys, bool) or not isinstance(n_keys, int) or not 1 <= n_keys <= 1000:
        raise LabError(f"n_keys must be a whole number from 1 to 1000 (got {n_keys!r}).")
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_keys):
        key = f"item:{i}"
        ttl = round(jittered_ttl(ttl_seconds, jitter_fraction, rng), 3)
        store.set(key, f"item {i} v1", ttl_seconds=ttl)
        rows.append((key, ttl))
    return [(key, ttl, store.ttl_seconds(key) or 0.0) for key, ttl in rows]


# ---------------------------------------------------------------------------------
# The reference: the same events through the lab's real store and database
# ---------------------------------------------------------------------------------


def replay_through_store(
    events: Events,
    ttl_seconds: float,
    *,
    start: str = "steady",
    jitter_fraction: float = 0.0,
) -> dict[str, Any]:
    """Replay ``events`` one at a time through MemoryStore + Database on a VirtualClock.

    Cache-aside: GET; on a miss read the row and SET it with the TTL (jittered per
    the same draws as :func:`run_events`).  Writes update the database and leave
    the cache alone.  The StalenessMeter judges every read.  Meant for a few keys
    (it is a Python loop over every event); returns per-read ``miss``, ``stale``
    and ``stale_age_seconds`` arrays in the order of ``events.read_code``, plus the
    database's and store's counters.
    """
    from .clock import VirtualClock
    from .database import Database, Row
    from .metrics import StalenessMeter
    from .store import MemoryStore

    ttl = _check_ttl(ttl_seconds)
    plan = run_events(events, ttl, start=start, jitter_fraction=jitter_fraction)  # its start state
    ttl_ticks = _ticks(ttl)
    jitter = _check_fraction("jitter_fraction", jitter_fraction)
    if jitter > 0:
        _, read_u = events.jitter_draws()
        read_ttls = np.maximum(1, np.round(ttl_ticks * (1.0 + jitter * read_u))).astype(np.int64)
    else:
        read_ttls = np.full(events.n_reads, ttl_ticks, dtype=np.int64)
    first_ttls = plan.initial_expiry_tick - plan.initial_fill_tick

    # Virtual time starts at 0, so shift everything by the write history.
    offset = events.history_ticks
    clock = VirtualClock()
    cache = MemoryStore(clock, namespace="ttl-replay")
    db = Database(clock, rows=events.n_keys, latency_seconds=0.0)
    meter = StalenessMeter(db)

    # (tick, order, kind, index): at the same instant writes go first, then the
    # starting fills, then reads - the order run_events assumes.
    timeline: list[tuple[int, int, int]] = []
    for j in range(events.n_writes):
        timeline.append((int(events.write_tick[j]) + offset, 0, j))
    for k in np.flatnonzero(plan.initially_cached):
        timeline.append((int(plan.initial_fill_tick[k]) + offset, 1, int(k)))
    for j in range(events.n_reads):
        timeline.append((int(events.read_tick[j]) + offset, 2, j))
    timeline.sort()

    miss = np.zeros(events.n_reads, dtype=bool)
    stale = np.zeros(events.n_reads, dtype=bool)
    ages = np.zeros(events.n_reads, dtype=float)
    for tick, kind, index in timeline:
        clock.set(tick / TICKS_PER_SECOND)
        if kind == 0:
            key = int(events.write_key[index])
            db.write(key, f"item {key} write {index}")
        elif kind == 1:
            row = db.read(index)
            cache.set(f"item:{index}", row.to_cache(), ttl_seconds=float(first_ttls[index]) / TICKS_PER_SECOND)
        else:
            key = int(events.read_key[index])
            cached = cache.get(f"item:{key}")
            if cached is None:
                miss[index] = True
                row = db.read(key)
                cache.set(f"item:{key}", row.to_cache(), ttl_seconds=float(read_ttls[index]) / TICKS_PER_SECOND)
            else:
                row = Row.from_cache(cached)
            age = meter.observe(key, row.version, clock.now())
            stale[index] = age > 0 or row.version < db.current_version(key)
            ages[index] = age
    db.close()
    return {
        "miss": miss,
        "stale": stale,
        "stale_age_seconds": ages,
        "db_reads": db.stats.reads,
        "db_writes": db.stats.writes,
        "cache_hits": cache.stats.hits,
        "cache_misses": cache.stats.misses,
        "stale_reads": meter.stale_reads,
    }


# ---------------------------------------------------------------------------------
# The notebook's live charts
# ---------------------------------------------------------------------------------

TTL_MIN_SECONDS, TTL_MAX_SECONDS = 1.0, 6 * 3600.0
_SIM_TTLS = (1.0, 10.0, 60.0, 600.0, 3600.0, 6 * 3600.0)
_CHART_READS = 600_000
CHART_CACHE_MS, CHART_DB_MS = 0.5, 2.0
JITTER_TRAFFIC = Traffic(n_keys=5000, alpha=0.6, reads_per_second=1000.0, writes_per_key_per_hour=0.0)


def chart_duration_seconds(reads_per_second: float) -> float:
    """How much traffic a chart simulates: about 600,000 reads, between 1 h and 1 day."""
    return float(np.clip(_CHART_READS / reads_per_second, 3600.0, 86400.0))


@functools.lru_cache(maxsize=256)
def chart_point(traffic: Traffic, ttl_seconds: float) -> SimResult:
    """The simulation behind one chart dot (cached: moving the TTL back is free)."""
    return simulate(
        traffic,
        ttl_seconds,
        duration_seconds=chart_duration_seconds(traffic.reads_per_second),
        history_seconds=TTL_MAX_SECONDS,
    )


def format_seconds(seconds: float) -> str:
    """300 -> '5 min', 5400 -> '1.5 h', 0.47 -> '0.47 s'."""
    if math.isinf(seconds):
        return "never"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def _mark_ttl(ax: Any, ttl: float) -> None:
    ax.axvline(ttl, color="#000000", linestyle=":", linewidth=1.2)
    ax.annotate(
        f"your TTL\n{format_seconds(ttl)}", (ttl, 0.97), xycoords=("data", "axes fraction"),
        xytext=(4, 0), textcoords="offset points", va="top", fontsize="small",
    )


_TTL_TICKS = (
    (0.01, "10 ms"), (0.1, "0.1 s"), (1.0, "1 s"), (10.0, "10 s"), (60.0, "1 min"),
    (600.0, "10 min"), (3600.0, "1 h"), (21600.0, "6 h"),
)


def _ttl_axis(ax: Any, low: float, high: float) -> None:
    """A log TTL axis with readable fixed ticks (also far cheaper to draw than auto ticks)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ticks = [(t, label) for t, label in _TTL_TICKS if low <= t <= high]
    ax.xaxis.set_major_locator(FixedLocator([t for t, _ in ticks]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([label for _, label in ticks])


def _shade_overhead(ax: Any, break_even: float, low: float) -> None:
    if break_even > low:
        ax.axvspan(low, break_even, color="#999999", alpha=0.25, linewidth=0,
                   label="cache is pure overhead")


def _traffic(alpha: float, reads_per_second: float, writes_per_key_per_hour: float) -> Traffic:
    return Traffic(
        n_keys=1000, alpha=round(float(alpha), 4), reads_per_second=round(float(reads_per_second), 4),
        writes_per_key_per_hour=round(float(writes_per_key_per_hour), 4),
    )


def draw_tradeoff(
    fig: Any,
    ttl_seconds: float = 300.0,
    reads_per_second: float = 50.0,
    writes_per_key_per_hour: float = 2.0,
    alpha: float = 0.9,
) -> str:
    """Hit ratio and stale reads against TTL (model lines, simulated dots), and DB load."""
    from . import charts

    traffic = _traffic(alpha, reads_per_second, writes_per_key_per_hour)
    ttl = float(ttl_seconds)
    grid = np.logspace(-1, math.log10(TTL_MAX_SECONDS), 160)
    curve = model_curve(traffic, grid)
    points = [chart_point(traffic, t) for t in _SIM_TTLS]
    here_sim, here_model = chart_point(traffic, ttl), model(traffic, ttl)
    break_even = break_even_ttl(traffic, CHART_CACHE_MS, CHART_DB_MS)
    ax, ax_db = fig.axes

    _shade_overhead(ax, break_even, grid[0])
    for i, (name, label) in enumerate((("hit_ratio", "hit ratio"), ("stale_read_share", "stale reads"))):
        style = charts.series_style(i)
        ax.plot(grid, 100 * curve[name], color=style["color"], linestyle=style["linestyle"],
                label=f"{label} (model)")
        sims = [100 * getattr(p, name) for p in points] + [100 * getattr(here_sim, name)]
        ax.plot([*_SIM_TTLS, ttl], sims, linestyle="none", marker=style["marker"],
                color=style["color"], markeredgecolor="white", label=f"{label} (simulated)")
    _mark_ttl(ax, ttl)
    _ttl_axis(ax, grid[0], grid[-1])
    ax.set_ylim(0, 104)
    charts.finish(
        ax,
        title=f"At {format_seconds(ttl)}: {here_model.hit_ratio:.0%} hits, "
        f"{here_model.stale_read_share:.1%} stale",
        xlabel="TTL (log scale)", ylabel="share of reads (%)",
    )
    ax.legend(frameon=False, fontsize="x-small", loc="center left")

    style = charts.series_style(2)
    ax_db.plot(grid, curve["db_reads_per_second"], color=style["color"], label="model")
    ax_db.plot([*_SIM_TTLS, ttl], [p.db_reads_per_second for p in points] + [here_sim.db_reads_per_second],
               linestyle="none", marker=style["marker"], color=style["color"],
               markeredgecolor="white", label="simulated")
    ax_db.axhline(traffic.reads_per_second, label="no cache: every read", **charts.LIMIT_STYLE)
    _mark_ttl(ax_db, ttl)
    _ttl_axis(ax_db, grid[0], grid[-1])
    ax_db.set_ylim(0, traffic.reads_per_second * 1.08)
    charts.finish(
        ax_db,
        title=f"The DB answers {here_model.db_reads_per_second:.3g} of {traffic.reads_per_second:g} reads/s",
        xlabel="TTL (log scale)", ylabel="DB queries per second",
    )
    return (
        f"TTL {format_seconds(ttl)}: model {here_model.hit_ratio:.1%} hits and "
        f"{here_model.stale_read_share:.2%} stale reads; simulation "
        f"{here_sim.hit_ratio:.1%} and {here_sim.stale_read_share:.2%} "
        f"({here_sim.reads:,} reads). No stale read was older than "
        f"{format_seconds(here_sim.max_stale_age_seconds)} (the TTL bounds it). "
        f"Grey: TTLs under {format_seconds(break_even)}, where a {CHART_CACHE_MS} ms cache "
        f"in front of a {CHART_DB_MS} ms query costs more than it saves."
    )


def explore(ttl_seconds: float = 300.0) -> LivePlot:
    """The trade-off: TTL, read rate, write rate and skew sliders over two charts."""
    from .widgets import LivePlot, log_slider, slider

    return LivePlot(
        draw_tradeoff,
        {
            "ttl_seconds": log_slider("TTL (s)", TTL_MIN_SECONDS, TTL_MAX_SECONDS, ttl_seconds),
            "reads_per_second": log_slider("reads/s (all keys)", 1, 200, 50),
            "writes_per_key_per_hour": log_slider("writes per key per hour", 0.05, 30, 2),
            "alpha": slider("Zipf alpha (skew)", 0.5, 1.0, 0.05, 0.9),
        },
        ncols=2, width=11, height=4.2,
    )


def draw_bands(fig: Any, ttl_seconds: float = 10.0, alpha: float = 0.9) -> str:
    """Hit ratio per popularity band against TTL: hot keys hit early, the tail late."""
    from . import charts

    traffic = _traffic(alpha, 50.0, 2.0)
    ttl = float(ttl_seconds)
    grid = np.logspace(0, math.log10(TTL_MAX_SECONDS), 120)
    here = chart_point(traffic, ttl)
    (ax,) = fig.axes
    bands = popularity_bands(traffic.n_keys)
    for i, band in enumerate(bands):
        style = charts.series_style(i)
        rates = traffic.read_rates()[band.keys]
        ax.plot(grid, 100 * model_curve(traffic, grid, band)["hit_ratio"], color=style["color"],
                linestyle=style["linestyle"],
                label=f"{band.label} ({rates.sum() / traffic.reads_per_second:.0%} of reads)")
        ax.plot([ttl], [100 * here.bands[i].hit_ratio], marker=style["marker"], color=style["color"],
                markeredgecolor="white", linestyle="none")
    _mark_ttl(ax, ttl)
    _ttl_axis(ax, grid[0], grid[-1])
    ax.set_ylim(0, 104)
    top, tail = here.bands[0], here.bands[-1]
    charts.finish(
        ax,
        title=f"At {format_seconds(ttl)} the top 10 keys hit {top.hit_ratio:.0%}, "
        f"the tail {tail.hit_ratio:.0%}",
        xlabel="TTL (log scale)", ylabel="hit ratio (%)",
    )
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    return (
        f"Lines: model per band; dots: simulated at your TTL. A key read every "
        f"{1 / traffic.read_rates()[-1]:.0f} s on average (the least popular) needs a TTL of "
        f"minutes before its copy is ever reused."
    )


def explore_bands(ttl_seconds: float = 10.0) -> LivePlot:
    from .widgets import LivePlot, log_slider, slider

    return LivePlot(
        draw_bands,
        {
            "ttl_seconds": log_slider("TTL (s)", TTL_MIN_SECONDS, TTL_MAX_SECONDS, ttl_seconds),
            "alpha": slider("Zipf alpha (skew)", 0.5, 1.0, 0.05, 0.9),
        },
        width=9, height=3.8,
    )


def draw_cost(
    fig: Any, ttl_seconds: float = 1.0, cache_ms: float = CHART_CACHE_MS, db_ms: float = CHART_DB_MS
) -> str:
    """Mean read latency against TTL, with the region where the cache only costs."""
    from . import charts

    traffic = _traffic(0.9, 50.0, 2.0)
    ttl = float(ttl_seconds)
    grid = np.logspace(-2, math.log10(TTL_MAX_SECONDS), 200)
    latency = read_latency_ms(model_curve(traffic, grid)["hit_ratio"], cache_ms, db_ms)
    break_even = break_even_ttl(traffic, cache_ms, db_ms)
    (ax,) = fig.axes
    _shade_overhead(ax, min(break_even, grid[-1]), grid[0])
    style = charts.series_style(0)
    ax.plot(grid, latency, color=style["color"], label="with the cache (model)")
    ax.axhline(db_ms, label="no cache: every read queries the DB", **charts.LIMIT_STYLE)
    here = float(read_latency_ms(model(traffic, ttl).hit_ratio, cache_ms, db_ms))
    ax.plot([ttl], [here], marker=style["marker"], color=style["color"], linestyle="none")
    _mark_ttl(ax, ttl)
    _ttl_axis(ax, grid[0], grid[-1])
    ax.set_ylim(0, max(db_ms, float(latency.max())) * 1.15)
    title = (
        "At these costs no TTL makes the cache pay"
        if math.isinf(break_even)
        else f"Below a TTL of {format_seconds(break_even)} the cache only adds latency"
    )
    charts.finish(ax, title=title, xlabel="TTL (log scale)", ylabel="mean read latency (ms)")
    ax.legend(frameon=False, fontsize="small", loc="upper right")
    return (
        f"Break-even hit ratio 2c/(c+d) = {break_even_hit_ratio(cache_ms, db_ms):.0%}. "
        f"At {format_seconds(ttl)} a read costs {here:.2f} ms on average against {db_ms:g} ms "
        "straight from the database."
    )


def explore_cost(ttl_seconds: float = 1.0) -> LivePlot:
    from .widgets import LivePlot, log_slider, slider

    return LivePlot(
        draw_cost,
        {
            "ttl_seconds": log_slider("TTL (s)", 0.01, TTL_MAX_SECONDS, ttl_seconds),
            "cache_ms": slider("cache round trip (ms)", 0.05, 2.0, 0.05, CHART_CACHE_MS),
            "db_ms": slider("DB query (ms)", 0.5, 20.0, 0.5, CHART_DB_MS),
        },
        width=9, height=3.8,
    )


def draw_jitter(fig: Any, jitter_percent: float = 10.0, ttl_seconds: float = 300.0) -> str:
    """DB reads per second after a bulk warm-up, without and with jitter."""
    from . import charts

    ttl = float(ttl_seconds)
    plain = jitter_timeline(JITTER_TRAFFIC, ttl, 0.0)
    jittered = jitter_timeline(JITTER_TRAFFIC, ttl, jitter_percent / 100)
    (ax,) = fig.axes
    seconds = np.arange(plain.db_reads_per_second.size)
    for i, (result, label) in enumerate(
        ((plain, "no jitter"), (jittered, f"±{jitter_percent:.0f}% jitter"))
    ):
        style = charts.series_style(i)
        ax.plot(seconds, result.db_reads_per_second, color=style["color"],
                linestyle=style["linestyle"], linewidth=1.2,
                label=f"{label}: peak {result.peak_db_reads_per_second} /s")
    ax.set_xlim(0, seconds.size)
    factor = plain.peak_db_reads_per_second / max(1, jittered.peak_db_reads_per_second)
    title = (
        f"±{jitter_percent:.0f}% jitter cuts the peak {factor:.1f}x"
        if jitter_percent > 0
        else "Every key expires in the same second, and again one TTL later"
    )
    charts.finish(ax, title=title, xlabel="seconds since the bulk warm-up",
                  ylabel="DB queries per second")
    return (
        f"{JITTER_TRAFFIC.n_keys:,} keys filled at t=0 with a {format_seconds(ttl)} TTL, "
        f"{JITTER_TRAFFIC.reads_per_second:g} reads/s. Mean DB load: "
        f"{plain.mean_db_reads_per_second:.1f} /s without jitter, "
        f"{jittered.mean_db_reads_per_second:.1f} /s with it."
    )


def explore_jitter(jitter_percent: float = 10.0) -> LivePlot:
    from .widgets import LivePlot, choice, slider

    return LivePlot(
        draw_jitter,
        {
            "jitter_percent": slider("jitter ± (%)", 0.0, 50.0, 5.0, jitter_percent),
            "ttl_seconds": choice("TTL (s)", [60.0, 300.0, 600.0], 300.0),
        },
        width=10, height=3.6,
    )


# ---------------------------------------------------------------------------------
# Which keys need more than a TTL?
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSet:
    """One kind of cached record, with its traffic and its tolerance for staleness."""

    name: str
    reads_per_second: float  # per key
    writes_per_hour: float  # per key
    stale_budget: float  # the largest tolerable share of stale reads (0 = never)

    def stale_read_share(self, ttl_seconds: float) -> float:
        """Model: the share of this key's reads that are stale under a TTL."""
        ttl = _check_ttl(ttl_seconds)
        return float(
            hit_ratio_model(self.reads_per_second, ttl)
            * stale_share_of_hits_model(self.writes_per_hour / 3600, ttl)
        )

    def longest_ttl_within_budget(self) -> float:
        """The longest TTL whose stale reads stay within the budget (0 if none does)."""
        if self.stale_budget <= 0:
            return 0.0
        if self.writes_per_hour <= 0:
            return math.inf
        return _solve_ttl(self.stale_read_share, self.stale_budget * (1 + 1e-12))

    def break_even_ttl(self, cache_ms: float, db_ms: float) -> float:
        """The shortest TTL at which caching this key beats reading the DB."""
        target = break_even_hit_ratio(cache_ms, db_ms)
        if target >= 1:
            return math.inf
        # λT / (1 + λT) = h*  <=>  T = h* / ((1 - h*) λ)
        return target / ((1 - target) * self.reads_per_second)


DATA_SETS = (
    DataSet("product description", reads_per_second=5.0, writes_per_hour=1 / 24, stale_budget=0.01),
    DataSet("trending list", reads_per_second=20.0, writes_per_hour=60.0, stale_budget=0.10),
    DataSet("stock level", reads_per_second=2.0, writes_per_hour=30.0, stale_budget=0.005),
    DataSet("account balance", reads_per_second=0.1, writes_per_hour=12.0, stale_budget=0.001),
    DataSet("exchange rate", reads_per_second=5.0, writes_per_hour=720.0, stale_budget=0.001),
    DataSet("user permissions", reads_per_second=1.0, writes_per_hour=0.5, stale_budget=0.0),
)


def needs_event_invalidation(data_set: DataSet, cache_ms: float, db_ms: float) -> bool:
    """True when no TTL is both fresh enough and long enough to pay for the cache."""
    return data_set.longest_ttl_within_budget() < data_set.break_even_ttl(cache_ms, db_ms)


def data_set_table(cache_ms: float = CHART_CACHE_MS, db_ms: float = CHART_DB_MS) -> Any:
    """The data sets as an HTML table for the notebook (traffic and budgets only)."""
    from IPython.display import HTML

    rows = "".join(
        f"<tr><td>{d.name}</td><td>{d.reads_per_second:g}</td><td>{d.writes_per_hour:.3g}</td>"
        f"<td>{d.stale_budget:.1%}</td></tr>"
        for d in DATA_SETS
    )
    return HTML(
        "<table><tr><th>data set</th><th>reads/s per key</th><th>writes/hour per key</th>"
        f"<th>stale reads tolerated</th></tr>{rows}</table>"
        f"<p>Cache round trip {cache_ms} ms, DB query {db_ms} ms.</p>"
    )


# ---------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------

EXERCISE_TRAFFIC = Traffic(n_keys=1000, alpha=0.9, reads_per_second=50.0, writes_per_key_per_hour=2.0)
STALE_BUDGET = 0.02


def exercises() -> dict[str, Exercise]:
    """The notebook's three exercises, with checks that accept a small margin."""
    from .exercises import Exercise

    longest = longest_ttl_within(EXERCISE_TRAFFIC, STALE_BUDGET)
    shortest = break_even_ttl(EXERCISE_TRAFFIC, CHART_CACHE_MS, CHART_DB_MS)
    needs = {d.name for d in DATA_SETS if needs_event_invalidation(d, CHART_CACHE_MS, CHART_DB_MS)}

    def check_longest(answer: Any) -> tuple[bool, str]:
        ttl = _check_ttl(answer, "your TTL")
        stale = model(EXERCISE_TRAFFIC, ttl).stale_read_share
        if stale > STALE_BUDGET * 1.0005:
            return False, f"at {ttl:g} s, {stale:.2%} of reads are stale: over the 2% budget."
        if ttl < 0.9 * longest:
            return False, f"{ttl:g} s stays within budget ({stale:.2%} stale), but a longer TTL still would."
        return True, f"{ttl:g} s gives {stale:.2%} stale reads; the exact limit is {longest:.0f} s."

    def check_shortest(answer: Any) -> tuple[bool, str]:
        ttl = _check_ttl(answer, "your TTL")
        hit = model(EXERCISE_TRAFFIC, ttl).hit_ratio
        cost = float(read_latency_ms(hit, CHART_CACHE_MS, CHART_DB_MS))
        if ttl < shortest * 0.999:
            return False, f"at {ttl:g} s a read costs {cost:.2f} ms, more than the {CHART_DB_MS} ms query alone."
        if ttl > shortest * 1.15:
            return False, f"{ttl:g} s pays for itself, but a shorter TTL would too."
        needed = break_even_hit_ratio(CHART_CACHE_MS, CHART_DB_MS)
        return True, f"the break-even TTL is {shortest:.2f} s (hit ratio {needed:.0%})."

    def check_needs(answer: Any) -> tuple[bool, str]:
        if isinstance(answer, str) or not hasattr(answer, "__iter__"):
            raise LabError("Answer with a set of data set names, e.g. {'stock level'}.")
        chosen = {str(a) for a in answer}
        unknown = chosen - {d.name for d in DATA_SETS}
        if unknown:
            raise LabError(f"Unknown data set {sorted(unknown)[0]!r}; use the names from the table.")
        missing, extra = needs - chosen, chosen - needs
        if not missing and not extra:
            return True, "for these, no TTL is both fresh enough and long enough to pay for itself."
        parts = []
        if missing:
            parts.append(f"{len(missing)} that need events {'is' if len(missing) == 1 else 'are'} missing")
        if extra:
            parts.append(f"{len(extra)} of yours can live with a TTL alone")
        return False, "; ".join(parts) + "."

    return {
        "longest_ttl": Exercise(
            "03", "longest-ttl", check_longest,
            hint="Stale reads grow with the TTL. Try ttl.model(traffic, 300).stale_read_share, "
            "then halve or double the TTL until you bracket 2%.",
            solution=(
                "candidates = range(1, 3600)\n"
                "answer = max(t for t in candidates\n"
                "             if ttl.model(traffic, t).stale_read_share <= 0.02)"
                f"   # {longest:.0f} s"
            ),
        ),
        "shortest_ttl": Exercise(
            "03", "shortest-ttl", check_shortest,
            hint="The cache pays once the hit ratio passes 2c/(c+d) = 40%. Find the TTL where "
            "ttl.model(traffic, t).hit_ratio crosses 0.4 (it is below 10 s).",
            solution=(
                "candidates = [t / 100 for t in range(1, 1000)]\n"
                "answer = min(t for t in candidates if ttl.model(traffic, t).hit_ratio >= 0.4)"
                f"   # {shortest:.2f} s"
            ),
        ),
        "needs_events": Exercise(
            "03", "needs-events", check_needs,
            hint="For each data set compare d.longest_ttl_within_budget() with "
            "d.break_even_ttl(0.5, 2.0): if the freshest acceptable TTL is shorter than the "
            "shortest one that pays, a TTL alone cannot do the job.",
            solution=(
                "answer = {d.name for d in ttl.DATA_SETS\n"
                "          if d.longest_ttl_within_budget() < d.break_even_ttl(0.5, 2.0)}"
                f"   # {sorted(needs)}"
            ),
        ),
    }
