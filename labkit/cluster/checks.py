"""Graders for notebook 09's exercises: replays on simulated shards with a lagging replica.

The implement exercise asks for a read-your-writes router (the shape of
:class:`~.routing.ReadYourWrites`); each scenario replays one user's write and reloads
against a replica that applies writes 0.5 s late, and names the mistake it caught.
"""

from __future__ import annotations

import math
from typing import Any

from ..clock import VirtualClock
from ..errors import LabError
from ..exercises import Scenario, Verdict
from .shards import SimulatedCluster

__all__ = [
    "REPLICA_LAG_SECONDS", "WINDOW_SECONDS", "router_scenarios", "EveryReadToThePrimary",
    "ForgetsAfterFirstRead", "ShortWindow", "NeverThePrimary", "copies_needed", "check_copies",
    "HOT_READS_PER_SECOND", "SHARD_CAPACITY", "OTHER_LOAD",
]

REPLICA_LAG_SECONDS = 0.5
WINDOW_SECONDS = 1.0


def _replay(router_class: Any, reads: list[tuple[str, float]]) -> tuple[list[dict[str, Any]], int, int]:
    """One client writes ``profile:7`` at t = 0, then reads ``(key, seconds after)``.

    Returns the timeline, the stale reads and the reads sent to the primary.
    """
    clock = VirtualClock(100.0)
    cluster = SimulatedCluster(1, 1, clock=clock)
    master = cluster.masters[0]
    replica = cluster.replica_of(master)
    assert replica is not None
    for key in ("profile:7", "profile:8"):
        master.set(key, "v1")
    master.wait(1, 1.0)
    replica.lag_seconds = REPLICA_LAG_SECONDS
    router = router_class(clock, WINDOW_SECONDS)
    start = clock.now()
    master.set("profile:7", "v2")
    router.wrote("profile:7")
    rows, stale, to_primary = [], 0, 0
    for key, after in reads:
        clock.set(start + after)
        where = router.route(key)
        if where not in ("primary", "replica"):
            raise LabError(f"route() must return 'primary' or 'replica' (got {where!r}).")
        node = master if where == "primary" else replica
        value = node.get(key)
        fresh = master.get(key)
        stale += value != fresh
        to_primary += where == "primary"
        rows.append({"t (s)": after, "reads": key, "routed to": where, "got": value, "newest": fresh,
                     "stale": "yes" if value != fresh else ""})
    return rows, stale, to_primary


def _no_stale(name: str, reads: list[tuple[str, float]], mistake: str) -> Scenario:
    def run(router_class: Any) -> Verdict:
        rows, stale, _ = _replay(router_class, reads)
        if stale:
            return Verdict(False, f"{stale} of {len(rows)} reloads returned the old profile: the replica lags "
                                  f"{REPLICA_LAG_SECONDS:g} s - the sign of {mistake}.", rows)
        return Verdict(True, "every reload saw the user's own write.", rows)

    return Scenario(name, run)


def _scales_out(router_class: Any) -> Verdict:
    reads = [("profile:8", 0.01), ("profile:8", 0.2), ("profile:7", 2.0), ("profile:7", 3.0)]
    rows, _, to_primary = _replay(router_class, reads)
    if to_primary:
        return Verdict(False, f"{to_primary} of {len(rows)} reads that any replica could serve went to the primary "
                              "(a key this user never wrote, or long after the window) - the sign of "
                              "every read to the primary.", rows)
    return Verdict(True, "reads outside the window went to the replica.", rows)


def router_scenarios() -> list[Scenario]:
    return [
        _no_stale("reload right after the write", [("profile:7", 0.01)],
                  "a router that never sends reads to the primary"),
        _no_stale("three quick reloads", [("profile:7", 0.01), ("profile:7", 0.05), ("profile:7", 0.1)],
                  "a router that forgets after the first read"),
        _no_stale("a reload late in the lag", [("profile:7", 0.05), ("profile:7", 0.45)],
                  "a window shorter than the replica lag"),
        Scenario("reads that any replica can serve", _scales_out),
    ]


class EveryReadToThePrimary:
    def __init__(self, clock: Any, window_seconds: float) -> None:
        self.clock = clock

    def wrote(self, key: str) -> None:
        pass

    def route(self, key: str) -> str:
        return "primary"


class NeverThePrimary(EveryReadToThePrimary):
    def route(self, key: str) -> str:
        return "replica"


class ForgetsAfterFirstRead(EveryReadToThePrimary):
    def __init__(self, clock: Any, window_seconds: float) -> None:
        super().__init__(clock, window_seconds)
        self.recent: set[str] = set()

    def wrote(self, key: str) -> None:
        self.recent.add(key)

    def route(self, key: str) -> str:
        if key in self.recent:
            self.recent.discard(key)
            return "primary"
        return "replica"


class ShortWindow(EveryReadToThePrimary):
    def __init__(self, clock: Any, window_seconds: float) -> None:
        super().__init__(clock, window_seconds)
        self.written: dict[str, float] = {}

    def wrote(self, key: str) -> None:
        self.written[key] = self.clock.now()

    def route(self, key: str) -> str:
        recent = self.clock.now() - self.written.get(key, -math.inf) < 0.1  # 100 ms "should do"
        return "primary" if recent else "replica"


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
