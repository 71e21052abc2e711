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
from .failover import CACHE_TTL_SECONDS
from .race import replica_fill_race
from .shards import SimulatedCluster
from .slots import key_slot

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


@claim("ring_one_point_spread", notebook="09",
       fact="a ring with one point per node leaves the busiest of 4 nodes with well over a fair share of keys",
       holds=lambda v: v >= 1.5)
def ring_one_point_spread() -> float:
    return rehash.load_spread("consistent hashing", 4, vnodes=1)


@claim("ring_spread", notebook="09",
       fact="160 points per node bring the ring close to even, but not as close as rendezvous or jump hashing",
       holds=lambda v: 1.0 < v < 1.3 and v > max(rehash.load_spread("rendezvous", 4), rehash.load_spread("jump", 4)))
def ring_spread() -> float:
    return rehash.load_spread("consistent hashing", 4, vnodes=160)


@claim("rendezvous_spread", notebook="09",
       fact="rendezvous hashing spreads keys within a few percent of even with no virtual nodes",
       holds=lambda v: 1.0 <= v <= 1.08)
def rendezvous_spread() -> float:
    return rehash.load_spread("rendezvous", 4)


@claim("jump_moved_share", notebook="09", fact="jump hashing moves the newcomer's share, 1/(n+1), when node 5 joins 4",
       holds=lambda v: abs(v - 1 / 5) <= 0.02)
def jump_moved_share() -> float:
    return rehash.moved_share("jump", 4)


@claim("modulo_storm_reads", notebook="09", fact="modulo sharding sends thousands of extra reads to the database "
       "when a node joins, more than twice what consistent hashing does",
       holds=lambda v: v > 2 * rehash.miss_storm("consistent hashing", 3).sum() > 0)
def modulo_storm_reads() -> int:
    return int(rehash.miss_storm("modulo", 3).sum())


@claim("ask_redirects", notebook="09", fact="mid-migration, keys already moved are answered with ASK",
       holds=lambda v: v > 0)
def ask_redirects() -> int:
    return _reshard().ask_redirects


def _slots_of_moved_keys() -> int:
    """How many distinct slots the moved keys live in, counted from the keys themselves."""
    result = _reshard()
    return len({key_slot(k) for k in result.moved_keys})


@claim("moved_redirects", notebook="09", fact="after the migration the lab's reader gets one MOVED per slot "
       "whose keys moved (not one per key), then knows", holds=lambda v: 0 < v == _slots_of_moved_keys()
       < _reshard().keys_moved)
def moved_redirects() -> int:
    return _reshard().moved_redirects


@claim("hot_key_share", notebook="09", fact="one product takes about a quarter of all reads",
       holds=lambda v: 0.15 <= v <= 0.35)
def hot_key_share() -> float:
    return _hot("none").hot_key_share


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


def _reloads_inside_the_lag() -> int:
    run = _replicas()
    rounds = run.reads["replica"] // (len(ex.READ_OFFSETS) + 1)
    return rounds * sum(offset < run.lag_seconds for offset in ex.READ_OFFSETS)


@claim("replica_stale_reads", notebook="09",
       fact="every reload read from the replica inside its lag returns the old value, and none after it "
            "(tests/test_cluster.py measures the same count on a real cluster)",
       holds=lambda v: v == _reloads_inside_the_lag() > 0)
def replica_stale_reads() -> int:
    return _replicas().stale_reads["replica"]


@claim("ryw_stale_reads", notebook="09", fact="read-your-writes routing gives no stale reloads", holds=lambda v: v == 0)
def ryw_stale_reads() -> int:
    return _replicas().stale_reads["read-your-writes"]


@claim("replica_fill_stale_reads", notebook="09",
       fact="filling the cache from a lagging DB replica leaves it stale for the whole TTL",
       holds=lambda v: v >= 50)
def replica_fill_stale_reads() -> int:
    return replica_fill_race("from the replica").stale_reads


@claim("masters_refusing", notebook="09",
       fact="while the crashed master is marked FAIL, every master answers CLUSTERDOWN, not only the crashed "
            "one's slots (tests/test_cluster.py checks it on a real cluster)",
       holds=lambda v: v == len(_failover().probes) > 1)
def masters_refusing() -> int:
    result = _failover()
    return sum(1 for name in result.probes if result.refused(name, "CLUSTERDOWN") > 0)


@claim("lost_acknowledged_writes", notebook="09",
       fact="every acknowledged write the replica had not applied is lost in the failover "
            "(tests/test_cluster.py measures the same count on a real cluster)",
       holds=lambda v: v == _failover().unreplicated_writes > 0)
def lost_acknowledged_writes() -> int:
    return _failover().lost_writes


@claim("deleted_key_ttl", notebook="09",
       fact="the DEL lost in the failover brings the old value back with most of its TTL left",
       holds=lambda v: _failover().delete_undone and v >= 0.9 * CACHE_TTL_SECONDS)
def deleted_key_ttl() -> int:
    return _failover().deleted_ttl_after
