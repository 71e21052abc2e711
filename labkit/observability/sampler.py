"""The grader of notebook 10's implement exercise: a staleness sampler over a stream.

The learner writes ``estimate_stale_share(hits, is_stale, n, total)``: ``hits`` is a
stream (walked once, no ``len()``, no index), ``total`` how many hits it holds (what
the hit counter says for the window), ``is_stale(hit)`` one database re-read.  Any
sample that gives every hit the same chance is right: a reservoir sample (exactly
``n`` re-reads), a Bernoulli sample (each hit kept with probability ``n / total``), the
``n`` hits with the smallest random tags, or ``random.sample`` over the window.

The replays look at what the sampler *did*, not only what it returned:

1. **one walk** - the stream refuses a second pass, and indexing fails;
2. **each hit equally likely** - 2,000 runs over a 20-hit stream (n = 10): how often each
   position was re-read (n/N = 50 % for every one, and for each half of the stream, within
   5 standard errors),
   how many re-reads a run made on average (n, within 5 standard errors), and the mean
   estimate against the truth;
3. **an honest interval** - over the same runs, how many intervals held the truth;
4. **a budget of re-reads** - one run over the shop's 10,706 real hits, n = 200.

The budget's slack, derived: a Bernoulli sample's re-reads are Binomial(N, n/N), mean
``n``, standard deviation ``sqrt(n (1 - n/N))`` < ``sqrt(n)``.  The budget is
``n + 4 sqrt(n)`` (257 for n = 200): a correct Bernoulli sample exceeds it with
probability under 4e-5, while re-reading every hit (10,706) or each hit as it enters a
reservoir (about ``n (1 + ln(N/n))``, 990) is far over it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LabError
from ..exercises import Verdict
from .workload import SHOP_RUN, watched_run

__all__ = [
    "SAMPLER_SKELETON", "estimate_stale_share", "SAMPLER_SCENARIOS", "SAMPLER_MISTAKES",
    "SAMPLER_ALTERNATIVES", "SAMPLER_EQUIVALENT_MUTANTS", "HitStream", "re_read_budget",
]

SAMPLER_SKELETON = '''def estimate_stale_share(hits, is_stale, n, total):
    """Estimate the share of stale cache hits by re-reading about n of them.

    hits: the cache hits as they happen - a stream you can walk once (no len(), no index).
    total: how many hits the stream holds (your hit counter for the window).
    is_stale(hit): re-reads that hit's row from the database (one query) and says
        whether the cached copy was stale.
    Return (estimate, low, high): the stale share in the sample and its 95% interval
    (obs.wilson_interval(stale, sampled) computes one).
    """
    ...
'''


def estimate_stale_share(hits, is_stale, n, total):
    """A reservoir sample of ``n`` hits (Algorithm R), then their stale share and Wilson interval."""
    import random

    from labkit.observability import wilson_interval

    reservoir = []
    for seen, hit in enumerate(hits):
        if seen < n:
            reservoir.append(hit)
        else:
            slot = random.randrange(seen + 1)
            if slot < n:
                reservoir[slot] = hit
    stale = sum(1 for hit in reservoir if is_stale(hit))
    low, high = wilson_interval(stale, len(reservoir))
    return stale / len(reservoir), low, high


# -- correct answers written another way ---------------------------------------------------


def bernoulli_sampler(hits, is_stale, n, total):
    """Keep each hit with probability n/total, re-reading it on the spot."""
    import random

    from labkit.observability import wilson_interval

    sampled = stale = 0
    for hit in hits:
        if random.random() < n / total:
            sampled += 1
            stale += is_stale(hit)
    if sampled == 0:
        return 0.0, 0.0, 1.0
    return (stale / sampled, *wilson_interval(stale, sampled))


def smallest_tags_sampler(hits, is_stale, n, total):
    """Tag every hit with a random number; the n smallest tags are a uniform sample."""
    import heapq
    import random

    from labkit.observability import wilson_interval

    kept = heapq.nsmallest(n, ((random.random(), i, hit) for i, hit in enumerate(hits)))
    stale = sum(bool(is_stale(hit)) for _tag, _i, hit in kept)
    return (stale / len(kept), *wilson_interval(stale, len(kept)))


def window_sampler(hits, is_stale, n, total):
    """Hold the window's hits, then random.sample: fine while the window fits in memory."""
    import random

    from labkit.observability import wilson_interval

    sample = random.sample(list(hits), min(n, total))
    stale = [is_stale(hit) for hit in sample].count(True)
    return (stale / len(sample), *wilson_interval(stale, len(sample)))


SAMPLER_ALTERNATIVES = {
    "a Bernoulli sample": bernoulli_sampler,
    "the n smallest random tags": smallest_tags_sampler,
    "random.sample over the window": window_sampler,
}

# -- mistakes learners write -------------------------------------------------------------------


def every_hit_sampler(hits, is_stale, n, total):
    from labkit.observability import wilson_interval

    flags = [is_stale(hit) for hit in hits]
    return (sum(flags) / len(flags), *wilson_interval(sum(flags), len(flags)))


def first_n_sampler(hits, is_stale, n, total):
    import itertools

    from labkit.observability import wilson_interval

    stale = sum(1 for hit in itertools.islice(hits, n) if is_stale(hit))
    return (stale / n, *wilson_interval(stale, n))


def last_n_sampler(hits, is_stale, n, total):
    import collections

    from labkit.observability import wilson_interval

    recent = collections.deque(hits, maxlen=n)
    stale = sum(1 for hit in recent if is_stale(hit))
    return (stale / len(recent), *wilson_interval(stale, len(recent)))


def eager_reservoir_sampler(hits, is_stale, n, total):
    import random

    from labkit.observability import wilson_interval

    reservoir = []  # (hit, stale) - re-read as it enters, to judge it while it is fresh
    for seen, hit in enumerate(hits):
        if seen < n:
            reservoir.append(is_stale(hit))
        else:
            slot = random.randrange(seen + 1)
            if slot < n:
                reservoir[slot] = is_stale(hit)
    return (sum(reservoir) / n, *wilson_interval(sum(reservoir), n))


def pointwise_sampler(hits, is_stale, n, total):
    import random

    share = sum(1 for hit in random.sample(list(hits), n) if is_stale(hit)) / n
    return share, share, share


SAMPLER_MISTAKES = {
    "re-reads every hit": every_hit_sampler,
    "the first n hits": first_n_sampler,
    "the last n hits": last_n_sampler,
    "re-reads hits it later drops": eager_reservoir_sampler,
    "a zero-width interval": pointwise_sampler,
}


# -- the replays ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampledHit:
    """A hit as the sampler sees it: which key, and its place in the traffic."""

    key: str
    at: int


class HitStream:
    """Hits as they happen: iterable once, with no ``len()`` and no index."""

    def __init__(self, hits: list[SampledHit]) -> None:
        self._hits = hits
        self.walks = 0

    def __iter__(self) -> Iterator[SampledHit]:
        self.walks += 1
        if self.walks > 1:
            raise LabError("your sampler walked the stream of hits a second time: hits arrive once, so a "
                           "sampler must decide on each hit as it passes (use `total` for the count).")
        return iter(self._hits)


class _Probe:
    """Runs the learner's sampler and records every re-read it makes."""

    def __init__(self, answer: Callable[..., Any], hits: list[SampledHit], flags: np.ndarray) -> None:
        self.answer, self.hits, self.flags = answer, hits, flags
        self._index = {id(h): i for i, h in enumerate(hits)}

    def run(self, n: int) -> tuple[tuple[float, float, float], list[int]]:
        re_read: list[int] = []

        def is_stale(hit: SampledHit) -> bool:
            i = self._index.get(id(hit))
            if i is None:
                raise LabError(f"is_stale was given {hit!r}, which is not one of the hits: pass a hit itself.")
            re_read.append(i)
            return bool(self.flags[i])

        result = self.answer(HitStream(self.hits), is_stale, n, len(self.hits))
        try:
            estimate, low, high = (float(x) for x in result)
        except (TypeError, ValueError):
            raise LabError(f"Return (estimate, low, high) - three numbers (got {result!r}).") from None
        if not (-1e-9 <= low <= estimate + 1e-9 and estimate <= high + 1e-9 and high <= 1 + 1e-9):
            raise LabError(f"({estimate:.3f}, {low:.3f}, {high:.3f}) is not 0 <= low <= estimate <= high <= 1.")
        return (estimate, low, high), re_read


def _seeded(seed: int, work: Callable[[], Any]) -> Any:
    state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        return work()
    finally:
        random.setstate(state)
        np.random.set_state(np_state)


def _call_error(exc: Exception) -> Verdict:
    if isinstance(exc, LabError):
        return Verdict(False, str(exc))
    if isinstance(exc, TypeError) and ("len()" in str(exc) or "subscriptable" in str(exc)
                                       or "sequence" in str(exc)):
        return Verdict(False, f"your code raised TypeError: {exc}. `hits` is a stream: walk it once with a "
                              "for loop; it has no len() and no index (`total` gives the count).")
    return Verdict(False, f"your code raised {type(exc).__name__}: {exc}")


# The small stream: 20 hits, staleness building up over time (none early, most late).
# Small, so that a sampler's bias is large: an off-by-one in a reservoir moves the first
# half's chance by about 1/N (2-6 points), well over the 5 standard errors allowed.
SMALL_N, SMALL_SAMPLE, SMALL_RUNS = 20, 10, 2_000
_SMALL_STALE = (8, 11, 13, 15, 16, 18, 19)


def _small_stream() -> tuple[list[SampledHit], np.ndarray]:
    hits = [SampledHit(f"item:{i % 7}", i) for i in range(SMALL_N)]
    flags = np.array([i in _SMALL_STALE for i in range(SMALL_N)], dtype=bool)
    return hits, flags


_last_runs: list[Any] = []  # [answer, runs]: the two scenarios below share one set of runs


def _runs_on_small_stream(answer: Any) -> tuple[list[tuple[float, float, float]], np.ndarray, list[int], list[int]]:
    if _last_runs and _last_runs[0] is answer:
        return _last_runs[1]
    hits, flags = _small_stream()
    probe = _Probe(answer, hits, flags)
    results, counts, per_run, repeats = [], np.zeros(SMALL_N), [], []

    def work() -> None:
        for _ in range(SMALL_RUNS):
            result, re_read = probe.run(SMALL_SAMPLE)
            results.append(result)
            per_run.append(len(re_read))
            if len(set(re_read)) < len(re_read):
                repeats.append(len(re_read) - len(set(re_read)))
            for i in set(re_read):
                counts[i] += 1

    _seeded(7, work)
    _last_runs[:] = [answer, (results, counts / SMALL_RUNS, per_run, repeats)]
    return _last_runs[1]


def _equally_likely(answer: Any) -> Verdict:
    hits, flags = _small_stream()
    try:
        results, share, per_run, repeats = _runs_on_small_stream(answer)
    except Exception as exc:  # noqa: BLE001 - reported as what the sampler did
        return _call_error(exc)
    if repeats:
        return Verdict(False, f"in {len(repeats):,} of {SMALL_RUNS:,} runs your sampler re-read the same hit more "
                              "than once (a sample with replacement, like random.choices): each re-read is a database "
                              "query, and a repeat adds no information - sample without replacement.")
    n, big_n, runs = SMALL_SAMPLE, SMALL_N, SMALL_RUNS
    p = n / big_n
    tolerance = 5 * math.sqrt(p * (1 - p) / runs)
    rows = [{"hit": i + 1, "stale": "yes" if flags[i] else "no", "re-read in": f"{share[i]:.0%} of runs",
             "expected": f"{p:.0%}"} for i in range(0, big_n, 2)]
    always = [i for i in range(big_n) if share[i] > 0.99]
    never = [i for i in range(big_n) if share[i] < 0.01]
    off = [i for i in range(big_n) if abs(share[i] - p) > tolerance]
    if off:
        runs_on = f"over {runs:,} runs on a {big_n}-hit stream with n = {n}"
        entering = [min(1.0, n / (i + 1)) for i in range(big_n)]
        if len(always) == big_n:
            message = (f"{runs_on}, every hit was re-read in every run - it re-reads every hit: the check "
                       "would load the database as if there were no cache")
        elif always == list(range(n)) and len(never) == big_n - n:
            message = (f"{runs_on}, hits 1-{n} were re-read in every run and the other {big_n - n} never - "
                       "the first n hits: traffic comes in time order and staleness builds up over it")
        elif always == list(range(big_n - n, big_n)) and len(never) == big_n - n:
            message = (f"{runs_on}, hits {big_n - n + 1}-{big_n} were re-read in every run and the other "
                       f"{big_n - n} never - the last n hits: the latest traffic is not the window's traffic")
        elif always == list(range(n)) and all(abs(share[i] - entering[i]) <= tolerance for i in range(big_n)):
            message = (f"{runs_on}, hits 1-{n} were re-read in every run and hit i in about n/i of runs "
                       f"(hit {big_n}: {share[-1]:.0%}) - it re-reads hits it later drops: each hit is re-read "
                       "as it enters the reservoir, before the sampler knows whether it stays")
        else:
            worst = max(off, key=lambda i: abs(share[i] - p))
            message = (f"{runs_on}, hit {worst + 1} was re-read in {share[worst]:.0%} of runs "
                       f"({len(off)} of {big_n} hits more than {tolerance:.0%} away from {p:.0%})")
        return Verdict(False, f"{message}. A random sample gives every hit the same chance, n/N = {p:.0%}.",
                       rows)
    half = big_n // 2
    early, late = float(share[:half].mean()), float(share[half:].mean())
    # Each half pools `half` positions: its share's standard error is at most sqrt(p(1-p)/(runs*half)).
    pooled = 5 * math.sqrt(p * (1 - p) / (runs * half))
    if max(abs(early - p), abs(late - p)) > pooled:
        return Verdict(False, f"over {runs:,} runs on a {big_n}-hit stream with n = {n}, the first {half} hits were "
                              f"re-read in {early:.1%} of runs on average and the last {half} in {late:.1%}; every "
                              f"hit should be in {p:.0%} (± {pooled:.1%}). Check the odds each hit gets: hit "
                              "number i (from 0) enters a reservoir with probability n / (i + 1).", rows)
    mean_reads = float(np.mean(per_run))
    spread = 5 * math.sqrt(n * (1 - p) / runs)
    if abs(mean_reads - n) > spread:
        return Verdict(False, f"asked for n = {n}, your sampler re-read {mean_reads:.2f} hits per run on average "
                              f"(over {runs:,} runs; a sample of n averages {n} ± {spread:.2f}).")
    truth = float(flags.mean())
    mean_estimate = float(np.mean([r[0] for r in results]))
    if abs(mean_estimate - truth) > 0.02:
        return Verdict(False, f"every hit was re-read as often as it should be, but your estimates averaged "
                              f"{mean_estimate:.1%} over {runs:,} runs where the stream holds {truth:.1%} stale "
                              "hits: the estimate is the stale share of the hits you re-read.", rows)
    return Verdict(True, f"every hit re-read in {share.min():.0%}-{share.max():.0%} of runs (n/N = {p:.0%})")


def _honest_interval(answer: Any) -> Verdict:
    _hits, flags = _small_stream()
    try:
        results, _share, _per_run, _repeats = _runs_on_small_stream(answer)
    except Exception as exc:  # noqa: BLE001
        return _call_error(exc)
    truth = float(flags.mean())
    covered = sum(low <= truth <= high for _e, low, high in results)
    share = covered / len(results)
    rows = [{"run": i + 1, "estimate": f"{e:.1%}", "low": f"{lo:.1%}", "high": f"{hi:.1%}",
             "holds the truth": "yes" if lo <= truth <= hi else "NO"} for i, (e, lo, hi) in enumerate(results[:8])]
    widths = [high - low for _e, low, high in results]
    if share < 0.88:
        narrow = " Each was a zero-width interval: a bare percentage." if max(widths) < 1e-12 else ""
        return Verdict(False, f"only {share:.0%} of {len(results):,} intervals held the true {truth:.1%} "
                              f"(a 95% interval holds it about 95% of the time).{narrow} The interval from "
                              f"{SMALL_SAMPLE} re-reads is wide; say so.", rows)
    if float(np.mean(widths)) > 0.75:
        return Verdict(False, f"your intervals held the truth, but averaged {np.mean(widths):.0%} wide: "
                              "an interval that always spans almost everything says nothing.", rows)
    return Verdict(True, f"{share:.0%} of intervals held the truth")


def re_read_budget(n: int) -> int:
    """The most re-reads a correct sample of about ``n`` may make: ``n + 4 sqrt(n)``."""
    return n + math.ceil(4 * math.sqrt(n))


def _budget(answer: Any) -> Verdict:
    hits = [SampledHit(h.key, h.index) for h in watched_run(SHOP_RUN)[1].hits]
    flags = np.fromiter((h.stale for h in watched_run(SHOP_RUN)[1].hits), dtype=bool)
    n, budget = 200, re_read_budget(200)
    try:
        (estimate, _low, _high), re_read = _seeded(1, lambda: _Probe(answer, hits, flags).run(n))
    except Exception as exc:  # noqa: BLE001
        return _call_error(exc)
    calls = len(re_read)
    if calls > budget:
        evidence = [{"hits in the window": f"{len(hits):,}", "n asked": n, "budget (n + 4√n)": budget,
                     "re-reads made": f"{calls:,}", "distinct hits re-read": f"{len(set(re_read)):,}"}]
        expected_eager = n * (1 + math.log(len(hits) / n))
        if calls == len(hits):
            why = " - it re-reads every hit: the check loads the database as if there were no cache"
        elif 0.7 * expected_eager <= calls <= 1.3 * expected_eager:
            why = (f" - about n(1 + ln(N/n)) = {expected_eager:,.0f}, what a reservoir makes when it re-reads "
                   "each hit as it enters: it re-reads hits it later drops")
        else:
            why = ""
        return Verdict(False, f"on the shop's {len(hits):,} hits with n = {n}, your sampler made {calls:,} database "
                              f"queries; the budget is {budget} (n + 4√n, room for a Bernoulli sample's "
                              f"spread){why}.", evidence)
    return Verdict(True, f"{calls} re-reads for n = {n}, estimate {estimate:.1%}")


# Mutants of the reference no replay can refuse (tools/mutation_report.py), with the reason.
SAMPLER_EQUIVALENT_MUTANTS: dict[str, str] = {
    "estimate_stale_share: import random => pass": "the module the reference lives in imports random as well, "
    "so the name is bound either way (in a notebook cell, the missing import raises NameError at once).",
}

SAMPLER_SCENARIOS = [
    ("each hit equally likely", _equally_likely),
    ("an honest interval", _honest_interval),
    ("a budget of re-reads", _budget),
]
