"""The lesson's experiments, written once against the cluster interface.

Each runs on a :class:`~.shards.SimulatedCluster` (virtual clock: the same numbers
every run) or a :class:`~.real.RealCluster` (wall clock, real processes); keys always
live under the caller's prefix, with hash tags chosen so that where a key lands does
not depend on that prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..database import Database, Row
from ..errors import LabError, check_positive
from ..metrics import StalenessMeter
from ..workloads import zipf
from .failover import FailoverResult, failover  # section 5 lives in its own module
from .routing import ReadYourWrites
from .shards import Redirect
from .slots import SLOTS, hash_tag, key_slot
from .tracking import NearCache

__all__ = [
    "key_table", "crossslot_demo", "rebalance_plan", "ReshardResult", "reshard",
    "HotKeyResult", "hot_key_load", "ReplicaReads", "replica_reads", "wait_demo",
    "FailoverResult", "failover",
]


# ---------------------------------------------------------------------------------
# 1. Where a key lives
# ---------------------------------------------------------------------------------

def key_table(cluster: Any, prefix: str, names: list[str]) -> list[dict[str, Any]]:
    """For each key name: its hash tag, slot and the node that owns it."""
    rows = []
    for name in names:
        key = prefix + name
        rows.append({"key": name, "hashed part": hash_tag(key) or "(the whole key, prefix included)",
                     "slot": key_slot(key), "node": cluster.node_for(key).name})
    return rows


def crossslot_demo(cluster: Any, prefix: str, names: list[str]) -> str:
    """Write ``names`` and read them back with one MGET: the server's answer, as text."""
    keys = [prefix + n for n in names]
    for key in keys:
        cluster.set(key, "1")
    try:
        values = cluster.mget_one_node(keys)
    except LabError as exc:
        return f"MGET {' '.join(names)}  ->  (error) {exc}"
    return f"MGET {' '.join(names)}  ->  {values}"


# ---------------------------------------------------------------------------------
# 2. Adding a node: move slots, count redirects
# ---------------------------------------------------------------------------------

def rebalance_plan(owners: list[Any], newcomer: Any) -> list[int]:
    """Slots to hand the newcomer so every master ends with about 16384/(n+1):
    each old master gives up the top of its own slots (as ``redis-cli --cluster rebalance``)."""
    masters = list(dict.fromkeys(owners))
    target = SLOTS // (len(masters) + 1)
    plan: list[int] = []
    for i, master in enumerate(masters):
        mine = [s for s, o in enumerate(owners) if o is master]
        give = target // len(masters) + (1 if i < target % len(masters) else 0)
        plan.extend(mine[len(mine) - give:])
    return sorted(plan)


class RedirectCountingReader:
    """A client that keeps its own slot map and counts the MOVED and ASK answers it gets."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.slot_port = [cluster.owner(s).port for s in range(SLOTS)]
        self.moved = 0
        self.asked = 0

    def get(self, key: str) -> str | None:
        slot = key_slot(key)
        for _ in range(5):
            node = self.cluster.node_at(self.slot_port[slot])
            try:
                return self.cluster.ask_node(node, key)
            except Redirect as r:
                if r.kind == "MOVED":
                    self.moved += 1
                    self.slot_port[slot] = r.port  # remember: the whole slot moved
                    continue
                self.asked += 1  # only this key has moved so far: ask once, remember nothing
                return self.cluster.ask_node(self.cluster.node_at(r.port), key, asking=True)
        raise LabError(f"Too many redirects for {key!r}; the cluster is still changing, try again.")


@dataclass
class ReshardResult:
    keys: int
    keys_moved: int
    slots_moved: int
    masters_before: int
    ask_redirects: int
    moved_redirects: int
    reads_correct: int
    moved_keys: list[str] = field(default_factory=list)

    @property
    def moved_share(self) -> float:
        return self.keys_moved / self.keys

    @property
    def formula_share(self) -> float:
        return 1 / (self.masters_before + 1)


USER_FIELDS = ("profile", "cart", "email", "name")


def reshard(cluster: Any, prefix: str, n_keys: int = 1000) -> ReshardResult:
    """Fill ``n_keys`` keys, add a master, move it its share of slots in two halves
    while a client with an old slot map reads every key (ASK mid-move, MOVED after)."""
    # Four keys per user share one tag, so one slot holds several keys: a client that
    # learns per slot gets one MOVED per slot, one that learns nothing one per key.
    keys = [f"{prefix}{{user:{i // 4}}}:{USER_FIELDS[i % 4]}" for i in range(n_keys)]
    cluster.set_all({k: str(i) for i, k in enumerate(keys)})
    before = {k: cluster.node_for(k).port for k in keys}
    masters_before = len(cluster.masters)
    reader = RedirectCountingReader(cluster)
    newcomer = cluster.add_master()
    plan = rebalance_plan([cluster.owner(s) for s in range(SLOTS)], newcomer)
    cluster.begin_migration(plan, newcomer)
    by_slot: dict[int, list[str]] = {}
    for k in keys:
        by_slot.setdefault(key_slot(k), []).append(k)
    in_slot = {s: by_slot[s] for s in plan if s in by_slot}
    slots_with_keys = sorted(in_slot)
    half = len(slots_with_keys) // 2
    for slot in slots_with_keys[:half]:  # half of the slots' keys move; the slots stay put
        cluster.migrate_keys(slot, in_slot[slot])
    correct = sum(reader.get(k) == str(i) for i, k in enumerate(keys))
    for slot in slots_with_keys[half:]:
        cluster.migrate_keys(slot, in_slot[slot])
    cluster.finish_migration(plan)
    correct += sum(reader.get(k) == str(i) for i, k in enumerate(keys))
    moved = [k for k in keys if cluster.node_for(k).port != before[k]]
    return ReshardResult(n_keys, len(moved), len(plan), masters_before, reader.asked, reader.moved, correct, moved)


# ---------------------------------------------------------------------------------
# 3. The hot key
# ---------------------------------------------------------------------------------

HOT_KEYS = 1000
HOT_ALPHA = 1.2


def product_key(prefix: str, i: int, copy: int | None = None) -> str:
    # The tag is the product id, so placement does not depend on the learner's prefix;
    # a copy puts its number inside the tag, so copies land on different slots.
    return f"{prefix}{{product:{i}}}" if copy is None else f"{prefix}{{product:{i}#{copy}}}"


@dataclass
class HotKeyResult:
    fix: str
    requests: int
    counts: dict[str, int]  # commands each master served during the run
    writes_per_update: int
    hot_key_share: float
    near_hits: int = 0
    copies_on: dict[str, int] = field(default_factory=dict)  # master -> copies of the hot key it holds

    @property
    def hot_node_share(self) -> float:
        total = sum(self.counts.values())
        return max(self.counts.values()) / total if total else 0.0

    @property
    def fair_share(self) -> float:
        return 1 / len(self.counts)


def hot_key_load(cluster: Any, prefix: str, *, fix: str = "none", copies: int = 6,
                 n_requests: int = 10_000, seed: int = 9) -> HotKeyResult:
    """Zipf reads of 1,000 products (product 0 is the hot one); commands per master.

    ``fix``: "none", "near cache" (client-side cache with server-assisted
    invalidation) or "copies" (product 0 written as ``copies`` keys, each read picks one).
    """
    if fix not in ("none", "near cache", "copies"):
        raise LabError(f"Unknown fix {fix!r}. Choose one of: none, near cache, copies.")
    check_positive("copies", copies)
    trace = zipf(n_requests, HOT_KEYS, HOT_ALPHA, seed=seed)
    names = {i: product_key(prefix, i) for i in range(HOT_KEYS)}
    values = {names[i]: f"price-{i}" for i in range(HOT_KEYS)}
    writes = 1
    if fix == "copies":
        writes = int(copies)
        values.update({product_key(prefix, 0, c): "price-0" for c in range(writes)})
    cluster.set_all(values)
    before = cluster.command_counts()
    near_hits = 0
    if fix == "none":
        cluster.get_all([names[int(i)] for i in trace])
    elif fix == "copies":
        pick = np.random.default_rng(seed + 1).integers(0, writes, n_requests)
        keys = [names[int(i)] if i else product_key(prefix, 0, int(c)) for i, c in zip(trace, pick, strict=True)]
        cluster.get_all(keys)
    else:
        with NearCache(cluster) as near:
            for i in trace:
                near.get(names[int(i)])
            near_hits = near.hits
    after = cluster.command_counts()
    counts = {name: after[name] - before.get(name, 0) for name in after}
    homes = [cluster.node_for(product_key(prefix, 0, c) if fix == "copies" else names[0]).name
             for c in range(writes)]
    copies_on = {name: homes.count(name) for name in counts}
    return HotKeyResult(fix, n_requests, counts, writes, float(np.mean(trace == 0)), near_hits, copies_on)


# ---------------------------------------------------------------------------------
# 4. Replicas and lag
# ---------------------------------------------------------------------------------

POLICIES = ("replica", "primary", "read-your-writes")
READ_OFFSETS = (0.0, 0.1, 0.2)  # seconds after the write, while the replica lags
RYW_WINDOW_SECONDS = 0.6  # longer than any lag the lesson's slider offers
LAG_SECONDS = 0.4  # the replica's lag by default: the last read inside it has 0.2 s to spare


@dataclass
class ReplicaReads:
    lag_seconds: float
    reads: dict[str, int] = field(default_factory=dict)
    stale_reads: dict[str, int] = field(default_factory=dict)
    primary_reads: dict[str, int] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)


def tag_on_replicated_master(cluster: Any, prefix: str, base: str) -> tuple[str, Any, Any]:
    """A hash tag ``base`` or ``base-N`` whose slot belongs to a master with a replica."""
    for n in range(200):
        tag = base if n == 0 else f"{base}-{n}"
        master = cluster.node_for(f"{prefix}{{{tag}}}")
        replica = cluster.replica_of(master)
        if replica is not None:
            return tag, master, replica
    raise LabError("This experiment needs a master with a replica; start the cluster with replicas=1.")


def replica_reads(cluster: Any, prefix: str, *, lag_seconds: float = LAG_SECONDS, rounds: int = 2,
                  window_seconds: float = RYW_WINDOW_SECONDS) -> ReplicaReads:
    """A user writes their profile and reloads it; three routers serve the reloads.

    Each round the replica lags by ``lag_seconds`` (paused); reads come at 0, 0.1 and
    0.2 s after the write, and once more after the read-your-writes window.  The
    staleness meter compares every read with the database.
    """
    check_positive("lag_seconds", lag_seconds, "s")
    if window_seconds <= lag_seconds:
        raise LabError(f"window_seconds ({window_seconds:g}) must be longer than the lag ({lag_seconds:g} s).")
    clock = cluster.clock
    db = Database(clock, rows=rounds, latency_seconds=0.0)
    tag, primary, replica = tag_on_replicated_master(cluster, prefix, "profile")
    key_of = {r: f"{prefix}{{{tag}}}:{r}" for r in range(rounds)}
    for r, key in key_of.items():
        primary.set(key, db.peek(r).to_cache())
    primary.wait(1, 2.0)
    meters = {p: StalenessMeter(db) for p in POLICIES}
    routers = {p: ReadYourWrites(clock, window_seconds if p == "read-your-writes" else
                                 (float("inf") if p == "primary" else 0.0)) for p in POLICIES}
    out = ReplicaReads(lag_seconds, {p: 0 for p in POLICIES}, {p: 0 for p in POLICIES}, {p: 0 for p in POLICIES})
    for r, key in key_of.items():
        cluster.pause_replication(replica, lag_seconds)
        start = clock.now()
        row = db.write(r, f"profile edit {r}")
        primary.set(key, row.to_cache())
        for router in routers.values():
            router.wrote(key)
        for offset in (*READ_OFFSETS, window_seconds + 0.1):
            clock.sleep(max(0.0, start + offset - clock.now()))
            for policy, router in routers.items():
                node = primary if router.route(key) == "primary" else replica
                version = Row.from_cache(node.get(key)).version
                stale = meters[policy].observe(r, version) > 0 or version < row.version
                out.reads[policy] += 1
                out.primary_reads[policy] += node is primary
                out.stale_reads[policy] += stale
                if r == 0:
                    out.timeline.append({"t (s)": round(offset, 2), "policy": policy,
                                         "read from": "primary" if node is primary else "replica",
                                         "version": version, "stale": "yes" if stale else ""})
        primary.wait(1, 2.0)
    db.close()
    return out


def wait_demo(cluster: Any, prefix: str, *, lag_seconds: float = LAG_SECONDS) -> list[dict[str, Any]]:
    """WAIT 1 after a write, with the replica lagging and after it caught up."""
    tag, primary, replica = tag_on_replicated_master(cluster, prefix, "profile")
    key = f"{prefix}{{{tag}}}:wait"
    primary.set(key, "v0")
    primary.wait(1, 2.0)
    rows = []
    cluster.pause_replication(replica, lag_seconds)
    primary.set(key, "v1")
    rows.append({"moment": "replica lagging", "WAIT 1 100 ms answered": primary.wait(1, 0.1),
                 "replica holds": replica.get(key)})
    cluster.clock.sleep(lag_seconds)
    rows.append({"moment": "after the lag", "WAIT 1 100 ms answered": primary.wait(1, 0.1),
                 "replica holds": replica.get(key)})
    return rows
