"""Replays that lose, reorder and cut off invalidations, against any near cache.

Each scenario is a short script on a virtual clock: one app instance (its near
cache is the class under test) reads rows through a shared store in front of the
database, a writer commits, deletes the shared copy and publishes a numbered
message, and a faulty link delivers that message, loses it, delivers it late, or
cuts the subscriber off.  A read is checked where the answer is certain:

* **fresh** - the cache has had its chance to know (a later number arrived, or it
  reconnected), so it must not serve the old row;
* **kept** - nothing about that key was lost, so a correct cache still holds it
  (a cache that flushes on every message is correct, and useless).

Deterministic and backend-free (an in-process store), so a check is instant and
identical everywhere; :class:`~labkit.invalidation.near.AppInstance` runs the same
near caches over real pub/sub.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import VirtualClock
from ..database import Database
from ..store import MemoryStore
from .race import cached_row, item_key

__all__ = ["LossyRun", "LOSSY_SCENARIOS", "run_lossy_scenario"]

NEAR_TTL_SECONDS = 300.0  # far longer than any script: the TTL never rescues a stale copy here

# A script is a list of steps:
#   ("read", row, expect)   expect: "fresh" | "kept" | None (just fill)
#   ("write", row, fate)    fate: "deliver" | "lose" | "hold" (delivered later by "late")
#   ("late", seq)           deliver a held message now
#   ("disconnect",) / ("reconnect",)
Script = list[tuple[Any, ...]]

LOSSY_SCENARIOS: dict[str, tuple[str, Script]] = {
    "messages in order": (
        "every message arrives, in order",
        [("read", 1, None), ("read", 2, None), ("write", 1, "deliver"),
         ("read", 1, "fresh"), ("read", 2, "kept")],
    ),
    "a lost message": (
        "message 1 is lost; message 2 arrives",
        [("read", 1, None), ("read", 2, None), ("read", 3, None), ("write", 1, "lose"),
         ("write", 2, "deliver"), ("read", 1, "fresh"), ("read", 2, "fresh")],
    ),
    "messages out of order": (
        "message 2 arrives before message 1",
        [("read", 1, None), ("read", 2, None), ("read", 3, None), ("write", 1, "hold"),
         ("write", 2, "deliver"), ("read", 1, "fresh"), ("late", 1), ("read", 1, "fresh"),
         ("read", 2, "fresh"), ("read", 3, None), ("write", 3, "deliver"), ("read", 3, "fresh")],
    ),
    "a disconnect": (
        "the subscriber is cut off while message 1 is published, then reconnects",
        [("read", 1, None), ("read", 2, None), ("disconnect",), ("write", 1, "deliver"),
         ("reconnect",), ("read", 1, "fresh")],
    ),
    "back to normal after a gap": (
        "message 1 is lost, message 2 reveals the gap, then messages flow in order again",
        [("read", 1, None), ("read", 2, None), ("read", 3, None), ("write", 1, "lose"),
         ("write", 2, "deliver"), ("read", 1, "fresh"), ("read", 2, "fresh"), ("read", 3, None),
         ("write", 3, "deliver"), ("read", 3, "fresh"), ("read", 1, "kept"), ("read", 2, "kept")],
    ),
    "a late message": (
        "message 2 reveals a gap, message 1 arrives late, then message 3 in order",
        [("read", 1, None), ("read", 2, None), ("write", 1, "hold"), ("write", 2, "deliver"),
         ("read", 1, "fresh"), ("read", 2, "fresh"), ("late", 1), ("read", 1, "fresh"), ("read", 2, None),
         ("read", 3, None), ("write", 3, "deliver"), ("read", 3, "fresh"), ("read", 1, "kept"),
         ("read", 2, "kept")],
    ),
}


@dataclass
class LossyRun:
    scenario: str
    passed: bool
    failure: str = ""  # which check broke, in words ("" if passed)
    broken_kind: str = ""  # "fresh" or "kept"
    timeline: list[dict[str, Any]] = field(default_factory=list)


def run_lossy_scenario(name: str, near_cache: Callable[..., Any]) -> LossyRun:
    """Run scenario ``name`` with a near cache made by ``near_cache(clock, ttl_seconds)``."""
    what, script = LOSSY_SCENARIOS[name]
    clock = VirtualClock()
    db = Database(clock, rows=4, latency_seconds=0.0)
    shared = MemoryStore(clock, namespace="lossy-replay", learner="replay")
    near = near_cache(clock, NEAR_TTL_SECONDS)
    run = LossyRun(name, True)
    seq, held, connected = 0, {}, True
    note = run.timeline.append
    try:
        for step in script:
            clock.advance(1.0)
            kind, t = step[0], f"{clock.now():g}"
            if kind == "read":
                row_id, expect = step[1], step[2]
                key = item_key(row_id)
                text = near.get(key)
                source = "near cache" if text is not None else "shared store / DB"
                if text is None:
                    text = shared.get(key)
                    if cached_row(text) is None:
                        text = db.read(row_id).to_cache()  # type: ignore[union-attr]
                        shared.set(key, text, ttl_seconds=3600)
                    near.put(key, text)
                served, current = cached_row(text).version, db.current_version(row_id)  # type: ignore[union-attr]
                verdict = "stale" if served < current else "fresh"
                broke = (expect == "fresh" and served < current) or (expect == "kept" and source != "near cache")
                note({"t (s)": t, "event": f"read {key}", "answered by": source,
                      "served": f"v{served}", "DB": f"v{current}",
                      "check": ("❌ " if broke else "") + (verdict if expect != "kept" else
                                                            "kept" if source == "near cache" else "flushed")})
                if broke:
                    run.passed, run.broken_kind = False, expect
                    run.failure = (f"at t = {t} s {key} was served at v{served} while the DB has v{current}"
                                   if expect == "fresh" else
                                   f"at t = {t} s {key} was no longer in the near cache, though no "
                                   "message about it was lost")
                    return run
            elif kind == "write":
                row_id, fate = step[1], step[2]
                row = db.write(row_id, f"write at {t} s")
                shared.delete(item_key(row_id))
                seq += 1
                if not connected:
                    fate_text = "published while the subscriber is away: never delivered"
                elif fate == "deliver":
                    near.on_invalidation(seq, item_key(row_id))
                    fate_text = "delivered"
                elif fate == "hold":
                    held[seq] = item_key(row_id)
                    fate_text = "delayed"
                else:
                    fate_text = "lost"
                note({"t (s)": t, "event": f"write item:{row_id} → v{row.version}; message {seq}",
                      "answered by": "", "served": "", "DB": f"v{row.version}", "check": fate_text})
            elif kind == "late":
                near.on_invalidation(step[1], held.pop(step[1]))
                note({"t (s)": t, "event": f"message {step[1]} arrives late", "answered by": "",
                      "served": "", "DB": "", "check": "delivered"})
            elif kind == "disconnect":
                connected = False
                note({"t (s)": t, "event": "subscriber disconnected", "answered by": "", "served": "",
                      "DB": "", "check": ""})
            else:
                connected = True
                near.on_reconnect()
                note({"t (s)": t, "event": "subscriber reconnected", "answered by": "", "served": "",
                      "DB": "", "check": ""})
    finally:
        db.close()
    return run
