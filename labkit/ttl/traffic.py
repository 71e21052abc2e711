"""Who reads and writes how often: Zipf popularity, Poisson reads and writes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LabError
from ..memo import memo
from ..workloads import zipf_probabilities
from ._common import (
    _MAX_KEYS,
    _check_alpha,
    _check_rate,
)


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
        """A copy with some fields changed (checked like a new Traffic)."""
        return dataclasses.replace(self, **changes)


@memo(maxsize=16)
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
