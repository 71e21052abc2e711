"""Notebook 02's live charts and exercises (the notebook holds the idea, this the plumbing).

Every ``explore_*`` function returns a :class:`~labkit.widgets.LivePlot`.  The
implement exercises are graded by replays in :mod:`.tenant_grader`, :mod:`.race_grader`
(the stale-set race and more against the learner's reader) and :mod:`.near_grader`
(the lossy pub/sub replays against the learner's near cache).
"""

from __future__ import annotations

from typing import Any

from matplotlib.ticker import MaxNLocator

from .. import charts
from ..exercises import Exercise, ExerciseSet, Implement
from ..store import Store
from ..widgets import LivePlot, choice, log_slider, slider, toggle
from . import near_grader, race_grader, tenant_grader
from .near import DISCONNECTED_SECONDS, LossSafeNearCache, simulate_events
from .race import (
    STRATEGIES,
    STRATEGY_LABELS,
    THREADED_RACE,
    RaceStepper,
    replay,
    run_concurrent,
)
from .race_grader import _naive_read, check_race_fix  # noqa: F401 - part of this lesson's surface
from .ttl_only import KEY_TRAFFIC, simulate_ttl, stacked_worst_case
from .versioned import compare_bump_and_scan

BUDGET_SECONDS, SHARED_TTL_SECONDS = 60.0, 45.0


def _fixed_title_position(fig: Any) -> None:
    # Titles stay put: automatic placement looks for top tick labels these charts never have.
    for ax in fig.axes:
        ax.set_title(ax.get_title(), y=1.0)


def _legend(ax: Any, loc: str) -> None:
    # A fixed place: "best" searches the data on every draw.
    ax.legend(frameon=False, loc=loc, fontsize="small")


# ---------------------------------------------------------------------------------
# TTL alone
# ---------------------------------------------------------------------------------


def draw_ttl(fig: Any, ttl_seconds: float) -> str:
    run = simulate_ttl(round(float(ttl_seconds), 3))
    left, right = fig.axes
    for i, (versions, label) in enumerate(
        ((run.db_versions, "version in the DB"), (run.served_versions, "version readers got"))
    ):
        left.step(run.times, versions, where="post", label=label, **charts.series_style(i) | {"marker": None})
    stale = [s < d for s, d in zip(run.served_versions, run.db_versions, strict=True)]
    left.fill_between(run.times, 0, 1, where=stale, step="post", transform=left.get_xaxis_transform(),
                      color=charts.series_style(3)["color"], alpha=0.15, label="stale")
    charts.finish(left, title=f"Key {run.shown_key}: readers lag each write until the copy expires",
                  xlabel="time (s, simulated)", ylabel="row version")
    left.yaxis.set_major_locator(MaxNLocator(5, integer=True))  # few tick labels: cheaper to draw
    _legend(left, "upper left")
    right.plot(run.stale_times, run.stale_ages_seconds, linestyle="none", markersize=3,
               label="one stale read", color=charts.series_style(1)["color"], marker=charts.series_style(1)["marker"])
    right.axhline(ttl_seconds, label=f"TTL = {ttl_seconds:.3g} s", **charts.LIMIT_STYLE)
    right.set_ylim(0, ttl_seconds * 1.5)  # room for the legend above the TTL line
    right.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
    charts.finish(right, title=f"No stale read was older than the TTL (max {run.max_stale_age_seconds:.1f} s)",
                  xlabel="time (s, simulated)", ylabel="age of the value read (s)")
    _legend(right, "upper right")
    _fixed_title_position(fig)
    return (
        f"TTL {ttl_seconds:.3g} s, no invalidation on write, {KEY_TRAFFIC.keys} keys each written about once a "
        f"minute: {run.stale_share:.0%} of reads were stale, the oldest by "
        f"{run.max_stale_age_seconds:.1f} s; hit ratio {run.hit_ratio:.0%}."
    )


def explore_ttl() -> LivePlot:
    """TTL as the only invalidation: the slider sets the TTL; the stale window follows it."""
    return LivePlot(draw_ttl, {"ttl_seconds": log_slider("TTL (s)", 1, 120, 30)}, ncols=2, width=11, height=3.8)


# ---------------------------------------------------------------------------------
# Events over pub/sub
# ---------------------------------------------------------------------------------

NEAR_CACHES = ("drops the named key only", "also flushes on a reconnect or a gap")


def explore_events(store: Store) -> LivePlot:
    """Three instances behind pub/sub; instance C is cut off while the first write is published.

    Runs are kept per setting (they are deterministic), so moving a control back is free.
    """
    runs: dict[tuple[float, bool, bool], Any] = {}

    def draw(fig: Any, near_ttl_seconds: float, lose_message: bool, near_cache: str) -> str:
        flush = near_cache == NEAR_CACHES[1]
        setting = (float(near_ttl_seconds), bool(lose_message), flush)
        if setting not in runs:
            runs[setting] = simulate_events(store, near_ttl_seconds=near_ttl_seconds,
                                            lose_message=lose_message, flush_on_loss=flush)
        run = runs[setting]
        ax = fig.axes[0]
        ax.step(run.times, run.db_versions, where="post", label="DB", color="#000000", linewidth=3, alpha=0.35)
        for i, name in enumerate(run.served):
            offset = (i - 1) * 0.06  # keep overlapping lines visible
            style = charts.series_style(i) | {"marker": None}
            ax.step(run.times, [v + offset for v in run.served[name]], where="post",
                    label=f"instance {name}", **style)
        for t in run.write_times:
            ax.axvline(t, color="#999999", linewidth=1, linestyle=":")
        if run.away is not None:
            ax.axvspan(*run.away, color="#999999", alpha=0.2, linewidth=0, label="C disconnected")
        last = list(run.served)[-1]
        if run.stale_reads[last] and flush:
            title = (f"Instance {last} flushed when it reconnected: stale for "
                     f"{run.stale_reads[last]} reads, not until its TTL")
        elif run.stale_reads[last]:
            title = (f"Instance {last} missed one message and served the old row until "
                     f"t = {run.stale_until[last]:g} s, when its {near_ttl_seconds:g} s TTL ran out")
        else:
            title = "Every instance dropped its copy on each write: nobody served an old row"
        charts.finish(ax, title=title, xlabel="time (s, simulated; dotted lines = writes)",
                      ylabel="row version served")
        ax.yaxis.get_major_locator().set_params(integer=True)
        _legend(ax, "upper left")
        _fixed_title_position(fig)
        counts = ", ".join(f"{n}: {run.stale_reads[n]}" for n in run.served)
        caption = f"Stale reads per instance ({counts}); messages that never reached C: {run.lost[last]}."
        # Say why a control that changes nothing in this state has no visible effect.
        if not lose_message:
            caption += (" With no message lost, neither the near-cache TTL nor C's near cache changes "
                        "what anyone serves: every copy is dropped by its message, and an expired copy is "
                        "refilled with the same row.")
        elif flush and near_ttl_seconds > DISCONNECTED_SECONDS[1] - DISCONNECTED_SECONDS[0]:
            caption += (" With the flush, C's stale stretch ends at the reconnect, so the near-cache TTL "
                        "no longer decides it.")
        return caption

    controls = {
        "near_ttl_seconds": slider("near-cache TTL (s)", 2, 40, 1, 20),
        "lose_message": toggle("C is cut off during the first write", True),
        "near_cache": choice("C's near cache", list(NEAR_CACHES), NEAR_CACHES[0]),
    }
    return LivePlot(draw, controls, width=10, height=3.8)


# ---------------------------------------------------------------------------------
# Versioned keys
# ---------------------------------------------------------------------------------


def explore_versioned(store: Store, keys: int = 2000, *, name: str = "tenant:99") -> LivePlot:
    """One bump vs SCAN+DEL over the same ``keys`` keys, measured on ``store``.

    It uses its own namespace (``name``) so the learner's own ``tenant:7`` is untouched.
    """

    def draw(fig: Any) -> str:
        r = compare_bump_and_scan(store, keys, name=name)
        left, right = fig.axes
        names = ["generation bump", "SCAN + DEL"]
        trips = [r["bump_round_trips"], r["scan_round_trips"]]
        millis = [r["bump_seconds"] * 1000, r["scan_seconds"] * 1000]
        colors = [charts.series_style(0)["color"], charts.series_style(1)["color"]]
        for ax, values in ((left, trips), (right, millis)):
            bars = ax.bar(names, values, color=colors)
            ax.bar_label(bars, labels=[f"{v:.3g}" for v in values])
        right.set_yscale("log")
        charts.finish(left, title=f"A bump is 1 command; SCAN+DEL needed {trips[1]:g} for {keys:,} keys",
                      xlabel="how the tenant was invalidated", ylabel="commands sent")
        charts.finish(right, title=f"SCAN+DEL took {millis[1] / max(millis[0], 1e-6):,.0f}x longer",
                      xlabel="how the tenant was invalidated", ylabel="time (ms, log scale)")
        return (f"{keys:,} keys of {name} on {store.backend}: the bump made them unreachable at once "
                f"(old key reachable afterwards: {r['old_key_reachable_after_bump']}); "
                f"SCAN+DEL sent {r['scan_calls']} SCAN call(s) (COUNT 1000) and {r['delete_batches']} "
                f"DEL batches, and deleted {r['scan_deleted']:,} keys.")

    return LivePlot(draw, {}, ncols=2, width=10, height=3.6)


# ---------------------------------------------------------------------------------
# The stale-set race
# ---------------------------------------------------------------------------------


def draw_race(fig: Any, stepper: RaceStepper) -> str:
    lanes, versions = fig.axes
    steps = len(stepper.schedule)
    lanes.set_xlim(0.5, steps + 0.5)
    lanes.set_ylim(-0.6, 1.6)
    lanes.set_xticks(range(1, steps + 1))  # whole steps only: half the tick labels to draw
    lanes.set_yticks([0, 1], ["writer", "reader"])
    for i, actor in enumerate(stepper.schedule, start=1):
        if i > len(stepper.events):
            lanes.text(i, 1 if actor == "reader" else 0, "next" if i == stepper.position + 1 else "…",
                       ha="center", va="center", color="#999999", fontsize=8)
    for ev in stepper.events:
        y = 1 if ev.actor == "reader" else 0
        color = charts.series_style(0 if ev.actor == "reader" else 1)["color"]
        lanes.text(ev.index, y, ev.text.replace(" → ", "\n→ "), ha="center", va="center", fontsize=7.5,
                   bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": color})
    lanes.grid(False)
    charts.finish(lanes, title=f"{STRATEGY_LABELS[stepper.strategy]}: the two timelines, one operation per step",
                  xlabel="step", ylabel="who acts")
    xs = [0] + [ev.index for ev in stepper.events]
    db_v = [1] + [ev.db_version for ev in stepper.events]
    cache_v = [None] + [int(ev.cache_state[1:]) if ev.cache_state.startswith("v") else None
                        for ev in stepper.events]
    versions.step(xs, db_v, where="post", label="DB", **charts.series_style(1))
    versions.plot(xs, [float("nan") if v is None else v for v in cache_v], linestyle="none",
                  markersize=10, label="cache", color=charts.series_style(0)["color"], marker="o")
    for ev in stepper.events:
        if ev.cache_state in ("empty", "lease"):
            versions.text(ev.index, 0.7, ev.cache_state, ha="center", fontsize=8, color="#555555")
    versions.set_xlim(-0.5, steps + 0.5)
    versions.set_xticks(range(0, steps + 1))
    versions.set_ylim(0.4, 2.6)
    versions.set_yticks([1, 2])
    if stepper.done:
        out = stepper.outcome()
        if out.stale:
            title = (f"Stale: the cache keeps v{out.cached_version} while the DB has v{out.db_version}, "
                     f"for the {out.stale_for_seconds:.0f} s left on its TTL")
        else:
            state = "empty" if out.cached_version is None else f"v{out.cached_version}"
            title = f"Safe: the cache ends {state} and the DB has v{out.db_version}; nothing stale"
    else:
        title = "Press Step to run the next operation"
    charts.finish(versions, title=title, xlabel="step", ylabel="row version")
    _legend(versions, "upper left")
    _fixed_title_position(fig)
    return ("Steps: reader misses, reader reads the old row, writer commits, writer invalidates, "
            "reader fills. Pick a fix, press Reset, then Step.")


def explore_race(store: Store, strategy: str = "naive") -> LivePlot:
    """The race stepper: a dropdown of fixes, Step and Reset buttons, both timelines drawn."""
    state = {"stepper": RaceStepper(store, strategy)}
    state["stepper"].run()  # the default view already shows how the story ends

    def draw(fig: Any, strategy: str) -> str:
        if state["stepper"].strategy != strategy:
            state["stepper"] = RaceStepper(store, strategy)
            state["stepper"].run()
        return draw_race(fig, state["stepper"])

    plot = LivePlot(
        draw,
        {"strategy": choice("fix", list(STRATEGIES), strategy)},
        nrows=2, width=10, height=5.6,
        buttons={"Step ▶": lambda _p: state["stepper"].step(), "Reset": lambda _p: state["stepper"].reset()},
    )
    plot.stepper = lambda: state["stepper"]  # type: ignore[attr-defined]
    return plot


def compare_fixes(store: Store, *, concurrent: bool = True) -> LivePlot:
    """All four strategies: the bad interleaving (left) and reader/writer threads (right)."""

    def draw(fig: Any) -> str:
        left, right = fig.axes
        names = [STRATEGY_LABELS[s].replace(", ", ",\n").replace(" + ", "\n+ ") for s in STRATEGIES]
        colors = [charts.series_style(i)["color"] for i in range(len(STRATEGIES))]
        lifetimes = [replay(store, s).stale_for_seconds for s in STRATEGIES]
        bars = left.barh(names, lifetimes, color=colors)
        left.bar_label(bars, labels=[f"{v:.0f} s" for v in lifetimes])
        left.invert_yaxis()
        charts.finish(left, title="Same interleaving: only a TTL ends the naive stale entry",
                      xlabel="how long the stale entry lives (s)", ylabel="strategy")
        if concurrent:
            results = [run_concurrent(store, s) for s in STRATEGIES]
            stale = [r.stale_keys_after_settle for r in results]
            bars = right.barh(names, stale, color=colors)
            right.bar_label(bars, labels=[str(v) for v in stale])
            right.invert_yaxis()
            right.set_xlim(0, results[0].keys)
            fixes_clean = not any(stale[1:])
            if stale[0] and fixes_clean:
                title = f"Threads: naive left {stale[0]} of {results[0].keys} keys stale, fixes 0"
            elif fixes_clean:
                title = "Threads: this run dodged the race; run it again"
            else:
                title = "Threads: stale keys left once writes settle"
            charts.finish(right, title=title, xlabel=f"keys still stale (of {results[0].keys})",
                          ylabel="strategy")
        return (f"Left: the scripted bad interleaving. Right: {THREADED_RACE.readers} reader threads and a writer "
                "updating each key twice in quick succession, counted once writes stop "
                "(and the short TTL has run out).")

    return LivePlot(draw, {}, ncols=2, width=11, height=3.6)


# ---------------------------------------------------------------------------------
# Exercises: the implement exercises' replays live in tenant_grader, race_grader and
# near_grader; the staleness budget is checked here.
# ---------------------------------------------------------------------------------


def _check_budget(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer <= 0:
        return False, f"answer with a number of seconds > 0 (got {answer!r})."
    worst = stacked_worst_case(SHARED_TTL_SECONDS, float(answer))
    if worst > BUDGET_SECONDS:
        return False, (f"with a {answer:g} s near-cache TTL a reader can see a value {worst:.1f} s old: "
                       "the two layers' TTLs add up - over the staleness budget of 60 s.")
    if answer < 10:
        return False, (f"{answer:g} s keeps within budget (worst {worst:.1f} s) but is wasteful: it expires "
                       "far more often than needed; find the largest TTL that fits.")
    return True, f"worst case measured {worst:.1f} s, within the 60 s budget."


def exercises(store: Store | None = None) -> ExerciseSet:
    """Notebook 02's exercises, graded on ``store`` (an in-process store if None)."""
    from ..store import MemoryStore

    store = store if store is not None else MemoryStore(namespace="02-exercises")
    return ExerciseSet({
        "tenant": Implement(
            "02", "invalidate-tenant", tenant_grader.tenant_scenarios(store),
            hint="invalidation.VersionedNamespace(store, f'tenant:{tenant_id}') builds every key from a "
                 "generation counter. What single command changes it - atomically, and only forward?",
            reference=lambda: tenant_grader.invalidate_tenant,
            mistakes=tenant_grader.TENANT_MISTAKES,
            alternatives=tenant_grader.TENANT_ALTERNATIVES,
            skeleton="def invalidate_tenant(store, tenant_id):\n    ...\n",
        ),
        "race": Implement(
            "02", "fix-the-race", race_grader.race_scenarios(store),
            hint="Before reading the DB, claim the key with a placeholder: store.set(key, token, "
                 "ttl_seconds=10, nx=True). The writer's DEL removes it. Set the row only with "
                 "store.compare_and_set(key, token, ...), which fails if the placeholder is gone.",
            reference=lambda: race_grader.read_item,
            mistakes=race_grader.RACE_MISTAKES,
            alternatives=race_grader.RACE_ALTERNATIVES,
            equivalent_mutants=race_grader.RACE_EQUIVALENT_MUTANTS,
        ),
        "loss-safe": Implement(
            "02", "loss-safe-near-cache", near_grader.LOSSY_GRADING,
            hint="Keep the newest number seen. A message numbered more than last_seq + 1 means one or more "
                 "were lost: you cannot know which keys changed, so self.clear(). Otherwise self.drop(key). "
                 "Never move last_seq backwards (a late message). On a reconnect, self.clear().",
            reference=lambda: LossSafeNearCache,
            mistakes=near_grader.LOSSY_MISTAKES,
            alternatives=near_grader.LOSSY_ALTERNATIVES,
            skeleton=near_grader.LOSS_SAFE_SKELETON,
        ),
        "budget": Exercise(
            "02", "ttl-budget", _check_budget,
            hint="In the worst case the near cache copies the Redis entry just before it expires, "
                 "and then keeps it for its own TTL. The ages add.",
            solution="near_ttl_seconds = 15   # 45 s in Redis + 15 s near = 60 s, the budget",
            reference=lambda: 15, mistakes={"over the staleness budget": 30, "wasteful": 3},
        ),
    })
