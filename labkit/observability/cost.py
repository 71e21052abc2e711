"""What a cached value costs: bytes in Redis, bytes on the wire, microseconds of CPU.

* :func:`string_key_bytes` - what ``MEMORY USAGE`` reports for a string key on
  Redis 7 with jemalloc, computed: the dict entry, the key name, the value object.
  The tests hold it to the real server's own answer.
* :func:`bytes_per_key` - the same plus what ``MEMORY USAGE`` leaves out but
  ``used_memory`` (and ``maxmemory``) count: the key's share of the main hash table
  and, for a key with a TTL, its entry in the expires dictionary (a second table,
  key -> deadline).  Every cache sets TTLs, so that is the default.
* :func:`encode` / :func:`decode` / :func:`measure_formats` - JSON, pickle,
  msgpack, each with and without zlib: size, encode and decode time.
"""

from __future__ import annotations

import json
import pickle
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LabError, check_choice

__all__ = [
    "DICT_ENTRY_BYTES",
    "ROBJ_BYTES",
    "HASH_BUCKET_BYTES",
    "EXPIRES_ENTRY_BYTES",
    "FORMATS",
    "jemalloc_size",
    "string_key_bytes",
    "bytes_per_key",
    "KeyCost",
    "key_cost",
    "encode",
    "decode",
    "FormatCost",
    "measure_formats",
    "sample_record",
    "sample_feed",
    "size_ratio",
    "ttl_bytes",
]

# Redis 7 on 64-bit Linux, built with jemalloc (what `redis-server` ships with).
DICT_ENTRY_BYTES = 24  # key pointer, value pointer, next pointer
ROBJ_BYTES = 16  # the redisObject header: type, encoding, LRU/LFU bits, refcount, pointer
EMBSTR_MAX_BYTES = 44  # up to here the value lives in the same allocation as its header
HASH_BUCKET_BYTES = 8  # one pointer per bucket; the table is a power of two, >= the key count
# A key with a TTL also has an entry in the expires dict: a 24-byte dictEntry (the key's
# pointer shared, the deadline as its value) in jemalloc's 32-byte class, plus that
# table's buckets.  MEMORY USAGE counts none of it.
EXPIRES_ENTRY_BYTES = 32
_LONG_MAX_DIGITS = 20


def jemalloc_size(n: int) -> int:
    """The allocation jemalloc really makes for a request of ``n`` bytes (its size
    classes: 8, 16, 32, 48, ... 128 in steps of 16, then four classes per doubling)."""
    if n <= 8:
        return 8
    if n <= 128:
        return -(-n // 16) * 16
    spacing = 1 << ((n - 1).bit_length() - 3)
    return -(-n // spacing) * spacing


def _sds_header(length: int, *, allow_type5: bool) -> int:
    # Redis strings (sds) pick the smallest header that can store the length.
    if allow_type5 and length < 32:
        return 1
    if length < 256:
        return 3
    if length < 65536:
        return 5
    return 9


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _is_integer_encoded(value: bytes) -> bool:
    # Redis stores a value that reads back as the same 64-bit integer in the header itself.
    if not value or len(value) > _LONG_MAX_DIGITS:
        return False
    try:
        number = int(value)
    except ValueError:
        return False
    return str(number).encode() == value and -(2**63) <= number < 2**63


def string_key_bytes(key: str | bytes, value: str | bytes) -> int:
    """``MEMORY USAGE`` of a string key, computed (Redis 7, jemalloc, no TTL).

    >>> string_key_bytes("labkit:10:a", "x")
    72
    """
    key_b, value_b = _as_bytes(key), _as_bytes(value)
    if not key_b:
        raise LabError("A key name cannot be empty.")
    key_bytes = jemalloc_size(_sds_header(len(key_b), allow_type5=True) + len(key_b) + 1)
    if _is_integer_encoded(value_b):
        value_bytes = ROBJ_BYTES
    elif len(value_b) <= EMBSTR_MAX_BYTES:
        value_bytes = jemalloc_size(ROBJ_BYTES + 3 + len(value_b) + 1)
    else:
        value_bytes = ROBJ_BYTES + jemalloc_size(_sds_header(len(value_b), allow_type5=False) + len(value_b) + 1)
    return DICT_ENTRY_BYTES + key_bytes + value_bytes


def ttl_bytes() -> int:
    """What a TTL adds to a key: its expires-dict entry and buckets (worst load: two per key)."""
    return EXPIRES_ENTRY_BYTES + 2 * HASH_BUCKET_BYTES


def bytes_per_key(key: str | bytes, value: str | bytes, *, ttl: bool = True) -> int:
    """What one more such key adds to ``used_memory``: ``MEMORY USAGE`` plus its
    share of the main hash table, counted at the worst load (two buckets per key),
    plus - with a TTL, as a cache sets one - its expires-dict entry (:func:`ttl_bytes`).

    >>> bytes_per_key("labkit:10:a", "x", ttl=False), bytes_per_key("labkit:10:a", "x")
    (88, 136)
    """
    return string_key_bytes(key, value) + 2 * HASH_BUCKET_BYTES + (ttl_bytes() if ttl else 0)


@dataclass(frozen=True)
class KeyCost:
    """Where a key's bytes go, as ``MEMORY USAGE`` counts them (plus the table and the TTL)."""

    key: str
    value_bytes: int
    name_bytes: int
    memory_usage_bytes: int
    used_memory_bytes: int
    ttl_bytes: int = 0

    @property
    def overhead_bytes(self) -> int:
        """Everything that is not the value's own bytes: entry, headers, rounding, table."""
        return self.used_memory_bytes - self.value_bytes

    @property
    def overhead_share(self) -> float:
        return self.overhead_bytes / self.used_memory_bytes


def key_cost(key: str, value: str | bytes, *, ttl: bool = True) -> KeyCost:
    """The computed cost of one string key, split into its parts."""
    return KeyCost(
        key=key,
        value_bytes=len(_as_bytes(value)),
        name_bytes=len(_as_bytes(key)),
        memory_usage_bytes=string_key_bytes(key, value),
        used_memory_bytes=bytes_per_key(key, value, ttl=ttl),
        ttl_bytes=ttl_bytes() if ttl else 0,
    )


# -- serialization formats ------------------------------------------------------------


def _msgpack() -> Any:
    import msgpack

    return msgpack


_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "json": lambda obj: json.dumps(obj, separators=(",", ":")).encode(),
    "pickle": lambda obj: pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL),
    "msgpack": lambda obj: _msgpack().packb(obj),
}
_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "json": lambda data: json.loads(data),
    # Only ever unpickle bytes this process wrote: pickle runs code from its input.
    "pickle": lambda data: pickle.loads(data),  # noqa: S301
    "msgpack": lambda data: _msgpack().unpackb(data),
}
FORMATS = ("json", "pickle", "msgpack", "json+zlib", "pickle+zlib", "msgpack+zlib")


def encode(obj: Any, fmt: str) -> bytes:
    """``obj`` in one of :data:`FORMATS` (``"+zlib"``: compressed at level 6)."""
    check_choice("format", fmt, FORMATS)
    base, _, zipped = fmt.partition("+")
    data = _ENCODERS[base](obj)
    return zlib.compress(data, 6) if zipped else data


def decode(data: bytes, fmt: str) -> Any:
    check_choice("format", fmt, FORMATS)
    base, _, zipped = fmt.partition("+")
    return _DECODERS[base](zlib.decompress(data) if zipped else data)


@dataclass(frozen=True)
class FormatCost:
    """One format on one value: bytes stored, and microseconds to encode and decode."""

    format: str
    size_bytes: int
    memory_bytes: int  # used_memory for the key holding it (computed)
    encode_us: float
    decode_us: float


def _median_us(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return float(np.median(samples)) * 1e6


def measure_formats(
    obj: Any, formats: Sequence[str] = FORMATS, *, key: str = "labkit:10:value", repeat: int = 50
) -> list[FormatCost]:
    """Encode ``obj`` in each format: size, memory as a key, median encode/decode time.

    Sizes are exact; times are this machine's, right now (compare them as ratios).
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise LabError(f"repeat must be a whole number >= 1 (got {repeat!r}).")
    out = []
    for fmt in formats:
        data = encode(obj, fmt)
        if decode(data, fmt) != obj:
            raise LabError(f"{fmt} does not give this value back unchanged; use plain dicts, lists, str and numbers.")
        out.append(
            FormatCost(
                format=fmt,
                size_bytes=len(data),
                memory_bytes=bytes_per_key(key, data),
                encode_us=_median_us(lambda fmt=fmt: encode(obj, fmt), repeat),
                decode_us=_median_us(lambda data=data, fmt=fmt: decode(data, fmt), repeat),
            )
        )
    return out


# -- sample values (seeded, so sizes are the same on every run) -----------------------

_WORDS = (
    "steel",
    "kettle",
    "walnut",
    "linen",
    "copper",
    "lamp",
    "ceramic",
    "mug",
    "oak",
    "shelf",
    "wool",
    "blanket",
    "glass",
    "vase",
    "cotton",
    "towel",
    "brass",
    "hook",
    "pine",
    "stool",
)


def sample_record(product_id: int, *, seed: int = 0) -> dict[str, Any]:
    """A product as an API would cache it: a dict of about 300 bytes of JSON."""
    rng = np.random.default_rng(seed * 1_000_003 + product_id)
    words = [str(w) for w in rng.choice(_WORDS, 3)]
    return {
        "id": int(product_id),
        "name": " ".join(words).title(),
        "price_cents": int(rng.integers(199, 99_999)),
        "currency": "EUR",
        "in_stock": bool(rng.random() < 0.8),
        "rating": round(float(rng.uniform(1, 5)), 1),
        "tags": words,
        "description": f"A {words[0]} {words[1]} for the {words[2]} - ships in {int(rng.integers(1, 6))} days.",
        "updated_at": "2026-11-30T12:00:00Z",
    }


def size_ratio(items: int, fmt: str) -> float:
    """How many times smaller a feed of ``items`` products is in ``fmt`` than in JSON -
    the one computation behind the format chart's title, its caption and the prose."""
    feed = sample_feed(items)
    return len(encode(feed, "json")) / len(encode(feed, fmt))


def sample_feed(items: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """A list of ``items`` products - a "home page feed" value that grows big."""
    if isinstance(items, bool) or not isinstance(items, int) or items < 1:
        raise LabError(f"items must be a whole number >= 1 (got {items!r}).")
    return [sample_record(i, seed=seed) for i in range(items)]
