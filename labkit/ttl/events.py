"""Every read and write time of a run, drawn once (seeded) and shared by every TTL."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..errors import LabError, is_number
from ..memo import memo
from ._common import (
    _HALF_SPAN,
    _KEY_SHIFT,
    _KEY_SPAN,
    _MAX_KEYS,
    TICKS_PER_SECOND,
    _check_duration,
    _check_rate,
    _ticks,
)
from .traffic import Traffic

# How many bytes of sorted write histories (replicas 1, 2, ...) are kept for one
# set of keys, write rate and span: about 4 million writes (two such sets at most).
_SORTED_WRITES_BYTES = 32 << 20
# Ends every sorted list of write codes: above any key's codes, yet far enough below
# the int64 limit that subtracting a code from it cannot overflow.
_AFTER_EVERY_WRITE = 1 << 62


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
        *,
        duration_seconds: float,
        history_seconds: float = 0.0,
        seed: int = 0,
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
        if not is_number(history_seconds) or history_seconds < 0:
            raise LabError(f"history_seconds must be >= 0 (got {history_seconds!r}).")
        _check_duration("history_seconds + duration_seconds", self.history_seconds + duration_seconds)
        self.seed = int(seed)
        self.n_keys = rates.size
        self.duration_ticks = _ticks(self.duration_seconds)
        self.history_ticks = int(round(self.history_seconds * TICKS_PER_SECOND))

        rng = self._rng = np.random.default_rng([self.seed, 0])
        keys = np.arange(self.n_keys, dtype=np.int64)
        counts = rng.poisson(rates * self.duration_seconds)
        n_reads = int(counts.sum())
        # One more code after the last read, above any key's: a search may step on it.
        self._padded_code = np.empty(n_reads + 1, dtype=np.int64)
        self._padded_code[-1] = np.iinfo(np.int64).max
        self.read_code = codes = self._padded_code[:-1]
        np.add(np.repeat(keys, counts) << _KEY_SHIFT, rng.integers(0, self.duration_ticks, n_reads, dtype=np.int64),
               out=codes)
        codes.sort()
        self.read_key = codes >> _KEY_SHIFT
        self.read_tick = codes & (_KEY_SPAN - 1)  # reads come at times >= 0
        self.read_bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        # Prefix sums of read times: the total age of a run of stale reads in O(1).
        self.read_tick_prefix = np.empty(n_reads + 1, dtype=np.int64)
        self.read_tick_prefix[0] = 0
        np.cumsum(self.read_tick, out=self.read_tick_prefix[1:])

        self._writes: dict[int, Writes] = {}
        self._start_draws: dict[int, np.ndarray] = {}
        self._jitter_draws: np.ndarray | None = None
        self._time_index: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._sorted_writes0: tuple[np.ndarray, np.ndarray] | None = None
        first = self.writes(0)
        self.write_code, self.write_key = first.code, first.key
        self.write_tick, self.write_bounds = first.tick, first.bounds

    @property
    def n_reads(self) -> int:
        return int(self.read_code.size)

    @property
    def n_writes(self) -> int:
        return int(self.write_code.size)

    def first_reads_at(self, keys: np.ndarray, ticks: np.ndarray | int) -> np.ndarray:
        """The index of each key's first read at or after each tick (the key's end if none).

        The same as ``np.searchsorted(read_code, (keys << _KEY_SHIFT) + ticks)``, but
        a scattered query costs a few steps instead of a binary search over every
        read: each key's time is cut into about as many buckets as it has reads.
        """
        return _ReadSearch(self, keys).find(ticks)

    def _index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per key: the bucket width (as a power of two), the bucket past every read,
        where its buckets start; and the first read at or after each bucket's start.

        Buckets are at most the key's mean gap between reads wide, so one holds
        about one read or fewer; the one past every read points at the key's end.
        """
        if self._time_index is None:
            n_reads = np.diff(self.read_bounds)
            mean_gap = np.maximum(self.duration_ticks // np.maximum(n_reads, 1), 1)
            shift = np.floor(np.log2(mean_gap)).astype(np.int64)
            past = ((self.duration_ticks - 1) >> shift) + 1  # every read's tick is below duration
            offset = np.cumsum(past + 1) - (past + 1)
            bucket = self.read_tick >> np.repeat(shift, n_reads)
            bucket += np.repeat(offset, n_reads)
            per_bucket = np.bincount(bucket, minlength=int(offset[-1] + past[-1] + 1))
            # Read indices; half the memory (and faster lookups) as int32 where they fit.
            small = self.n_reads < np.iinfo(np.int32).max
            bucket_first = np.zeros(per_bucket.size, dtype=np.int32 if small else np.int64)
            np.cumsum(per_bucket[:-1], out=bucket_first[1:])
            self._time_index = shift, past, offset, bucket_first
        return self._time_index

    def writes(self, replica: int = 0) -> Writes:
        """The writes of one replica: an independent draw over the same reads.

        Writes never change which reads hit, so replaying the same reads against
        several independent write histories (and starting states) is an honest way
        to average out the luck of a few writes to the hottest keys.
        """
        if replica in self._writes:
            return self._writes[replica]
        counts, ticks = self._draw_writes(replica)
        keys = np.arange(self.n_keys, dtype=np.int64)
        codes = (np.repeat(keys, counts) << _KEY_SHIFT) + ticks
        codes.sort()
        key = (codes + _HALF_SPAN) >> _KEY_SHIFT
        bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        writes = Writes(codes, key, codes - (key << _KEY_SHIFT), bounds)
        # Only the first history is kept: the others are cheap to redraw (same seed,
        # same writes) and keeping dozens of them would pin a lot of memory.
        if replica == 0:
            self._writes[0] = writes
        return writes

    def _draw_writes(self, replica: int) -> tuple[np.ndarray, np.ndarray]:
        """Each key's number of writes, and their times (key by key, unsorted)."""
        rng = np.random.default_rng([self.seed, 3, replica]) if replica else self._rng
        span = self.history_seconds + self.duration_seconds
        counts = rng.poisson(self.write_rate * span, self.n_keys)  # the same draws as with a full array of it
        ticks = rng.integers(-self.history_ticks, self.duration_ticks, int(counts.sum()), dtype=np.int64)
        return counts, ticks

    def sorted_writes(self, replica: int, after_tick: int) -> tuple[np.ndarray, np.ndarray]:
        """The writes of one replica as (sorted codes, bounds), as in :class:`Writes`,
        the codes followed by one larger than any (``_AFTER_EVERY_WRITE``).

        The simulation only looks for the first write after a fill, so this keeps
        at least every write after ``after_tick`` (the earliest fill).  Replicas
        1, 2, ... draw their writes from their own streams, whatever the reads, so
        they are kept (up to a memory budget) for every Events with the same keys,
        write rate, span and seed: every TTL of a sweep, and other read rates over
        the same span, replay them.  Any others are redrawn, and only the writes
        after ``after_tick`` are sorted.
        """
        if replica == 0:
            if self._sorted_writes0 is None:
                writes = self.writes(0)
                self._sorted_writes0 = np.append(writes.code, _AFTER_EVERY_WRITE), writes.bounds
            return self._sorted_writes0
        kept = _write_histories(
            self.n_keys, self.write_rate, self.duration_seconds, self.history_seconds, self.seed
        )
        found = kept.get(replica)
        if found is not None:
            return found
        counts, ticks = self._draw_writes(replica)
        bounds = np.concatenate(([0], np.cumsum(counts)))
        keep_all = kept.has_room(ticks.nbytes)
        if not keep_all:
            keep = ticks > after_tick
            bounds = np.concatenate(([0], np.cumsum(keep)))[bounds]
            ticks = ticks[keep]
        keys = np.arange(self.n_keys, dtype=np.int64)
        codes = np.empty(ticks.size + 1, dtype=np.int64)
        codes[:-1] = (np.repeat(keys, np.diff(bounds)) << _KEY_SHIFT) + ticks
        codes[-1] = _AFTER_EVERY_WRITE
        codes.sort()
        if keep_all:
            kept.put(replica, codes, bounds)
        return codes, bounds

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


class _ReadSearch:
    """:meth:`Events.first_reads_at` for a fixed list of keys, queried many times.

    ``keep`` drops keys (a walk whose chains end); ``find`` answers one tick per key.
    """

    def __init__(self, events: Events, keys: np.ndarray) -> None:
        shift, past, offset, self._bucket_first = events._index()
        self._code = events._padded_code
        self._key_code = keys << _KEY_SHIFT
        self._shift, self._past, self._offset = shift[keys], past[keys], offset[keys]

    def keep(self, kept: np.ndarray) -> None:
        self._key_code, self._shift = self._key_code[kept], self._shift[kept]
        self._past, self._offset = self._past[kept], self._offset[kept]

    def find(self, ticks: np.ndarray | int) -> np.ndarray:
        bucket = np.maximum(ticks >> self._shift, 0)
        np.minimum(bucket, self._past, out=bucket)
        bucket += self._offset
        at = self._bucket_first[bucket]
        # The reads of the bucket before the tick (one on average) are stepped over.
        query = self._key_code + ticks
        code = self._code
        if at.size < 20_000:  # whole arrays: fewer, cheaper numpy calls
            behind = code[at] < query
            while behind.any():
                at += behind
                behind = code[at] < query
            return at
        behind = np.flatnonzero(code[at] < query)
        while behind.size:
            at[behind] += 1
            behind = behind[code[at[behind]] < query[behind]]
        return at


# Draw every read and write time of a run (Poisson per key, seeded).
make_events = Events


@memo(maxsize=3)
def _traffic_events(traffic: Traffic, duration_seconds: float, history_seconds: float, seed: int) -> Events:
    return Events(traffic.read_rates(), traffic.write_rate_per_second, duration_seconds=duration_seconds,
                  history_seconds=history_seconds, seed=seed)


class _WriteHistories:
    """Sorted write histories by replica, kept up to ``_SORTED_WRITES_BYTES``."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, replica: int) -> tuple[np.ndarray, np.ndarray] | None:
        return self._kept.get(replica)

    def has_room(self, n_bytes: int) -> bool:
        return self._bytes + n_bytes <= _SORTED_WRITES_BYTES

    def put(self, replica: int, codes: np.ndarray, bounds: np.ndarray) -> None:
        codes.setflags(write=False)
        bounds.setflags(write=False)
        with self._lock:
            if replica not in self._kept and self.has_room(codes.nbytes):
                self._kept[replica] = codes, bounds
                self._bytes += codes.nbytes


@memo(maxsize=2)
def _write_histories(
    n_keys: int, write_rate: float, duration_seconds: float, history_seconds: float, seed: int
) -> _WriteHistories:
    """The kept write histories of every Events with these keys, writes, span and seed.

    Filled as replicas are drawn (the same replica always draws the same writes).
    """
    return _WriteHistories()
