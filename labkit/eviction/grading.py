"""Notebook 05's two graded exercises that replay or simulate: write SIEVE, and size
a cache from a sampled hit-ratio curve.

* **write-sieve** replays the learner's class and the lab's own SIEVE (or CLOCK)
  on four traces and compares every request's hit or miss.  At the first request
  where they part, the feedback says what the lab's cache did with that key (when
  it was evicted, or that it is still held); a listed mistake is named only when
  the learner's hits match it exactly on that trace.
* **size-from-a-sample** grades a capacity by the full simulation, within the error
  a 10% sample really has (measured over hash seeds, see ``SIZING_READS_LOW``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import LabError
from .results import (  # noqa: F401 - the sizing exercise's numbers, as the notebook and tests use them
    SIZING_CAPACITIES,
    SIZING_KEYS,
    SIZING_POLICY,
    SIZING_READS_HIGH,
    SIZING_READS_LOW,
    SIZING_SAMPLE_RATE,
    SIZING_TARGET,
    SPREAD_CAPACITIES,
    lesson_trace,
    sampled_sizing_curve,
    sampling_spread,
    sizing_answer,
    sizing_hit_ratio,
    sizing_trace,
)

__all__ = [
    "SIEVE_SKELETON",
    "SIEVE_SCENARIOS",
    "sieve_exercise",
    "SIZING_POLICY",
    "SIZING_TARGET",
    "SIZING_SAMPLE_RATE",
    "SIZING_CAPACITIES",
    "SIZING_READS_LOW",
    "SIZING_READS_HIGH",
    "SIZING_KEYS",
    "sizing_trace",
    "sizing_hit_ratio",
    "sampled_sizing_curve",
    "sizing_answer",
    "sampling_spread",
    "check_sizing",
    "sizing_exercise",
]

# -- implement SIEVE (or CLOCK) -------------------------------------------------

# The notebook's cell subclasses eviction.Policy; the grader needs only access(), so the
# skeleton stands alone (it runs without any import).
SIEVE_SKELETON = '''class MySieve:
    """SIEVE: new keys join at the head; a hand walks from the tail (oldest) towards
    the head, sparing keys visited since it last passed (clearing their bit, leaving
    them in place) and evicting the first unvisited key."""

    name = "sieve"   # or "clock" if you write CLOCK instead

    def __init__(self, capacity, *, seed=0):
        ...

    def access(self, key):
        """Return True on a hit; on a miss, evict if full, then admit the key."""
        ...'''

_SMALL_TRACE = (0, 1, 2, 3, 0, 1, 2, 3, 7, 5, 4, 2, 2, 0, 0, 0, 1, 7, 5, 8, 4, 5, 8, 6, 5, 4, 5, 8, 2, 7, 6,
                0, 3, 7, 4, 0, 6, 6, 7, 1, 0, 7, 0, 4, 0, 2, 4, 3)
# (scenario name, trace shape or None for the small hand-checked trace, capacity)
SIEVE_SCENARIOS = (
    ("every key visited, then newcomers (cache of 4)", None, 4),
    ("Zipf (cache of 2% of the keys)", "zipf", 100),
    ("Zipf plus a one-off scan (cache of 5%)", "zipf+scan", 500),
    ("a moving hot set (cache of 5%)", "shifting", 250),
)
_GRADED_REQUESTS = 20_000
# A correct class answers the 48 hand-checked requests in microseconds and 20,000 requests
# in well under a second; a hand that goes round forever is stopped at these limits, so a
# whole check stays under 2 s.
_SMALL_SECONDS, _LONG_SECONDS = 0.3, 1.2


def _scenario_keys(shape: str | None) -> list[int]:
    if shape is None:
        return list(_SMALL_TRACE)
    return lesson_trace(shape)[:_GRADED_REQUESTS].tolist()


def _resident(policy: Any) -> Any:
    """The reference policy's cached keys (LearnerSieve keeps ``visited``, LearnerClock ``slot_of``)."""
    return policy.visited if hasattr(policy, "visited") else policy.slot_of


def explain_divergence(reference: Any, keys: list[int], at: int, target: str) -> str:
    """What the lab's cache did with the key of request ``at``: the evidence, in one sentence."""
    key = keys[at]
    seen = [i for i in range(at) if keys[i] == key]
    if not seen:
        return f"Key {key} is requested there for the first time: it cannot be cached yet, so it must be a miss."
    policy, left_at = reference, None
    for i in range(at):
        was_in = key in _resident(policy)
        policy.access(keys[i])
        if was_in and key not in _resident(policy):
            left_at = i
    if key in _resident(policy):
        return (f"The lab's {target} still holds key {key} (last requested at #{seen[-1]}): "
                "yours did not hold it.")
    return (f"The lab's {target} evicted key {key} at request #{left_at} (key {keys[left_at]} needed room and "
            f"the hand found {key} not visited): yours still held it.")


def _sieve_scenario(title: str, shape: str | None, capacity: int) -> Any:
    from ..exercises import Scenario, Verdict
    from .answers import MISTAKES, LearnerClock, LearnerSieve
    from .replay import divergence_rows, first_divergence, make_learner_policy, replay, same_hits

    seconds = _SMALL_SECONDS if shape is None else _LONG_SECONDS

    def matching_mistake(answer: Any, got: Any, keys: list[int]) -> str:
        """The listed mistake whose hits are exactly the learner's, request for request, on this
        trace and (after the 48 hand-checked requests, which two different bugs can share) on a
        20,000-request Zipf trace too."""
        for mistake, cls in MISTAKES.items():
            other = replay(cls(capacity), keys, seconds=0.1 if shape is None else 0.3)
            if other.timed_out != got.timed_out or other.hits != got.hits:
                continue
            if shape is None and not got.timed_out:
                _, long_shape, long_capacity = SIEVE_SCENARIOS[1]
                long_keys = _scenario_keys(long_shape)
                theirs = replay(cls(long_capacity), long_keys, seconds=0.5)
                yours = replay(make_learner_policy(answer, long_capacity), long_keys, seconds=0.5)
                if theirs.timed_out or yours.timed_out or theirs.hits != yours.hits:
                    continue
            return mistake
        return ""

    def run(answer: Any) -> Verdict:
        keys = _scenario_keys(shape)
        wants_clock = getattr(answer, "name", "sieve") == "clock"
        target, other = ("CLOCK", "SIEVE") if wants_clock else ("SIEVE", "CLOCK")
        reference = LearnerClock if wants_clock else LearnerSieve
        expected = replay(reference(capacity), keys).hits
        got = replay(make_learner_policy(answer, capacity), keys, seconds=seconds)
        if got.hits == expected:
            return Verdict(True, f"{sum(expected):,} hits, exactly the lab's {target}.")
        mistake = "" if wants_clock else matching_mistake(answer, got, keys)
        named = f" Your hits match a SIEVE that {mistake}." if mistake else ""
        if not mistake and same_hits(lambda: (LearnerSieve if wants_clock else LearnerClock)(capacity), keys,
                                     got.hits):
            named = (f" Your hits match {other} exactly" + (
                "; set name = \"clock\" if that is what you meant." if not wants_clock
                else "; set name = \"sieve\" if that is what you meant."))
        if got.timed_out:
            at = len(got.hits)
            return Verdict(False, (
                f"your {target} was still evicting after {seconds:g} s at request #{at} (key {keys[at]}), with "
                f"{len(got.hits):,} requests answered: its eviction loop never ends.{named}"
            ), divergence_rows(keys, expected, got.hits, at))
        where = first_divergence(expected, got.hits)
        at = where.request if where is not None else min(len(got.hits), len(keys) - 1)
        why = explain_divergence(reference(capacity), keys, at, target)
        message = (f"{sum(got.hits):,} hits where the lab's {target} gets {sum(expected):,}; first different "
                   f"at request #{at} (key {keys[at]}): yours {'hit' if got.hits[at] else 'missed'}. "
                   f"{why}{named}")
        return Verdict(False, message, divergence_rows(keys, expected, got.hits, at))

    return Scenario(title, run)


# Mutants of LearnerSieve that no replay can tell from it (tools/mutation_report.py reads these).
_SEED_UNUSED = "SIEVE draws no random numbers: the seed is stored and never read."
_FALSY_BIT = "the bit is only ever tested for truth, and None is false exactly as False is."
_NAME_LABEL = ("the name only tells the grader whether the class is CLOCK: any name but \"clock\" is "
               "graded as SIEVE, the exercise's default.")
_SIEVE_EQUIVALENT_MUTANTS = {
    'LearnerSieve: name = "sieve" => name = None': _NAME_LABEL,
    'LearnerSieve: name = "sieve" => name = "XXsieveXX"': _NAME_LABEL,
    'LearnerSieve: name = "sieve" => name = "SIEVE"': _NAME_LABEL,
    "LearnerSieve.__init__: def __init__(self, capacity: int, *, seed: int = 0) -> None: => "
    "def __init__(self, capacity: int, *, seed: int = 1) -> None:": _SEED_UNUSED,
    "LearnerSieve.__init__: super().__init__(capacity, seed=seed) => super().__init__(capacity, seed=None)":
        _SEED_UNUSED,
    "LearnerSieve.__init__: super().__init__(capacity, seed=seed) => super().__init__(capacity, )": _SEED_UNUSED,
    "LearnerSieve.access: self.visited[key] = False => self.visited[key] = None": _FALSY_BIT,
    "LearnerSieve.evict: self.visited[key] = False  # spared, and it stays where it is => "
    "self.visited[key] = None  # spared, and it stays where it is": _FALSY_BIT,
    "LearnerSieve.access: return False => pass": "a miss then returns None instead of False; a hit is "
    "counted by truth, and None is false exactly as False is.",
}


def sieve_exercise() -> Any:
    from ..exercises import Implement
    from .answers import ALTERNATIVES, MISTAKES, LearnerSieve

    return Implement(
        "05", "write-sieve",
        [_sieve_scenario(*s) for s in SIEVE_SCENARIOS],
        hint=("Keep the keys in a list (oldest first) and a dict key -> visited bit. A hit only sets the bit. "
              "To evict, look at the key under the hand: visited? clear the bit and step towards the newer end; "
              "not visited? remove it. When the hand passes the newest key, it goes back to the oldest."),
        reference=lambda: LearnerSieve,
        mistakes=dict(MISTAKES),
        alternatives=dict(ALTERNATIVES),
        skeleton=SIEVE_SKELETON,
        equivalent_mutants=_SIEVE_EQUIVALENT_MUTANTS,
    )


# -- size a cache from a sampled hit-ratio curve (its numbers live in .results) ----------


def _as_capacity(answer: Any) -> int:
    whole = isinstance(answer, (int, np.integer)) or (isinstance(answer, (float, np.floating))
                                                      and float(answer).is_integer())
    if isinstance(answer, bool) or not whole or answer <= 0:
        raise LabError(f"capacity must be a whole number of objects > 0 (got {answer!r}).")
    return int(answer)


def check_sizing(answer: Any) -> tuple[bool, str]:
    capacity = _as_capacity(answer)
    exact = sizing_hit_ratio(capacity)
    low, high = SIZING_TARGET - SIZING_READS_HIGH, SIZING_TARGET + SIZING_READS_LOW
    error = (f"a {SIZING_SAMPLE_RATE:.0%} sample reads up to {SIZING_READS_LOW * 100:.1f} points low and "
             f"{SIZING_READS_HIGH * 100:.1f} high here, so sizes giving {low:.1%}-{high:.1%} are right readings")
    reference = sizing_answer()
    said = dict(zip(SIZING_CAPACITIES, sampled_sizing_curve(), strict=True))[reference]
    what = f"{capacity:,} objects give {exact:.1%} hits in the full simulation"
    if low <= exact <= high:
        return True, (f"{what} (target {SIZING_TARGET:.0%}; {error}). The sample replayed a tenth of the "
                      "requests through a cache a tenth the size.")
    # A mistake is named only when the number itself shows it.
    why = ""
    if exact < low and low <= sizing_hit_ratio(round(capacity / SIZING_SAMPLE_RATE)) <= high:
        why = (f" That is the sample's own cache size: the sizes printed are already full-cache sizes, "
               f"so read the size itself ({round(capacity / SIZING_SAMPLE_RATE):,}), not a tenth of it.")
    elif exact > high and abs(capacity - SIZING_TARGET * SIZING_KEYS) <= 0.05 * capacity:
        why = (" That is 70% of the keys, not a 70% hit ratio: with skewed traffic a much smaller cache "
               "serves 70% of the requests.")
    if exact < low:
        return False, (f"below the target: {what}, under {SIZING_TARGET:.0%} by more than the sample's "
                       f"error: {error}.{why}")
    return False, (f"more memory than needed: {what}, more than {SIZING_READS_LOW * 100:.1f} points over the "
                   f"{SIZING_TARGET:.0%} target (more than the sample's error); the sample says {reference:,} "
                   f"objects already give {said:.1%}: pick the smallest size whose estimate reaches the target.{why}")


def sizing_exercise() -> Any:
    from ..exercises import Exercise

    return Exercise(
        "05", "size-from-a-sample", check_sizing,
        hint=(f"Find the first capacity in the printed sizes whose sampled estimate reaches "
              f"{SIZING_TARGET:.0%}; the printed sizes are already full-cache sizes."),
        solution=("estimate = eviction.hit_ratio_curve(trace, \"s3fifo\", sizes, sample_rate=0.1)\n"
                  "my_capacity = next(c for c, h in zip(sizes, estimate) if h >= 0.7)   # the smallest that does"),
        reference=lambda: sizing_answer(),
        mistakes={"below the target": 5_000, "more memory than needed": 10_000,
                  "the sample's own cache size": lambda: round(sizing_answer() * SIZING_SAMPLE_RATE),
                  "70% of the keys": round(SIZING_TARGET * SIZING_KEYS)},
    )
