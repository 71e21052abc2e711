"""Scaling out: a real Redis Cluster, or simulated shards that route keys the same way.

Engine modules (no widgets, no charts):

==============  ===========================================================
``slots``       key -> hash slot (redis-py's CRC16, hash tags), slot ranges
``local``       :class:`LocalCluster`: throwaway redis-server processes in cluster mode
``shards``      :class:`SimulatedCluster`: fakeredis nodes, lag and failover on a clock
``real``        :class:`RealCluster`: the same interface over a real cluster
``rehash``      modulo vs hash slots vs consistent hashing: keys moved, miss storms
``tracking``    :class:`NearCache` with server-assisted invalidation (CLIENT TRACKING)
``routing``     :class:`ReadYourWrites`: a client's reads go to the primary after its writes
``failover``    a master crashes: CLUSTERDOWN on every node, lost writes, an undone DEL
``experiments`` the lesson's experiments, written once for both engines
==============  ===========================================================

The lesson layer (``labkit.cluster.lesson``: views, charts, exercises) loads on use.
"""

from __future__ import annotations

from ..course import lesson_attributes
from .local import ClusterNode, LocalCluster
from .routing import ReadYourWrites
from .shards import ClusterUnavailable, SimulatedCluster
from .slots import SLOTS, hash_tag, key_slot, slot_ranges

__all__ = [
    "LocalCluster", "ClusterNode", "SimulatedCluster", "ClusterUnavailable", "ReadYourWrites",
    "SLOTS", "key_slot", "hash_tag", "slot_ranges", "open_cluster",
]


# The lesson layer (views, charts, exercises) loads on first use of one of its names.
_LESSON_NAMES = {
    "Lab", "start_lab", "show_keys", "show_crossslot", "explore_rehash", "show_spread", "show_reshard",
    "explore_hot_key", "show_near_cache", "explore_replicas", "show_replica_timeline", "show_wait", "show_replica_fill",
    "explore_failover", "show_failover_losses", "exercises", "Table",
}


def open_cluster(*, simulated: bool | None = None):
    """The cluster a lesson drives: see :func:`labkit.cluster.lesson.start_lab`."""
    from .lesson import open_cluster as _open

    return _open(simulated=simulated)


__getattr__ = lesson_attributes(__name__, _LESSON_NAMES)
