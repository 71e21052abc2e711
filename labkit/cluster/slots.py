"""Where a key lives: Redis Cluster's 16,384 hash slots.

``key_slot`` is redis-py's own function (CRC16/XMODEM of the key, or of the part
inside the first non-empty ``{...}``, modulo 16384), so the lab routes keys exactly
as the client library and the server do.
"""

from __future__ import annotations

from redis.crc import key_slot as _redis_key_slot

from ..errors import LabError

__all__ = ["SLOTS", "key_slot", "hash_tag", "slot_ranges", "owner_of_slot"]

SLOTS = 16384


def key_slot(key: str | bytes) -> int:
    """The hash slot (0-16383) of ``key``, honouring ``{hash tags}``."""
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes):
        raise LabError(f"A key must be a string (got {key!r}).")
    return _redis_key_slot(key)


def hash_tag(key: str) -> str | None:
    """The part of ``key`` that is hashed when it has a hash tag, else None."""
    start = key.find("{")
    if start > -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return None


def slot_ranges(masters: int) -> list[tuple[int, int]]:
    """Contiguous, near-equal slot ranges for ``masters`` primaries (inclusive ends),
    as ``redis-cli --cluster create`` assigns them."""
    if masters < 1:
        raise LabError(f"A cluster needs at least one master (got {masters}).")
    bounds = [round(i * SLOTS / masters) for i in range(masters + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(masters)]


def owner_of_slot(slot: int, ranges: list[tuple[int, int]]) -> int:
    """Index of the range (the master) that holds ``slot``."""
    for i, (first, last) in enumerate(ranges):
        if first <= slot <= last:
            return i
    raise LabError(f"Slot {slot} is not covered by any master.")
