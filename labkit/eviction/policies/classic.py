"""The classic policies: LRU, FIFO, CLOCK, Random and LFU.

Each class states its rule in :meth:`access` (one request) and repeats it in
:meth:`run` as a fast loop over a chunk of requests (see the package docstring).
"""

from __future__ import annotations

from collections import OrderedDict, deque

from .base import Policy
from .draws import SlotDraws

__all__ = ["LRU", "FIFO", "Clock", "RandomEviction", "LFU"]


class LRU(Policy):
    name = "lru"
    summary = "evict the least recently used key"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._order: OrderedDict[int, None] = OrderedDict()  # least recently used first

    def access(self, key: int) -> bool:
        if key in self._order:
            self._order.move_to_end(key)  # now the most recently used
            return True
        if len(self._order) >= self.capacity:
            self._order.popitem(last=False)  # the key used longest ago goes
        self._order[key] = None
        return False

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
        self._queue: deque[int] = deque()  # oldest entry first

    def access(self, key: int) -> bool:
        if key in self._members:
            return True  # a hit changes nothing
        if len(self._members) >= self.capacity:
            self._members.remove(self._queue.popleft())
        self._members.add(key)
        self._queue.append(key)
        return False

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


class Clock(Policy):
    name = "clock"
    summary = "FIFO with one reference bit: a hit earns one more trip round the clock"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._ring: list[int] = [-1] * capacity  # slot -> key
        self._referenced: list[int] = [0] * capacity  # slot -> hit since the hand last passed?
        self._slot_of: dict[int, int] = {}
        self._hand = 0

    def access(self, key: int) -> bool:
        slot = self._slot_of.get(key)
        if slot is not None:
            self._referenced[slot] = 1
            return True
        if len(self._slot_of) < self.capacity:
            slot = len(self._slot_of)
        else:
            while self._referenced[self._hand]:  # a second chance: clear the bit, move on
                self._referenced[self._hand] = 0
                self._hand = (self._hand + 1) % self.capacity
            slot = self._hand
            del self._slot_of[self._ring[slot]]
            self._hand = (self._hand + 1) % self.capacity
        # The newcomer takes the victim's slot, just behind the hand: the hand comes
        # back to it last, as if every survivor had moved to the head of a queue.
        self._ring[slot] = key
        self._referenced[slot] = 0
        self._slot_of[key] = slot
        return False

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


class RandomEviction(Policy):
    name = "random"
    summary = "evict a key chosen at random (Redis allkeys-random)"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self._slots: list[int] = []  # slot -> key
        self._slot_of: dict[int, int] = {}
        self._victims = SlotDraws(seed, capacity)

    def access(self, key: int) -> bool:
        if key in self._slot_of:
            return True
        if len(self._slots) < self.capacity:
            self._slot_of[key] = len(self._slots)
            self._slots.append(key)
            return False
        (slot,) = self._victims.take()
        del self._slot_of[self._slots[slot]]
        self._slots[slot] = key
        self._slot_of[key] = slot
        return False

    def run(self, keys: list[int]) -> int:
        slots, slot_of, capacity, victims = self._slots, self._slot_of, self.capacity, self._victims
        draws, d, hits = victims.values, victims.position, 0
        for key in keys:
            if key in slot_of:
                hits += 1
            elif len(slots) < capacity:
                slot_of[key] = len(slots)
                slots.append(key)
            else:
                if d == len(draws):
                    draws, d = victims.refill(), 0
                slot = draws[d]
                d += 1
                del slot_of[slots[slot]]
                slots[slot] = key
                slot_of[key] = slot
        victims.position = d
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

    def access(self, key: int) -> bool:
        count = self._count.get(key)
        if count is not None:
            del self._buckets[count][key]
            self._count[key] = count + 1
            self._buckets.setdefault(count + 1, OrderedDict())[key] = None
            if count == self._min_count and not self._buckets[count]:
                self._min_count = count + 1
            return True
        if len(self._count) >= self.capacity:
            victim, _ = self._buckets[self._min_count].popitem(last=False)  # fewest hits, oldest first
            del self._count[victim]
        self._count[key] = 1
        self._buckets[1][key] = None
        self._min_count = 1
        return False

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
