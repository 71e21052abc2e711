"""Notebook 05's implement exercise: SIEVE written as a learner would, and the
mistakes a learner commonly makes, each as a small class.

These are the exercise's reference answer (the hidden solution prints it), two
correct answers written another way (the check must accept them), and the wrong
answers learners really write (the check must refuse them, and name each when
the replay's hits match it exactly).  They use only :meth:`Policy.access`, as
the learner does.
"""

from __future__ import annotations

from .policies import Policy

__all__ = ["LearnerSieve", "LearnerClock", "LinkedSieve", "NewestFirstSieve", "ALTERNATIVES", "MISTAKES"]


class LearnerSieve(Policy):
    """SIEVE: new keys join at the head of a queue; a hand walks from the tail
    (oldest) towards the head, clearing the visited bit of keys it spares and
    evicting the first key not visited since the hand last passed."""

    name = "sieve"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self.queue: list[int] = []  # index 0 is the tail (oldest); new keys are appended at the head
        self.visited: dict[int, bool] = {}
        self.hand = 0  # index in queue of the next key the hand looks at

    def access(self, key: int) -> bool:
        if key in self.visited:
            self.visited[key] = True
            return True
        if len(self.queue) >= self.capacity:
            self.evict()
        self.queue.append(key)
        self.visited[key] = False
        return False

    def evict(self) -> None:
        while True:
            if self.hand >= len(self.queue):  # past the head: back to the tail
                self.hand = 0
            key = self.queue[self.hand]
            if self.visited[key]:
                self.visited[key] = False  # spared, and it stays where it is
                self.hand += 1
            else:
                del self.queue[self.hand]  # the hand now points at the next newer key
                del self.visited[key]
                if self.hand >= len(self.queue):
                    self.hand = 0  # wrap now, so the newcomer at the head is looked at last
                return


class LearnerClock(Policy):
    """CLOCK: keys sit in a ring of slots; the hand clears set bits as it passes
    and the newcomer takes the first slot whose bit was clear."""

    name = "clock"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self.ring: list[int] = []
        self.referenced: list[bool] = []
        self.slot_of: dict[int, int] = {}
        self.hand = 0

    def access(self, key: int) -> bool:
        if key in self.slot_of:
            self.referenced[self.slot_of[key]] = True
            return True
        if len(self.ring) < self.capacity:
            self.slot_of[key] = len(self.ring)
            self.ring.append(key)
            self.referenced.append(False)
            return False
        while self.referenced[self.hand]:
            self.referenced[self.hand] = False
            self.hand = (self.hand + 1) % self.capacity
        del self.slot_of[self.ring[self.hand]]
        self.ring[self.hand] = key
        self.referenced[self.hand] = False
        self.slot_of[key] = self.hand
        self.hand = (self.hand + 1) % self.capacity
        return False


class LinkedSieve(Policy):
    """SIEVE as its paper writes it: a doubly linked list (two dicts of links) and a
    hand that is a key, or None for "start at the tail"."""

    name = "sieve"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self.newer: dict[int, int | None] = {}  # key -> the next newer key (None at the head)
        self.older: dict[int, int | None] = {}  # key -> the next older key (None at the tail)
        self.visited: dict[int, bool] = {}
        self.head: int | None = None
        self.tail: int | None = None
        self.hand: int | None = None

    def access(self, key: int) -> bool:
        if key in self.visited:
            self.visited[key] = True
            return True
        if len(self.visited) == self.capacity:
            self._evict()
        self.visited[key] = False
        self.older[key], self.newer[key] = self.head, None
        if self.head is None:
            self.tail = key
        else:
            self.newer[self.head] = key
        self.head = key
        return False

    def _evict(self) -> None:
        node = self.tail if self.hand is None else self.hand
        while self.visited[node]:
            self.visited[node] = False
            node = self.newer[node]
            if node is None:
                node = self.tail
        self.hand = self.newer[node]  # None past the head: the next sweep starts at the tail
        older, newer = self.older.pop(node), self.newer.pop(node)
        if older is None:
            self.tail = newer
        else:
            self.newer[older] = newer
        if newer is None:
            self.head = older
        else:
            self.older[newer] = older
        del self.visited[node]


class NewestFirstSieve(Policy):
    """SIEVE on a list kept newest first, its hand counted in steps from the oldest end
    (so inserting a newcomer at the front never moves it)."""

    name = "sieve"

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        super().__init__(capacity, seed=seed)
        self.keys: list[int] = []  # keys[0] is the newest, keys[-1] the oldest
        self.bits: dict[int, int] = {}
        self.steps = 0  # the hand: how many keys from the oldest end

    def access(self, key: int) -> bool:
        if key in self.bits:
            self.bits[key] = 1
            return True
        if len(self.keys) == self.capacity:
            self._evict()
        self.keys.insert(0, key)
        self.bits[key] = 0
        return False

    def _evict(self) -> None:
        while True:
            where = len(self.keys) - 1 - self.steps
            key = self.keys[where]
            if self.bits[key]:
                self.bits[key] = 0
                self.steps = (self.steps + 1) % len(self.keys)
                continue
            del self.keys[where]  # the newer keys slide one step closer: the hand's count stays
            del self.bits[key]
            if self.steps >= len(self.keys):
                self.steps = 0
            return


# Correct answers written another way (the check must accept each).
ALTERNATIVES: dict[str, type[Policy]] = {
    "a doubly linked list, as in the paper": LinkedSieve,
    "a list kept newest first": NewestFirstSieve,
    "CLOCK, with name = \"clock\"": LearnerClock,
}


class _MovesSurvivorsToHead(LearnerSieve):
    """Spared keys are moved to the head: FIFO with reinsertion, which is CLOCK."""

    def evict(self) -> None:
        while True:
            key = self.queue.pop(0)
            if self.visited[key]:
                self.visited[key] = False
                self.queue.append(key)
            else:
                del self.visited[key]
                return


class _NeverClearsVisited(LearnerSieve):
    """The hand skips visited keys without clearing them: once every key is visited
    it goes round forever."""

    def evict(self) -> None:
        while True:
            if self.hand >= len(self.queue):
                self.hand = 0
            key = self.queue[self.hand]
            if self.visited[key]:
                self.hand += 1
            else:
                del self.queue[self.hand]
                del self.visited[key]
                return


class _EvictsFromTail(LearnerSieve):
    """The hand starts again at the tail on every eviction instead of where it stopped."""

    def evict(self) -> None:
        self.hand = 0
        super().evict()


class _NewKeysVisited(LearnerSieve):
    """A new key starts with its visited bit set, so one-hit wonders get a free pass."""

    def access(self, key: int) -> bool:
        hit = super().access(key)
        self.visited[key] = True
        return hit


class _SkipsAfterEvicting(LearnerSieve):
    """After deleting the victim the hand steps on, as if the list had not closed up:
    the key that slid into the victim's place is skipped."""

    def evict(self) -> None:
        while True:
            if self.hand >= len(self.queue):
                self.hand = 0
            key = self.queue[self.hand]
            if self.visited[key]:
                self.visited[key] = False
                self.hand += 1
            else:
                del self.queue[self.hand]
                del self.visited[key]
                self.hand += 1
                return


class _LooksAtNewcomerFirst(LearnerSieve):
    """The hand wraps only when the next eviction starts: after evicting the newest key it
    is left past the end, where the newcomer lands, so the newcomer faces it first."""

    def evict(self) -> None:
        while True:
            if self.hand >= len(self.queue):
                self.hand = 0
            key = self.queue[self.hand]
            if self.visited[key]:
                self.visited[key] = False
                self.hand += 1
            else:
                del self.queue[self.hand]
                del self.visited[key]
                return


class _HitMovesToHead(LearnerSieve):
    """A hit moves the key to the head, as in LRU: SIEVE never moves a key on a hit."""

    def access(self, key: int) -> bool:
        if key in self.visited:
            self.queue.remove(key)
            self.queue.append(key)
            self.visited[key] = True
            return True
        return super().access(key)


class _OneKeyTooMany(LearnerSieve):
    """Evicts only when the cache is over capacity (``>`` for ``>=``): it holds one key too many."""

    def access(self, key: int) -> bool:
        if key in self.visited:
            self.visited[key] = True
            return True
        if len(self.queue) > self.capacity:
            self.evict()
        self.queue.append(key)
        self.visited[key] = False
        return False


# Short name -> a class making that mistake (the check names it when the hits match it exactly).
MISTAKES: dict[str, type[Policy]] = {
    "moves survivors to the head": _MovesSurvivorsToHead,
    "never clears the visited bit": _NeverClearsVisited,
    "restarts the hand at the tail": _EvictsFromTail,
    "marks new keys visited": _NewKeysVisited,
    "skips the key after the one it evicts": _SkipsAfterEvicting,
    "looks at the newcomer first": _LooksAtNewcomerFirst,
    "moves a hit key to the head": _HitMovesToHead,
    "holds one key too many": _OneKeyTooMany,
}
