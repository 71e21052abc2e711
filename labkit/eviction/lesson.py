"""Notebook 05's experiments: live charts and exercise checks, built on the simulator.

Charts read from memoised simulations, so moving the capacity slider only
redraws; changing the trace or the policy set simulates each policy once per
capacity on a 50,000-request trace (about a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import workloads
from ..errors import check_choice
from .simulator import LRUCurve, hit_ratio_timeline, lru_curve, simulate

if TYPE_CHECKING:  # matplotlib and ipywidgets load only when a chart is drawn
    from matplotlib.figure import Figure

    from ..widgets import LivePlot

__all__ = [
    "LESSON_SHAPES",
    "POLICY_SETS",
    "CAPACITY_PERCENTS",
    "lesson_trace",
    "hit_ratio",
    "compare",
    "explore",
    "timelines",
    "explore_timeline",
    "loop_verdict",
    "table",
    "show_redis_demo",
    "exercises",
    "Exercises",
]

N_REQUESTS = 50_000
N_KEYS = 5_000
LESSON_SHAPES = ("zipf", "zipf+scan", "loop", "shifting")
CAPACITY_PERCENTS = (1, 2, 5, 10, 20, 30, 50)
POLICY_SETS: dict[str, tuple[str, ...]] = {
    "classic: lru fifo lfu clock": ("lru", "fifo", "lfu", "clock"),
    "modern: lru sieve s3fifo arc tinylfu": ("lru", "sieve", "s3fifo", "arc", "tinylfu"),
    "redis: lru redis-lru redis-lfu random": ("lru", "redis-lru", "redis-lfu", "random"),
}
# Names on charts (the simulator's names are lower case).
LABELS = {
    "lru": "LRU", "fifo": "FIFO", "random": "Random", "lfu": "LFU", "clock": "CLOCK",
    "sieve": "SIEVE", "s3fifo": "S3-FIFO", "arc": "ARC", "tinylfu": "W-TinyLFU",
    "redis-lru": "Redis LRU", "redis-lfu": "Redis LFU", "volatile-ttl": "volatile-ttl",
    "opt": "OPT",
}


@lru_cache(maxsize=16)
def lesson_trace(shape: str, alpha: float = 0.8, *, n_requests: int = N_REQUESTS, n_keys: int = N_KEYS,
                 seed: int = 0) -> np.ndarray:
    """The notebook's traces, all over ``n_keys`` distinct keys:

    * ``zipf``: stable skewed popularity;
    * ``zipf+scan``: the same, with 30% of requests from a batch job reading a
      large range of keys once each (they pollute the cache);
    * ``loop``: keys 0..n_keys-1 in order, again and again (LRU's worst case);
    * ``shifting``: Zipf whose hot set moves to other keys three times.
    """
    check_choice("trace shape", shape, LESSON_SHAPES)
    if shape == "zipf":
        trace = workloads.zipf(n_requests, n_keys, alpha, seed=seed)
    elif shape == "loop":
        trace = workloads.loop(n_requests, n_keys)
    elif shape == "shifting":
        trace = workloads.shifting(n_requests, n_keys, alpha, phases=4, seed=seed)
    else:
        hot_share = 0.7
        hot = workloads.zipf(n_requests, n_keys, alpha, seed=seed)
        scan_keys = np.arange(n_requests, dtype=np.int64) % (4 * n_keys) + n_keys
        is_scan = np.random.default_rng(seed + 11).random(n_requests) >= hot_share
        trace = np.where(is_scan, scan_keys, hot)
        # renumber so that capacity percentages refer to the keys actually used
        trace = np.unique(trace, return_inverse=True)[1].astype(np.int64)
    trace.setflags(write=False)
    return trace


@lru_cache(maxsize=256)
def _capacity(shape: str, alpha: float, percent: float) -> int:
    distinct = int(len(np.unique(lesson_trace(shape, alpha))))
    return max(1, round(distinct * percent / 100))


@lru_cache(maxsize=4096)
def hit_ratio(shape: str, alpha: float, policy: str, percent: float) -> float:
    """Hit ratio of ``policy`` on a lesson trace, capacity as % of its distinct keys."""
    trace = lesson_trace(shape, alpha)
    capacity = _capacity(shape, alpha, percent)
    if policy == "lru":
        return _lru(shape, alpha).hit_ratio(capacity)
    return simulate(trace, policy, capacity).hit_ratio


@lru_cache(maxsize=16)
def _lru(shape: str, alpha: float) -> LRUCurve:
    return lru_curve(lesson_trace(shape, alpha))


def compare(shape: str, percent: float, policies: tuple[str, ...], alpha: float = 0.8) -> dict[str, float]:
    """Hit ratio per policy (and OPT) at one capacity: what the bar chart shows."""
    return {p: hit_ratio(shape, alpha, p, percent) for p in (*policies, "opt")}


def _policies(policy_set: str) -> tuple[str, ...]:
    check_choice("policy set", policy_set, POLICY_SETS)
    return POLICY_SETS[policy_set]


def _draw_comparison(fig: Any, percent: float, shape: str, alpha: float, policy_set: str) -> str:
    from matplotlib.ticker import NullLocator

    from .. import charts

    policies = _policies(policy_set)
    curves_ax, bars_ax = fig.axes
    curves = {p: [hit_ratio(shape, alpha, p, c) for c in CAPACITY_PERCENTS] for p in (*policies, "opt")}
    for i, p in enumerate(policies):
        curves_ax.plot(CAPACITY_PERCENTS, curves[p], label=LABELS[p], **charts.series_style(i))
    curves_ax.plot(CAPACITY_PERCENTS, curves["opt"], label="OPT (ceiling)", **charts.LIMIT_STYLE)
    curves_ax.axvline(percent, color="#999999", linewidth=1)
    curves_ax.set_xscale("log")
    curves_ax.set_xticks(CAPACITY_PERCENTS, [str(c) for c in CAPACITY_PERCENTS])
    curves_ax.xaxis.set_minor_locator(NullLocator())  # log axes label minor ticks: slow, noisy
    curves_ax.set_ylim(0, 1)
    mean = {p: float(np.mean(curves[p])) for p in policies}
    leader = max(policies, key=mean.__getitem__)
    laggard = min(policies, key=mean.__getitem__)
    charts.finish(
        curves_ax,
        title=f"{LABELS[leader]} leads, {LABELS[laggard]} trails; none reaches OPT",
        xlabel="cache size (% of distinct keys, log scale)",
        ylabel="hit ratio (fraction of requests)",
    )
    here = compare(shape, percent, policies, alpha)
    names = [*policies, "opt"]
    values = [here[p] for p in names]
    colours = [charts.series_style(i)["color"] for i in range(len(policies))] + ["#000000"]
    bars = bars_ax.bar([LABELS[p] for p in names], values, color=colours)
    bars[-1].set_hatch("//")
    bars[-1].set_facecolor("white")
    bars[-1].set_edgecolor("#000000")
    for bar, value in zip(bars, values, strict=True):
        bars_ax.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.0%}", ha="center", fontsize=8)
    bars_ax.set_ylim(0, 1.08)
    bars_ax.tick_params(axis="x", rotation=30)
    best = max(policies, key=here.__getitem__)
    worst = min(policies, key=here.__getitem__)
    gap = (here["opt"] - here[best]) * 100
    charts.finish(
        bars_ax,
        title=f"At {percent}%: {LABELS[best]} best, {gap:.0f} points under OPT",
        xlabel="policy",
        ylabel="hit ratio (fraction of requests)",
    )
    return (
        f"<b>{shape}</b>, cache = {percent}% of keys: {LABELS[best]} hits {here[best]:.0%}, "
        f"{LABELS[worst]} {here[worst]:.0%}; OPT, which knows the future, {here['opt']:.0%}."
    )


def explore(
    shape: str = "zipf+scan",
    percent: int = 5,
    policy_set: str = "modern: lru sieve s3fifo arc tinylfu",
    alpha: float = 0.8,
) -> LivePlot:
    """Hit ratio against cache size per policy, with OPT, and the bars at one size."""
    import ipywidgets as W

    from ..widgets import LivePlot, choice, slider

    check_choice("capacity percent", percent, CAPACITY_PERCENTS)
    controls = {
        # Snaps to the sizes the curves are computed at, so a move only redraws.
        "percent": W.SelectionSlider(
            description="cache size (% of keys)", options=list(CAPACITY_PERCENTS), value=percent,
            continuous_update=False, style={"description_width": "initial"}, layout=W.Layout(width="420px"),
        ),
        "shape": choice("trace", LESSON_SHAPES, shape),
        "alpha": slider("Zipf alpha", 0.6, 1.2, 0.1, alpha),
        "policy_set": choice("policies", list(POLICY_SETS), policy_set),
    }
    return LivePlot(_draw_comparison, controls, ncols=2, width=11.0, height=4.0)


def timelines(policies: tuple[str, ...], percent: float = 10, *, alpha: float = 0.8,
              window: int = 2_500) -> dict[str, np.ndarray]:
    """Hit ratio per window of requests on the shifting trace, per policy."""
    capacity = _capacity("shifting", alpha, percent)
    return {p: _timeline(p, capacity, alpha, window) for p in policies}


@lru_cache(maxsize=64)
def _timeline(policy: str, capacity: int, alpha: float, window: int) -> np.ndarray:
    return hit_ratio_timeline(lesson_trace("shifting", alpha), policy, capacity, window=window)


TIMELINE_POLICIES = ("lru", "lfu", "arc", "s3fifo", "tinylfu")


def _draw_timeline(fig: Any, percent: float) -> str:
    from .. import charts

    ax = fig.axes[0]
    window = 2_500
    series = timelines(TIMELINE_POLICIES, percent, window=window)
    n = len(lesson_trace("shifting"))
    x = (np.arange(n // window) + 0.5) * window / 1000
    for i, p in enumerate(TIMELINE_POLICIES):
        ax.plot(x, series[p][: len(x)], label=LABELS[p], **charts.series_style(i))
    for shift in range(1, 4):
        ax.axvline(shift * n / 4 / 1000, color="#999999", linewidth=1, linestyle=":")
    ax.set_ylim(0, 1)
    last_phase = {p: float(np.mean(series[p][-len(x) // 4 :])) for p in TIMELINE_POLICIES}
    first_phase = {p: float(np.mean(series[p][1 : len(x) // 4])) for p in TIMELINE_POLICIES}
    worst = min(TIMELINE_POLICIES, key=lambda p: last_phase[p] - first_phase[p])
    charts.finish(
        ax,
        title=f"When the hot set moves (dotted lines), {LABELS[worst]} never recovers",
        xlabel="requests (thousands)",
        ylabel=f"hit ratio per {window:,} requests",
    )
    return (
        f"Cache = {percent}% of keys. Last quarter vs first: "
        + ", ".join(f"{LABELS[p]} {first_phase[p]:.0%} → {last_phase[p]:.0%}" for p in TIMELINE_POLICIES)
    )


def explore_timeline(percent: int = 10) -> LivePlot:
    """Hit ratio over time on the shifting trace: who adapts when popularity moves."""
    from ..widgets import LivePlot, choice

    check_choice("capacity percent", percent, CAPACITY_PERCENTS)
    return LivePlot(_draw_timeline, {"percent": choice("cache size (% of keys)", CAPACITY_PERCENTS, percent)},
                    width=9.0, height=3.6)


def table(trace: Any, capacity: int, policies: tuple[str, ...] = ("lru", "fifo", "sieve", "s3fifo",
                                                                  "tinylfu", "opt")) -> dict[str, float]:
    """Print and return each policy's hit ratio on ``trace`` at ``capacity``."""
    results = {p: simulate(trace, p, capacity).hit_ratio for p in policies}
    print(f"capacity {capacity:,} objects, {len(np.asarray(trace)):,} requests")
    for p, ratio in results.items():
        print(f"  {LABELS[p]:10s} {ratio:6.1%}  {'#' * round(ratio * 40)}")
    return results


def show_redis_demo(store: Any = None) -> Figure | None:
    """Run the real-Redis eviction demo (see :mod:`.redis_demo`), print it, and
    return a chart of hot keys kept, real beside simulated (None if skipped)."""
    from .. import charts
    from .redis_demo import real_eviction_demo

    demo = real_eviction_demo(store)
    print(demo)
    if demo.skipped_reason:
        return None
    fig = charts.new_figure(width=8.0, height=3.4)
    ax = fig.axes[0]
    runs = demo.runs
    x = np.arange(len(runs))
    ax.bar(x - 0.2, [r.hot_kept for r in runs], 0.4, label="real redis-server", color=charts.COLORS[0])
    # noeviction has nothing to simulate: its bar stays empty and its OOM count is shown.
    predicted = [np.nan if r.predicted_hot_kept is None else r.predicted_hot_kept for r in runs]
    ax.bar(x + 0.2, predicted, 0.4, label="simulator", color=charts.COLORS[1], hatch="//")
    for i, run in enumerate(runs):
        if run.oom_errors:
            ax.text(i + 0.2, run.hot_kept / 2, f"{run.oom_errors:,}\nwrites\nrefused\n(OOM)", ha="center",
                    va="center", fontsize=8)
    ax.set_xticks(x, [r.policy for r in runs])
    by = demo.by_policy()
    lru, lfu = by.get("allkeys-lru"), by.get("allkeys-lfu")
    title = "Hot keys kept under each maxmemory-policy"
    if lru and lfu:
        title = f"A one-off fill flushed LRU's hot keys ({lru.hot_kept} kept); LFU kept {lfu.hot_kept}"
    charts.finish(ax, title=title, xlabel="maxmemory-policy", ylabel=f"hot keys kept (of {runs[0].hot_keys})")
    return fig


def loop_verdict(trace: Any, capacity: int = 100) -> tuple[float, float]:
    """(LRU hit ratio, OPT hit ratio) for a learner's trace at ``capacity``."""
    return simulate(trace, "lru", capacity).hit_ratio, simulate(trace, "opt", capacity).hit_ratio


# ---------------------------------------------------------------- exercises

WORKLOAD_STORIES = {
    "catalogue": ("zipf", "product pages: the same best-sellers all day (stable Zipf)"),
    "nightly-report": ("zipf+scan", "the same pages plus a report job reading every row once"),
    "news": ("shifting", "a news site whose top stories change every few hours"),
}
CANDIDATES = ("lru", "fifo", "random", "lfu", "clock", "sieve", "s3fifo", "arc", "tinylfu")
PASS_MARGIN = 0.02  # within 2 points of the best candidate counts as a right pick


def best_picks(percent: float = 5) -> dict[str, dict[str, float]]:
    """Hit ratio of every candidate policy per workload story (the check's key)."""
    return {
        story: {p: hit_ratio(shape, 0.8, p, percent) for p in CANDIDATES}
        for story, (shape, _) in WORKLOAD_STORIES.items()
    }


def _check_workload_picks(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict) or set(answer) != set(WORKLOAD_STORIES):
        return False, f"answer must be a dict with the keys {', '.join(WORKLOAD_STORIES)}."
    results, notes, passed = best_picks(), [], True
    for story, pick in answer.items():
        check_choice(f"policy for {story}", pick, CANDIDATES)
        scores = results[story]
        best = max(scores, key=scores.__getitem__)
        ok = scores[pick] >= scores[best] - PASS_MARGIN
        passed &= ok
        mark = "ok" if ok else f"best is {best} at {scores[best]:.0%}"
        notes.append(f"{story}: {pick} {scores[pick]:.0%} ({mark})")
    return passed, "; ".join(notes)


def _check_loop_trace(trace: Any) -> tuple[bool, str]:
    lru, opt = loop_verdict(trace, 100)
    if lru > 0.01:
        return False, f"LRU still hits {lru:.0%} at capacity 100; make every key come back just too late."
    if opt < 0.5:
        return False, (f"LRU gets {lru:.0%}, but so would almost anything (OPT: {opt:.0%}); "
                       "the keys must be reused, just in an order LRU hates.")
    return True, f"LRU hits {lru:.0%} while OPT hits {opt:.0%} on the same trace and cache."


REDIS_POLICIES = ("noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
                  "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")


def _check_redis_policy(answer: Any) -> tuple[bool, str]:
    check_choice("maxmemory-policy", answer, REDIS_POLICIES)
    if answer in ("volatile-lru", "volatile-lfu"):
        return True, ("only keys with a TTL can be evicted, so give the must-keep keys none; "
                      "among the rest the least recently / least often used go first.")
    if answer.startswith("volatile-"):
        return False, "the pinned keys are safe, but this evicts regardless of popularity; keep the popular ones."
    if answer == "noeviction":
        return False, "nothing is evicted, but once full every write fails with an OOM error."
    return False, "allkeys-* may evict any key, including the ones that must stay."


@dataclass(frozen=True)
class Exercises:
    workloads: Any
    loop: Any
    redis_policy: Any


def exercises() -> Exercises:
    from ..exercises import Exercise

    return Exercises(
        workloads=Exercise(
            "05", "policy-per-workload", _check_workload_picks,
            hint=("Stable popularity rewards frequency; one-time scans punish plain recency; "
                  "moving popularity punishes counts that never fade."),
            solution='answer = {"catalogue": "tinylfu", "nightly-report": "s3fifo", "news": "arc"}',
        ),
        loop=Exercise(
            "05", "lru-loop", _check_loop_trace,
            hint="With room for 100 keys, request 101 keys in the same order, over and over.",
            solution="trace = list(range(101)) * 50",
        ),
        redis_policy=Exercise(
            "05", "redis-pinned-keys", _check_redis_policy,
            hint="Which policies only ever evict keys that have an expiry set?",
            solution='answer = "volatile-lfu"   # or "volatile-lru"; pinned keys get no TTL',
        ),
    )


