"""A master crashes: what every client sees, and what the cluster forgets.

Written once against the cluster interface (real or simulated, see :mod:`.shards`).

Redis Cluster finds a dead master in steps: each node marks it *PFAIL* once it has
not answered for the node timeout, and *FAIL* when a majority of masters agree.  With
``cluster-require-full-coverage yes`` (the default, and this lab's setting) a node that
knows a slot's owner is FAIL answers **every** request with ``CLUSTERDOWN``, so the
whole cluster is down, not only the dead master's slots.  The dead master's replica
waits 500 ms + a random 0-500 ms + 1 s per rank, asks the masters for votes, and takes
over the slots; then the cluster is up again.  Replication is asynchronous, so every
write the replica had not applied is gone: a lost ``SET`` is a lost write, and a lost
``DEL`` is an invalidation undone - the old value is back, with its old TTL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import LabError
from .slots import key_slot

__all__ = ["FailoverResult", "failover", "CACHED_VALUE", "CACHE_TTL_SECONDS"]

CACHED_VALUE = "price 10"  # what the cache held before the invalidation the failover undoes
CACHE_TTL_SECONDS = 3600


@dataclass
class FailoverResult:
    acknowledged_writes: int
    unreplicated_writes: int
    lost_writes: int | None  # None: the replica had not taken over when the probing gave up
    recovered_after_seconds: float | None
    # One row per master: its name ("127.0.0.1:PORT"), and what a client asking it for a key
    # of that master's slots got at each moment: "ok", "CLUSTERDOWN" or "no answer".
    probes: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    crashed: str = ""
    deleted_value_after: str | None = None  # the invalidated key, read after the failover
    deleted_ttl_after: int | None = None  # its TTL then (seconds)

    @property
    def recovered(self) -> bool:
        return self.recovered_after_seconds is not None

    @property
    def survivors(self) -> list[str]:
        return [name for name in self.probes if name != self.crashed]

    def down_seconds(self, name: str) -> float:
        """How long the probes of master ``name`` got no "ok" (first failure to last failure)."""
        failed = [t for t, state in self.probes[name] if state != "ok"]
        return failed[-1] - failed[0] if failed else 0.0

    def refused(self, name: str, state: str = "CLUSTERDOWN") -> int:
        return sum(1 for _, s in self.probes[name] if s == state)

    @property
    def delete_undone(self) -> bool:
        return self.deleted_value_after == CACHED_VALUE


def _tag_on(cluster: Any, prefix: str, base: str, master: Any) -> str:
    """A hash tag ``base-N`` whose slot belongs to ``master``."""
    for n in range(2000):
        tag = f"{base}-{n}"
        if cluster.owner(key_slot(f"{prefix}{{{tag}}}")) is master:
            return tag
    raise LabError(f"No key of master {master.name} found among 2,000 tags.")


def failover(cluster: Any, prefix: str, *, replicated: int = 80, unreplicated: int = 20,
             probe_every_seconds: float = 0.05, give_up_seconds: float = 15.0) -> FailoverResult:
    """Crash a master whose replica has not applied its last ``unreplicated`` writes and
    one ``DEL`` (the invalidation after a database update, notebook 02); probe one key of
    every master until all answer again; count the writes lost; read the deleted key."""
    clock = cluster.clock
    masters = list(cluster.masters)
    victim = next((m for m in masters if cluster.replica_of(m) is not None), None)
    if victim is None:
        raise LabError("This experiment needs a master with a replica; start the cluster with replicas=1.")
    replica = cluster.replica_of(victim)
    tag = _tag_on(cluster, prefix, "order", victim)
    keys = [f"{prefix}{{{tag}}}:{i}" for i in range(replicated + unreplicated)]
    cached = f"{prefix}{{{tag}}}:cached-price"
    probe_keys = {m.name: f"{prefix}{{{_tag_on(cluster, prefix, 'probe', m)}}}" for m in masters}
    for key in keys[:replicated]:
        victim.set(key, "paid")
    victim.set(cached, CACHED_VALUE, CACHE_TTL_SECONDS)
    victim.wait(1, 2.0)
    cluster.pause_replication(replica, give_up_seconds)
    for key in keys[replicated:]:
        victim.set(key, "paid")  # each one acknowledged by the master
    victim.delete(cached)  # the writer invalidates the cache after its database commit: acknowledged too
    cluster.crash(victim)
    start = clock.now()
    probes: dict[str, list[tuple[float, str]]] = {name: [] for name in probe_keys}
    survivors = [m for m in masters if m is not victim]
    recovered = None
    while recovered is None and clock.now() - start < give_up_seconds:
        now = clock.now() - start
        for i, master in enumerate(masters):
            via = master if master is not victim else survivors[i % len(survivors)]
            probes[master.name].append((now, cluster.probe(probe_keys[master.name], via)))
        if all(states[-1][1] == "ok" for states in probes.values()):
            recovered = now
        else:
            clock.sleep(probe_every_seconds)
    result = FailoverResult(len(keys), unreplicated, None, recovered, probes, victim.name)
    if recovered is not None:
        cluster.refresh()
        heir = cluster.node_for(keys[0])
        cluster.resume_replication(heir)
        result.lost_writes = sum(v is None for v in cluster.get_all(keys))
        result.deleted_value_after = heir.get(cached)
        result.deleted_ttl_after = heir.ttl(cached)
    return result
