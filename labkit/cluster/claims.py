"""The numbers notebook 09's prose states, computed on simulated shards (virtual clock).

Keys carry hash tags, so where each lands - and so every count below - does not
depend on the learner's prefix; ``tests/test_cluster.py`` checks the same facts on a
real local cluster, where the slot counts come out identical.
"""

from __future__ import annotations

from typing import Any

from ..claims import claim
from ..clock import VirtualClock
from ..memo import memo
from . import experiments as ex
from . import rehash
from .race import replica_fill_race
from .shards import FAILOVER_SECONDS, SimulatedCluster

PREFIX = "labkit:claims:09:"


@memo(maxsize=1)
def _notebook_run() -> dict[str, Any]:
    """The notebook's experiments in the notebook's order, on one simulated cluster
    (so the hot key meets four masters, as it does after section 2's resharding)."""
    cluster = SimulatedCluster(3, 1, clock=VirtualClock())
    run: dict[str, Any] = {"reshard": ex.reshard(cluster, PREFIX)}
    for fix in ("none", "near cache", "copies"):
        run[fix] = ex.hot_key_load(cluster, PREFIX, fix=fix)
    run["replicas"] = ex.replica_reads(cluster, PREFIX)
    run["failover"] = ex.failover(cluster, PREFIX)
    return run


def _reshard() -> ex.ReshardResult:
    return _notebook_run()["reshard"]


def _hot(fix: str) -> ex.HotKeyResult:
    return _notebook_run()[fix]


def _replicas() -> ex.ReplicaReads:
    return _notebook_run()["replicas"]


def _failover() -> ex.FailoverResult:
    return _notebook_run()["failover"]


@claim("modulo_moved_share", notebook="09", fact="modulo hashing moves about n/(n+1) of the keys (3 -> 4 nodes)",
       holds=lambda v: abs(v - 3 / 4) <= 0.02)
def modulo_moved_share() -> float:
    return rehash.moved_share("modulo", 3)


@claim("slots_moved_share", notebook="09",
       fact="adding a 4th master moves the keys of 1/(n+1) of the slots: within 2 points of 25%",
       holds=lambda v: abs(v - 1 / 4) <= 0.02)
def slots_moved_share() -> float:
    return _reshard().moved_share


@claim("ring_one_vnode_share", notebook="09",
       fact="a ring with one point per node splits keys unevenly: the newcomer's share is far from 1/(n+1)",
       holds=lambda v: abs(v - 1 / 4) >= 0.1)
def ring_one_vnode_share() -> float:
    return rehash.moved_share("consistent hashing", 3, vnodes=1)


@claim("modulo_storm_reads", notebook="09", fact="modulo sharding sends thousands of extra reads to the database "
       "when a node joins, more than twice what consistent hashing does",
       holds=lambda v: v > 2 * rehash.miss_storm("consistent hashing", 3).sum() > 0)
def modulo_storm_reads() -> int:
    return int(rehash.miss_storm("modulo", 3).sum())


@claim("ask_redirects", notebook="09", fact="mid-migration, keys already moved are answered with ASK",
       holds=lambda v: v > 0)
def ask_redirects() -> int:
    return _reshard().ask_redirects


@claim("moved_redirects", notebook="09", fact="after the migration a client with an old map gets one MOVED "
       "per slot it touches, then knows", holds=lambda v: 0 < v <= _reshard().keys_moved)
def moved_redirects() -> int:
    return _reshard().moved_redirects


@claim("hot_key_share", notebook="09", fact="one product takes about a quarter of all reads",
       holds=lambda v: 0.15 <= v <= 0.35)
def hot_key_share() -> float:
    return _hot("none").hot_key_share


@claim("fair_share", notebook="09", fact="after the resharding four masters share the reads: a fair share is 25%",
       holds=lambda v: v == 0.25)
def fair_share() -> float:
    return _hot("none").fair_share


@claim("hot_node_share", notebook="09", fact="the hot key's master serves well over its fair share of commands",
       holds=lambda v: v >= 1.4 * _hot("none").fair_share)
def hot_node_share() -> float:
    return _hot("none").hot_node_share


@claim("near_cache_node_share", notebook="09", fact="with a near cache the busiest master is close to a fair share",
       holds=lambda v: v <= 1.15 * _hot("none").fair_share)
def near_cache_node_share() -> float:
    return _hot("near cache").hot_node_share


@claim("near_cache_hits", notebook="09", fact="most reads never leave the app with a near cache",
       holds=lambda v: v >= 0.9 * _hot("near cache").requests)
def near_cache_hits() -> int:
    return _hot("near cache").near_hits


@claim("copies_node_share", notebook="09", fact="six copies of the hot key lower the busiest master's share",
       holds=lambda v: v < _hot("none").hot_node_share - 0.05)
def copies_node_share() -> float:
    return _hot("copies").hot_node_share


@claim("replica_stale_reads", notebook="09",
       fact="every reload read from the replica inside its lag returns the old value (three per round)",
       holds=lambda v: v == 3 * _replicas().reads["replica"] // 4)
def replica_stale_reads() -> int:
    return _replicas().stale_reads["replica"]


@claim("replica_reads", notebook="09", fact="each router serves two rounds of four reloads",
       holds=lambda v: v == 8)
def replica_reads() -> int:
    return _replicas().reads["replica"]


@claim("ryw_stale_reads", notebook="09", fact="read-your-writes routing gives no stale reloads", holds=lambda v: v == 0)
def ryw_stale_reads() -> int:
    return _replicas().stale_reads["read-your-writes"]


@claim("replica_fill_stale_reads", notebook="09",
       fact="filling the cache from a lagging DB replica leaves it stale for the whole TTL",
       holds=lambda v: v >= 50)
def replica_fill_stale_reads() -> int:
    return replica_fill_race("from the replica").stale_reads


@claim("failover_seconds", notebook="09", fact="the replica takes over within seconds of the master crashing",
       holds=lambda v: 0.5 <= v <= 10)
def failover_seconds() -> float:
    result = _failover()
    return result.recovered_after_seconds if result.recovered else float("inf")


@claim("lost_acknowledged_writes", notebook="09",
       fact="every acknowledged write the replica had not applied is lost in the failover",
       holds=lambda v: v == _failover().unreplicated_writes > 0)
def lost_acknowledged_writes() -> int:
    return _failover().lost_writes


__all__ = ["FAILOVER_SECONDS"]
