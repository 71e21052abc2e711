"""The fast simulation: hit, miss and stale for every read, in numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LabError, check_choice
from ._common import (
    _KEY_SHIFT,
    _STARTS,
    TICKS_PER_SECOND,
    _check_fraction,
    _check_ttl,
    _ticks,
)
from .events import Events, _traffic_events, make_events
from .traffic import Band, Traffic, popularity_bands

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
    # Merge by read index (a key's starting copy serves the reads before its first
    # miss); inserting a few thousand entries is far cheaper than sorting millions.
    at = np.searchsorted(miss_index, key_start[start_keys], side="left")
    cycle_key = np.insert(miss_key, at, start_keys)
    cycle_first = np.insert(miss_index, at, key_start[start_keys])
    cycle_end = np.insert(miss_end, at, roots[start_keys])
    cycle_fill = np.insert(events.read_tick[miss_index], at, fill[start_keys])
    is_miss = np.insert(np.ones(miss_index.size, dtype=bool), at, False)

    # The copy turns stale at the first write after its fill.  (At one instant a
    # write comes before a fill or a read.)
    writes = events.writes(replica)
    w_pos = np.searchsorted(writes.code, key_code[cycle_key] + cycle_fill, side="right")
    has_write = w_pos < writes.bounds[1:][cycle_key]
    if writes.code.size:
        w_tick = np.where(has_write, writes.tick[np.minimum(w_pos, writes.code.size - 1)], _NO_WRITE)
    else:
        w_tick = np.full(cycle_key.size, _NO_WRITE, dtype=np.int64)
    # Only copies written before their last read have stale reads to look up.
    stale_from = cycle_end.copy()
    turned = np.flatnonzero(
        (cycle_end > cycle_first) & (w_tick <= events.read_tick[np.maximum(cycle_end - 1, 0)])
    )
    stale_from[turned] = np.searchsorted(
        events.read_code, key_code[cycle_key[turned]] + w_tick[turned], side="left"
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
    """The figures of one popularity band."""

    band: Band
    reads: int
    db_reads: int
    stale_reads: int
    mean_stale_age_seconds: float
    max_stale_age_seconds: float

    @property
    def hit_ratio(self) -> float:
        return 1 - self.db_reads / self.reads if self.reads else 0.0

    @property
    def stale_read_share(self) -> float:
        return self.stale_reads / self.reads if self.reads else 0.0


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
    misses = np.zeros(n_keys)
    stale = np.zeros(n_keys)
    age_sums = np.zeros(n_keys)  # in ticks
    max_ages = np.zeros(n_keys, dtype=np.int64)
    prefix = events.read_tick_prefix
    for run in runs:
        stale_counts = run.cycle_stale_reads
        has_stale = stale_counts > 0
        first_write = np.where(has_stale, run.cycle_first_write_tick, 0)
        # Σ (t - w) over a cycle's stale reads, from prefix sums of the read times.
        cycle_ages = (prefix[run.cycle_end] - prefix[run.cycle_stale_from]) - stale_counts * first_write
        misses += np.bincount(events.read_key[run.miss_index], minlength=n_keys)
        stale += np.bincount(run.cycle_key, weights=stale_counts, minlength=n_keys)
        age_sums += np.bincount(run.cycle_key, weights=cycle_ages, minlength=n_keys)
        # The oldest stale read of a copy is its last read.
        last = events.read_tick[run.cycle_end[has_stale] - 1]
        np.maximum.at(max_ages, run.cycle_key[has_stale], last - first_write[has_stale])
    reads = np.diff(events.read_bounds) * len(runs)

    def figures(keys: slice) -> tuple[int, int, int, float, float]:
        n_stale = int(stale[keys].sum())
        mean_age = float(age_sums[keys].sum()) / n_stale / TICKS_PER_SECOND if n_stale else 0.0
        max_age = int(max_ages[keys].max()) / TICKS_PER_SECOND if n_stale else 0.0
        return int(reads[keys].sum()), int(misses[keys].sum()), n_stale, mean_age, max_age

    total_reads, total_misses, total_stale, mean_age, max_age = figures(slice(None))
    return SimResult(
        ttl_seconds=runs[0].ttl_seconds,
        duration_seconds=events.duration_seconds * len(runs),
        reads=total_reads,
        hits=total_reads - total_misses,
        db_reads=total_misses,
        stale_reads=total_stale,
        mean_stale_age_seconds=mean_age,
        max_stale_age_seconds=max_age,
        bands=tuple(BandResult(band, *figures(band.keys)) for band in bands),
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
