"""Notebook 05's lesson layer: the live charts, the loop table, the real-Redis
chart and the exercises, built on the simulator.

Charts read from memoised simulations (:func:`labkit.memo.memo`), so moving a
slider only redraws; changing the trace or the policy set simulates each policy
once per capacity on a 50,000-request trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import check_choice
from .grading import (  # noqa: F401 - the sizing exercise's names, as the notebook and claims use them
    SIZING_CAPACITIES,
    SIZING_SAMPLE_RATE,
    SIZING_TARGET,
    sieve_exercise,
    sizing_answer,
    sizing_exercise,
    sizing_hit_ratio,
    sizing_trace,
)
from .results import (  # noqa: F401 - the charts' numbers, as the notebook uses them
    CANDIDATES,
    CAPACITY_PERCENTS,
    LABELS,
    LESSON_SHAPES,
    LOOP_TABLE_POLICIES,
    N_KEYS,
    N_REQUESTS,
    POLICY_SETS,
    TIMELINE_POLICIES,
    TIMELINE_WINDOW,
    WORKLOAD_STORIES,
    best_picks,
    compare,
    curves,
    hit_ratio,
    lesson_trace,
    loop_hit_ratios,
    phase_means,
    timelines,
)

if TYPE_CHECKING:  # matplotlib and ipywidgets load only when a chart is drawn
    from matplotlib.figure import Figure

    from ..exercises import ExerciseSet
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
    "curves",
    "comparison_titles",
    "phase_means",
    "loop_hit_ratios",
    "table",
    "show_redis_demo",
    "redis_demo_chart",
    "sizing_trace",
    "exercises",
]


def _policies(policy_set: str) -> tuple[str, ...]:
    check_choice("policy set", policy_set, POLICY_SETS)
    return POLICY_SETS[policy_set]


def comparison_titles(shape: str, percent: float, policy_set: str, alpha: float = 0.8) -> tuple[str, str]:
    """The two panels' titles, from the same numbers, so they never disagree.

    The curve panel states what holds at every size (who trails, that none
    reaches OPT); the bar panel names the best policy at the slider's size only.
    """
    policies = _policies(policy_set)
    lines = curves(shape, alpha, policies)
    sizes = range(len(CAPACITY_PERCENTS))
    spread = [max(lines[p][i] for p in policies) - min(lines[p][i] for p in policies) for i in sizes]
    low = [min(lines[p][i] for p in policies) for i in sizes]
    always_worst = [p for p in policies if all(lines[p][i] - low[i] < TIE for i in sizes)]
    if max(spread) < TIE:
        trails = "every policy ties at every size"
    elif always_worst:
        names = [LABELS[p] for p in always_worst]
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        trails = f"{who} {'trails' if len(names) == 1 else 'trail'} at every size"
    else:
        mean = {p: float(np.mean(lines[p])) for p in policies}
        trails = f"{LABELS[min(policies, key=mean.__getitem__)]} trails on average"
    below_opt = all(lines["opt"][i] - max(lines[p][i] for p in policies) >= TIE for i in sizes)
    left = f"{trails}; {'none reaches OPT' if below_opt else 'OPT is the ceiling'}"
    here = compare(shape, percent, policies, alpha)
    best = max(policies, key=here.__getitem__)
    gap = (here["opt"] - here[best]) * 100
    leader = "all tie" if here[best] - min(here[p] for p in policies) < TIE else f"{LABELS[best]} best"
    under = f"{gap:.0f} points under OPT" if gap >= TIE * 100 else "level with OPT"
    right = f"At {percent}%: {leader}, {under}"
    return left, right


TIE = 0.005  # hit-ratio gaps under half a point are ties on the charts


# Tick positions of the capacity axis: a log scale drawn by hand (log axes place and
# label minor ticks on every draw).
_LOG_X = [float(np.log10(c)) for c in CAPACITY_PERCENTS]


def _draw_comparison(fig: Any, percent: int, shape: str, alpha: float, policy_set: str) -> str:
    from .. import charts

    policies = _policies(policy_set)
    curves_ax, bars_ax = fig.axes
    lines = curves(shape, alpha, policies)
    for i, p in enumerate(policies):
        curves_ax.plot(_LOG_X, lines[p], label=LABELS[p], **charts.series_style(i))
    curves_ax.plot(_LOG_X, lines["opt"], label="OPT (ceiling)", **charts.LIMIT_STYLE)
    curves_ax.axvline(float(np.log10(percent)), color="#999999", linewidth=1)
    curves_ax.set_xticks(_LOG_X, [str(c) for c in CAPACITY_PERCENTS])
    curves_ax.set_ylim(0, 1)
    left_title, right_title = comparison_titles(shape, percent, policy_set, alpha)
    charts.finish(curves_ax, title=left_title, xlabel="cache size (% of distinct keys, log scale)",
                  ylabel="hit ratio (fraction of requests)")
    # A fixed place: the default "best" placement searches the data on every draw.
    curves_ax.legend(frameon=False, loc="upper left", ncols=2)
    here = compare(shape, percent, policies, alpha)
    names = [*policies, "opt"]
    values = [here[p] for p in names]
    colours = [charts.series_style(i)["color"] for i in range(len(policies))] + ["white"]
    bars = bars_ax.bar([LABELS[p] for p in names], values, color=colours)
    # OPT: white with a dashed outline, like its dashed curve (a hatch is slow to draw).
    bars[-1].set_edgecolor("#000000")
    bars[-1].set_linestyle("--")
    bars[-1].set_linewidth(1.2)
    for bar, value in zip(bars, values, strict=True):
        bars_ax.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.0%}", ha="center", fontsize=8)
    bars_ax.set_ylim(0, 1.08)  # labels fit unrotated (rotated text is slow to lay out)
    # Each bar carries its value, and the curves' panel has the same scale: no tick labels
    # to lay out on every redraw.
    bars_ax.tick_params(labelleft=False)
    charts.finish(bars_ax, title=right_title, xlabel="policy", ylabel="hit ratio (fraction of requests)")
    best = max(policies, key=here.__getitem__)
    worst = min(policies, key=here.__getitem__)
    return (
        f"<b>{shape}</b>, Zipf alpha {alpha}, cache = {percent}% of keys: {LABELS[best]} hits {here[best]:.0%}, "
        f"{LABELS[worst]} {here[worst]:.0%}; OPT, which knows the future, {here['opt']:.0%}."
    )


ALPHAS = (0.6, 0.8, 1.0, 1.2)


def _warm(shape: str, policy_set: str) -> None:
    """Simulate the other Zipf alphas of this trace and policy set before the learner asks."""
    policies = _policies(policy_set)
    for alpha in ALPHAS:
        curves(shape, alpha, policies)
    best_picks()  # the first exercise's key


def explore(
    shape: str = "zipf+scan",
    percent: int = 5,
    policy_set: str = "modern: lru sieve s3fifo arc tinylfu",
    alpha: float = 0.8,
    *,
    warm_up: bool = True,
) -> LivePlot:
    """Hit ratio against cache size per policy, with OPT, and the bars at one size.

    The capacity slider snaps to the sizes whose simulations are memoised, so a
    move only redraws.  With ``warm_up``, the first change of a menu starts
    simulating the other alphas (and the first exercise's key) in the background.
    """
    import threading

    import ipywidgets as W

    from ..widgets import LivePlot, choice

    check_choice("capacity percent", percent, CAPACITY_PERCENTS)
    check_choice("Zipf alpha", alpha, ALPHAS)

    controls = {
        # Snaps to the sizes the curves are computed at, so a move only redraws.
        "percent": W.SelectionSlider(
            description="cache size (% of keys)", options=list(CAPACITY_PERCENTS), value=percent,
            continuous_update=False, style={"description_width": "initial"}, layout=W.Layout(width="360px"),
        ),
        "shape": choice("trace", LESSON_SHAPES, shape),
        # A new alpha is a new trace to simulate (a second or two), like the trace menu.
        "alpha": choice("Zipf alpha", ALPHAS, alpha),
        "policy_set": choice("policies", list(POLICY_SETS), policy_set),
    }
    plot = LivePlot(_draw_comparison, controls, ncols=2, width=11.0, height=4.0)
    if warm_up:
        # Started by the first change of a menu, not at Run All (a notebook run top to
        # bottom has no seconds to spare) nor by the capacity slider (it must stay instant).
        started: list[threading.Thread] = []

        def start_warming(_change: Any) -> None:
            if not started:
                values = plot.values
                started.append(threading.Thread(target=_warm, args=(values["shape"], values["policy_set"]),
                                                name="labkit-05-warm", daemon=True))
                started[0].start()

        for name in ("shape", "alpha", "policy_set"):
            controls[name].observe(start_warming, names="value")
    return plot


def _draw_timeline(fig: Any, percent: int) -> str:
    from .. import charts

    ax = fig.axes[0]
    series = timelines(TIMELINE_POLICIES, percent, window=TIMELINE_WINDOW)
    n = len(lesson_trace("shifting"))
    x = (np.arange(n // TIMELINE_WINDOW) + 0.5) * TIMELINE_WINDOW / 1000
    for i, p in enumerate(TIMELINE_POLICIES):
        ax.plot(x, series[p][: len(x)], label=LABELS[p], **charts.series_style(i))
    for shift in range(1, 4):
        ax.axvline(shift * n / 4 / 1000, color="#999999", linewidth=1, linestyle=":")
    ax.set_ylim(0, 1)
    first, last = phase_means(percent)
    worst = min(TIMELINE_POLICIES, key=lambda p: last[p] - first[p])
    charts.finish(
        ax,
        title=f"When the hot set moves (dotted lines), {LABELS[worst]} never recovers",
        xlabel="requests (thousands)",
        ylabel=f"hit ratio per {TIMELINE_WINDOW:,} requests",
    )
    ax.legend(frameon=False, loc="upper center", ncols=len(TIMELINE_POLICIES))
    return (
        f"Cache = {percent}% of keys. Last quarter vs first: "
        + ", ".join(f"{LABELS[p]} {first[p]:.0%} → {last[p]:.0%}" for p in TIMELINE_POLICIES)
    )


def explore_timeline(percent: int = 10) -> LivePlot:
    """Hit ratio over time on the shifting trace: who adapts when popularity moves."""
    from ..widgets import LivePlot, choice

    check_choice("capacity percent", percent, CAPACITY_PERCENTS)
    return LivePlot(_draw_timeline, {"percent": choice("cache size (% of keys)", CAPACITY_PERCENTS, percent)},
                    width=9.0, height=3.6)


def table(trace: Any, capacity: int, policies: tuple[str, ...] = LOOP_TABLE_POLICIES) -> None:
    """Print each policy's hit ratio on ``trace`` at ``capacity`` as a bar of #s."""
    from ..widgets import nudge_if_unlocked

    nudge_if_unlocked()
    results = loop_hit_ratios(trace, capacity, policies)
    print(f"capacity {capacity:,} objects, {len(np.asarray(trace)):,} requests")
    for p, ratio in results.items():
        print(f"  {LABELS[p]:10s} {ratio:6.1%}  {'#' * round(ratio * 40)}")


def redis_demo_chart(demo: Any) -> Figure:
    """Hot keys kept per maxmemory-policy on the real server, beside the simulator's prediction."""
    from .. import charts

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


def show_redis_demo(store: Any = None) -> None:
    """Run the real-Redis eviction demo (see :mod:`.redis_demo`), print it, and draw
    hot keys kept, real beside simulated (nothing to draw if it was skipped)."""
    from .. import charts
    from .redis_demo import real_eviction_demo

    demo = real_eviction_demo(store)
    print(demo)
    if not demo.skipped_reason:
        charts.show(redis_demo_chart(demo))


# ---------------------------------------------------------------- exercises

PASS_MARGIN = 0.02  # within 2 points of the best candidate counts as a right pick
RECENCY_ONLY = ("lru", "fifo", "random", "clock")


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
        why = ""
        if not ok and story == "news" and pick == "lfu":
            why = ", LFU on the news site: its counts never fade"
        elif not ok and story == "nightly-report" and pick in RECENCY_ONLY:
            why = ", recency alone on the report: the scan flushes it"
        mark = "ok" if ok else f"best is {best} at {scores[best]:.0%}{why}"
        notes.append(f"{story}: {pick} {scores[pick]:.0%} ({mark})")
    return passed, "; ".join(notes)


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
        return False, "noeviction refuses writes: nothing is evicted, but once full every write fails (OOM)."
    return False, "an allkeys policy evicts the flags too: allkeys-* may evict any key, the must-keep ones included."


def exercises(store: Any = None) -> ExerciseSet:
    """Notebook 05's exercises: policy per workload, write SIEVE, size a cache, pin keys in Redis."""
    from ..exercises import Exercise, ExerciseSet

    return ExerciseSet({
        "workloads": Exercise(
            "05", "policy-per-workload", _check_workload_picks, kind="choice",
            hint=("Stable popularity rewards frequency; one-time scans punish plain recency; "
                  "moving popularity punishes counts that never fade."),
            solution='answer = {"catalogue": "tinylfu", "nightly-report": "tinylfu", "news": "arc"}',
            reference=lambda: {"catalogue": "tinylfu", "nightly-report": "tinylfu", "news": "arc"},
            mistakes={
                "LFU on the news site": {"catalogue": "tinylfu", "nightly-report": "tinylfu", "news": "lfu"},
                "recency alone on the report": {"catalogue": "tinylfu", "nightly-report": "lru", "news": "arc"},
            },
        ),
        "sieve": sieve_exercise(),
        "sizing": sizing_exercise(),
        "redis_policy": Exercise(
            "05", "redis-pinned-keys", _check_redis_policy, kind="choice",
            hint="Which policies only ever evict keys that have an expiry set?",
            solution='answer = "volatile-lfu"   # or "volatile-lru"; pinned keys get no TTL',
            reference=lambda: "volatile-lfu",
            mistakes={"an allkeys policy evicts the flags": "allkeys-lfu",
                      "noeviction refuses writes": "noeviction"},
        ),
    })
