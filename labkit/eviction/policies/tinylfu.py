"""W-TinyLFU: an LRU window, a frequency sketch that admits or refuses, and an SLRU.

Two variants share one class: Caffeine's (the default) and libCacheSim's
(``TinyLFU.libcachesim_params``), which differ in the four ways the class
docstring lists.  :meth:`TinyLFU.access` states the rule for both; :meth:`run`
is the fast loop (see the package docstring).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import ClassVar

from ...errors import check_choice
from .base import Policy

__all__ = ["TinyLFU"]

_MASK64 = (1 << 64) - 1
_XXH_P1, _XXH_P2, _XXH_P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_XXH_P4, _XXH_P5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5


def _xxh64_of_u64(value: int, seed: int) -> int:
    """XXH64 (Yann Collet's xxHash) of one little-endian 8-byte integer: the hash
    libCacheSim's counting Bloom filter applies to an object id."""

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (64 - r))) & _MASK64

    h = (seed + _XXH_P5 + 8) & _MASK64
    lane = rotl(value * _XXH_P2 & _MASK64, 31) * _XXH_P1 & _MASK64
    h = (rotl(h ^ lane, 27) * _XXH_P1 + _XXH_P4) & _MASK64
    h ^= h >> 33
    h = h * _XXH_P2 & _MASK64
    h ^= h >> 29
    h = h * _XXH_P3 & _MASK64
    return h ^ (h >> 32)


class _ExactCounts:
    """Frequencies counted exactly per key, each stopping at ``cap`` (None: no cap)."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.counts: dict[int, int] = {}

    def add(self, key: int) -> None:
        f = self.counts.get(key, 0)
        if self.cap is None or f < self.cap:
            self.counts[key] = f + 1

    def estimate(self, key: int) -> int:
        return self.counts.get(key, 0)

    def halve(self) -> None:
        halved = {k: f >> 1 for k, f in self.counts.items() if f > 1}
        self.counts.clear()
        self.counts.update(halved)


class _CountingBloomFilter:
    """libCacheSim's ``minimalIncrementCBF``: one array of counters sized for
    ``entries`` keys at a 0.1% false-positive rate (14.4 counters per entry, 10
    positions per key from two XXH64 hashes, ``a + i*b`` in 32-bit arithmetic).
    Adding increments all 10 counters; the estimate is the smallest of them, so
    keys that share counters inflate each other's counts.

    It hashes ``key + 1`` because that is the object id
    :func:`labkit.eviction.write_oracle_general` gives libCacheSim for ``key``:
    the same trace then lands on the same counters in both simulators."""

    id_offset: ClassVar[int] = 1
    seeds: ClassVar[tuple[int, int]] = (0x12345678, 0x12344321)  # libCacheSim's HASH_SEED0/1

    def __init__(self, entries: int, cap: int | None, error: float = 0.001) -> None:
        per_entry = -math.log(error) / 0.480453013918201  # ln(2)^2
        self.hashes = math.ceil(0.693147180559945 * per_entry)  # ln(2)
        self.size = max(min(math.ceil(per_entry * entries), 2**31 - 1), 1)
        if self.size < self.hashes:
            self.size = 2 * self.hashes
        self.cap = cap
        self.counters = [0] * self.size
        self._positions: dict[int, tuple[int, ...]] = {}

    def positions(self, key: int) -> tuple[int, ...]:
        where = self._positions.get(key)
        if where is None:
            object_id = key + self.id_offset
            a = _xxh64_of_u64(object_id, self.seeds[0]) & 0xFFFFFFFF
            b = _xxh64_of_u64(object_id, self.seeds[1]) & 0xFFFFFFFF
            where = tuple(((a + i * b) & 0xFFFFFFFF) % self.size for i in range(self.hashes))
            self._positions[key] = where
        return where

    def add(self, key: int) -> None:
        counters, cap = self.counters, self.cap
        for x in self.positions(key):
            if cap is None or counters[x] < cap:
                counters[x] += 1

    def estimate(self, key: int) -> int:
        counters = self.counters
        return min([counters[x] for x in self.positions(key)])

    def halve(self) -> None:
        self.counters[:] = [c >> 1 for c in self.counters]


class TinyLFU(Policy):
    """W-TinyLFU (Einziger, Friedman & Manes, ACM ToS 2017): a 1% LRU window
    admits every new key; a key leaving the window enters the main SLRU (20%
    probation, 80% protected) only if it has been asked for more often than the
    key it would push out (ties keep the old key).

    The defaults follow Caffeine: every request is counted, counts are exact,
    capped at 15 and halved every ten cache-sizes of requests (Caffeine keeps
    them in a 4-bit count-min sketch that ages the same way).

    libCacheSim's WTinyLFU differs in four ways, each set by parameters here;
    with ``TinyLFU.libcachesim_params(capacity)`` our hit counts equal
    libCacheSim 0.3.5's exactly on every trace tested.  Both break ties the
    same way (the newcomer needs a strictly higher count) and compare against
    the main cache's next victim (probation's oldest key, else protected's).

    * ``count="misses+main-hits+window-exits"``: it counts a key on a miss, on a
      hit in the main cache and each time it leaves the window - never on a
      window hit.
    * ``sketch="bloom"``, ``counter_cap=None``: uncapped counts in a counting
      Bloom filter sized for the main cache (see :class:`_CountingBloomFilter`);
      with far more keys than that, unrelated keys share counters.  This alone
      moves the hit ratio by up to 5 points (a loop at half the cache).
    * ``aging_clock="main-hits"``, ``aging_period=32 * main size``: it halves
      the counters after 32 main-cache-sizes of main-cache hits, not after ten
      cache-sizes of requests, so it forgets a moved hot set far more slowly
      (aged Caffeine's way it would gain 8 points on the shifting trace at 500).
    * ``layout="libcachesim"``: its SLRU truncates both segments (20% and 80%
      of the main cache, rounded down), puts a key entering the main cache in
      the lowest segment with room (so, while it has room, protected also takes
      keys never hit in the main cache), and when a probation hit overflows protected and the demoted key
      overflows probation, evicts probation's oldest key on that hit.  Its
      window also holds every key until the whole cache is full.
    * (not a difference: ``window_ratio`` is 1% in both; libCacheSim rounds the
      window down to 0 below 100 objects and then admits nothing, ours keeps 1.)
    """

    name = "tinylfu"
    summary = "a key must be more popular than the one it would replace to get in"
    COUNTS: ClassVar[tuple[str, ...]] = ("requests", "misses+main-hits+window-exits")
    SKETCHES: ClassVar[tuple[str, ...]] = ("exact", "bloom")
    AGING_CLOCKS: ClassVar[tuple[str, ...]] = ("requests", "main-hits")
    LAYOUTS: ClassVar[tuple[str, ...]] = ("caffeine", "libcachesim")

    def __init__(
        self,
        capacity: int,
        *,
        seed: int = 0,
        window_ratio: float = 0.01,
        count: str = "requests",
        sketch: str = "exact",
        counter_cap: int | None = 15,
        aging_clock: str = "requests",
        aging_period: int | None = None,
        layout: str = "caffeine",
    ) -> None:
        super().__init__(capacity, seed=seed)
        self.count = check_choice("count", count, self.COUNTS)
        self.sketch = check_choice("sketch", sketch, self.SKETCHES)
        self.aging_clock = check_choice("aging_clock", aging_clock, self.AGING_CLOCKS)
        self.layout = check_choice("layout", layout, self.LAYOUTS)
        self.counter_cap = counter_cap
        self.window_capacity = max(1, int(capacity * window_ratio)) if capacity > 1 else 0
        self.main_capacity = capacity - self.window_capacity
        if layout == "libcachesim":
            self.probation_capacity = int(1 / 5 * self.main_capacity)
            self.protected_capacity = int(4 / 5 * self.main_capacity)
        else:
            self.protected_capacity = int(self.main_capacity * 0.8)
            self.probation_capacity = self.main_capacity - self.protected_capacity
        self.sample_size = 10 * capacity if aging_period is None else aging_period
        self._window: OrderedDict[int, None] = OrderedDict()
        self._probation: OrderedDict[int, None] = OrderedDict()
        self._protected: OrderedDict[int, None] = OrderedDict()
        self._since_reset = 0  # requests (or main hits) counted since the sketch was last halved
        self._sketch: _ExactCounts | _CountingBloomFilter = (
            _CountingBloomFilter(self.main_capacity, counter_cap) if sketch == "bloom" else _ExactCounts(counter_cap)
        )

    @classmethod
    def libcachesim_params(cls, capacity: int) -> dict[str, object]:
        """The parameters that make this class behave like libCacheSim's WTinyLFU."""
        main = capacity - max(1, int(capacity * 0.01))
        return {
            "window_ratio": 0.01, "count": "misses+main-hits+window-exits", "sketch": "bloom",
            "counter_cap": None, "aging_clock": "main-hits", "aging_period": 32 * main, "layout": "libcachesim",
        }

    # ------------------------------------------------ the rule, one request at a time

    def access(self, key: int) -> bool:
        window, probation, protected = self._window, self._probation, self._protected
        if self.count == "requests":
            self._sketch.add(key)
        if self.aging_clock == "requests":
            self._tick()
        if key in window:
            window.move_to_end(key)
            return True
        if key in probation or key in protected:
            if key in probation:  # a second hit in the main cache: promote to protected
                del probation[key]
                protected[key] = None
                if len(protected) > self.protected_capacity:
                    demoted, _ = protected.popitem(last=False)
                    probation[demoted] = None
                    if self.layout == "libcachesim":
                        while len(probation) > self.probation_capacity:
                            probation.popitem(last=False)
            else:
                protected.move_to_end(key)
            if self.count != "requests":
                self._sketch.add(key)
            if self.aging_clock == "main-hits":
                self._tick()
            return True
        if self.layout == "libcachesim":
            self._miss_libcachesim(key)
            return False
        window[key] = None  # every new key enters the window
        if len(window) > self.window_capacity:
            candidate, _ = window.popitem(last=False)
            self._admit(candidate)
            if self.count != "requests":
                self._sketch.add(candidate)
        if self.count != "requests":
            self._sketch.add(key)
        return False

    def _tick(self) -> None:
        """One more event on the aging clock; every ``sample_size`` of them halves the counts."""
        self._since_reset += 1
        if self._since_reset >= self.sample_size:
            self._sketch.halve()
            self._since_reset = 0

    def _admit(self, candidate: int) -> None:
        """A key leaving the window enters the main cache if there is room, or if it is
        asked for more often than the key it would push out (ties keep the old key)."""
        probation, protected = self._probation, self._protected
        if len(probation) + len(protected) < self.main_capacity:
            self._enter_main(candidate)
            return
        victim = next(iter(probation)) if probation else next(iter(protected))
        if self._sketch.estimate(candidate) > self._sketch.estimate(victim):
            del (probation if victim in probation else protected)[victim]
            self._enter_main(candidate)

    def _enter_main(self, key: int) -> None:
        probation, protected = self._probation, self._protected
        if self.layout == "libcachesim" and len(probation) >= self.probation_capacity \
                and len(protected) < self.protected_capacity:
            protected[key] = None  # libCacheSim: the lowest segment with room
        else:
            probation[key] = None

    def _miss_libcachesim(self, key: int) -> None:
        """libCacheSim: the window takes every key; once the whole cache is full, window
        keys move to the main cache while it has room, then one contest."""
        window, probation, protected = self._window, self._probation, self._protected
        while len(window) + len(probation) + len(protected) >= self.capacity:
            if not window:
                (probation or protected).popitem(last=False)
                break
            candidate = next(iter(window))
            del window[candidate]
            contest = len(probation) + len(protected) >= self.main_capacity
            self._admit(candidate)
            if self.count != "requests":
                self._sketch.add(candidate)
            if contest:
                break
        window[key] = None
        if self.count != "requests":
            self._sketch.add(key)

    # ------------------------------------------------ the same, fast

    def run(self, keys: list[int]) -> int:
        """The loop of :meth:`access`.  Caffeine's exact counts are updated and
        compared inline (the common case); everything else calls the helpers."""
        window, probation, protected = self._window, self._probation, self._protected
        window_cap, protected_cap, main_cap = self.window_capacity, self.protected_capacity, self.main_capacity
        probation_cap = self.probation_capacity
        sketch = self._sketch
        add, estimate, halve = sketch.add, sketch.estimate, sketch.halve
        exact = isinstance(sketch, _ExactCounts)
        counts = sketch.counts if exact else {}
        cap = sketch.cap if exact and sketch.cap is not None else 1 << 62
        count_requests = self.count == "requests"
        age_on_requests = self.aging_clock == "requests"
        lcs_layout = self.layout == "libcachesim"
        sample_size, since, hits = self.sample_size, self._since_reset, 0
        for key in keys:
            if count_requests:
                if exact:
                    c = counts.get(key, 0)
                    if c < cap:
                        counts[key] = c + 1
                else:
                    add(key)
            if age_on_requests:
                since += 1
                if since >= sample_size:
                    halve()
                    since = 0
            if key in window:
                hits += 1
                window.move_to_end(key)
                continue
            if key in probation:
                hits += 1
                del probation[key]
                protected[key] = None
                if len(protected) > protected_cap:
                    demoted, _ = protected.popitem(False)
                    probation[demoted] = None
                    if lcs_layout:
                        while len(probation) > probation_cap:
                            probation.popitem(False)
            elif key in protected:
                hits += 1
                protected.move_to_end(key)
            else:  # a miss
                if lcs_layout:
                    self._miss_libcachesim(key)
                    continue
                window[key] = None
                if len(window) > window_cap:
                    candidate, _ = window.popitem(False)
                    if len(probation) + len(protected) < main_cap:
                        probation[candidate] = None
                    else:
                        victim = next(iter(probation)) if probation else next(iter(protected))
                        if (counts.get(candidate, 0) > counts.get(victim, 0)) if exact else (
                            estimate(candidate) > estimate(victim)
                        ):
                            del (probation if victim in probation else protected)[victim]
                            probation[candidate] = None
                    if not count_requests:
                        add(candidate)
                if not count_requests:
                    add(key)
                continue
            # a main-cache hit: counted and aged here in libCacheSim's variant
            if not count_requests:
                add(key)
            if not age_on_requests:
                since += 1
                if since >= sample_size:
                    halve()
                    since = 0
        self._since_reset = since
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._window) | set(self._probation) | set(self._protected)
