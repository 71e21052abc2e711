"""Replay a trace through a policy and measure hit ratios.

* :func:`simulate` - one policy, one capacity: hits, misses, hit ratio.
* :func:`lru_curve` - LRU's hit ratio at *every* capacity in one pass, from stack
  distances (Mattson, Gecsei, Slutz & Traiger, IBM Systems Journal 1970).
* :func:`hit_ratio_curve` - any policy over a list of capacities (LRU uses the
  one-pass curve).  It can also estimate the curve from a spatial sample of the keys
  (SHARDS' sampling): for LRU, the sample's one-pass curve at scaled sizes (SHARDS);
  for any other policy, a *miniature simulation* - the policy itself, in a cache
  scaled down by the sampling rate, replaying the sample (Waldspurger et al., ATC 2017).
* :func:`hit_ratio_timeline` - hit ratio per window of requests: who adapts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LabError, check_choice
from .policies import POLICY_CLASSES, Policy

__all__ = [
    "POLICIES",
    "SimResult",
    "LRUCurve",
    "make_policy",
    "simulate",
    "lru_curve",
    "stack_distances",
    "hit_ratio_curve",
    "hit_ratio_timeline",
    "shards_sample",
    "sampling_error",
    "capacities_for",
    "load_trace",
    "write_oracle_general",
    "as_trace",
]

POLICIES: tuple[str, ...] = tuple(POLICY_CLASSES)


@dataclass(frozen=True)
class SimResult:
    """What one replay measured.  Every request counts, cold misses included."""

    policy: str
    capacity: int
    requests: int
    hits: int
    seconds: float

    @property
    def misses(self) -> int:
        return self.requests - self.hits

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests

    @property
    def miss_ratio(self) -> float:
        return 1.0 - self.hit_ratio

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        return (
            f"{self.policy} at {self.capacity:,} objects: hit ratio {self.hit_ratio:.1%} "
            f"({self.hits:,} hits, {self.misses:,} misses)"
        )


def as_trace(trace: Any) -> np.ndarray:
    """Check a trace and return it as a 1-D int64 numpy array of key ids >= 0."""
    try:
        array = np.asarray(trace)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise LabError(
            "A trace must be a list or 1-D numpy array of integer key ids, e.g. "
            "labkit.workloads.zipf(100_000, 10_000)."
        )
    if array.size == 0:
        raise LabError("The trace is empty; give it at least one request, e.g. [1, 2, 3, 1].")
    if array.min() < 0:
        raise LabError(f"Key ids must be >= 0 (found {int(array.min())}); shift them, e.g. trace - trace.min().")
    return array.astype(np.int64, copy=False)


def _check_capacity(capacity: Any) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity <= 0:
        raise LabError(f"capacity must be a whole number of objects > 0 (got {capacity!r}).")
    return int(capacity)


def make_policy(policy: str, capacity: int, *, seed: int = 0, **params: Any) -> Policy:
    """A fresh policy object by name, e.g. ``make_policy("sieve", 1000)``."""
    check_choice("policy", policy, POLICIES)
    return POLICY_CLASSES[policy](_check_capacity(capacity), seed=seed, **params)


def simulate(trace: Any, policy: str, capacity: int, *, seed: int = 0, **params: Any) -> SimResult:
    """Replay ``trace`` through a fresh ``policy`` cache holding ``capacity`` objects.

    >>> simulate([1, 2, 1, 3, 1], "lru", 2).hits
    2
    """
    cache = make_policy(policy, capacity, seed=seed, **params)
    keys = as_trace(trace).tolist()  # plain ints: Python loops are slow on numpy scalars
    start = time.perf_counter()
    cache.prepare(keys)
    hits = cache.run(keys)
    return SimResult(policy, cache.capacity, len(keys), hits, time.perf_counter() - start)


def previous_use_positions(trace: np.ndarray) -> np.ndarray:
    """For each request, the position of the previous request for the same key (-1: first)."""
    prev = np.full(len(trace), -1, dtype=np.int64)
    order = np.argsort(trace, kind="stable")
    same = trace[order[1:]] == trace[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    return prev


def _count_not_greater_before(values: np.ndarray) -> np.ndarray:
    """``out[i] = #{j < i : values[j] <= values[i]}`` for all i, in O(n log n) numpy.

    A bottom-up merge sort over positions: at each level, pairs of neighbouring
    blocks (each already sorted by value) are merged with one stable argsort, and
    an element from the right block learns how many left-block elements precede
    it in the merged order - those are exactly the earlier, not-greater ones.
    """
    n = len(values)
    sorted_values = (values - values.min()).astype(np.int64)
    span = int(sorted_values.max()) + 1
    positions = np.arange(n, dtype=np.int64)
    order = positions.copy()  # which element sits at each position
    counted = np.zeros(n, dtype=np.int64)  # running answer, per position
    level = 0
    while (1 << level) < n:
        block = 1 << level
        merge_key = (positions >> (level + 1)) * span
        merge_key += sorted_values
        moved = np.argsort(merge_key, kind="stable")
        sorted_values, order, counted = sorted_values[moved], order[moved], counted[moved]
        # For a right-block element now at position m, previously at moved[m]:
        # left elements before it = m - moved[m] + block.
        gain = positions - moved
        gain += block
        gain *= (moved >> level) & 1
        counted += gain
        level += 1
    out = np.empty(n, dtype=np.int64)
    out[order] = counted
    return out


def stack_distances(trace: Any) -> np.ndarray:
    """LRU stack distance of every request: how many *other* distinct keys were
    requested since this key's previous request; -1 for a first request.

    An LRU cache of capacity C hits exactly the requests with 0 <= distance < C.
    """
    trace = as_trace(trace)
    prev = previous_use_positions(trace)
    distance = _count_not_greater_before(prev) - (prev + 1)
    distance[prev < 0] = -1
    return distance


@dataclass(frozen=True)
class LRUCurve:
    """LRU hits at every capacity from one pass over the trace."""

    requests: int
    distinct_keys: int
    hits_by_capacity: np.ndarray  # index c: hits of an LRU cache holding c objects

    def hits(self, capacity: int) -> int:
        capacity = _check_capacity(capacity)
        return int(self.hits_by_capacity[min(capacity, self.distinct_keys)])

    def hit_ratio(self, capacity: int) -> float:
        return self.hits(capacity) / self.requests

    def hit_ratios(self, capacities: Iterable[int]) -> np.ndarray:
        caps = np.minimum(np.asarray([_check_capacity(c) for c in capacities]), self.distinct_keys)
        return self.hits_by_capacity[caps] / self.requests


def lru_curve(trace: Any) -> LRUCurve:
    """LRU's exact hit count for every capacity, in one pass over the trace."""
    distance = stack_distances(trace)
    reused = distance[distance >= 0]
    distinct = int(len(distance) - len(reused))
    per_distance = np.bincount(reused, minlength=distinct)
    hits = np.concatenate(([0], np.cumsum(per_distance)[:distinct]))
    return LRUCurve(len(distance), distinct, hits.astype(np.int64))


def shards_sample(trace: Any, rate: float, *, seed: int = 0) -> np.ndarray:
    """Spatial sampling (SHARDS, Waldspurger et al., FAST 2015): keep every request
    for a key whose hash falls under ``rate``, so each sampled key keeps its full
    history.  Simulate the sample with ``capacity * rate`` to estimate the whole."""
    if not 0 < rate <= 1:
        raise LabError(f"rate must be in (0, 1] (got {rate!r}); 0.1 keeps about 10% of the keys.")
    trace = as_trace(trace)
    keep = (_splitmix64(trace.astype(np.uint64) + np.uint64(seed)) >> np.uint64(40)) < np.uint64(
        int(rate * (1 << 24))
    )
    return trace[keep]


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash of each value (Steele et al.'s SplitMix64 finaliser);
    key 0 must not hash to 0, or the hottest key would always be sampled."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hit_ratio_curve(
    trace: Any,
    policy: str,
    capacities: Sequence[int],
    *,
    sample_rate: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Hit ratio of ``policy`` at each capacity (LRU: exact, one pass).

    With ``sample_rate`` (e.g. 0.1) the estimate comes from a SHARDS sample of the
    keys (:func:`shards_sample`) with capacities scaled by the same rate: for LRU,
    the sample's one-pass curve (SHARDS, FAST 2015); for every other policy, a
    miniature simulation (Waldspurger, Saemundsson, Ahmad & Park, USENIX ATC 2017):
    the policy itself runs on the sample in a cache ``rate`` times the size.
    Roughly ``1/rate`` times faster, at the cost of an error that
    :func:`sampling_error` measures.  As in SHARDS-adj,
    the gap between the expected and the actual number of sampled requests is
    counted as hits: it comes mostly from a few very popular keys falling in or out
    of the sample, and those nearly always hit.
    """
    check_choice("policy", policy, POLICIES)
    caps = [_check_capacity(c) for c in capacities]
    trace = as_trace(trace)
    if sample_rate is None:
        if policy == "lru":
            return lru_curve(trace).hit_ratios(caps)
        return np.array([simulate(trace, policy, c, seed=seed).hit_ratio for c in caps])
    sample = shards_sample(trace, sample_rate, seed=seed)
    if sample.size == 0:
        raise LabError("The sample is empty; raise sample_rate or use a longer trace.")
    expected = len(trace) * sample_rate
    adjustment = expected - len(sample)
    scaled = [max(1, round(c * sample_rate)) for c in caps]
    if policy == "lru":
        hits = lru_curve(sample).hits_by_capacity[np.minimum(scaled, len(np.unique(sample)))]
    else:
        hits = np.array([simulate(sample, policy, c, seed=seed).hits for c in scaled])
    return np.clip((hits + adjustment) / expected, 0.0, 1.0)


def sampling_error(trace: Any, policy: str, capacities: Sequence[int], sample_rate: float) -> float:
    """Largest gap, in hit-ratio points (0-1), between the sampled estimate (SHARDS
    for LRU, a miniature simulation otherwise) and the full simulation over ``capacities``."""
    full = hit_ratio_curve(trace, policy, capacities)
    sampled = hit_ratio_curve(trace, policy, capacities, sample_rate=sample_rate)
    return float(np.max(np.abs(full - sampled)))


def hit_ratio_timeline(
    trace: Any, policy: str, capacity: int, *, window: int = 5_000, seed: int = 0
) -> np.ndarray:
    """Hit ratio in each consecutive ``window`` of requests (one cache, warm)."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window <= 0:
        raise LabError(f"window must be a whole number of requests > 0 (got {window!r}).")
    cache = make_policy(policy, capacity, seed=seed)
    keys = as_trace(trace).tolist()
    cache.prepare(keys)
    ratios = []
    for start in range(0, len(keys), window):
        chunk = keys[start : start + window]
        ratios.append(cache.run(chunk) / len(chunk))
    return np.array(ratios)


def capacities_for(trace: Any, percents: Iterable[float]) -> list[int]:
    """Capacities as a percentage of the trace's distinct keys (at least 1 object)."""
    distinct = len(np.unique(as_trace(trace)))
    return [max(1, round(distinct * p / 100)) for p in percents]


_ORACLE_RECORD = np.dtype([("time", "<u4"), ("key", "<u8"), ("size", "<u4"), ("next", "<i8")])


def load_trace(path: str | Path, *, key_column: int = 1, has_header: bool = True) -> np.ndarray:
    """Read a real trace: libCacheSim's binary ``oracleGeneral`` (``.oracleGeneral``
    or ``.bin``), or a CSV with the key in column ``key_column`` (0-based).
    Keys are renumbered 0, 1, 2, ... in order of first appearance."""
    path = Path(path)
    if not path.is_file():
        raise LabError(f"No trace file at {str(path)!r}; check the path.")
    if "oracleGeneral" in path.name or path.suffix == ".bin":
        if path.stat().st_size % _ORACLE_RECORD.itemsize:
            raise LabError(f"{path.name} is not an oracleGeneral trace (24-byte records expected).")
        raw = np.fromfile(path, dtype=_ORACLE_RECORD)["key"]
    else:
        try:
            raw = np.loadtxt(path, delimiter=",", usecols=[key_column], skiprows=int(has_header), dtype=np.int64)
        except ValueError as exc:
            raise LabError(f"Could not read integer keys from column {key_column} of {path.name} ({exc}).") from None
    _, first_index, inverse = np.unique(np.atleast_1d(raw), return_index=True, return_inverse=True)
    order_of_first_appearance = np.argsort(np.argsort(first_index))
    return as_trace(order_of_first_appearance[inverse.ravel()])


def write_oracle_general(trace: Any, path: str | Path) -> Path:
    """Write a trace in libCacheSim's oracleGeneral format (every object size 1,
    with next-request positions so its Belady can see the future)."""
    trace = as_trace(trace)
    n = len(trace)
    records = np.zeros(n, dtype=_ORACLE_RECORD)
    records["time"] = np.arange(n)
    records["key"] = trace + 1
    records["size"] = 1
    nxt = np.full(n, -1, dtype=np.int64)
    order = np.argsort(trace, kind="stable")
    same = trace[order[1:]] == trace[order[:-1]]
    nxt[order[:-1][same]] = order[1:][same]
    records["next"] = nxt
    path = Path(path)
    records.tofile(path)
    return path
