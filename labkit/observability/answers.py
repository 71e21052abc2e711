"""The graders of notebook 10's exercises, and the shelf of keys the big-key one hides in.

Pure functions (no widgets): each ``check_*`` takes the learner's answer and returns
``(passed, message)`` - or ``(passed, message, evidence)`` - naming the mistake it
recognises; :mod:`.lesson` wraps them in :class:`~labkit.exercises.Exercise` objects.
"""

from __future__ import annotations

import base64
import functools
import zlib
from typing import Any

import numpy as np

from ..errors import LabError
from ..store import Store
from . import sizing
from .cost import bytes_per_key, encode, sample_feed, sample_record, string_key_bytes, ttl_bytes

__all__ = [
    "SHELF_HOT_KEY", "shelf_values", "plant_shelf", "check_big_key", "check_budget",
    "check_pressure", "pressure_answer",
]

SHELF_HOT_KEY = "shelf:flags"


def shelf_values() -> dict[str, str]:
    """The keys the big-key exercise hides among: one long name, one hot key, one
    big feed stored compressed, one stored as plain JSON."""
    return dict(_shelf())


@functools.cache
def _shelf() -> tuple[tuple[str, str], ...]:
    values = {f"shelf:product:{i}": encode(sample_record(i), "json").decode() for i in range(30)}
    values["shelf:recently-viewed-by-customer-4711-in-the-last-thirty-days-on-the-mobile-app"] = "[17,42,99]"
    values[SHELF_HOT_KEY] = '{"dark_mode":true}'
    values["shelf:feed:home"] = "z:" + base64.b64encode(zlib.compress(encode(sample_feed(200), "json"), 6)).decode()
    values["shelf:feed:deals"] = encode(sample_feed(60, seed=3), "json").decode()
    return tuple(values.items())


def plant_shelf(store: Store) -> dict[str, int]:
    """Write the exercise's keys into ``store``; return how often each was read (the hot one most)."""
    for key, value in shelf_values().items():
        store.set(key, value, 3600)
    reads = {key: 3 for key in shelf_values()}
    reads[SHELF_HOT_KEY] = 25_000
    return reads


def _decoded_bytes(value: str) -> int:
    if value.startswith("z:"):
        return len(zlib.decompress(base64.b64decode(value[2:])))
    return len(value.encode())


def check_big_key(answer: Any) -> tuple[bool, str]:
    values = shelf_values()
    key = str(answer).split(":", 3)[-1] if str(answer).startswith("labkit:") else str(answer)
    if key not in values:
        raise LabError(f"{answer!r} is not one of the shelf's keys; list them with store.scan_keys('shelf:*').")
    memory = {k: string_key_bytes(k, v) for k, v in values.items()}
    biggest = max(memory, key=lambda k: memory[k])
    if key == biggest:
        return True, f"{key} holds {memory[key]:,} B - the most memory of any shelf key (MEMORY USAGE)."
    if key == SHELF_HOT_KEY:
        return False, (
            f"{key} is the hottest key (read most), but holds only {memory[key]:,} B - "
            "the hottest key is not the big key; rank by MEMORY USAGE."
        )
    if key == max(values, key=len):
        return False, (
            f"{key} has the longest key name, but its value is tiny ({memory[key]:,} B in all) - "
            "the longest key name is not the big key."
        )
    if key == max(values, key=lambda k: _decoded_bytes(values[k])):
        return False, (
            f"{key} is the biggest once decoded ({_decoded_bytes(values[key]):,} B), but it is stored "
            f"compressed: Redis holds {memory[key]:,} B. Ranking judged by decoded size misses what Redis holds."
        )
    return False, f"{key} holds {memory[key]:,} B; another key holds more. Rank the shelf by MEMORY USAGE."


def check_budget(answer: Any) -> tuple[bool, str, Any]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or answer <= 0:
        raise LabError(f"Answer with a number of bytes, e.g. 1_500_000 (got {answer!r}).")
    plan = sizing.plan_for(0.9)
    budget = float(answer)
    predicted = sizing.hit_ratio_for_budget(budget)
    if budget < plan.bytes_per_key or abs(budget - plan.capacity_keys) <= 0.1 * plan.capacity_keys:
        return (
            False,
            (
                f"{budget:,.0f} bytes hold {int(budget // plan.bytes_per_key):,} keys: that looks like a key count - "
                "objects, not bytes. "
                f"maxmemory is in bytes; multiply by what one key costs ({plan.bytes_per_key} B)."
            ),
            None,
        )
    if abs(budget - plan.values_only_bytes) <= 0.1 * plan.values_only_bytes:
        return (
            False,
            (
                f"{budget:,.0f} B counts only the values ({plan.value_bytes} B each) - values only. Each key "
                f"really costs {plan.bytes_per_key} B: key name, dict entry, header, rounding. "
                f"The model predicts {predicted:.1%}."
            ),
            None,
        )
    if predicted < plan.target:
        key = sizing.SIZING.prefix() + sizing.SIZING.key(sizing.SIZING.n_keys - 1)
        value = "v" * plan.value_bytes
        per_key = budget / plan.capacity_keys
        why = ""
        if abs(per_key - bytes_per_key(key, value, ttl=False)) <= 2:
            why = (f" {per_key:.0f} B per key is a key without a TTL: it forgot the TTL's entry - a cache sets a "
                   f"TTL, and each costs {ttl_bytes()} B more in the expires dict.")
        elif abs(per_key - string_key_bytes(key, value)) <= 2:
            why = (f" {per_key:.0f} B per key is MEMORY USAGE only: used_memory also pays for the hash table's "
                   "buckets and the TTL's entry, which MEMORY USAGE leaves out.")
        return False, (f"{budget:,.0f} B holds {int(budget // plan.bytes_per_key):,} keys at {plan.bytes_per_key} B "
                       f"each and predicts {predicted:.1%} hits; 90% needs more.{why}"), None
    if budget > 1.5 * plan.budget_bytes:
        everything = plan.distinct_keys * plan.bytes_per_key
        what = " - the whole key space" if budget >= 0.9 * everything else ""
        return (
            False,
            (
                f"{budget:,.0f} B reaches 90%, but so does {plan.budget_bytes:,} B: "
                f"{budget / plan.budget_bytes:.1f}x the memory{what}. Size from the curve, not the key count."
            ),
            None,
        )
    verified = sizing.verify_on_server(int(budget))
    if verified.skipped_reason:
        return (
            True,
            f"{budget:,.0f} B predicts {predicted:.1%} hits (model; no server to check on: {verified.skipped_reason})",
            None,
        )
    measured = verified.runs[0]
    # In a replay of about a second, Redis's 1 s LRU clock sees every key as equally recent, so its
    # LRU acts like random eviction: 1.5 points under exact LRU at the planned keys (claim
    # random_floor), and the server holds a few percent fewer keys than planned (about half a point).
    # Four points leave two for a busy machine; a budget far too small lands well below.
    ok = measured.hit_ratio >= plan.target - 0.04
    return (
        ok,
        (
            f"{budget:,.0f} B: model {predicted:.1%}; the lab's own server measured {measured.hit_ratio:.1%} "
            f"under allkeys-lru with {measured.keys_held:,} keys held"
            + ("" if ok else " - too far under 90% even for Redis's approximate LRU.")
        ),
        verified.rows(),
    )


# -- too small, or too short? ---------------------------------------------------------------


def pressure_answer() -> dict[str, str]:
    """The right diagnosis of each of the exercise's caches."""
    from .pressure import CASES

    return {case.name: case.truth for case in CASES}


def check_pressure(answer: Any) -> tuple[bool, str, Any]:
    from .pressure import CASES, DIAGNOSES, model_run

    names = [case.name for case in CASES]
    choices = {d.lower(): d for d in DIAGNOSES}
    if not isinstance(answer, dict) or sorted(answer) != sorted(names) or not all(
        isinstance(v, str) and v.strip().lower() in choices for v in answer.values()
    ):
        raise LabError(f"Answer with a dict naming each cache: {{{', '.join(repr(n) + ': ...' for n in names)}}}, "
                       f"each one of {', '.join(repr(d) for d in DIAGNOSES)}.")
    said = {name: choices[answer[name].strip().lower()] for name in names}
    counters = {case.name: model_run(case) for case in CASES}
    truth = {case.name: case.truth for case in CASES}
    wrong = [name for name in names if said[name] != truth[name]]
    if not wrong:
        return True, ("each diagnosis matches the counters: " + "; ".join(
            f"{name} {truth[name]}" for name in names) + "."), None
    seen = []
    for name in wrong:
        c = counters[name]
        if truth[name] == "TTL too short":
            seen.append(f"{name} expired {c.expired_keys:,} keys and evicted {c.evicted_keys:,}: its keys left on "
                        "their own with memory to spare, so more memory would change nothing")
        elif truth[name] == "too small":
            seen.append(f"{name} evicted {c.evicted_keys:,} keys and expired {c.expired_keys:,}, at "
                        f"{c.hit_ratio:.0%} hits: it is full and throws out keys it will need again")
        else:
            seen.append(f"{name} hits {c.hit_ratio:.0%}, at its target; its {c.evicted_keys:,} evictions are the tail "
                        "every cache sized below its whole key space evicts")
    bad = [n for n in names if truth[n] != "healthy"]
    name = ""
    if all(said[n] == "too small" for n in bad) and said != truth:
        name = " (judged by hit ratio alone: both low ratios read as 'buy memory')"
    elif said[[n for n in names if truth[n] == "healthy"][0]] == "too small":
        name = " (evictions mean too small - not when the hit ratio is on target)"
    elif all(said[n] != truth[n] and said[n] != "healthy" for n in bad):
        name = " (expired and evicted swapped)"
    rows = [counters[n].as_row() | {"you said": said[n]} for n in names]
    return False, "; ".join(seen) + "." + name, rows
