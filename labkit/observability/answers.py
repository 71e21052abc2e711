"""The graders of notebook 10's exercises, and the shelf of keys the big-key one hides in.

Pure functions (no widgets): each ``check_*`` takes the learner's answer and returns
``(passed, message)`` - or ``(passed, message, evidence)`` - naming the mistake it
recognises; :mod:`.lesson` wraps them in :class:`~labkit.exercises.Exercise` objects.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LabError
from ..exercises import Verdict
from ..store import Store
from . import sizing
from .cost import encode, sample_feed, sample_record, string_key_bytes
from .workload import MYSTERY_RUN, MYSTERY_SHOP, SHOP_RUN, watched_run

__all__ = [
    "SHELF_HOT_KEY", "shelf_values", "plant_shelf", "check_big_key", "check_prefix", "check_budget",
    "SAMPLER_SKELETON", "estimate_stale_share", "SAMPLER_SCENARIOS", "SAMPLER_MISTAKES",
]

SHELF_HOT_KEY = "shelf:flags"


def shelf_values() -> dict[str, str]:
    """The keys the big-key exercise hides among: one long name, one hot key, one
    big feed stored compressed, one stored as plain JSON."""
    values = {f"shelf:product:{i}": encode(sample_record(i), "json").decode() for i in range(30)}
    values["shelf:recently-viewed-by-customer-4711-in-the-last-thirty-days-on-the-mobile-app"] = "[17,42,99]"
    values[SHELF_HOT_KEY] = '{"dark_mode":true}'
    values["shelf:feed:home"] = "z:" + base64.b64encode(zlib.compress(encode(sample_feed(200), "json"), 6)).decode()
    values["shelf:feed:deals"] = encode(sample_feed(60, seed=3), "json").decode()
    return values


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


def check_prefix(answer: Any) -> tuple[bool, str]:
    reading = watched_run(MYSTERY_RUN)[0]
    names = list(reading.prefixes)
    if not isinstance(answer, str) or answer.rstrip(":") not in names:
        raise LabError(f"Answer with one prefix as a string: one of {', '.join(repr(n) for n in names)}.")
    chosen = reading.prefixes[answer.rstrip(":")]
    worst = reading.worst()
    if chosen.prefix == worst.prefix:
        return True, (
            f"'{worst.prefix}' hits {worst.hit_ratio:.0%} against {reading.overall.hit_ratio:.0%} overall: "
            "its TTL is far too short for how often it is read."
        )
    busiest = max(reading.prefixes.values(), key=lambda r: r.lookups)
    biggest = max(MYSTERY_SHOP, key=lambda d: d.value_bytes)
    why = ""
    if chosen.prefix == busiest.prefix:
        why = " - the busiest prefix, not the one with the worst hit ratio"
    elif chosen.prefix == biggest.prefix:
        why = " - the biggest values, which cost memory, not hits"
    return False, f"'{chosen.prefix}' hits {chosen.hit_ratio:.0%}{why}. Compare each prefix's own hit ratio."


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
        return False, f"{budget:,.0f} B predicts {predicted:.1%} hits; 90% needs more.", None
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
    # Redis's LRU is approximate (see section 4): it may land up to 4 points under exact LRU.
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


# -- implement: the staleness sampler ---------------------------------------------------------------

SAMPLER_SKELETON = '''def estimate_stale_share(hits, is_stale, n):
    """Estimate the share of stale cache hits by re-reading at most n of them.

    hits: a list of cache hits, in the order they happened.
    is_stale(hit): re-reads that hit's row from the database (one query) and says
        whether the cached copy was stale.
    Return (estimate, low, high): the stale share in the sample and its 95% interval
    (obs.wilson_interval(stale, n) computes one).
    """
    ...
'''


def estimate_stale_share(hits, is_stale, n):
    """Re-read a random sample of ``n`` hits; the stale share and its Wilson interval."""
    import random

    from labkit.observability import wilson_interval

    sample = random.sample(hits, n)
    stale = sum(1 for hit in sample if is_stale(hit))
    low, high = wilson_interval(stale, n)
    return stale / n, low, high


@dataclass(frozen=True)
class SampledHit:
    """A hit as the sampler sees it: which key, and when (its position in the traffic)."""

    key: str
    at: int


def _graded_hits() -> tuple[list[SampledHit], np.ndarray]:
    hits = watched_run(SHOP_RUN)[1].hits
    return [SampledHit(h.key, h.index) for h in hits], np.fromiter((h.stale for h in hits), dtype=bool)


def _call(answer: Any, hits: list[SampledHit], flags: np.ndarray, n: int, seed: int) -> tuple[tuple[float, ...], int]:
    """Run the learner's sampler once with seeded randomness; return its answer and its re-reads."""
    import random

    index = {id(h): i for i, h in enumerate(hits)}
    calls = 0

    def is_stale(hit: SampledHit) -> bool:
        nonlocal calls
        calls += 1
        return bool(flags[index[id(hit)]])

    state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        result = answer(hits, is_stale, n)
    finally:
        random.setstate(state)
        np.random.set_state(np_state)
    try:
        estimate, low, high = (float(x) for x in result)
    except (TypeError, ValueError):
        raise LabError(f"Return (estimate, low, high) - three numbers (got {result!r}).") from None
    return (estimate, low, high), calls


def _budget(answer: Any) -> Verdict:
    hits, flags = _graded_hits()
    (estimate, _low, _high), calls = _call(answer, hits, flags, 200, seed=1)
    if calls > 200:
        return Verdict(False, f"asked for 200 re-reads, your sampler made {calls:,} database queries - the sign "
                              "of re-reads every hit: the check would load the database like the cache never existed.",
                       [{"hits": len(hits), "sample asked": 200, "re-reads made": calls}])
    return Verdict(True, f"{calls} re-reads, estimate {estimate:.1%}")


def _unbiased(answer: Any) -> Verdict:
    hits, flags = _graded_hits()
    truth = float(flags.mean())
    rows = []
    for trial in range(30):
        (estimate, low, high), _ = _call(answer, hits, flags, 400, seed=100 + trial)
        rows.append({"trial": trial + 1, "estimate": f"{estimate:.2%}", "interval": f"{low:.2%}-{high:.2%}",
                     "truth": f"{truth:.2%}"})
        rows[-1]["_value"] = estimate
    mean = float(np.mean([r.pop("_value") for r in rows]))
    if abs(mean - truth) > max(0.01, truth / 3):
        return Verdict(False, f"30 samples of 400 averaged {mean:.2%}; all hits: {truth:.2%} - the sign of the "
                              "first n hits: traffic comes in time order and staleness builds up, so the sample "
                              "must be random.",
                       rows[:8])
    return Verdict(True, f"30 samples averaged {mean:.2%} against {truth:.2%}")


def _covers(answer: Any) -> Verdict:
    hits, flags = _graded_hits()
    truth = float(flags.mean())
    rows, covered = [], 0
    for trial in range(100):
        (estimate, low, high), _ = _call(answer, hits, flags, 100, seed=1000 + trial)
        if not -1e-9 <= low <= estimate + 1e-9 and estimate <= high + 1e-9 and high <= 1.0 + 1e-9:
            return Verdict(False, f"trial {trial + 1}: ({estimate:.3f}, {low:.3f}, {high:.3f}) is not "
                                  "0 <= low <= estimate <= high <= 1.")
        covered += low <= truth <= high
        if len(rows) < 8:
            rows.append({"trial": trial + 1, "estimate": f"{estimate:.2%}", "low": f"{low:.2%}", "high": f"{high:.2%}",
                         "contains the truth": "yes" if low <= truth <= high else "NO"})
    if covered < 85:
        return Verdict(False, f"only {covered} of 100 intervals contain the true {truth:.2%} (a 95% interval should "
                              "hold it about 95 times) - a zero-width interval, or one too narrow, claims a "
                              "certainty a sample of 100 does not have.", rows)
    return Verdict(True, f"{covered} of 100 intervals contain the truth")


def first_n_sampler(hits, is_stale, n):
    from labkit.observability import wilson_interval

    stale = sum(1 for hit in hits[:n] if is_stale(hit))
    return (stale / n, *wilson_interval(stale, n))


def every_hit_sampler(hits, is_stale, n):
    from labkit.observability import wilson_interval

    stale = sum(1 for hit in hits if is_stale(hit))
    return (stale / len(hits), *wilson_interval(stale, len(hits)))


def pointwise_sampler(hits, is_stale, n):
    import random

    share = sum(1 for hit in random.sample(hits, n) if is_stale(hit)) / n
    return share, share, share


SAMPLER_SCENARIOS = [("a budget of re-reads", _budget), ("a random sample", _unbiased),
                     ("an honest interval", _covers)]
SAMPLER_MISTAKES = {"re-reads every hit": every_hit_sampler, "the first n hits": first_n_sampler,
                    "a zero-width interval": pointwise_sampler}
