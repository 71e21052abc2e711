"""A small Bloom filter of the ids that exist, and the false-positive rate it should have.

A request for an id that does not exist misses the cache every time and goes to the
database every time (*cache penetration*).  A Bloom filter answers "certainly absent"
or "possibly present" from ``bits`` bits and ``hashes`` hash functions; an absent id
slips through with probability about ``(1 - e^(-k n / m))^k`` (Bloom, 1970), which
:func:`expected_false_positive_rate` computes and the lesson compares with a measurement.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np

from ..errors import check_positive

__all__ = ["BloomFilter", "expected_false_positive_rate", "optimal_hashes", "bits_for"]


def expected_false_positive_rate(bits: int, hashes: int, items: int) -> float:
    """``(1 - e^(-k n / m))^k``: the chance an absent id passes the filter."""
    return (1.0 - math.exp(-hashes * items / bits)) ** hashes


def optimal_hashes(bits: int, items: int) -> int:
    """``k = (m / n) ln 2``, at least 1."""
    return max(1, round(bits / max(items, 1) * math.log(2)))


def bits_for(items: int, false_positive_rate: float) -> int:
    """``m = -n ln p / (ln 2)^2`` bits for ``items`` ids at the target rate."""
    check_positive("false_positive_rate", false_positive_rate)
    return max(8, math.ceil(-items * math.log(false_positive_rate) / math.log(2) ** 2))


class BloomFilter:
    """``bits`` bits, ``hashes`` positions per id (double hashing over one BLAKE2b digest).

    >>> f = BloomFilter(bits=1024, hashes=4)
    >>> f.add_many(range(100)); 42 in f, 10_042 in f
    (True, False)
    """

    def __init__(self, bits: int, hashes: int) -> None:
        self.bits = int(check_positive("bits", bits))
        self.hashes = int(check_positive("hashes", hashes))
        self._array = np.zeros(self.bits, dtype=bool)
        self.items = 0

    def _positions(self, item: object) -> list[int]:
        digest = hashlib.blake2b(str(item).encode(), digest_size=16).digest()
        h1 = int.from_bytes(digest[:8], "little")
        h2 = int.from_bytes(digest[8:], "little") | 1
        return [(h1 + i * h2) % self.bits for i in range(self.hashes)]

    def add(self, item: object) -> None:
        self._array[self._positions(item)] = True
        self.items += 1

    def add_many(self, items: Iterable[object]) -> None:
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        array = self._array
        return all(array[p] for p in self._positions(item))

    @property
    def expected_false_positive_rate(self) -> float:
        return expected_false_positive_rate(self.bits, self.hashes, self.items)

    def measured_false_positive_rate(self, absent: Iterable[object]) -> float:
        probes = list(absent)
        return sum(p in self for p in probes) / len(probes) if probes else 0.0

    def __repr__(self) -> str:
        return f"<BloomFilter {self.bits} bits, {self.hashes} hashes, {self.items} ids>"
