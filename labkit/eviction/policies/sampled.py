"""Redis's sampled approximations: allkeys-lru, allkeys-lfu and volatile-ttl.

Redis keeps no exact order.  On each eviction it looks at ``samples`` random
keys (``maxmemory-samples``, default 5) and evicts the worst of them.

Since 3.0 Redis also keeps an *eviction pool* of the 16 best candidates across
samplings, so a good candidate seen once is not forgotten; that brings it a
little closer to the exact policy.  The lab's sampled policies leave the pool
out (each eviction looks only at its own sample), so their hit ratios are
slightly pessimistic for Redis.

Keys live in numbered slots, and what a policy knows about a key (last use,
counter, expiry) is kept in a list indexed by slot: one list index per sampled
key instead of a slot lookup and a dict lookup.  With Redis's default of five
samples the comparison is written out, 2-3x faster than ``min(sample, key=...)``
(ties go to the first key sampled, as in Redis's scan).
"""

from __future__ import annotations

import random
from typing import ClassVar

from .base import Policy
from .draws import SlotDraws

__all__ = ["RedisLRU", "RedisLFU", "VolatileTTL"]


def _first_lowest(score: list[int], sample: tuple[int, ...]) -> int:
    """The sampled slot with the lowest score; ties go to the first one sampled."""
    return min(sample, key=score.__getitem__)


class _SampledPolicy(Policy):
    """A sampled policy whose victim is the sampled slot with the lowest *score*:
    the last use (LRU) or the expiry time (volatile-ttl).  Subclasses say how a
    request changes the score; RedisLFU, whose score decays, has its own loop."""

    _batch: ClassVar[int] = 50_000  # samples drawn at once
    touch_on_hit: ClassVar[bool] = True  # a hit sets the key's score to "now"

    def __init__(self, capacity: int, *, seed: int = 0, samples: int = 5) -> None:
        super().__init__(capacity, seed=seed)
        self.samples = samples
        self._slots: list[int] = []  # slot -> key
        self._slot_of: dict[int, int] = {}
        self._score: list[int] = []  # slot -> score (the lowest is evicted)
        self._samples = SlotDraws(seed, capacity, batch=self._batch * samples)
        self._now = 0  # request number

    def score_on_write(self, key: int, now: int) -> int:
        """The score a key gets when it enters the cache at request ``now``."""
        return now

    def access(self, key: int) -> bool:
        self._now += 1
        slot = self._slot_of.get(key)
        if slot is not None:
            if self.touch_on_hit:
                self._score[slot] = self._now
            return True
        if len(self._slots) < self.capacity:
            slot = len(self._slots)
            self._slots.append(key)
            self._score.append(0)
        else:
            slot = _first_lowest(self._score, self._samples.take(self.samples))
            del self._slot_of[self._slots[slot]]
            self._slots[slot] = key
        self._slot_of[key] = slot
        self._score[slot] = self.score_on_write(key, self._now)
        return False

    def run(self, keys: list[int]) -> int:
        score, slots, slot_of, capacity = self._score, self._slots, self._slot_of, self.capacity
        samples, five, touch = self.samples, self.samples == 5, self.touch_on_hit
        draws, d = self._samples.values, self._samples.position
        write_score, base, spread, salt = self._inline_write_score()
        filled, now, hits = len(slots), self._now, 0  # `now` stays as it was if keys is empty
        for now, key in enumerate(keys, self._now + 1):  # request numbers, counted in C
            if key in slot_of:
                hits += 1
                if touch:
                    score[slot_of[key]] = now
                continue
            if filled < capacity:
                slot = filled
                slots.append(key)
                score.append(0)
                filled += 1
            else:
                if d + samples > len(draws):
                    draws, d = self._samples.refill(), 0
                if five:  # written out: cheaper than min(sample, key=...)
                    slot, b, c, s4, e = draws[d : d + 5]
                    low = score[slot]
                    if (t := score[b]) < low:
                        slot, low = b, t
                    if (t := score[c]) < low:
                        slot, low = c, t
                    if (t := score[s4]) < low:
                        slot, low = s4, t
                    if score[e] < low:
                        slot = e
                else:
                    slot = _first_lowest(score, draws[d : d + samples])
                d += samples
                del slot_of[slots[slot]]
                slots[slot] = key
            slot_of[key] = slot
            if write_score:  # score_on_write() inlined: a method call per miss costs more than the miss
                score[slot] = now + base + ((key * 2654435761 + salt) & 0xFFFFFFFF) % spread
            else:
                score[slot] = now
        self._now, self._samples.position = now, d
        return hits

    def _inline_write_score(self) -> tuple[bool, int, int, int]:
        """(differs from now?, base, spread, salt) of :meth:`score_on_write`, for the fast loop."""
        return False, 0, 1, 0

    def cached_keys(self) -> set[int]:
        return set(self._slot_of)


class RedisLRU(_SampledPolicy):
    name = "redis-lru"
    summary = "Redis allkeys-lru: the idlest of a few sampled keys (maxmemory-samples)"


class VolatileTTL(_SampledPolicy):
    """Redis volatile-ttl: among sampled keys, evict the one closest to expiring.

    Each key gets a time to live when written, fixed per key (a hash of its id)
    between ``min_ttl_requests`` and ``max_ttl_requests``; nothing actually
    expires here, so only the choice of victim differs from the other policies.
    Popularity plays no part, which is the point."""

    name = "volatile-ttl"
    summary = "Redis volatile-ttl: the sampled key with the shortest time left to live"
    touch_on_hit = False

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

    def ttl_of(self, key: int) -> int:
        """The key's time to live in requests: the same for a key on every write."""
        spread = self.max_ttl_requests - self.min_ttl_requests + 1
        mixed = (key * 2654435761 + self.seed * 97) & 0xFFFFFFFF  # Knuth's multiplicative hash
        return self.min_ttl_requests + mixed % spread

    def score_on_write(self, key: int, now: int) -> int:
        return now + self.ttl_of(key)  # when it expires

    def _inline_write_score(self) -> tuple[bool, int, int, int]:
        return True, self.min_ttl_requests, self.max_ttl_requests - self.min_ttl_requests + 1, self.seed * 97


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

    def counter_now(self, slot: int) -> int:
        """The slot's counter after its idle-time decay (what Redis compares)."""
        idle = self._now - self._touched[slot]
        return max(0, self._counter[slot] - idle // self.decay_period_requests)

    def access(self, key: int) -> bool:
        self._now += 1
        slot = self._slot_of.get(key)
        if slot is not None:
            value = self.counter_now(slot)
            # Morris counting: the higher the counter, the less likely a hit raises it.
            if value < 255 and self._coin() * (max(0, value - self.init_value) * self.log_factor + 1) < 1.0:
                value += 1
            self._counter[slot], self._touched[slot] = value, self._now
            return True
        if len(self._slots) < self.capacity:
            slot = len(self._slots)
            self._slots.append(key)
            self._counter.append(0)
            self._touched.append(0)
        else:
            slot = min(self._samples.take(self.samples), key=lambda s: self._counter[s] - (self._now - self._touched[s])
                       // self.decay_period_requests)
            del self._slot_of[self._slots[slot]]
            self._slots[slot] = key
        self._slot_of[key] = slot
        self._counter[slot], self._touched[slot] = self.init_value, self._now
        return False

    def run(self, keys: list[int]) -> int:
        counter, touched, slots, slot_of = self._counter, self._touched, self._slots, self._slot_of
        capacity, period = self.capacity, self.decay_period_requests
        coin, log_factor, init = self._coin, self.log_factor, self.init_value
        samples, five, filled = self.samples, self.samples == 5, len(slots)
        draws, position = self._samples.values, self._samples.position
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
                slot = filled
                slots.append(key)
                counter.append(init)
                touched.append(now)
                filled += 1
            else:
                if position + samples > len(draws):
                    draws, position = self._samples.refill(), 0
                sample = draws[position : position + samples]
                position += samples
                if five:  # the decayed counters compared; the first lowest goes
                    a, b, c, d, e = sample
                    ca = counter[a] - (now - touched[a]) // period
                    cb = counter[b] - (now - touched[b]) // period
                    cc = counter[c] - (now - touched[c]) // period
                    cd = counter[d] - (now - touched[d]) // period
                    ce = counter[e] - (now - touched[e]) // period
                    slot = a
                    if cb < ca:
                        slot, ca = b, cb
                    if cc < ca:
                        slot, ca = c, cc
                    if cd < ca:
                        slot, ca = d, cd
                    if ce < ca:
                        slot = e
                else:
                    slot = min(sample, key=lambda s: counter[s] - (now - touched[s]) // period)  # noqa: B023
                del slot_of[slots[slot]]
                slots[slot] = key
            slot_of[key] = slot
            counter[slot] = init
            touched[slot] = now
        self._now, self._samples.position = now, position
        return hits
