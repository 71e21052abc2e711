"""Graders for notebook 09's exercises: replays on simulated shards with a lagging replica.

The implement exercise asks for a read-your-writes router (the shape of
:class:`~.routing.ReadYourWrites`).  Each scenario replays one client's writes and
reads against a replica that applies writes 0.5 s late, on a virtual clock, and says
what it saw: which read went where, what it got, and what was newest.  It names a
mistake only where the replay's evidence points to it.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from ..clock import VirtualClock
from ..errors import LabError
from ..exercises import Scenario, Verdict
from .shards import SimulatedCluster

__all__ = [
    "REPLICA_LAG_SECONDS", "WINDOW_SECONDS", "router_scenarios", "ForgetsAfterFirstRead", "ShortWindow",
    "FirstWriteOnly", "OneTimeForAllKeys", "WallClock", "DeadlineRouter", "RecentWritesRouter",
    "copies_needed", "check_copies", "HOT_READS_PER_SECOND", "SHARD_CAPACITY", "OTHER_LOAD",
]

REPLICA_LAG_SECONDS = 0.5
WINDOW_SECONDS = 1.0
_WALL_CLOCKS = ("time", "monotonic", "perf_counter")


class _WallClockWatch:
    """Notes the wall-clock functions the router calls (its time must come from the clock
    it was given: a replay's time does not pass on the wall clock)."""

    def __init__(self) -> None:
        self.thread, self.active, self.calls = threading.get_ident(), False, set()

    def call(self, method: Any, *args: Any) -> Any:
        self.active = True
        try:
            return method(*args)
        finally:
            self.active = False


@contextlib.contextmanager
def _wall_clock_calls() -> Iterator[_WallClockWatch]:
    watch = _WallClockWatch()
    originals = {name: getattr(time, name) for name in _WALL_CLOCKS}

    def spy(name: str, original: Any) -> Any:
        def call() -> float:
            if watch.active and threading.get_ident() == watch.thread:
                watch.calls.add(f"time.{name}()")
            return original()
        return call

    for name, original in originals.items():
        setattr(time, name, spy(name, original))
    try:
        yield watch
    finally:
        for name, original in originals.items():
            setattr(time, name, original)


def _replay(router_class: Any, events: list[tuple[str, str, float]]) -> tuple[list[dict[str, Any]], list[str]]:
    """One client's ``(action, key, t)`` events, ``action`` "write" or "read", on one
    master and a replica that lags :data:`REPLICA_LAG_SECONDS`.

    Returns one row per read (where it went, what it got, what was newest) and the
    wall-clock functions the router called.
    """
    clock = VirtualClock(100.0)
    cluster = SimulatedCluster(1, 1, clock=clock)
    master = cluster.masters[0]
    replica = cluster.replica_of(master)
    assert replica is not None
    versions = {key: 1 for _, key, _ in events}
    for key in versions:
        master.set(key, "v1")
    master.wait(1, 1.0)
    replica.lag_seconds = REPLICA_LAG_SECONDS
    start = clock.now()
    rows: list[dict[str, Any]] = []
    with _wall_clock_calls() as wall:
        router = wall.call(router_class, clock, WINDOW_SECONDS)
        for action, key, t in events:
            clock.set(start + t)
            if action == "write":
                versions[key] += 1
                master.set(key, f"v{versions[key]}")
                wall.call(router.wrote, key)
                continue
            where = wall.call(router.route, key)
            if where not in ("primary", "replica"):
                raise LabError(f"route() must return 'primary' or 'replica' (got {where!r}).")
            got = (master if where == "primary" else replica).get(key)
            newest = master.get(key)
            rows.append({"t (s)": t, "reads": key, "routed to": where, "got": got, "newest": newest,
                         "stale": "yes" if got != newest else ""})
    return rows, sorted(wall.calls)


def _stale_reads(name: str, events: list[tuple[str, str, float]], diagnose: Any) -> Scenario:
    """No read of a key this client wrote may return an older value."""
    def run(router_class: Any) -> Verdict:
        rows, wall = _replay(router_class, events)
        stale = [r for r in rows if r["stale"]]
        if not stale:
            return Verdict(True, "every read saw the client's own writes.", rows)
        first = stale[0]
        seen = (f"the read of {first['reads']} at t = {first['t (s)']:g} s went to the replica and got "
                f"{first['got']}, but this client had written {first['newest']} (the replica applies writes "
                f"{REPLICA_LAG_SECONDS:g} s late); {len(stale)} of {len(rows)} reads were stale")
        cause = diagnose(rows, first, wall)
        return Verdict(False, f"{seen}{cause}.", rows)

    return Scenario(name, run)


def _wall_clock_note(wall: list[str]) -> str:
    return (f" - your router called {', '.join(wall)}: it measures time with the wall clock, but the replay's "
            "time passes only on the clock given to __init__ (use clock.now())" if wall else "")


def _after_one_write(rows: list[dict[str, Any]], first: dict[str, Any], wall: list[str]) -> str:
    if wall:
        return _wall_clock_note(wall)
    same_moment = [r for r in rows if r["t (s)"] == first["t (s)"] and r is not first]
    if any(r["routed to"] == "primary" for r in same_moment):
        return (" - another read at the same moment went to the primary: with no time passing, the router "
                "changed its answer, so it forgets after the first read")
    earlier = [r for r in rows if r["t (s)"] < first["t (s)"]]
    if earlier and all(r["routed to"] == "primary" for r in earlier):
        return (f" - the read at t = {earlier[-1]['t (s)']:g} s went to the primary, so the window ended before "
                f"t = {first['t (s)']:g} s, inside the replica's {REPLICA_LAG_SECONDS:g} s lag: "
                "a window shorter than the replica lag")
    return " - a key this client has just written must be read from the primary until the replica has it"


def _after_two_writes(rows: list[dict[str, Any]], first: dict[str, Any], wall: list[str]) -> str:
    if wall:
        return _wall_clock_note(wall)
    if first["t (s)"] >= WINDOW_SECONDS:  # outside the first write's window, inside the second's
        return (f" - that read came {first['t (s)']:g} s after the first write but only "
                f"{first['t (s)'] - SECOND_WRITE_AT:g} s after the second: the router counted the window "
                "from the first write, so it records only the first write")
    return ""


SECOND_WRITE_AT = 0.8


def _scales_out(router_class: Any) -> Verdict:
    events = [("write", "profile:7", 0.0), ("read", "profile:8", 0.01), ("read", "profile:8", 0.2),
              ("read", "profile:7", 2.0), ("read", "profile:7", 3.0)]
    rows, wall = _replay(router_class, events)
    to_primary = [r for r in rows if r["routed to"] == "primary"]
    if not to_primary:
        return Verdict(True, "reads outside the window went to the replica.", rows)
    said = ", ".join(f"{r['reads']} at t = {r['t (s)']:g} s" for r in to_primary)
    seen = (f"{len(to_primary)} of {len(rows)} reads that any replica could serve went to the primary ({said}): "
            "a key this client never wrote, or one written long before the window ended")
    if wall:
        cause = _wall_clock_note(wall)
    elif any(r["reads"] == "profile:8" for r in to_primary):
        cause = (" - profile:8 was never written by this client, so the router keeps one write time "
                 "for every key instead of one per key: one time for all keys")
    else:
        cause = f" - the window ({WINDOW_SECONDS:g} s) never ended"
    return Verdict(False, f"{seen}{cause}.", rows)


def router_scenarios() -> list[Scenario]:
    return [
        _stale_reads("two tabs reload at once, then again", [
            ("write", "profile:7", 0.0), ("read", "profile:7", 0.01), ("read", "profile:7", 0.01),
            ("read", "profile:7", 0.05), ("read", "profile:7", 0.09)], _after_one_write),
        _stale_reads("a reload late in the lag", [("write", "profile:7", 0.0), ("read", "profile:7", 0.05),
                                                  ("read", "profile:7", 0.45)], _after_one_write),
        _stale_reads("two writes to one key", [("write", "profile:7", 0.0), ("read", "profile:7", 0.3),
                                               ("write", "profile:7", SECOND_WRITE_AT),
                                               ("read", "profile:7", 0.9), ("read", "profile:7", 1.2)],
                     _after_two_writes),
        Scenario("reads that any replica can serve", _scales_out),
    ]


# -- mistakes learners write -------------------------------------------------------------
class ForgetsAfterFirstRead:
    """Sends the first read after a write to the primary, then forgets the write."""

    def __init__(self, clock: Any, window_seconds: float) -> None:
        self.recent: set[str] = set()

    def wrote(self, key: str) -> None:
        self.recent.add(key)

    def route(self, key: str) -> str:
        if key in self.recent:
            self.recent.discard(key)
            return "primary"
        return "replica"


class ShortWindow:
    """A hard-coded 100 ms window ("replication is fast"), whatever the lag."""

    def __init__(self, clock: Any, window_seconds: float) -> None:
        self.clock = clock
        self.written: dict[str, float] = {}

    def wrote(self, key: str) -> None:
        self.written[key] = self.clock.now()

    def route(self, key: str) -> str:
        recent = self.clock.now() - self.written.get(key, -math.inf) < 0.1
        return "primary" if recent else "replica"


class FirstWriteOnly(ShortWindow):
    """``setdefault``: a second write to a key does not start its window again."""

    def __init__(self, clock: Any, window_seconds: float) -> None:
        super().__init__(clock, window_seconds)
        self.window_seconds = window_seconds

    def wrote(self, key: str) -> None:
        self.written.setdefault(key, self.clock.now())

    def route(self, key: str) -> str:
        recent = self.clock.now() - self.written.get(key, -math.inf) < self.window_seconds
        return "primary" if recent else "replica"


class OneTimeForAllKeys:
    """Remembers when this client last wrote anything, not which key."""

    def __init__(self, clock: Any, window_seconds: float) -> None:
        self.clock, self.window_seconds = clock, window_seconds
        self.last_write = -math.inf

    def wrote(self, key: str) -> None:
        self.last_write = self.clock.now()

    def route(self, key: str) -> str:
        return "primary" if self.clock.now() - self.last_write < self.window_seconds else "replica"


class WallClock:
    """Measures the window with ``time.time()`` instead of the clock it was given."""

    def __init__(self, clock: Any, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self.written: dict[str, float] = {}

    def wrote(self, key: str) -> None:
        self.written[key] = time.time()

    def route(self, key: str) -> str:
        recent = time.time() - self.written.get(key, -math.inf) < self.window_seconds
        return "primary" if recent else "replica"


# -- correct answers written another way ---------------------------------------------------
class DeadlineRouter:
    """Keeps, per key, the moment its window ends."""

    def __init__(self, clock: Any, window_seconds: float) -> None:
        self.clock, self.window_seconds = clock, window_seconds
        self.primary_until: dict[str, float] = {}

    def wrote(self, key: str) -> None:
        self.primary_until[key] = self.clock.now() + self.window_seconds

    def route(self, key: str) -> str:
        return "primary" if self.clock.now() < self.primary_until.get(key, -math.inf) else "replica"


class RecentWritesRouter:
    """Keeps the recent writes in order and drops those older than the window (bounded memory)."""

    def __init__(self, clock: Any, window_seconds: float) -> None:
        self.clock, self.window_seconds = clock, window_seconds
        self.recent: deque[tuple[float, str]] = deque()

    def wrote(self, key: str) -> None:
        self.recent.append((self.clock.now(), key))

    def route(self, key: str) -> str:
        now = self.clock.now()
        while self.recent and now - self.recent[0][0] >= self.window_seconds:
            self.recent.popleft()
        return "primary" if any(k == key for _, k in self.recent) else "replica"


# -- sizing: copies of a hot key ----------------------------------------------------------
HOT_READS_PER_SECOND = 200_000
SHARD_CAPACITY = 50_000  # commands per second one master serves
OTHER_LOAD = 15_000  # what the other keys already ask of each master


def copies_needed(hot_reads: int = HOT_READS_PER_SECOND, capacity: int = SHARD_CAPACITY,
                  other_load: int = OTHER_LOAD) -> int:
    """Fewest copies (each on its own master) so no master exceeds its capacity."""
    return math.ceil(hot_reads / (capacity - other_load))


def check_copies(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int):
        return False, f"answer with a whole number of copies (got {answer!r})."
    right = copies_needed()
    spare = SHARD_CAPACITY - OTHER_LOAD
    per_copy = HOT_READS_PER_SECOND / max(1, answer)
    if answer == right:
        return True, (f"{right} copies take {per_copy:,.0f} reads/s each, within the {spare:,} each master has "
                      f"spare; every update of the key now costs {right} writes.")
    if answer == math.ceil(HOT_READS_PER_SECOND / SHARD_CAPACITY):
        return False, (f"each copy would take {per_copy:,.0f} reads/s, but a master only has {spare:,} spare: "
                       "that answer ignores the other keys' load.")
    if answer < right:
        return False, (f"each copy would take {per_copy:,.0f} reads/s, more than the {spare:,} a master has spare "
                       "(the division does not come out even: that answer rounds down).")
    return False, (f"{answer} copies work, but each update now costs {answer} writes; "
                   f"fewer copies are enough.")
