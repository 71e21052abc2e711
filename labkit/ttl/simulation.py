"""The fast simulation: hit, miss and stale for every read, in numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LabError, check_choice
from ._common import (
    _HALF_SPAN,
    _KEY_SHIFT,
    _STARTS,
    TICKS_PER_SECOND,
    _check_fraction,
    _check_ttl,
    _ticks,
)
from .events import _AFTER_EVERY_WRITE, Events, _ReadSearch, _traffic_events, make_events
from .traffic import Band, Traffic, popularity_bands

# Chains are first walked one miss per step for every key at once; keys that
# still have misses left after this many steps (hot keys under short TTLs) are
# finished by pointer doubling over their remaining reads.
_WALK_STEPS = 256
# Below this many searches at once, np.searchsorted beats Events.first_reads_at.
_FEW_QUERIES = 500


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


def _next_reads(events: Events, read_ttl: np.ndarray | int, reads: np.ndarray) -> np.ndarray:
    """For each read (a miss), the first read of the same key at or after its expiry.

    The entry expires at ``expiry <= now``, as in the store.  The answer may be a
    read of a later key (or ``n_reads``): the caller compares it with the key's end.
    """
    code = events.read_code
    ttl = read_ttl if np.isscalar(read_ttl) else read_ttl[reads]
    return np.searchsorted(code, code[reads] + ttl, side="left")


def _chain_misses(
    events: Events,
    read_ttl: np.ndarray | int,
    keys: np.ndarray,
    roots: np.ndarray,
    ends: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Every miss of every chain, given each chain's first miss and end.

    A chain is one key's reads under one starting state: reads ``roots[c]`` ..
    ``ends[c] - 1`` of key ``keys[c]``, and from a miss at read j the next miss is the first read at or
    after t_j + TTL.  Returns (the misses' read indices, chain after chain and
    sorted within each; the number of misses of each chain).
    """
    shortest = read_ttl if np.isscalar(read_ttl) else int(read_ttl.min())
    if events.duration_ticks < _WALK_STEPS * shortest:
        return _walk(events, read_ttl, keys, roots, ends)
    # A read that comes at least the longest TTL after the key's previous read
    # misses whatever came before, so it starts a piece of the chain that can be
    # walked on its own: short TTLs then need few steps even on busy keys.
    longest = read_ttl if np.isscalar(read_ttl) else int(read_ttl.max())
    gaps = np.flatnonzero(np.diff(events.read_code) >= longest) + 1
    live = roots < ends
    first_gap = np.searchsorted(gaps, roots, side="right")
    n_gaps = np.where(live, np.searchsorted(gaps, ends, side="left") - first_gap, 0)
    n_pieces = live + n_gaps
    piece_chain = np.repeat(np.arange(roots.size), n_pieces)
    piece_start = np.empty(piece_chain.size, dtype=np.int64)
    head = np.cumsum(n_pieces)[live] - n_pieces[live]
    is_head = np.zeros(piece_chain.size, dtype=bool)
    is_head[head] = True
    piece_start[head] = roots[live]
    piece_start[~is_head] = gaps[_ranges(first_gap[live], first_gap[live] + n_gaps[live])]
    piece_end = np.append(piece_start[1:], 0)
    last = np.append(head[1:], piece_chain.size) - 1 if head.size else head
    piece_end[last] = ends[live]
    # A piece of one read is one miss; only longer pieces need walking.
    longer = np.flatnonzero(piece_end - piece_start > 1)
    walked, walked_counts = _walk(
        events, read_ttl, keys[piece_chain[longer]], piece_start[longer], piece_end[longer]
    )
    piece_counts = np.ones(piece_chain.size, dtype=np.int64)
    piece_counts[longer] = walked_counts
    offsets = np.cumsum(piece_counts) - piece_counts
    misses = np.empty(int(offsets[-1] + piece_counts[-1]) if offsets.size else 0, dtype=np.int64)
    misses[offsets] = piece_start
    walked_offsets = np.cumsum(walked_counts) - walked_counts
    misses[np.repeat(offsets[longer] - walked_offsets, walked_counts) + np.arange(walked.size)] = walked
    counts = np.bincount(piece_chain, weights=piece_counts, minlength=roots.size).astype(np.int64)
    return misses, counts


def _walk(
    events: Events,
    read_ttl: np.ndarray | int,
    keys: np.ndarray,
    roots: np.ndarray,
    ends: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The misses of each chain by walking all chains at once, one miss per step."""
    n_chains = roots.size
    code, read_tick = events.read_code, events.read_tick
    live = np.flatnonzero(roots < ends)
    current, live_ends = roots[live], ends[live]
    search = _ReadSearch(events, keys[live]) if live.size > _FEW_QUERIES else None
    walked_chains, walked_reads = [live], [current]
    for _ in range(_WALK_STEPS):
        ttl = read_ttl if isinstance(read_ttl, int) else read_ttl[current]
        if search is not None:
            current = search.find(read_tick[current] + ttl)
        else:  # one call costs less than the index's few steps
            current = np.searchsorted(code, code[current] + ttl, side="left")
        alive = current < live_ends
        if not alive.all():
            live, current, live_ends = live[alive], current[alive], live_ends[alive]
            if live.size <= _FEW_QUERIES:
                search = None
            elif search is not None:
                search.keep(alive)
            if live.size == 0:
                break
        walked_chains.append(live)
        walked_reads.append(current)
    counts = walk_counts = np.bincount(np.concatenate(walked_chains), minlength=n_chains)
    if live.size:
        # Long chains: double over the remaining reads of just those chains.
        extra, extra_chain = _double_chains(events, read_ttl, current, ends[live])
        extra_chain = live[extra_chain]
        counts = walk_counts + np.bincount(extra_chain, minlength=n_chains)
    offsets = np.cumsum(counts) - counts
    misses = np.empty(int(counts.sum()), dtype=np.int64)
    # Each chain's misses in walking order: step s of chain c goes to offsets[c] + s.
    for step, (chains, reads) in enumerate(zip(walked_chains, walked_reads, strict=True)):
        misses[offsets[chains] + step] = reads
    if live.size:
        # The doubled misses come sorted within each chain, chain after chain.
        first = np.flatnonzero(np.append(True, extra_chain[1:] != extra_chain[:-1]))
        rank = np.arange(extra.size) - np.repeat(first, np.diff(np.append(first, extra.size)))
        misses[offsets[extra_chain] + walk_counts[extra_chain] + rank] = extra
    return misses, counts


def _double_chains(
    events: Events,
    read_ttl: np.ndarray | int,
    current: np.ndarray,
    ends: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The misses after ``current`` (a miss) of each long chain, by pointer doubling.

    Returns the read indices, sorted within each chain and chain after chain, and
    for each the position of its chain in ``current``.
    """
    lengths = ends - current
    subset = _ranges(current, ends)
    size = subset.size
    seg_start = np.cumsum(lengths) - lengths
    # The next miss of each remaining read, as a position in ``subset``.
    following = _next_reads(events, read_ttl, subset)
    nxt = following - np.repeat(current - seg_start, lengths)
    nxt[following >= np.repeat(ends, lengths)] = size
    nxt = np.append(nxt, size)
    mask = np.zeros(size, dtype=bool)
    mask[_double(nxt, seg_start, size)] = True
    mask[seg_start] = False  # the walk's last step: already counted
    local = np.flatnonzero(mask)
    chain = np.searchsorted(seg_start, local, side="right") - 1
    return subset[local], chain


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
    b = _Plan(events, ttl, start, jitter).run((replica,), every_copy=True)
    # Cycles: each key's starting copy (the reads before its first miss), then one
    # per miss, in key order.
    key_start = events.read_bounds[:-1]
    n_cycles = b.miss_counts + b.cached
    cycle_key = np.repeat(np.arange(events.n_keys, dtype=np.int64), n_cycles)
    miss_at = np.arange(b.miss_index.size) + np.repeat(np.cumsum(b.cached), b.miss_counts)
    start_at = (np.cumsum(n_cycles) - n_cycles)[b.start_chains]

    def cycles(at_start: np.ndarray, at_miss: np.ndarray) -> np.ndarray:
        out = np.empty(cycle_key.size, dtype=np.int64)
        out[start_at], out[miss_at] = at_start, at_miss
        return out

    return Run(
        events, ttl, b.miss_index, cycle_key,
        cycles(key_start[b.start_chains], b.miss_index),
        cycles(b.roots[b.start_chains], b.miss_end),
        cycles(b.fill[b.start_chains], events.read_tick[b.miss_index]),
        cycles(b.starts[0], b.misses[0]),
        cycles(b.starts[1], b.misses[1]),
        b.fill, b.expiry, b.cached, replica,
    )


@dataclass(frozen=True)
class _Stale:
    """The copies of one kind (starting copies, or misses) that served stale reads."""

    at: np.ndarray  # their positions among the copies of that kind
    reads: np.ndarray  # stale reads (as floats: what np.bincount adds)
    age_sums: np.ndarray  # Σ (read time - write time) over them, in ticks (as floats)
    oldest: np.ndarray  # the age of the last one, in ticks


@dataclass(frozen=True)
class _Batch:
    """Several replicas of one TTL over the same events, as chains.

    Chain c is key ``c % K`` under the replica ``replicas[c // K]`` (K keys).  Its
    copies ("cycles") are its starting copy, if it has one, then one per miss;
    the two kinds are kept apart here (:func:`run_events` interleaves them).
    """

    replicas: tuple[int, ...]
    cached: np.ndarray  # per chain, as in Run.initially_cached
    fill: np.ndarray
    expiry: np.ndarray
    roots: np.ndarray  # each chain's first miss (its end if none)
    start_chains: np.ndarray  # the chains with a starting copy (it serves reads up to the root)
    miss_index: np.ndarray  # chain after chain, sorted within each
    miss_counts: np.ndarray  # per chain
    miss_end: np.ndarray  # the end of each miss's cycle
    stale_starts: _Stale
    stale_misses: _Stale
    # Only when asked for (to make a Run): (first write tick, first stale read) of
    # every starting copy, and of every miss.
    starts: tuple[np.ndarray, np.ndarray] | None = None
    misses: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def stale_reads(self) -> int:
        return int(self.stale_starts.reads.sum() + self.stale_misses.reads.sum())


def _key_code(code: np.ndarray) -> np.ndarray:
    """The code of each code's key (its time 0); times lie within half a key span."""
    return ((code + _HALF_SPAN) >> _KEY_SHIFT) << _KEY_SHIFT


def _first_write_within(fill_code: np.ndarray, writes: np.ndarray, out: np.ndarray) -> None:
    """The tick of the first write of the same key after each (sorted) fill, but only
    where that write comes before the key's next fill: found from the writes' side,
    which is cheaper when there are far more fills than writes.  ``writes``: sorted
    codes, ending with ``_AFTER_EVERY_WRITE``.  Fills without one are left alone.
    """
    # Each write goes to the last fill before it; the first write of each fill wins.
    fill = np.searchsorted(fill_code, writes[:-1], side="left") - 1
    first = np.flatnonzero(np.diff(fill, prepend=-1) != 0)
    first = first[fill[first] >= 0]
    fill, write = fill[first], writes[first]
    key_code = _key_code(fill_code[fill])
    tick = write - key_code
    same_key = tick < _HALF_SPAN
    out[fill[same_key]] = tick[same_key]


class _Plan:
    """One TTL over one set of events, ready to run any replicas, many at once."""

    def __init__(self, events: Events, ttl: float, start: str, jitter: float) -> None:
        if start == "steady" and ttl > events.history_seconds + 1e-9:
            raise LabError(
                f"These events keep {events.history_seconds:g} s of write history, less than the "
                f"TTL of {ttl:g} s; make them with history_seconds >= the largest TTL you will run."
            )
        self.events, self.ttl, self.start = events, ttl, start
        self.ttl_ticks = ttl_ticks = _ticks(ttl)
        self.read_ttl: np.ndarray | int = ttl_ticks
        self.first_ttl = np.full(events.n_keys, ttl_ticks, dtype=np.int64)
        if jitter > 0:
            first_u, read_u = events.jitter_draws()
            self.read_ttl = np.maximum(1, np.round(ttl_ticks * (1.0 + jitter * read_u))).astype(np.int64)
            self.first_ttl = np.maximum(1, np.round(ttl_ticks * (1.0 + jitter * first_u))).astype(np.int64)

    def run(self, replicas: tuple[int, ...], *, every_copy: bool = False) -> _Batch:
        """Run the replicas together; ``every_copy`` keeps what a :class:`Run` needs."""
        events, ttl, ttl_ticks = self.events, self.ttl, self.ttl_ticks
        n_keys, n_rep = events.n_keys, len(replicas)
        key_start, key_end = events.read_bounds[:-1], events.read_bounds[1:]
        if self.start == "steady":
            rates = events.read_rates
            draws = np.stack([events.start_draws(r) for r in replicas], axis=1).reshape(2, -1)
            cached = draws[0] < np.tile(rates * ttl / (1.0 + rates * ttl), n_rep)
            fill = -np.floor(draws[1] * ttl_ticks).astype(np.int64)
            expiry = fill + ttl_ticks
        elif self.start == "bulk":
            cached = np.ones(n_keys * n_rep, dtype=bool)
            fill = np.zeros(n_keys * n_rep, dtype=np.int64)
            expiry = np.tile(self.first_ttl, n_rep)
        else:
            cached = np.zeros(n_keys * n_rep, dtype=bool)
            fill = np.zeros(n_keys * n_rep, dtype=np.int64)
            expiry = fill.copy()
        # Each chain's first miss: its first read at or after the starting copy
        # expires (its very first read if it starts empty).
        ends = np.tile(key_end, n_rep)
        roots = np.tile(key_start, n_rep)
        start_chains = np.flatnonzero(cached)
        start_key_code = (start_chains % n_keys) << _KEY_SHIFT
        roots[start_chains] = events.first_reads_at(start_chains % n_keys, expiry[start_chains])
        roots = np.minimum(roots, ends)
        miss_index, miss_counts = _chain_misses(
            events, self.read_ttl, np.tile(np.arange(n_keys), n_rep), roots, ends
        )
        # A miss's copy serves the reads up to the chain's next miss (or its end).
        miss_end = np.append(miss_index[1:], 0)
        has_misses = miss_counts > 0
        miss_end[np.cumsum(miss_counts)[has_misses] - 1] = ends[has_misses]

        # The copy turns stale at the first write after its fill.
        start_w, miss_w = self._first_writes(
            replicas,
            [
                (np.searchsorted(start_chains, np.arange(n_rep + 1) * n_keys), start_key_code + fill[start_chains]),
                (np.cumsum(np.append(0, miss_counts))[::n_keys], events.read_code[miss_index]),
            ],
            earliest=min(0, int(fill.min())) if fill.size else 0,
            exact=every_copy,
        )
        stale_starts, starts = self._stale(
            start_w, key_start[start_chains % n_keys], roots[start_chains], every_copy, miss=False
        )
        stale_misses, misses = self._stale(miss_w, miss_index, miss_end, every_copy, miss=True)
        return _Batch(
            tuple(replicas), cached, fill, expiry, roots, start_chains, miss_index, miss_counts,
            miss_end, stale_starts, stale_misses, starts, misses,
        )

    def _first_writes(
        self,
        replicas: tuple[int, ...],
        groups: list[tuple[np.ndarray, np.ndarray]],
        *,
        earliest: int,
        exact: bool,
    ) -> list[np.ndarray]:
        """The tick of the first write after each copy's fill (``_NO_WRITE`` if none).

        Each group of copies is (where each replica's copies begin, their fill
        codes, sorted within each replica); ``earliest`` is the earliest fill.
        Each replica has its own writes.  (At one instant a write comes before a
        fill or a read.)  Unless ``exact``, a copy may get ``_NO_WRITE`` where its
        first write comes after the next copy of its chain was filled: too late
        to make any of its reads stale.
        """
        out = [np.full(code.size, _NO_WRITE, dtype=np.int64) for _, code in groups]
        # Each copy's next write code (any key's), found replica by replica, then
        # turned into ticks for all replicas at once.
        found = [np.empty(code.size, dtype=np.int64) for _, code in groups]
        bounds = [b.tolist() for b, _ in groups]
        for i, replica in enumerate(replicas):
            if all(b[i] == b[i + 1] for b in bounds):
                continue
            writes, _ = self.events.sorted_writes(replica, earliest)
            for (_, code), b, w_code, w_tick in zip(groups, bounds, found, out, strict=True):
                block = slice(b[i], b[i + 1])
                if exact or b[i + 1] - b[i] <= 2 * writes.size:
                    w_code[block] = writes[np.searchsorted(writes, code[block], side="right")]
                else:
                    w_code[block] = _AFTER_EVERY_WRITE
                    _first_write_within(code[block], writes, w_tick[block])
        for (_, code), w_code, w_tick in zip(groups, found, out, strict=True):
            tick = w_code - _key_code(code)
            # Unless that write is another key's (or the end of the writes).
            np.copyto(w_tick, tick, where=tick < _HALF_SPAN)
        return out

    def _stale(
        self, w_tick: np.ndarray, first: np.ndarray, end: np.ndarray, every_copy: bool, *, miss: bool
    ) -> tuple[_Stale, tuple[np.ndarray, np.ndarray] | None]:
        """The copies (reads ``first`` .. ``end - 1``) with stale reads, and if asked
        (first write tick, first stale read) of every copy.

        A copy's stale reads are its reads at or after the write, but never a
        miss's own read: a miss reads the database itself.
        """
        events = self.events
        # Only copies written before their last read have stale reads to look up.
        last_tick = events.read_tick[end - 1 if miss else np.maximum(end - 1, 0)]
        written = w_tick <= last_tick
        at = np.flatnonzero(written if miss else written & (end > first))
        stale_end, first_write = end[at], w_tick[at]
        # The first read at or after the write: a read of the copy's key (which its
        # first read names), after the fill (so never a miss's own read) and no later
        # than its last read, so every copy found here served stale reads.
        stale_from = events.first_reads_at(events.read_key[first[at]], first_write)
        reads = stale_end - stale_from
        # Σ (t - w) over a cycle's stale reads, from prefix sums of the read times.
        prefix = events.read_tick_prefix
        age_sums = (prefix[stale_end] - prefix[stale_from]) - reads * first_write
        # The oldest stale read of a copy is its last read.
        summary = _Stale(
            at, reads.astype(np.float64), age_sums.astype(np.float64), last_tick[at] - first_write
        )
        if not every_copy:
            return summary, None
        every = end.copy()
        every[at] = stale_from
        return summary, (w_tick, every)


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


def _sums(bins: np.ndarray, weights: np.ndarray, n_bins: int) -> np.ndarray:
    """np.bincount with weights: each bin's weights added in order, from 0.0."""
    return np.bincount(bins, weights=weights, minlength=n_bins).astype(np.float64, copy=False)


class _Totals:
    """Per-key counts and stale ages, summed over runs in run order.

    The float sums add the same numbers in the same order as a sum over single
    runs, cycle by cycle, so a result does not depend on how runs were batched.
    """

    def __init__(self, events: Events) -> None:
        self.events = events
        n_keys = events.n_keys
        self.misses = np.zeros(n_keys)
        self.stale = np.zeros(n_keys)
        self.age_sums = np.zeros(n_keys)  # in ticks
        self.max_ages = np.zeros(n_keys, dtype=np.int64)
        self.runs = 0

    def _stale_cycles(
        self, chain: np.ndarray, end: np.ndarray, stale_from: np.ndarray, w_tick: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(chain, stale reads, Σ ages in ticks, oldest age) of the copies with stale reads.

        The others add exact zeros to every sum, so they are left out.
        """
        counts = end - stale_from
        cycles = np.flatnonzero(counts > 0)
        counts, end, first_write = counts[cycles], end[cycles], w_tick[cycles]
        # Σ (t - w) over a cycle's stale reads, from prefix sums of the read times.
        prefix = self.events.read_tick_prefix
        ages = (prefix[end] - prefix[stale_from[cycles]]) - counts * first_write
        # The oldest stale read of a copy is its last read.
        oldest = self.events.read_tick[end - 1] - first_write
        # As floats, which is what np.bincount would add anyway.
        return chain[cycles], counts.astype(np.float64), ages.astype(np.float64), oldest

    def add_run(self, run: Run) -> None:
        events = self.events
        chain, counts, ages, oldest = self._stale_cycles(
            run.cycle_key, run.cycle_end, run.cycle_stale_from, run.cycle_first_write_tick
        )
        n_keys = events.n_keys
        misses = np.bincount(events.read_key[run.miss_index], minlength=n_keys)
        stale = _sums(chain, counts, n_keys)
        age_sums = _sums(chain, ages, n_keys)
        self._add(misses, stale, age_sums, chain, oldest, 1)

    def add_batch(self, batch: _Batch) -> None:
        n_chains = self.events.n_keys * len(batch.replicas)
        starts, misses = batch.stale_starts, batch.stale_misses
        s_chain = batch.start_chains[starts.at]
        m_chain = np.repeat(np.arange(n_chains), batch.miss_counts)[misses.at]
        stale = _sums(s_chain, starts.reads, n_chains) + _sums(m_chain, misses.reads, n_chains)
        # A chain's starting copy comes before its misses; np.add.at adds in order.
        age_sums = _sums(s_chain, starts.age_sums, n_chains)
        np.add.at(age_sums, m_chain, misses.age_sums)
        self._add(
            batch.miss_counts, stale, age_sums, np.concatenate((s_chain, m_chain)),
            np.concatenate((starts.oldest, misses.oldest)), len(batch.replicas),
        )

    def _add(
        self,
        misses: np.ndarray,
        stale: np.ndarray,
        age_sums: np.ndarray,
        chain: np.ndarray,
        oldest: np.ndarray,
        n_replicas: int,
    ) -> None:
        """Add per-chain sums (chain c: key c % K of the c // K-th replica added)."""
        n_keys = self.events.n_keys
        max_ages = np.zeros(n_keys * n_replicas, dtype=np.int64)
        np.maximum.at(max_ages, chain, oldest)
        for i in range(n_replicas):
            rows = slice(i * n_keys, (i + 1) * n_keys)
            self.misses += misses[rows]
            self.stale += stale[rows]
            self.age_sums += age_sums[rows]
        np.maximum(self.max_ages, max_ages.reshape(n_replicas, n_keys).max(axis=0), out=self.max_ages)
        self.runs += n_replicas

    def result(self, ttl: float, bands: tuple[Band, ...]) -> SimResult:
        events, stale, age_sums, max_ages = self.events, self.stale, self.age_sums, self.max_ages
        reads = np.diff(events.read_bounds) * self.runs

        def figures(keys: slice) -> tuple[int, int, int, float, float]:
            n_stale = int(stale[keys].sum())
            mean_age = float(age_sums[keys].sum()) / n_stale / TICKS_PER_SECOND if n_stale else 0.0
            max_age = int(max_ages[keys].max()) / TICKS_PER_SECOND if n_stale else 0.0
            return int(reads[keys].sum()), int(self.misses[keys].sum()), n_stale, mean_age, max_age

        total_reads, total_misses, total_stale, mean_age, max_age = figures(slice(None))
        return SimResult(
            ttl_seconds=ttl,
            duration_seconds=events.duration_seconds * self.runs,
            reads=total_reads,
            hits=total_reads - total_misses,
            db_reads=total_misses,
            stale_reads=total_stale,
            mean_stale_age_seconds=mean_age,
            max_stale_age_seconds=max_age,
            bands=tuple(BandResult(band, *figures(band.keys)) for band in bands),
            replicas=self.runs,
        )


def summarize(runs: Run | list[Run], bands: tuple[Band, ...] = ()) -> SimResult:
    """Totals, staleness ages and per-band figures, summed over replicas.

    Works per cycle (one per fill), not per read: the stale reads of a cycle are
    a contiguous run of its reads, so counts and ages come from index arithmetic.
    """
    runs = [runs] if isinstance(runs, Run) else list(runs)
    events = runs[0].events
    totals = _Totals(events)
    for run in runs:
        totals.add_run(run)
    return totals.result(runs[0].ttl_seconds, bands)


# Replicas (independent starting states and write histories over the same reads)
# are added until the most-read key has lived through about _HOT_KEY_COPIES
# copies, within a budget of simulated copies ("cycles").  They are cheap when the
# TTL is long, which is exactly when a single run's stale share hinges on a
# handful of writes to the hottest keys.
_HOT_KEY_COPIES = 600
_CYCLE_BUDGET = 400_000
_MAX_REPLICAS = 96
# Replicas are simulated together, in batches of about this many copies.
_BATCH_CYCLES = 400_000


def _simulate(
    events: Events, ttl: float, replicas: int | None, start: str, bands: tuple[Band, ...] = ()
) -> SimResult:
    """Run replica 0, choose how many replicas (if not given), run the rest, sum."""
    check_choice("start", start, _STARTS)
    plan = _Plan(events, ttl, start, 0.0)
    if replicas is not None and (
        isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 256
    ):
        raise LabError(
            f"replicas must be a whole number from 1 to 256, or None for automatic (got {replicas!r})."
        )
    first = plan.run((0,))
    totals = _Totals(events)
    totals.add_batch(first)
    n_cycles = first.miss_index.size + first.start_chains.size
    if replicas is None:
        hottest = int(np.argmax(events.read_rates))
        hot_copies = max(1, int(first.miss_counts[hottest] + first.cached[hottest]))
        by_budget = _CYCLE_BUDGET // max(1, n_cycles)
        # Staleness near 0% or 100% barely varies from copy to copy: fewer needed.
        hits = events.n_reads - first.miss_index.size
        share = float(first.stale_reads) / hits if hits else 0.0
        wanted = math.ceil(_HOT_KEY_COPIES * 4 * share * (1 - share) / hot_copies)
        replicas = int(np.clip(min(wanted, by_budget), 1, _MAX_REPLICAS))
    per_batch = max(1, _BATCH_CYCLES // max(1, n_cycles))
    for lo in range(1, replicas, per_batch):
        batch = tuple(range(lo, min(replicas, lo + per_batch)))
        totals.add_batch(plan.run(batch))
    return totals.result(ttl, bands)


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
    return _simulate(events, ttl, replicas, start)


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
    return _simulate(events, ttl, replicas, "steady", popularity_bands(traffic.n_keys))
