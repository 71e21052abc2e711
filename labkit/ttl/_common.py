"""Shared by the TTL modules: the simulation's time grid and the input checks."""

from __future__ import annotations

import math
from typing import Any

from ..errors import LabError, is_number

# Event times live on an integer grid of 2**-20 s (about 1 µs).  Every time, TTL
# and expiry is then an exact binary fraction, so the float arithmetic of the
# MemoryStore replay (now + ttl, expiry <= now) gives bit-for-bit the answers the
# integer simulation gives.
TICKS_PER_SECOND = 2**20
# A read's sort code is key * 2**41 + tick: one sorted int64 array holds every
# key's reads in time order, and one searchsorted finds "the first read of this
# key at or after t" for all reads at once.
_KEY_SHIFT = 41
_KEY_SPAN = 1 << _KEY_SHIFT
_HALF_SPAN = _KEY_SPAN // 2
_MAX_SPAN_SECONDS = _HALF_SPAN // TICKS_PER_SECOND  # history + duration must fit
_MAX_KEYS = 1_000_000
_STARTS = ("steady", "bulk", "cold")


# ---------------------------------------------------------------------------------
# Input checks: one sentence each, saying how to fix it
# ---------------------------------------------------------------------------------


def _check_ttl(ttl_seconds: Any, name: str = "ttl_seconds") -> float:
    if not is_number(ttl_seconds) or ttl_seconds <= 0 or math.isinf(float(ttl_seconds)):
        raise LabError(
            f"{name} must be a number of seconds > 0 (got {ttl_seconds!r}); "
            "a TTL cache needs a finite TTL, for example 300 for five minutes."
        )
    if float(ttl_seconds) * TICKS_PER_SECOND < 1:
        raise LabError(f"{name} must be at least 1 µs (got {ttl_seconds!r}).")
    return float(ttl_seconds)


def _check_rate(name: str, value: Any, *, allow_zero: bool) -> float:
    ok = is_number(value) and math.isfinite(float(value)) and (
        value >= 0 if allow_zero else value > 0
    )
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise LabError(f"{name} must be a finite number {bound} (got {value!r}); a rate cannot be negative.")
    return float(value)


def _check_alpha(alpha: Any) -> float:
    if not is_number(alpha) or alpha <= 0 or not math.isfinite(float(alpha)):
        raise LabError(
            f"alpha must be > 0 (got {alpha!r}); Zipf skew around 0.6-1.2 is typical, "
            "and a small alpha such as 0.1 is close to uniform."
        )
    return float(alpha)


def _check_fraction(name: str, value: Any, *, upper: float = 1.0) -> float:
    if not is_number(value) or not 0 <= value < upper:
        raise LabError(f"{name} must be at least 0 and below {upper:g} (got {value!r}); use 0.1 for ±10%.")
    return float(value)


def _check_duration(name: str, value: Any) -> float:
    if not is_number(value) or value <= 0 or value > _MAX_SPAN_SECONDS:
        raise LabError(
            f"{name} must be between 0 and {_MAX_SPAN_SECONDS:,} seconds (got {value!r})."
        )
    return float(value)


def _ticks(seconds: float) -> int:
    return max(1, int(round(seconds * TICKS_PER_SECOND)))
