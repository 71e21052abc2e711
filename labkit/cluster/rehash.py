"""When a node joins: how many keys change owner, and what that costs a cache.

Five ways to map keys to N nodes:

* **modulo** - ``hash(key) % N``: simple, and nearly every key moves when N changes
  (``N/(N+1)`` of them for one new node);
* **hash slots** (Redis Cluster) - keys map to 16,384 slots and slots to nodes; a new
  node takes ``1/(N+1)`` of the slots, so ``1/(N+1)`` of the keys move, and the
  cluster moves their data with them;
* **consistent hashing** (Karger et al., STOC 1997) - nodes own arcs of a ring; a new
  node takes about ``1/(N+1)`` of the keys, evenly only with many virtual nodes;
* **rendezvous hashing** (highest random weight; Thaler and Ravishankar, 1998) - every
  node scores every key and the highest score wins: ``1/(N+1)`` moves, an even spread
  with no virtual nodes, and a lookup costs one hash per node;
* **jump hashing** (Lamping and Veach, 2014) - a few lines of arithmetic, no table, an
  even spread and exactly the newcomer's share moved; but nodes are numbered, so
  only the last one can leave.

With client-side sharding (memcached style) a key that changes owner is a miss on
its new node, so the database pays once per moved key: a miss storm.
"""

from __future__ import annotations

import zlib

import numpy as np

from ..errors import LabError
from ..memo import memo
from ..workloads import zipf
from .slots import SLOTS, key_slot, slot_ranges

__all__ = ["SCHEMES", "formula_share", "moved_share", "rebalanced_owners", "miss_storm", "sample_keys",
           "load_spread", "jump_hash"]

SCHEMES = ("modulo", "hash slots", "consistent hashing", "rendezvous", "jump")
_MASK64 = (1 << 64) - 1


def formula_share(scheme: str, nodes: int) -> float:
    """Expected share of keys that change owner when node ``nodes + 1`` joins ``nodes``."""
    if scheme not in SCHEMES:
        raise LabError(f"Unknown scheme {scheme!r}. Choose one of: {', '.join(SCHEMES)}.")
    return nodes / (nodes + 1) if scheme == "modulo" else 1 / (nodes + 1)


def sample_keys(n_keys: int) -> list[str]:
    return [f"user:{i}" for i in range(n_keys)]


def _hash32(text: str) -> int:
    return zlib.crc32(text.encode())


def rebalanced_owners(nodes: int) -> list[int]:
    """Slot -> master after master ``nodes`` joins and every old master gives it the top
    of its own range (about ``1/(nodes+1)`` of all slots)."""
    owners = [0] * SLOTS
    for i, (first, last) in enumerate(slot_ranges(nodes)):
        owners[first : last + 1] = [i] * (last - first + 1)
    target = SLOTS // (nodes + 1)
    for i, (_, last) in enumerate(slot_ranges(nodes)):
        give = target // nodes + (1 if i < target % nodes else 0)
        owners[last + 1 - give : last + 1] = [nodes] * give
    return owners


@memo(maxsize=8)
def _key_hashes(n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """CRC32 (for modulo and the ring) and the hash slot of each sample key, computed once."""
    keys = sample_keys(n_keys)
    return (np.array([_hash32(k) for k in keys], dtype=np.int64),
            np.array([key_slot(k) for k in keys], dtype=np.int64))


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash: the bucket (0 .. buckets-1) of a 64-bit key."""
    bucket, jump = -1, 0
    while jump < buckets:
        bucket = jump
        key = (key * 2862933555777941757 + 1) & _MASK64
        jump = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


def _mix64(values: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (MurmurHash3's fmix64): nearby inputs give unrelated outputs."""
    with np.errstate(over="ignore"):
        h = values.astype(np.uint64)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return h


def _rendezvous_owner(key_hashes: np.ndarray, nodes: int) -> np.ndarray:
    # Each node's score for each key is a hash of (key, node); the highest score owns the key.
    mixed = _mix64(key_hashes)
    with np.errstate(over="ignore"):
        scores = np.stack([_mix64(mixed + np.uint64(node)) for node in range(nodes)])
    return scores.argmax(axis=0)


def _ring_owner(key_hashes: np.ndarray, nodes: int, vnodes: int) -> np.ndarray:
    points = sorted((_hash32(f"node-{n}#{v}"), n) for n in range(nodes) for v in range(vnodes))
    hashes = np.array([h for h, _ in points], dtype=np.int64)
    owners = np.array([n for _, n in points])
    # Each key belongs to the first point clockwise from it (wrapping past the top).
    return owners[np.searchsorted(hashes, key_hashes, side="right") % len(owners)]


@memo(maxsize=256)
def _owners(scheme: str, nodes: int, n_keys: int, vnodes: int, after_join: bool) -> np.ndarray:
    key_hashes, slots = _key_hashes(n_keys)
    count = nodes + 1 if after_join else nodes
    if scheme == "modulo":
        return key_hashes % count
    if scheme == "hash slots":
        table = np.zeros(SLOTS, dtype=np.int64)
        for i, (first, last) in enumerate(slot_ranges(nodes)):
            table[first : last + 1] = i
        if after_join:
            table = np.array(rebalanced_owners(nodes))
        return table[slots]
    if scheme == "rendezvous":
        return _rendezvous_owner(key_hashes, count)
    if scheme == "jump":
        return np.array([jump_hash(int(h), count) for h in _mix64(key_hashes)])
    return _ring_owner(key_hashes, count, vnodes)


def moved_share(scheme: str, nodes: int, *, n_keys: int = 10_000, vnodes: int = 160) -> float:
    """Measured share of ``n_keys`` sample keys whose owner changes when one node joins."""
    formula_share(scheme, nodes)  # validates the scheme
    if not isinstance(nodes, int) or nodes < 1:
        raise LabError(f"nodes must be a whole number >= 1 (got {nodes!r}).")
    vnodes = vnodes if scheme == "consistent hashing" else 0  # only the ring has virtual nodes
    before = _owners(scheme, nodes, n_keys, vnodes, False)
    after = _owners(scheme, nodes, n_keys, vnodes, True)
    return float(np.mean(before != after))


def load_spread(scheme: str, nodes: int, *, n_keys: int = 10_000, vnodes: int = 160) -> float:
    """The busiest node's share of ``n_keys`` keys over a fair share (1.0 = perfectly even)."""
    formula_share(scheme, nodes)  # validates the scheme
    vnodes = vnodes if scheme == "consistent hashing" else 0
    owners = _owners(scheme, nodes, n_keys, vnodes, False)
    return float(np.bincount(owners, minlength=nodes).max() / (n_keys / nodes))


@memo(maxsize=8)
def _first_requests(n_keys: int, requests_per_second: int, seconds: int, join_at_seconds: int,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each key requested after the join, and the index of its first such request: the
    same trace for every scheme and node count, so a slider's move only recounts."""
    trace = zipf(requests_per_second * seconds, n_keys, 0.9, seed=seed)
    start = join_at_seconds * requests_per_second
    keys, first_index = np.unique(trace[start:], return_index=True)
    return keys, first_index + start


@memo(maxsize=128)
def miss_storm(scheme: str, nodes: int = 3, *, n_keys: int = 10_000, requests_per_second: int = 2_000,
               seconds: int = 60, join_at_seconds: int = 20, vnodes: int = 160, seed: int = 3) -> np.ndarray:
    """Database reads per second around a node joining (the cache warm before it).

    Client-side sharding: the first request for each moved key after the join misses on
    its new node and goes to the database.  Redis Cluster moves the data with the slot,
    so none do (``scheme="redis cluster"``).
    """
    if scheme == "redis cluster":
        return np.zeros(seconds, dtype=int)
    vnodes = vnodes if scheme == "consistent hashing" else 0  # only the ring has virtual nodes
    moved = _owners(scheme, nodes, n_keys, vnodes, False) != _owners(scheme, nodes, n_keys, vnodes, True)
    keys, first_request = _first_requests(n_keys, requests_per_second, seconds, join_at_seconds, seed)
    misses = first_request[moved[keys]]
    return np.bincount(misses // requests_per_second, minlength=seconds)[:seconds]
