"""The modern policies: SIEVE, S3-FIFO and ARC.

Each class states its rule in :meth:`access` (one request) and repeats it in
:meth:`run` as a fast loop over a chunk of requests (see the package docstring).
"""

from __future__ import annotations

from collections import OrderedDict, deque

from .base import Policy

__all__ = ["Sieve", "S3FIFO", "ARC"]


class Sieve(Policy):
    """SIEVE (Zhang et al., NSDI 2024).  New keys join at the head of a queue; a
    hand sweeps from the oldest end to the newest, sparing (and unmarking) keys
    visited since it last passed and evicting the first unvisited one.  Unlike
    CLOCK, a spared key stays where it is: it does not move to the head, so the
    newcomers behind it are the next to face the hand."""

    name = "sieve"
    summary = "a hand sweeps old to new, sparing visited keys in place; new keys join at the head"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._visited: dict[int, int] = {}  # cached key -> visited bit
        # Insertion order, oldest first, from the last wrap of the hand on.  Keys the
        # hand has passed are dead weight behind it, except the visited ones it spared:
        # those are collected in _spared, in order, and become the queue when the hand
        # wraps.  So an eviction writes nothing to the queue and removal stays O(1).
        self._queue: list[int] = []
        self._spared: list[int] = []
        self._hand = 0  # index in _queue of the key under the hand

    def access(self, key: int) -> bool:
        if key in self._visited:
            self._visited[key] = 1
            return True
        if len(self._visited) >= self.capacity:
            self._evict()
        self._visited[key] = 0
        self._queue.append(key)  # the head: the hand reaches it last
        return False

    def _evict(self) -> None:
        while True:
            old = self._queue[self._hand]
            self._hand += 1
            spare = self._visited[old]
            if spare:  # spared in place, its bit cleared
                self._visited[old] = 0
                self._spared.append(old)
            else:
                del self._visited[old]
            if self._hand >= len(self._queue):  # passed the newest: wrap to the oldest
                self._queue, self._spared, self._hand = self._spared, [], 0
            if not spare:
                return

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

    def access(self, key: int) -> bool:
        if key in self._freq_small:
            self._freq_small[key] += 1
            return True
        in_ghost = key in self._ghost
        if in_ghost:  # checked before main, as libCacheSim does (a key can be in both)
            del self._ghost[key]
        if key in self._freq_main:
            self._freq_main[key] += 1
            return True
        # a miss: make room first, then insert
        if len(self._freq_small) + len(self._freq_main) >= self.capacity:
            self._has_evicted = True
            if len(self._freq_main) > self.main_capacity or not self._freq_small:
                self._evict_main()
            else:
                self._evict_small()
        if in_ghost or (not self._has_evicted and len(self._freq_small) >= self.small_capacity):
            self._main.append(key)  # seen recently (a ghost), or small is full at warm-up
            self._freq_main[key] = 0
        elif self.small_capacity >= 1:
            self._small.append(key)
            self._freq_small[key] = 0
        return False

    def _evict_main(self) -> None:
        """A 2-bit clock: a key with hits goes round again, one point poorer."""
        while True:
            old = self._main.popleft()
            f = self._freq_main.pop(old)
            if f < 1:
                return
            self._main.append(old)
            self._freq_main[old] = min(f, 3) - 1

    def _evict_small(self) -> None:
        """Keys hit often enough in small move to main; the first that was not leaves a ghost."""
        while self._freq_small:
            old = self._small.popleft()
            f = self._freq_small.pop(old)
            if f >= self.threshold:
                self._main.append(old)
                self._freq_main[old] = 0
            else:
                if self.ghost_capacity > 0:
                    self._ghost[old] = None
                    if len(self._ghost) > self.ghost_capacity:
                        self._ghost.popitem(last=False)
                return

    def run(self, keys: list[int]) -> int:
        small, main, ghost = self._small, self._main, self._ghost
        freq_small, freq_main = self._freq_small, self._freq_main
        capacity, small_cap, main_cap = self.capacity, self.small_capacity, self.main_capacity
        evict_main, evict_small = self._evict_main, self._evict_small
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
                    evict_main()
                else:
                    evict_small()
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
        self._p = 0.0  # target size of T1, learnt from ghost hits

    def access(self, key: int) -> bool:
        t1, t2, b1, b2, c = self._t1, self._t2, self._b1, self._b2, self.capacity
        if key in t1 or key in t2:  # a second use: (re)enters the frequency list
            t1.pop(key, None)
            t2[key] = None
            t2.move_to_end(key)
            return True
        if key in b1:  # evicted from T1 too soon: give T1 more room
            self._p = min(float(c), self._p + max(len(b2) / len(b1), 1.0))
            self._replace(in_b2=False)
            del b1[key]
            t2[key] = None
        elif key in b2:  # evicted from T2 too soon: give T2 more room
            self._p = max(0.0, self._p - max(len(b1) / len(b2), 1.0))
            self._replace(in_b2=True)
            del b2[key]
            t2[key] = None
        else:
            if len(t1) + len(b1) == c:
                if len(t1) < c:
                    b1.popitem(last=False)
                    self._replace(in_b2=False)
                else:
                    t1.popitem(last=False)
            elif len(t1) + len(b1) + len(t2) + len(b2) >= c:
                if len(t1) + len(b1) + len(t2) + len(b2) == 2 * c:
                    b2.popitem(last=False)
                self._replace(in_b2=False)
            t1[key] = None
        return False

    def _replace(self, in_b2: bool) -> None:
        """Evict from T1 if it is over its target ``p``, else from T2; remember the key as a ghost."""
        t1, t2, p = self._t1, self._t2, self._p
        if t1 and (len(t1) > p or (in_b2 and len(t1) == p) or not t2):
            old, _ = t1.popitem(last=False)
            self._b1[old] = None
        else:
            old, _ = t2.popitem(last=False)
            self._b2[old] = None

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
