"""Eviction policies: one small class each, on one shared base.

Every policy replays requests with :meth:`Policy.run`, which takes a chunk of
the trace (a plain ``list`` of int keys) and returns how many were hits.  The
state survives between calls, so a long trace can be replayed in windows to
draw a hit ratio timeline.  The loops are written for speed in plain Python:
one method call per chunk, not per request, and locals bound outside the loop.

Capacities count objects (every object has size 1), as in the textbook
definitions and in libCacheSim when each request's size is 1.
"""

from __future__ import annotations

import heapq
import math
import random
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from typing import ClassVar

import numpy as np

from ..errors import check_choice

__all__ = [
    "Policy",
    "LRU",
    "FIFO",
    "RandomEviction",
    "LFU",
    "Clock",
    "Sieve",
    "S3FIFO",
    "ARC",
    "TinyLFU",
    "RedisLRU",
    "RedisLFU",
    "VolatileTTL",
    "OPT",
    "POLICY_CLASSES",
    "next_use_positions",
]


class Policy(ABC):
    """A cache of ``capacity`` objects that decides what to evict when full."""

    name: ClassVar[str]
    summary: ClassVar[str]

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        self.capacity = capacity
        self.seed = seed

    def prepare(self, keys: list[int]) -> None:  # noqa: B027 - optional hook
        """Called once with the whole trace before :meth:`run`; only OPT looks ahead."""

    @abstractmethod
    def run(self, keys: list[int]) -> int:
        """Replay ``keys`` in order; return the number of hits."""

    @abstractmethod
    def cached_keys(self) -> set[int]:
        """The keys in the cache now (for tests and demos, not the hot path)."""

    def __len__(self) -> int:
        return len(self.cached_keys())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} capacity={self.capacity}>"


class LRU(Policy):
    name = "lru"
    summary = "evict the least recently used key"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._order: OrderedDict[int, None] = OrderedDict()

    def run(self, keys: list[int]) -> int:
        order, capacity = self._order, self.capacity
        touch, pop_oldest = order.move_to_end, order.popitem
        size, hits = len(order), 0
        for key in keys:
            if key in order:
                hits += 1
                touch(key)
            else:
                order[key] = None
                if size < capacity:
                    size += 1
                else:
                    pop_oldest(False)
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._order)


class FIFO(Policy):
    name = "fifo"
    summary = "evict the key that entered first, hits change nothing"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._members: set[int] = set()
        self._queue: deque[int] = deque()

    def run(self, keys: list[int]) -> int:
        members, queue, capacity = self._members, self._queue, self.capacity
        add, remove, push, pop_oldest = members.add, members.remove, queue.append, queue.popleft
        size, hits = len(members), 0
        for key in keys:
            if key in members:
                hits += 1
            else:
                add(key)
                push(key)
                if size < capacity:
                    size += 1
                else:
                    remove(pop_oldest())
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._members)


class RandomEviction(Policy):
    name = "random"
    summary = "evict a key chosen at random (Redis allkeys-random)"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._slots: list[int] = []
        self._slot_of: dict[int, int] = {}
        self._rng = np.random.default_rng(seed)
        self._draws: list[int] = []
        self._next_draw = 0

    def run(self, keys: list[int]) -> int:
        slots, slot_of, capacity = self._slots, self._slot_of, self.capacity
        draws, d, hits = self._draws, self._next_draw, 0
        for key in keys:
            if key in slot_of:
                hits += 1
            elif len(slots) < capacity:
                slot_of[key] = len(slots)
                slots.append(key)
            else:
                if d == len(draws):  # drawn in batches by numpy: far cheaper than one by one
                    draws, d = self._rng.integers(0, capacity, 100_000).tolist(), 0
                slot = draws[d]
                d += 1
                del slot_of[slots[slot]]
                slots[slot] = key
                slot_of[key] = slot
        self._draws, self._next_draw = draws, d
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._slot_of)


class LFU(Policy):
    name = "lfu"
    summary = "evict the key with the fewest hits since it entered (ties: oldest)"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._count: dict[int, int] = {}
        # count -> keys with that count, in the order they reached it.  OrderedDict,
        # not dict: taking the oldest out of a plain dict that has had many deletions
        # at its front scans over their tombstones.
        self._buckets: dict[int, OrderedDict[int, None]] = {1: OrderedDict()}
        self._min_count = 1

    def run(self, keys: list[int]) -> int:
        count, buckets, capacity = self._count, self._buckets, self.capacity
        min_count, hits = self._min_count, 0
        for key in keys:
            c = count.get(key)
            if c is not None:
                hits += 1
                bucket = buckets[c]
                del bucket[key]
                count[key] = c + 1
                up = buckets.get(c + 1)
                if up is None:
                    buckets[c + 1] = up = OrderedDict()
                up[key] = None
                if c == min_count and not bucket:
                    min_count = c + 1
            else:
                if len(count) >= capacity:
                    victim, _ = buckets[min_count].popitem(False)
                    del count[victim]
                count[key] = 1
                buckets[1][key] = None
                min_count = 1
        self._min_count = min_count
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._count)


class Clock(Policy):
    name = "clock"
    summary = "FIFO with one reference bit: a hit earns one more trip round the clock"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._ring: list[int] = [-1] * capacity
        self._referenced: list[int] = [0] * capacity
        self._slot_of: dict[int, int] = {}
        self._hand = 0

    def run(self, keys: list[int]) -> int:
        ring, referenced, slot_of, capacity = self._ring, self._referenced, self._slot_of, self.capacity
        hand, size, hits = self._hand, len(slot_of), 0
        for key in keys:
            slot = slot_of.get(key)
            if slot is not None:
                hits += 1
                referenced[slot] = 1
                continue
            if size < capacity:
                slot = size
                size += 1
            else:
                while referenced[hand]:
                    referenced[hand] = 0
                    hand += 1
                    if hand == capacity:
                        hand = 0
                slot = hand
                del slot_of[ring[slot]]
                hand += 1
                if hand == capacity:
                    hand = 0
            ring[slot] = key
            referenced[slot] = 0
            slot_of[key] = slot
        self._hand = hand
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._slot_of)


class Sieve(Policy):
    name = "sieve"
    summary = "a hand sweeps old to new, sparing visited keys; new keys join at the head"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._visited: dict[int, int] = {}
        # Insertion order, oldest first, from the last wrap of the hand on.  Keys the
        # hand has passed are dead weight behind it, except the visited ones it spared:
        # those are collected in _spared, in order, and become the queue when the hand
        # wraps.  So an eviction writes nothing to the queue and removal stays O(1).
        self._queue: list[int] = []
        self._spared: list[int] = []
        self._hand = 0

    def run(self, keys: list[int]) -> int:
        visited, queue, spared, capacity = self._visited, self._queue, self._spared, self.capacity
        hand, size, hits = self._hand, len(visited), 0
        append, end = queue.append, len(queue)
        for key in keys:
            if key in visited:  # `in` then a store: cheaper than a .get() call, and most requests miss
                hits += 1
                visited[key] = 1
                continue
            if size < capacity:
                size += 1
            else:  # here hand < end always: there is a key under the hand
                old = queue[hand]
                hand += 1
                while visited[old]:  # about one step per eviction on Zipf traces
                    visited[old] = 0
                    spared.append(old)
                    if hand >= end:
                        queue, spared, hand = spared, [], 0
                        append, end = queue.append, len(queue)
                    old = queue[hand]
                    hand += 1
                del visited[old]
                if hand >= end:  # passed the newest: wrap to the oldest
                    queue, spared, hand = spared, [], 0
                    append, end = queue.append, len(queue)
            visited[key] = 0
            append(key)
            end += 1
        self._queue, self._spared, self._hand = queue, spared, hand
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._visited)


class S3FIFO(Policy):
    """Small FIFO (10%) for new keys, main FIFO (90%), and a ghost list of keys
    recently evicted from the small queue.  Follows libCacheSim's S3FIFO.c."""

    name = "s3fifo"
    summary = "new keys wait in a small FIFO; only keys hit there reach the main FIFO"

    def __init__(
        self,
        capacity: int,
        *,
        seed: int = 0,
        small_ratio: float = 0.1,
        ghost_ratio: float = 0.9,
        move_to_main_threshold: int = 2,
    ) -> None:
        super().__init__(capacity, seed=seed)
        self.small_capacity = int(capacity * small_ratio)
        self.main_capacity = capacity - self.small_capacity
        self.ghost_capacity = int(capacity * ghost_ratio)
        self.threshold = move_to_main_threshold
        self._small: deque[int] = deque()
        self._main: deque[int] = deque()
        self._freq_small: dict[int, int] = {}
        self._freq_main: dict[int, int] = {}
        self._ghost: OrderedDict[int, None] = OrderedDict()
        self._has_evicted = False

    def run(self, keys: list[int]) -> int:
        small, main, ghost = self._small, self._main, self._ghost
        freq_small, freq_main = self._freq_small, self._freq_main
        capacity, small_cap, main_cap = self.capacity, self.small_capacity, self.main_capacity
        ghost_cap, threshold = self.ghost_capacity, self.threshold
        has_evicted, hits = self._has_evicted, 0
        for key in keys:
            f = freq_small.get(key)
            if f is not None:
                hits += 1
                freq_small[key] = f + 1
                continue
            in_ghost = key in ghost
            if in_ghost:
                del ghost[key]
            f = freq_main.get(key)
            if f is not None:
                hits += 1
                freq_main[key] = f + 1
                continue
            # miss: make room first, then insert
            if len(freq_small) + len(freq_main) >= capacity:
                has_evicted = True
                if len(freq_main) > main_cap or not freq_small:
                    while True:  # main: a 2-bit clock
                        old = main.popleft()
                        f = freq_main.pop(old)
                        if f >= 1:
                            main.append(old)
                            freq_main[old] = min(f, 3) - 1
                        else:
                            break
                else:
                    while freq_small:
                        old = small.popleft()
                        f = freq_small.pop(old)
                        if f >= threshold:
                            main.append(old)
                            freq_main[old] = 0
                        else:
                            if ghost_cap > 0:
                                ghost[old] = None
                                if len(ghost) > ghost_cap:
                                    ghost.popitem(False)
                            break
            if in_ghost or (not has_evicted and len(freq_small) >= small_cap):
                main.append(key)
                freq_main[key] = 0
            elif small_cap >= 1:
                small.append(key)
                freq_small[key] = 0
        self._has_evicted = has_evicted
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._freq_small) | set(self._freq_main)


class ARC(Policy):
    """Adaptive Replacement Cache (Megiddo & Modha, FAST 2003): a recency list T1
    and a frequency list T2, with ghost lists B1/B2 steering their split ``p``."""

    name = "arc"
    summary = "balances a recency list and a frequency list, learning the split from ghosts"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._t1: OrderedDict[int, None] = OrderedDict()
        self._t2: OrderedDict[int, None] = OrderedDict()
        self._b1: OrderedDict[int, None] = OrderedDict()
        self._b2: OrderedDict[int, None] = OrderedDict()
        self._p = 0.0

    def run(self, keys: list[int]) -> int:
        t1, t2, b1, b2 = self._t1, self._t2, self._b1, self._b2
        c, p, hits = self.capacity, self._p, 0

        def replace(in_b2: bool) -> None:
            if t1 and (len(t1) > p or (in_b2 and len(t1) == p) or not t2):
                old, _ = t1.popitem(False)
                b1[old] = None
            else:
                old, _ = t2.popitem(False)
                b2[old] = None

        for key in keys:
            if key in t1:
                hits += 1
                del t1[key]
                t2[key] = None
            elif key in t2:
                hits += 1
                t2.move_to_end(key)
            elif key in b1:
                p = min(float(c), p + max(len(b2) / len(b1), 1.0))
                replace(False)
                del b1[key]
                t2[key] = None
            elif key in b2:
                p = max(0.0, p - max(len(b1) / len(b2), 1.0))
                replace(True)
                del b2[key]
                t2[key] = None
            else:
                l1 = len(t1) + len(b1)
                if l1 == c:
                    if len(t1) < c:
                        b1.popitem(False)
                        replace(False)
                    else:
                        t1.popitem(False)
                elif l1 < c:
                    total = l1 + len(t2) + len(b2)
                    if total >= c:
                        if total == 2 * c:
                            b2.popitem(False)
                        replace(False)
                t1[key] = None
        self._p = p
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._t1) | set(self._t2)


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
        self._freq: dict[int, int] = {}
        self._since_reset = 0
        self._caffeine = (count, sketch, counter_cap, aging_clock, layout) == (
            "requests", "exact", 15, "requests", "caffeine",
        )
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

    def _age(self) -> None:
        self._freq = {k: f >> 1 for k, f in self._freq.items() if f > 1}
        self._since_reset = 0

    def run(self, keys: list[int]) -> int:
        if not self._caffeine:
            return self._run_general(keys)
        window, probation, protected = self._window, self._probation, self._protected
        window_cap, protected_cap, main_cap = self.window_capacity, self.protected_capacity, self.main_capacity
        sample_size, hits = self.sample_size, 0
        freq = self._freq
        for key in keys:
            f = freq.get(key, 0)
            if f < 15:
                freq[key] = f + 1
            self._since_reset += 1
            if self._since_reset >= sample_size:
                self._age()
                freq = self._freq
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
                continue
            if key in protected:
                hits += 1
                protected.move_to_end(key)
                continue
            # miss: the new key always enters the window
            window[key] = None
            if len(window) <= window_cap:
                continue
            candidate, _ = window.popitem(False)
            if len(probation) + len(protected) < main_cap:
                probation[candidate] = None
                continue
            victim = next(iter(probation)) if probation else next(iter(protected))
            if freq.get(candidate, 0) > freq.get(victim, 0):
                if victim in probation:
                    del probation[victim]
                else:
                    del protected[victim]
                probation[candidate] = None
        return hits

    def _run_general(self, keys: list[int]) -> int:
        """Any mix of the parameters (slower than the Caffeine loop above)."""
        window, probation, protected = self._window, self._probation, self._protected
        capacity, window_cap, main_cap = self.capacity, self.window_capacity, self.main_capacity
        probation_cap, protected_cap = self.probation_capacity, self.protected_capacity
        sketch = self._sketch
        add, estimate = sketch.add, sketch.estimate
        count_requests = self.count == "requests"
        age_on_requests = self.aging_clock == "requests"
        lcs_layout = self.layout == "libcachesim"
        sample_size, since, hits = self.sample_size, self._since_reset, 0

        def enter_main(key: int) -> None:
            if not lcs_layout or len(probation) < probation_cap:
                probation[key] = None
            elif len(protected) < protected_cap:
                protected[key] = None
            else:
                probation[key] = None

        for key in keys:
            if count_requests:
                add(key)
            if age_on_requests:
                since += 1
                if since >= sample_size:
                    sketch.halve()
                    since = 0
            if key in window:
                hits += 1
                window.move_to_end(key)
                continue
            in_probation = key in probation
            if in_probation or key in protected:
                hits += 1
                if in_probation:
                    del probation[key]
                    protected[key] = None
                    if len(protected) > protected_cap:
                        demoted, _ = protected.popitem(False)
                        probation[demoted] = None
                        if lcs_layout:
                            while len(probation) > probation_cap:
                                probation.popitem(False)
                else:
                    protected.move_to_end(key)
                if not count_requests:
                    add(key)
                if not age_on_requests:
                    since += 1
                    if since >= sample_size:
                        sketch.halve()
                        since = 0
                continue
            # miss
            if lcs_layout:
                # libCacheSim: the window takes every key; once the whole cache is full,
                # window keys move to the main cache while it has room, then one contest.
                while len(window) + len(probation) + len(protected) >= capacity:
                    if not window:
                        (probation or protected).popitem(False)
                        break
                    candidate = next(iter(window))
                    del window[candidate]
                    if len(probation) + len(protected) < main_cap:
                        enter_main(candidate)
                    else:
                        victim = next(iter(probation)) if probation else next(iter(protected))
                        if estimate(candidate) > estimate(victim):
                            del (probation if victim in probation else protected)[victim]
                            enter_main(candidate)
                        if not count_requests:
                            add(candidate)
                        break
                    if not count_requests:
                        add(candidate)
                window[key] = None
                if not count_requests:
                    add(key)
                continue
            window[key] = None
            if len(window) > window_cap:
                candidate, _ = window.popitem(False)
                if len(probation) + len(protected) < main_cap:
                    probation[candidate] = None
                else:
                    victim = next(iter(probation)) if probation else next(iter(protected))
                    if estimate(candidate) > estimate(victim):
                        del (probation if victim in probation else protected)[victim]
                        probation[candidate] = None
                if not count_requests:
                    add(candidate)
            if not count_requests:
                add(key)
        self._since_reset = since
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._window) | set(self._probation) | set(self._protected)


class _SampledPolicy(Policy):
    """Redis's way: no exact order, just ``samples`` random keys looked at per
    eviction (``maxmemory-samples``, default 5), and the worst of them goes.

    Redis 3.0+ also keeps a pool of the 16 best candidates between evictions,
    which brings it a little closer to the exact policy; it is left out here to
    keep the loop fast, so these numbers are slightly pessimistic for Redis.

    Keys live in numbered slots, and what a policy knows about a key (last use,
    counter, expiry) is kept in a list indexed by slot: one list index per
    sampled key instead of a slot lookup and a dict lookup.  With Redis's
    default of 5 samples the comparison is written out (measured about 1.4x
    faster than a loop over the sample, 2.5x faster than ``min(..., key=...)``);
    ties go to the first key sampled, as in Redis's scan.
    """

    _batch: ClassVar[int] = 50_000

    def __init__(self, capacity: int, *, seed: int = 0, samples: int = 5) -> None:
        super().__init__(capacity, seed=seed)
        self.samples = samples
        self._slots: list[int] = []
        self._slot_of: dict[int, int] = {}
        self._rng = np.random.default_rng(seed)
        # Unused draws carry over between run() calls, so replaying a trace in
        # windows gives exactly the same result as replaying it at once.
        self._draws: list[int] = []
        self._next_draw = 0
        self._now = 0

    def _random_slots(self) -> list[int]:
        """A batch of random slot numbers (drawn by numpy: 20x cheaper than one by one)."""
        return self._rng.integers(0, self.capacity, self._batch * self.samples).tolist()

    def cached_keys(self) -> set[int]:
        return set(self._slot_of)


class RedisLRU(_SampledPolicy):
    name = "redis-lru"
    summary = "Redis allkeys-lru: the idlest of a few sampled keys (maxmemory-samples)"

    def __init__(self, capacity: int, *, seed: int = 0, samples: int = 5) -> None:
        super().__init__(capacity, seed=seed, samples=samples)
        self._last_use: list[int] = []  # per slot: the request number of its key's last use

    def run(self, keys: list[int]) -> int:
        last_use, slots, slot_of, capacity = self._last_use, self._slots, self._slot_of, self.capacity
        samples, draws, d, filled = self.samples, self._draws, self._next_draw, len(slots)
        n_draws, five = len(draws), samples == 5
        now, hits = self._now, 0  # `now` stays as it was if keys is empty
        for now, key in enumerate(keys, self._now + 1):  # request numbers, counted in C
            if key in slot_of:
                hits += 1
                last_use[slot_of[key]] = now
            elif filled < capacity:
                slot_of[key] = filled
                slots.append(key)
                last_use.append(now)
                filled += 1
            else:
                if d + samples > n_draws:
                    draws, d = self._random_slots(), 0
                    n_draws = len(draws)
                sample = draws[d : d + samples]
                d += samples
                if five:
                    slot, s1, s2, s3, s4 = sample
                    best = last_use[slot]
                    t = last_use[s1]
                    if t < best:
                        slot, best = s1, t
                    t = last_use[s2]
                    if t < best:
                        slot, best = s2, t
                    t = last_use[s3]
                    if t < best:
                        slot, best = s3, t
                    if last_use[s4] < best:
                        slot = s4
                else:
                    slot, best = -1, now
                    for s in sample:
                        t = last_use[s]
                        if t < best:
                            slot, best = s, t
                del slot_of[slots[slot]]
                slots[slot] = key
                slot_of[key] = slot
                last_use[slot] = now
        self._now, self._draws, self._next_draw = now, draws, d
        return hits


class RedisLFU(_SampledPolicy):
    """Redis allkeys-lfu: an 8-bit logarithmic counter per key (Morris counting)
    that starts at 5, grows with probability 1/((counter-5)*lfu_log_factor+1) and
    loses one point per ``decay_period_requests`` idle (Redis: per lfu-decay-time
    minute)."""

    name = "redis-lfu"
    summary = "Redis allkeys-lfu: the least-used of a few sampled keys, on a decaying log counter"
    init_value: ClassVar[int] = 5

    def __init__(
        self,
        capacity: int,
        *,
        seed: int = 0,
        samples: int = 5,
        log_factor: int = 10,
        decay_period_requests: int = 10_000,
    ) -> None:
        super().__init__(capacity, seed=seed, samples=samples)
        self.log_factor = log_factor
        self.decay_period_requests = decay_period_requests
        self._counter: list[int] = []  # per slot: the counter as of its key's last use
        self._touched: list[int] = []  # per slot: the request number of that use
        self._coin = random.Random(seed + 1).random

    def run(self, keys: list[int]) -> int:
        counter, touched, slots, slot_of = self._counter, self._touched, self._slots, self._slot_of
        capacity, samples, period = self.capacity, self.samples, self.decay_period_requests
        coin, log_factor, init = self._coin, self.log_factor, self.init_value
        draws, d, filled = self._draws, self._next_draw, len(slots)
        n_draws, five = len(draws), samples == 5
        now, hits = self._now, 0  # `now` stays as it was if keys is empty
        for now, key in enumerate(keys, self._now + 1):  # request numbers, counted in C
            if key in slot_of:
                hits += 1
                slot = slot_of[key]
                value = counter[slot] - (now - touched[slot]) // period
                if value < 0:
                    value = 0
                if value < 255 and coin() * ((value - init if value > init else 0) * log_factor + 1) < 1.0:
                    value += 1
                counter[slot] = value
                touched[slot] = now
                continue
            if filled < capacity:
                slot_of[key] = filled
                slots.append(key)
                counter.append(init)
                touched.append(now)
                filled += 1
                continue
            if d + samples > n_draws:
                draws, d = self._random_slots(), 0
                n_draws = len(draws)
            sample = draws[d : d + samples]
            d += samples
            if five:
                slot, s1, s2, s3, s4 = sample
                best = counter[slot] - (now - touched[slot]) // period
                value = counter[s1] - (now - touched[s1]) // period
                if value < best:
                    slot, best = s1, value
                value = counter[s2] - (now - touched[s2]) // period
                if value < best:
                    slot, best = s2, value
                value = counter[s3] - (now - touched[s3]) // period
                if value < best:
                    slot, best = s3, value
                if counter[s4] - (now - touched[s4]) // period < best:
                    slot = s4
            else:
                slot, best = -1, 1 << 30
                for s in sample:
                    value = counter[s] - (now - touched[s]) // period
                    if value < best:
                        slot, best = s, value
            del slot_of[slots[slot]]
            slots[slot] = key
            slot_of[key] = slot
            counter[slot] = init
            touched[slot] = now
        self._now, self._draws, self._next_draw = now, draws, d
        return hits


class VolatileTTL(_SampledPolicy):
    """Redis volatile-ttl: among sampled keys, evict the one closest to expiring.

    Each key gets a time to live when written, fixed per key (a hash of its id)
    between ``min_ttl_requests`` and ``max_ttl_requests``; nothing actually
    expires here, so only the choice of victim differs from the other policies.
    Popularity plays no part, which is the point."""

    name = "volatile-ttl"
    summary = "Redis volatile-ttl: the sampled key with the shortest time left to live"

    def __init__(
        self,
        capacity: int,
        *,
        seed: int = 0,
        samples: int = 5,
        min_ttl_requests: int = 1_000,
        max_ttl_requests: int = 100_000,
    ) -> None:
        super().__init__(capacity, seed=seed, samples=samples)
        self.min_ttl_requests, self.max_ttl_requests = min_ttl_requests, max_ttl_requests
        self._expires_at: list[int] = []  # per slot: when its key would expire

    def ttl_of(self, key: int) -> int:
        """The key's time to live in requests: the same for a key on every write."""
        spread = self.max_ttl_requests - self.min_ttl_requests + 1
        mixed = (key * 2654435761 + self.seed * 97) & 0xFFFFFFFF  # Knuth's multiplicative hash
        return self.min_ttl_requests + mixed % spread

    def run(self, keys: list[int]) -> int:
        expires_at, slots, slot_of, capacity = self._expires_at, self._slots, self._slot_of, self.capacity
        samples, draws, d, filled = self.samples, self._draws, self._next_draw, len(slots)
        n_draws, five = len(draws), samples == 5
        # ttl_of() inlined: a method call per miss costs more than the rest of the miss.
        low, spread, salt = self.min_ttl_requests, self.max_ttl_requests - self.min_ttl_requests + 1, self.seed * 97
        now, hits = self._now, 0  # `now` stays as it was if keys is empty
        for now, key in enumerate(keys, self._now + 1):  # request numbers, counted in C
            if key in slot_of:
                hits += 1
                continue
            if filled < capacity:
                slot = filled
                slot_of[key] = slot
                slots.append(key)
                expires_at.append(0)
                filled += 1
            else:
                if d + samples > n_draws:
                    draws, d = self._random_slots(), 0
                    n_draws = len(draws)
                sample = draws[d : d + samples]
                d += samples
                if five:
                    slot, s1, s2, s3, s4 = sample
                    best = expires_at[slot]
                    t = expires_at[s1]
                    if t < best:
                        slot, best = s1, t
                    t = expires_at[s2]
                    if t < best:
                        slot, best = s2, t
                    t = expires_at[s3]
                    if t < best:
                        slot, best = s3, t
                    if expires_at[s4] < best:
                        slot = s4
                else:
                    slot, best = -1, 1 << 62
                    for s in sample:
                        t = expires_at[s]
                        if t < best:
                            slot, best = s, t
                del slot_of[slots[slot]]
                slots[slot] = key
                slot_of[key] = slot
            expires_at[slot] = now + low + ((key * 2654435761 + salt) & 0xFFFFFFFF) % spread
        self._now, self._draws, self._next_draw = now, draws, d
        return hits


def next_use_positions(trace: np.ndarray) -> np.ndarray:
    """For each request, the position of the next request for the same key, or
    ``len(trace) + i`` (later than anything, and unique) if it is never asked again."""
    trace = np.asarray(trace)
    n = len(trace)
    nxt = np.arange(n, 2 * n, dtype=np.int64)
    order = np.argsort(trace, kind="stable")
    same = trace[order[1:]] == trace[order[:-1]]
    nxt[order[:-1][same]] = order[1:][same]
    return nxt


class OPT(Policy):
    """Belady's MIN (IBM Systems Journal, 1966): evict the key whose next request is
    furthest in the future.  It needs the whole trace in advance, so it is a
    ceiling to measure real policies against, not something a cache can run."""

    name = "opt"
    summary = "Belady's clairvoyant optimum: evict the key needed furthest in the future"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._next_use: list[int] = []
        self._trace: list[int] = []
        self._position = 0
        self._due: dict[int, int] = {}  # key -> position of its next request
        self._heap: list[int] = []  # -next position (max-heap), stale entries skipped

    def prepare(self, keys: list[int]) -> None:
        self._trace = list(keys)
        self._next_use = next_use_positions(np.asarray(keys, dtype=np.int64)).tolist()
        self._position = 0
        self._due.clear()
        self._heap.clear()

    def run(self, keys: list[int]) -> int:
        if not self._next_use:
            self.prepare(keys)
        trace, next_use, due, heap = self._trace, self._next_use, self._due, self._heap
        n, capacity = len(trace), self.capacity
        push, pop = heapq.heappush, heapq.heappop
        i, hits = self._position, 0
        for key in keys:
            nxt = next_use[i]
            i += 1
            if key in due:
                hits += 1
            elif len(due) >= capacity:
                while True:  # pop until an entry still describes a cached key
                    far = -pop(heap)
                    victim = trace[far if far < n else far - n]
                    if due.get(victim) == far:
                        del due[victim]
                        break
            due[key] = nxt
            push(heap, -nxt)
        self._position = i
        return hits

    def cached_keys(self) -> set[int]:
        return set(self._due)


POLICY_CLASSES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (
        LRU, FIFO, RandomEviction, LFU, Clock, Sieve, S3FIFO, ARC, TinyLFU,
        RedisLRU, RedisLFU, VolatileTTL, OPT,
    )
}
