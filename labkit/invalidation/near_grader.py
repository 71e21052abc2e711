"""Grading notebook 02's loss-safe-near-cache: the lossy pub/sub replays of :mod:`.lossy`.

Each failing check is explained by what its evidence shows; a mistake is named only
where the evidence identifies it (the scenarios before it have ruled the others out).
"""

from __future__ import annotations

from typing import Any

from ..errors import LabError
from ..exercises import Scenario, Verdict
from .lossy import LOSSY_SCENARIOS, run_lossy_scenario
from .near import LossSafeNearCache, NearCache

# What each failing check's evidence shows, with the mistake it identifies.
_LOSSY_DIAGNOSIS = {
    ("messages in order", "fresh"): "the cache must drop the key a message names",
    ("messages in order", "kept"): "it flushes on every message, even with nothing lost",
    ("a lost message", "fresh"): "message 2 arrived after 0, so number 1 was lost: it ignores gaps",
    ("messages out of order", "fresh"): "a number that skips ahead may be a lost message: it ignores gaps",
    ("a disconnect", "fresh"): "anything published while away is lost: no flush on reconnect",
    ("back to normal after a gap", "fresh"): "after the gap it must flush and refill",
    ("back to normal after a gap", "kept"): "after one gap it flushed again on an in-order message: it "
                                            "never catches up after a gap (remember the newest number seen)",
    ("a late message", "fresh"): "a message in order named this key: drop the key a message names",
    ("a late message", "kept"): "message 3 came right after message 2, yet the cache flushed as if one were "
                                "lost: after the late message 1 it took 1 for the newest number seen - a late "
                                "message moves last_seq back (keep the largest number seen)",
}


def _lossy_scenario(name: str) -> Scenario:
    def run(near_cache: Any) -> Verdict:
        if not isinstance(near_cache, type):
            raise LabError("Pass your class itself, e.g. ex.check(LossSafeNearCache) (no parentheses).")
        result = run_lossy_scenario(name, near_cache)
        if result.passed:
            return Verdict(True, "correct")
        why = _LOSSY_DIAGNOSIS[(name, result.broken_kind)]
        return Verdict(False, f"{LOSSY_SCENARIOS[name][0]}; {result.failure} - {why}.", result.timeline)

    return Scenario(name, run)


LOSSY_GRADING = [_lossy_scenario(name) for name in LOSSY_SCENARIOS]


class _IgnoresGaps(NearCache):
    def on_invalidation(self, seq, key):
        self.drop(key)

    def on_reconnect(self):
        self.clear()


class _NoFlushOnReconnect(LossSafeNearCache):
    reconnects = 0

    def on_reconnect(self):
        self.reconnects += 1  # noted, but every old entry is kept


class _NeverCatchesUp(NearCache):
    last_seq = 0

    def on_invalidation(self, seq, key):
        if seq != self.last_seq + 1:
            self.clear()  # ...but last_seq stays behind, so every later message looks like a gap
        else:
            self.drop(key)
            self.last_seq = seq

    def on_reconnect(self):
        self.clear()


class _FlushesEveryMessage(NearCache):
    def on_invalidation(self, seq, key):
        self.clear()

    def on_reconnect(self):
        self.clear()


class _LateMessageMovesBack(NearCache):
    last_seq = 0

    def on_invalidation(self, seq, key):
        if seq > self.last_seq + 1:
            self.clear()
        else:
            self.drop(key)
        self.last_seq = seq  # a late message 1 after 2 sets it back to 1

    def on_reconnect(self):
        self.clear()


class _CountsMissedMessages(NearCache):
    last_seq = 0

    def on_invalidation(self, seq, key):
        missed = seq - self.last_seq - 1
        if missed > 0:
            self.clear()
        else:
            self.drop(key)
        if seq > self.last_seq:
            self.last_seq = seq

    def on_reconnect(self):
        self.clear()


class _LateMessagesFirst(NearCache):
    last_seq = 0

    def on_invalidation(self, seq, key):
        if seq <= self.last_seq:  # late: drop its key, the newest number stays
            self.drop(key)
            return
        if seq == self.last_seq + 1:
            self.drop(key)
        else:
            self.clear()
        self.last_seq = seq

    def on_reconnect(self):
        self.clear()


LOSSY_MISTAKES = {"ignores gaps": _IgnoresGaps, "no flush on reconnect": _NoFlushOnReconnect,
                  "never catches up after a gap": _NeverCatchesUp, "flushes on every message": _FlushesEveryMessage,
                  "a late message moves last_seq back": _LateMessageMovesBack}
LOSSY_ALTERNATIVES = {"counts the missed messages": _CountsMissedMessages,
                      "late messages first": _LateMessagesFirst}

LOSS_SAFE_SKELETON = '''from labkit import invalidation

class LossSafeNearCache(invalidation.NearCache):
    """A near cache that stays correct when invalidation messages are lost."""
    last_seq = 0   # the newest message number seen so far

    def on_invalidation(self, seq, key):
        """Message number `seq` (1, 2, 3, ...) says `key` changed."""
        ...

    def on_reconnect(self):
        """The subscription dropped and came back: messages published meanwhile are lost."""
        ...
'''
