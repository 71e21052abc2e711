"""The cluster the lessons drive, on two engines with one interface.

:class:`SimulatedCluster` runs where no ``redis-server`` binary exists: one
fakeredis server per node, keys routed with Redis's own slot function, replication
applied on a clock (virtual for claims and tests), failover after a fixed delay.
:class:`RealCluster` (in :mod:`.real`) drives a :class:`LocalCluster` through the
same methods.  Experiments are written once against this interface, so both paths
run the same code and give the same counts wherever the engine is deterministic.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from ..clock import Clock, VirtualClock
from ..errors import LabError
from .slots import SLOTS, key_slot, slot_ranges

__all__ = ["ClusterUnavailable", "Redirect", "SimNode", "SimulatedCluster", "crossslot_message",
           "FAILOVER_SECONDS", "FAIL_SECONDS"]

# A failover on the lab's local cluster (node timeout 1.5 s), measured on a 2-core machine:
# the other masters mark the dead one FAIL (and answer CLUSTERDOWN) about 2.3-2.5 s after
# the crash, and its replica is promoted about 1 s later (3.3-3.5 s).  The simulation
# replays those two moments on its clock; a real cluster shows its own.
FAIL_SECONDS = 2.4
FAILOVER_SECONDS = 3.4


class ClusterUnavailable(LabError):
    """The node that owns a key did not answer (down, or not yet replaced by its replica)."""


class Redirect(Exception):
    """A node answered MOVED or ASK: the slot (or this key of it) lives elsewhere."""

    def __init__(self, kind: str, slot: int, port: int) -> None:
        super().__init__(f"{kind} {slot} 127.0.0.1:{port}")
        self.kind, self.slot, self.port = kind, slot, port


def crossslot_message() -> str:
    # The server's own wording (Redis 7.0), so both paths print the same line.
    return "CROSSSLOT Keys in request don't hash to the same slot"


class SimNode:
    """One simulated node: its own fakeredis server, a command counter, a replication log."""

    def __init__(self, cluster: SimulatedCluster, port: int, role: str) -> None:
        import fakeredis

        self.cluster, self.port, self.role = cluster, port, role
        self.client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        self.commands = 0
        self.alive = True
        self.master: SimNode | None = None
        self.replicas: list[SimNode] = []
        self._pending: deque[tuple[float, str, str | None, float | None]] = deque()
        self._expires: dict[str, float] = {}  # key -> when it expires, on the cluster's clock
        self.paused_until = 0.0
        self.lag_seconds = 0.0
        self.trackers: dict[str, set[Any]] = {}

    @property
    def name(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.alive

    # -- replication ------------------------------------------------------------------
    def _catch_up(self) -> None:
        now = self.cluster.clock.now()
        if now < self.paused_until:
            return
        while self._pending and self._pending[0][0] + self.lag_seconds <= now:
            _, key, value, expires = self._pending.popleft()
            self._store(key, value, expires)

    def _store(self, key: str, value: str | None, expires: float | None) -> None:
        self._expires.pop(key, None)
        if value is None:
            self.client.delete(key)
            return
        self.client.set(key, value)
        if expires is not None:
            self._expires[key] = expires

    def _expire(self, key: str) -> None:
        if self.cluster.clock.now() >= self._expires.get(key, float("inf")):
            self._store(key, None, None)

    def _replicate(self, key: str, value: str | None, expires: float | None = None) -> None:
        now = self.cluster.clock.now()
        for replica in self.replicas:
            if replica.alive:
                replica._pending.append((now, key, value, expires))
        for tracker in self.trackers.pop(key, set()):
            tracker.invalidate(key)

    # -- commands (each one counted, like INFO commandstats) ------------------------------
    def _check_alive(self) -> None:
        if not self.alive:
            raise ClusterUnavailable(f"Node {self.name} does not answer (connection refused).")
        if self.cluster.down():
            raise ClusterUnavailable("CLUSTERDOWN The cluster is down")

    def get(self, key: str) -> str | None:
        self._check_alive()
        self.commands += 1
        if self.role == "replica":
            self._catch_up()
        self._expire(key)
        return self.client.get(key)

    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        self._check_alive()
        if self.role == "replica":
            raise LabError(f"{self.name} is a replica; writes go to its master.")
        self.commands += 1
        expires = self.cluster.clock.now() + ttl_seconds if ttl_seconds else None
        self._store(key, value, expires)
        self._replicate(key, value, expires)

    def ttl(self, key: str) -> int:
        """Seconds left, as the TTL command answers (-1: no expiry, -2: no such key)."""
        self._expire(key)
        if not self.client.exists(key):
            return -2
        expires = self._expires.get(key)
        return -1 if expires is None else round(expires - self.cluster.clock.now())

    def delete(self, *keys: str) -> int:
        self._check_alive()
        self.commands += 1
        removed = int(self.client.delete(*keys))
        for key in keys:
            self._expires.pop(key, None)
            self._replicate(key, None)
        return removed

    def wait(self, replicas: int, timeout_seconds: float) -> int:
        """Like WAIT: how many replicas have applied every write so far (within the timeout)."""
        self._check_alive()
        self.commands += 1
        clock = self.cluster.clock
        deadline = clock.now() + timeout_seconds
        while True:
            for r in self.replicas:
                r._catch_up()
            synced = sum(1 for r in self.replicas if r.alive and not r._pending)
            if synced >= replicas or clock.now() >= deadline:
                return synced
            clock.sleep(min(0.01, deadline - clock.now()))

    def keys(self, pattern: str) -> list[str]:
        return list(self.client.scan_iter(match=pattern, count=1000))

    def __repr__(self) -> str:
        return f"<SimNode {self.role} :{self.port}{'' if self.alive else ' stopped'}>"


class SimulatedCluster:
    """``masters`` simulated primaries with ``replicas`` each, on ``clock``.

    Writes reach a replica after ``lag_seconds`` (0 unless a lesson pauses it); a
    crashed master is marked FAIL :data:`FAIL_SECONDS` later (from then on every node
    answers CLUSTERDOWN) and replaced by its replica :data:`FAILOVER_SECONDS` after
    the crash; writes the replica had not applied by then are lost, as with Redis's
    asynchronous replication.
    """

    simulated = True

    def __init__(self, masters: int = 3, replicas: int = 1, *, clock: Clock | None = None) -> None:
        if not isinstance(masters, int) or not 1 <= masters <= 16:
            raise LabError(f"masters must be a whole number from 1 to 16 (got {masters!r}).")
        self.clock = clock if clock is not None else VirtualClock()
        self.nodes: list[SimNode] = []
        self._next_port = 7000
        primaries = [self._new_node("master") for _ in range(masters)]
        for master in primaries:
            for _ in range(replicas):
                replica = self._new_node("replica")
                replica.master = master
                master.replicas.append(replica)
        self._slot_owner: list[SimNode] = [None] * SLOTS  # type: ignore[list-item]
        for master, (first, last) in zip(primaries, slot_ranges(masters), strict=True):
            for slot in range(first, last + 1):
                self._slot_owner[slot] = master
        self._migrating: dict[int, SimNode] = {}  # slot -> target, while keys move
        self._promote_at: dict[int, float] = {}  # port of a crashed master -> when its replica takes over
        self._fail_at: dict[int, float] = {}  # port of a crashed master -> when the others mark it FAIL

    @classmethod
    def like(cls, other: Any, *, clock: Clock | None = None) -> SimulatedCluster:
        """Simulated shards shaped like ``other``: its masters (same names), one replica
        each, and its slot map.  A lesson previews a real cluster's experiment on them
        (virtual clock, in-process): where keys land, and so every count, is the same."""
        masters = other.masters
        sim = cls(len(masters), 1, clock=clock)
        real_ports = {m.port for m in masters}
        spare_ports = (p for p in range(7000, 7000 + 4 * len(sim.nodes)) if p not in real_ports)
        by_port: dict[int, SimNode] = {}
        for node, master in zip(sim.masters, masters, strict=True):
            node.port = master.port
            by_port[master.port] = node
        for replica in (n for n in sim.nodes if n.role == "replica"):
            replica.port = next(spare_ports)
        sim._slot_owner = [by_port[other.owner(s).port] for s in range(SLOTS)]
        sim._next_port = max(n.port for n in sim.nodes) + 1  # a node added later takes a free name
        return sim

    def _new_node(self, role: str) -> SimNode:
        node = SimNode(self, self._next_port, role)
        self._next_port += 1
        self.nodes.append(node)
        return node

    # -- the shape of the cluster -----------------------------------------------------------
    @property
    def masters(self) -> list[SimNode]:
        return [n for n in self.nodes if n.role == "master"]

    def replica_of(self, master: SimNode) -> SimNode | None:
        return next((r for r in master.replicas if r.alive), None)

    def owner(self, slot: int) -> SimNode:
        self._failover_due()
        return self._slot_owner[slot]

    def slot_ports(self) -> tuple[int, ...]:
        """The slot map as the owners' ports (read only: a failover that is due is not applied)."""
        return tuple(n.port for n in self._slot_owner)

    def slots_of(self, master: SimNode) -> list[int]:
        return [s for s in range(SLOTS) if self._slot_owner[s] is master]

    # -- client-side routing (what RedisCluster does for you) ----------------------------------
    def node_for(self, key: str) -> SimNode:
        return self.owner(key_slot(key))

    def get(self, key: str) -> str | None:
        return self.node_for(key).get(key)

    def set(self, key: str, value: str) -> None:
        self.node_for(key).set(key, value)

    def get_all(self, keys: list[str]) -> list[str | None]:
        """One GET per key, counted per node as the server counts them; fetched with one
        MGET per node of the distinct keys (a fakeredis round trip costs a real one's)."""
        by_node: dict[SimNode, set[str]] = {}
        for key, reads in Counter(keys).items():  # route each distinct key once: hot keys repeat
            node = self.node_for(key)
            node._check_alive()
            node.commands += reads
            by_node.setdefault(node, set()).add(key)
        found: dict[str, str | None] = {}
        for node, wanted in by_node.items():
            if node.role == "replica":
                node._catch_up()
            ordered = sorted(wanted)
            found.update(zip(ordered, node.client.mget(ordered), strict=True))
        return [found[k] for k in keys]

    def set_all(self, mapping: dict[str, str]) -> None:
        by_node: dict[SimNode, dict[str, str]] = {}
        for key, value in mapping.items():
            by_node.setdefault(self.node_for(key), {})[key] = value
        for node, values in by_node.items():
            node._check_alive()
            node.commands += len(values)
            node.client.mset(values)
            for key, value in values.items():
                node._replicate(key, value)

    def mget_one_node(self, keys: list[str]) -> list[str | None]:
        """MGET sent to one node, as the server sees it: all keys must share a slot."""
        if len({key_slot(k) for k in keys}) > 1:
            raise LabError(crossslot_message())
        node = self.node_for(keys[0])
        node.commands += 1
        return node.client.mget(keys)

    def command_counts(self) -> dict[str, int]:
        return {m.name: m.commands for m in self.masters}

    # -- a node answering one command, with MOVED / ASK -----------------------------------------
    def ask_node(self, node: SimNode, key: str, *, asking: bool = False) -> str | None:
        """GET sent to ``node`` directly: raises :class:`Redirect` as the server would."""
        slot = key_slot(key)
        owner = self._slot_owner[slot]
        target = self._migrating.get(slot)
        if node is owner:
            value = node.get(key)
            if value is None and target is not None:
                raise Redirect("ASK", slot, target.port)
            return value
        if asking and target is node:
            return node.get(key)
        raise Redirect("MOVED", slot, owner.port)

    def node_at(self, port: int) -> SimNode:
        return next(n for n in self.nodes if n.port == port)

    # -- resharding -------------------------------------------------------------------------------
    def add_master(self) -> SimNode:
        return self._new_node("master")

    def begin_migration(self, slots: list[int], target: SimNode) -> None:
        for slot in slots:
            self._migrating[slot] = target

    def migrate_keys(self, slot: int, keys: list[str]) -> None:
        source, target = self._slot_owner[slot], self._migrating[slot]
        if not keys:
            return
        moving = {k: v for k, v in zip(keys, source.client.mget(keys), strict=True) if v is not None}
        if moving:  # like MIGRATE ... KEYS: copy to the new owner, then delete from the old
            target.client.mset(moving)
            source.client.delete(*moving)

    def keys_in_slot(self, slot: int, pattern: str) -> list[str]:
        node = self._slot_owner[slot]
        return [k for k in node.keys(pattern) if key_slot(k) == slot]

    def finish_migration(self, slots: list[int]) -> None:
        for slot in slots:
            self._slot_owner[slot] = self._migrating.pop(slot)

    # -- failures ---------------------------------------------------------------------------------
    def pause_replication(self, replica: SimNode, seconds: float) -> None:
        """The replica applies nothing for ``seconds`` (a busy or distant replica)."""
        replica.paused_until = self.clock.now() + seconds

    def resume_replication(self, replica: SimNode) -> None:
        replica.paused_until = 0.0

    def crash(self, master: SimNode) -> None:
        master.alive = False
        self._fail_at[master.port] = self.clock.now() + FAIL_SECONDS
        self._promote_at[master.port] = self.clock.now() + FAILOVER_SECONDS

    def down(self) -> bool:
        """CLUSTERDOWN: a master is marked FAIL and its replica has not taken over yet
        (``cluster-require-full-coverage yes``: then every node refuses every key)."""
        self._failover_due()
        now = self.clock.now()
        return any(self._fail_at[port] <= now for port in self._promote_at)

    def probe(self, key: str, via: SimNode) -> str:
        """What a client asking ``via`` for ``key`` gets (following MOVED)."""
        if not via.alive:
            return "no answer"
        if self.down():
            return "CLUSTERDOWN"
        return "ok" if self.node_for(key).alive else "no answer"

    def refresh(self) -> None:
        """Nothing to re-read: the simulation's slot map is always current."""

    def _failover_due(self) -> None:
        now = self.clock.now()
        for port, when in list(self._promote_at.items()):
            if now < when:
                continue
            del self._promote_at[port]
            self._fail_at.pop(port, None)
            dead = self.node_at(port)
            heir = self.replica_of(dead)
            if heir is None:
                continue
            heir._pending.clear()  # what it had not applied dies with the old master
            heir.role, heir.master, heir.paused_until = "master", None, 0.0
            dead.replicas.remove(heir)
            self._slot_owner = [heir if n is dead else n for n in self._slot_owner]

    # -- housekeeping -----------------------------------------------------------------------------
    def delete_prefix(self, prefix: str) -> int:
        removed = 0
        for node in self.nodes:
            if node.alive and node.role == "master":
                keys = node.keys(prefix + "*")
                if keys:
                    removed += node.delete(*keys)
        return removed

    def stop(self) -> None:
        """Nothing runs in the background; kept for the same interface as the real cluster."""

    def __repr__(self) -> str:
        return f"<SimulatedCluster {len(self.masters)} masters, {len(self.nodes) - len(self.masters)} replicas>"
