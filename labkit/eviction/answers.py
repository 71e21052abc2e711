"""Notebook 05's implement exercise: SIEVE written as a learner would, and the
mistakes a learner commonly makes, each as a small class.

These are the exercise's reference answers (the hidden solution prints them)
and the wrong answers the catalogue test proves the check refuses.  They use
only :meth:`Policy.access`, as the learner does.
"""

from __future__ import annotations

from .policies import Policy

__all__ = ["LearnerSieve", "LearnerClock", "MISTAKES"]


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


# Short name -> a class making that mistake (the check names it when it sees it).
MISTAKES: dict[str, type[Policy]] = {
    "moves survivors to the head": _MovesSurvivorsToHead,
    "never clears the visited bit": _NeverClearsVisited,
    "restarts the hand at the tail": _EvictsFromTail,
    "marks new keys visited": _NewKeysVisited,
}
