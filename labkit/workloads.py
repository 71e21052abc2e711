"""Seeded request streams: who asks for which key, as numpy arrays.

A trace is a 1-D ``numpy`` array of integer key ids, so replaying a million
requests is a tight loop and the same seed always gives the same trace.  Key 0
is the most popular key in a Zipf trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import LabError, check_choice, check_positive

__all__ = [
    "SHAPES",
    "zipf",
    "zipf_probabilities",
    "uniform",
    "hotspot",
    "scan",
    "loop",
    "shifting",
    "mix",
    "make_trace",
    "read_write_mix",
    "SteadyTraffic",
]


def _check_size(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise LabError(f"{name} must be a whole number > 0 (got {value!r}).")
    return int(value)


def zipf_probabilities(n_keys: int, alpha: float) -> np.ndarray:
    """P(key i) proportional to 1 / (i+1)**alpha, for i in 0..n_keys-1."""
    n_keys = _check_size("n_keys", n_keys)
    check_positive("alpha", alpha, hint="Use alpha around 0.6-1.2; for no skew use the uniform workload.")
    weights = 1.0 / np.arange(1, n_keys + 1, dtype=np.float64) ** alpha
    return weights / weights.sum()


def _sample(p: np.ndarray, n_requests: int, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n_requests), side="right").astype(np.int64)


def zipf(n_requests: int, n_keys: int, alpha: float = 0.8, *, seed: int = 0) -> np.ndarray:
    """Skewed popularity, as in most real caches: a few keys get most requests."""
    n_requests = _check_size("n_requests", n_requests)
    return _sample(zipf_probabilities(n_keys, alpha), n_requests, np.random.default_rng(seed))


def uniform(n_requests: int, n_keys: int, *, seed: int = 0) -> np.ndarray:
    """Every key equally likely: the hardest case for any cache."""
    n_requests, n_keys = _check_size("n_requests", n_requests), _check_size("n_keys", n_keys)
    return np.random.default_rng(seed).integers(0, n_keys, n_requests, dtype=np.int64)


def hotspot(
    n_requests: int,
    n_keys: int,
    *,
    hot_fraction: float = 0.1,
    hot_share: float = 0.9,
    seed: int = 0,
) -> np.ndarray:
    """``hot_share`` of requests go (uniformly) to the first ``hot_fraction`` of keys."""
    n_requests, n_keys = _check_size("n_requests", n_requests), _check_size("n_keys", n_keys)
    for name, v in (("hot_fraction", hot_fraction), ("hot_share", hot_share)):
        if not 0 < v <= 1:
            raise LabError(f"{name} must be in (0, 1] (got {v!r}).")
    rng = np.random.default_rng(seed)
    n_hot = max(1, int(n_keys * hot_fraction))
    hot = rng.random(n_requests) < hot_share
    out = rng.integers(n_hot, max(n_hot + 1, n_keys), n_requests, dtype=np.int64)
    out[hot] = rng.integers(0, n_hot, int(hot.sum()), dtype=np.int64)
    return np.minimum(out, n_keys - 1)


def scan(n_requests: int, n_keys: int, *, seed: int = 0) -> np.ndarray:
    """Keys 0, 1, 2, ... in order, wrapping: a batch job reading everything once."""
    n_requests, n_keys = _check_size("n_requests", n_requests), _check_size("n_keys", n_keys)
    return np.arange(n_requests, dtype=np.int64) % n_keys


def loop(n_requests: int, loop_length: int, *, seed: int = 0) -> np.ndarray:
    """The same ``loop_length`` keys over and over: LRU's worst case when the loop is
    one key longer than the cache."""
    return scan(n_requests, loop_length, seed=seed)


def shifting(
    n_requests: int,
    n_keys: int,
    alpha: float = 0.8,
    *,
    phases: int = 4,
    seed: int = 0,
) -> np.ndarray:
    """Zipf traffic whose hot set moves to other keys ``phases`` times."""
    n_requests, phases = _check_size("n_requests", n_requests), _check_size("phases", phases)
    base = zipf(n_requests, n_keys, alpha, seed=seed)
    rng = np.random.default_rng(seed + 1)
    out = np.empty_like(base)
    bounds = np.linspace(0, n_requests, phases + 1).astype(int)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        out[a:b] = rng.permutation(n_keys)[base[a:b]]
    return out


def mix(*traces: np.ndarray, weights: list[float] | None = None, seed: int = 0) -> np.ndarray:
    """Interleave traces at random; the result is as long as the shortest one times the
    number of traces.  Key ids are kept apart by offsetting each trace."""
    if not traces:
        raise LabError("mix() needs at least one trace.")
    rng = np.random.default_rng(seed)
    n = min(len(t) for t in traces)
    if n == 0:
        raise LabError("mix() got an empty trace; every trace needs at least one request.")
    w = np.asarray(weights if weights is not None else [1.0] * len(traces), dtype=float)
    if len(w) != len(traces) or (w < 0).any() or w.sum() == 0:
        raise LabError("weights must be one non-negative number per trace, not all zero.")
    offsets = np.cumsum([0] + [int(t.max()) + 1 for t in traces[:-1]])
    which = rng.choice(len(traces), size=n * len(traces), p=w / w.sum())
    out = np.empty(len(which), dtype=np.int64)
    for i, t in enumerate(traces):
        idx = np.flatnonzero(which == i)
        out[idx] = t[np.arange(len(idx)) % len(t)] + offsets[i]
    return out


SHAPES = ("zipf", "uniform", "hotspot", "scan", "loop", "shifting")


def make_trace(shape: str, n_requests: int, n_keys: int, *, alpha: float = 0.8, seed: int = 0) -> np.ndarray:
    """A trace by name: one of :data:`SHAPES`."""
    check_choice("workload", shape, SHAPES)
    if shape in ("zipf", "shifting"):
        return (zipf if shape == "zipf" else shifting)(n_requests, n_keys, alpha, seed=seed)
    return {"uniform": uniform, "hotspot": hotspot, "scan": scan, "loop": loop}[shape](
        n_requests, n_keys, seed=seed
    )


def read_write_mix(n_requests: int, write_ratio: float, *, seed: int = 0) -> np.ndarray:
    """A boolean array: True where the request is a write."""
    n_requests = _check_size("n_requests", n_requests)
    if not 0 <= write_ratio <= 1:
        raise LabError(f"write_ratio must be between 0 and 1 (got {write_ratio!r}).")
    return np.random.default_rng(seed + 7919).random(n_requests) < write_ratio


@dataclass(frozen=True)
class SteadyTraffic:
    """``n_requests`` arriving one every ``1 / requests_per_second`` seconds: keys drawn
    Zipf(``alpha``) over ``n_keys`` rows, a ``write_ratio`` share of requests writes."""

    n_keys: int
    n_requests: int
    requests_per_second: float
    alpha: float = 0.9
    write_ratio: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("requests_per_second", self.requests_per_second, "requests/s")

    @property
    def gap_seconds(self) -> float:
        """The time between two requests' arrivals."""
        return 1.0 / self.requests_per_second

    def keys(self) -> np.ndarray:
        return zipf(self.n_requests, self.n_keys, self.alpha, seed=self.seed)

    def writes(self) -> np.ndarray:
        """True where the request is a write."""
        return read_write_mix(self.n_requests, self.write_ratio, seed=self.seed)
