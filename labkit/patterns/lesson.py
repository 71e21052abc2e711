"""What notebook 01 shows: the live side-by-side comparison and the exercises.

The engine is in the sibling modules: ``core`` (the four patterns), ``replay``
(one workload through all four on a virtual clock), ``demos`` (step-by-step
tables on the notebook's store) and ``grader`` (the replays that grade a
learner's cache-aside).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ahead as drawing_ahead
from ..clock import VirtualClock
from ..database import Database
from ..errors import LabError
from ..exercises import Exercise, ExerciseSet, Implement
from ..memo import memo
from ..store import MemoryStore
from . import grader
from .core import PATTERNS, WriteBehind
from .replay import EXPLORE_DEFAULTS, PatternReport, compare, lost_writes_by_db_state

__all__ = ["explore", "draw_comparison", "exercises", "FITS"]

NOTEBOOK = "01"


# -- 4. The live comparison -----------------------------------------------------------------

_LABELS = {"cache-aside": "cache-\naside", "read-through": "read-\nthrough",
           "write-through": "write-\nthrough", "write-behind": "write-\nbehind"}


def _grouped_bars(ax: Any, reports: list[PatternReport], series: list[tuple[str, list[float]]],
                  *, label_format: str = "") -> None:
    from matplotlib.ticker import MaxNLocator

    from .. import charts

    x = np.arange(len(reports))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label,
                      color=charts.series_style(i)["color"], edgecolor="black", linewidth=0.6,
                      hatch=["", "//", "..", "xx"][i % 4])
        if label_format:
            ax.bar_label(bars, [format(v, label_format) for v in values],
                         fontsize=9 * (1.45 if charts.is_presentation() else 1.0))
    ax.set_xticks(x, [_LABELS.get(r.pattern, r.pattern) for r in reports])
    # Four or five value ticks read as well as eight, and every label costs drawing time.
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))


def _share_the_pattern_axis(top: Any) -> None:
    """A top-row panel: the panel below it names the same four patterns in the same
    places, so this one leaves its pattern labels to that one."""
    top.tick_params(axis="x", labelbottom=False)
    top.xaxis.label.set_visible(False)


def _legend_on_top(ax: Any, ncol: int) -> None:
    ax.legend(loc="upper center", ncol=ncol, frameon=False, fontsize=8,
              bbox_to_anchor=(0.5, 1.0), handlelength=1.6, columnspacing=1.0)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.0f}×" if b else "many times"


def draw_comparison(fig: Any, results: dict[str, PatternReport], *, crash_note: str = "") -> str:
    """Four panels: DB work, latency, staleness, lost writes.  Returns the caption."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    from .. import charts

    reports = list(results.values())
    by = results
    ax_db, ax_lat, ax_stale, ax_lost = fig.axes

    _grouped_bars(ax_db, reports, [
        ("DB reads", [r.db_reads for r in reports]),
        ("DB rows written", [r.db_writes for r in reports]),
        ("DB write queries", [r.db_write_queries for r in reports]),
    ])
    title = "DB work per pattern"
    if {"cache-aside", "write-through"} <= by.keys():
        title = (f"Write-through reads the DB {_ratio(by['cache-aside'].db_reads, by['write-through'].db_reads)}"
                 " less than cache-aside")
    if "write-behind" in by:
        title += f";\nwrite-behind sends {by['write-behind'].db_write_queries} write queries"
    charts.finish(ax_db, title=title, xlabel="pattern", ylabel="DB operations (count)")
    ax_db.set_ylim(0, 1.3 * max(max(r.db_reads, r.db_writes, r.db_write_queries) for r in reports) + 1)
    _legend_on_top(ax_db, 3)

    _grouped_bars(ax_lat, reports, [
        ("read p50", [r.read_p50_ms for r in reports]),
        ("read p99", [r.read_p99_ms for r in reports]),
        ("write p50", [r.write_p50_ms for r in reports]),
        ("write p99", [r.write_p99_ms for r in reports]),
    ])
    ax_lat.set_yscale("log")
    top = max(max(r.read_p99_ms, r.write_p99_ms) for r in reports)
    ax_lat.set_ylim(0.1, top * 6)
    ax_lat.yaxis.set_major_locator(FixedLocator([0.1, 1, 10, 100, 1000]))
    ax_lat.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax_lat.yaxis.set_minor_locator(NullLocator())  # no minor ticks: drawing time, no story
    title = "Request latency per pattern"
    if {"write-through", "write-behind"} <= by.keys():
        title = (f"A write-behind write takes {by['write-behind'].write_p50_ms:.1f} ms,\n"
                 f"a write-through write {by['write-through'].write_p50_ms:.1f} ms (p50)")
    charts.finish(ax_lat, title=title, xlabel="pattern", ylabel="latency (ms, log scale)")
    _legend_on_top(ax_lat, 4)

    _grouped_bars(ax_stale, reports, [
        ("stale: older than the DB", [100 * r.stale_share for r in reports]),
        ("ahead: not in the DB yet", [100 * r.ahead_of_db_share for r in reports]),
    ])
    stale_any = any(r.stale_share for r in reports)
    ahead = by["write-behind"].ahead_of_db_share if "write-behind" in by else 0.0
    title = ("No pattern served a stale read;" if not stale_any else "Some reads were stale;") + (
        f"\nwrite-behind's DB lagged {100 * ahead:.0f}% of its reads")
    charts.finish(ax_stale, title=title, xlabel="pattern", ylabel="share of reads (%)")
    ax_stale.set_ylim(0, max(10.0, 135 * max(max(r.ahead_of_db_share, r.stale_share) for r in reports)))
    _legend_on_top(ax_stale, 2)

    _grouped_bars(ax_lost, reports, [("acknowledged writes lost", [r.lost_on_crash for r in reports])],
                  label_format="d")
    lost = sum(r.lost_on_crash for r in reports)
    charts.finish(
        ax_lost,
        title=(f"The crash lost {lost} acknowledged writes,\nall from write-behind's queue"
               if lost else "The crash lost no acknowledged write"),
        xlabel="pattern", ylabel="writes lost (count)", legend=False,
    )
    ax_lost.set_ylim(0, max(5, 1.2 * lost))
    _share_the_pattern_axis(ax_db)
    _share_the_pattern_axis(ax_lat)

    wb = by.get("write-behind")
    parts = []
    if wb is not None:
        parts.append(
            f"Write-behind turned {wb.writes} app writes into {wb.db_writes} row updates in "
            f"{wb.db_write_queries} batched queries."
        )
    if crash_note:
        parts.append(crash_note)
    return " ".join(parts)


@memo(maxsize=256)
def _replayed(pattern: str, flush_interval_ms: float, **kwargs: Any) -> PatternReport:
    return compare(patterns=(pattern,), flush_interval_ms=flush_interval_ms, **kwargs)[pattern]


def _compare_remembered(flush_interval_ms: float, **kwargs: Any) -> dict[str, PatternReport]:
    """compare(), remembering each pattern's run: the flush interval only changes
    write-behind's, so moving that slider replays one pattern instead of four."""
    return {
        name: _replayed(name, flush_interval_ms if name == "write-behind" else 500.0, **kwargs)
        for name in PATTERNS
    }


class _Warmer:
    """Replays, in the background, the settings one slider step away from the chart's.

    A move then finds its replay remembered and redraws at drawing speed.  Each new
    redraw starts a new generation; an older generation stops at its next replay,
    so warming never queues up behind a learner who moves quickly.
    """

    def __init__(self, controls: dict[str, Any], replay: Callable[[str, dict[str, Any]], Any]) -> None:
        self.controls, self.replay = controls, replay
        self.enabled = False
        self.generation = 0
        self.warmed = 0  # replays run ahead of a move (for the benchmark)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def neighbours(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Every setting one step away, the last-moved slider's first."""
        out = []
        for name, widget in self.controls.items():
            for value in drawing_ahead.control_neighbours(widget, values[name]):
                out.append({**values, name: value})
        return out

    def cancel(self) -> int:
        """Stop the running generation at its next replay (a redraw needs the CPU)."""
        with self._lock:
            self.generation += 1
            return self.generation

    def start(self, values: dict[str, Any]) -> None:
        # In a kernel the chart's own steps are drawn ahead (labkit.ahead), replays and all.
        if not self.enabled or drawing_ahead.enabled():
            return
        generation = self.cancel()
        todo = self.neighbours(values)
        self._thread = threading.Thread(target=self._work, args=(generation, todo), name="labkit-01-warm",
                                        daemon=True)
        self._thread.start()

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for the current warming to finish (benchmarks; a learner never waits)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self, generation: int, todo: list[dict[str, Any]]) -> None:
        for settings in todo:
            for name in PATTERNS:
                if self.generation != generation:
                    return
                try:
                    self.replay(name, settings)
                except Exception:  # warming is a courtesy: a failure shows on the real move
                    return
                self.warmed += 1


def _settings_key(values: dict[str, Any]) -> dict[str, float]:
    """Slider values rounded, so a value the browser computed finds the one warmed here."""
    return {name: round(float(v), 4) for name, v in values.items()}


def explore(*, n_requests: int = EXPLORE_DEFAULTS["n_requests"], n_keys: int = EXPLORE_DEFAULTS["n_keys"],
            seed: int = EXPLORE_DEFAULTS["seed"]) -> Any:
    """The four patterns side by side on one workload, with live controls.

    "Crash now" stops the run at a random request (a new one each press);
    until it is pressed, the process crashes after the last request.  Once the
    chart is shown, the replays one slider step away run in the background
    (``plot.warm_up()``), so the next move redraws without replaying.
    """
    from ..widgets import LivePlot, log_slider, slider

    state: dict[str, Any] = {"presses": 0, "crash_at": None}

    def crash_now(_plot: Any) -> None:
        state["presses"] += 1
        rng = np.random.default_rng(seed + state["presses"])
        state["crash_at"] = int(rng.integers(n_requests // 4, n_requests))

    def replay_one(pattern: str, values: dict[str, Any]) -> PatternReport:
        settings = _settings_key(values)
        flush = settings.pop("flush_interval_ms") if pattern == "write-behind" else 500.0
        return _replayed(pattern, flush, n_requests=n_requests, seed=seed, n_keys=n_keys,
                         crash_at=state["crash_at"], **{k: v for k, v in settings.items()
                                                         if k != "flush_interval_ms"})

    def draw(fig: Any, **values: float) -> str:
        results = {name: replay_one(name, values) for name in PATTERNS}
        served = next(iter(results.values())).requests_run
        lost = results["write-behind"].lost_on_crash
        note = (f"The process crashed after request {served:,} of {n_requests:,}: "
                f"write-behind lost {lost} acknowledged writes.")
        return draw_comparison(fig, results, crash_note=note)

    controls = {
        "write_ratio": slider("writes (share of requests)", 0.0, 0.9, 0.05, EXPLORE_DEFAULTS["write_ratio"]),
        "alpha": slider("key popularity (Zipf alpha)", 0.2, 1.6, 0.1, EXPLORE_DEFAULTS["alpha"]),
        "db_latency_ms": log_slider("DB latency (ms)", 0.5, 50.0, EXPLORE_DEFAULTS["db_latency_ms"]),
        "flush_interval_ms": log_slider("write-behind flush every (ms)", 10.0, 5000.0,
                                        EXPLORE_DEFAULTS["flush_interval_ms"]),
    }
    warmer = _Warmer(controls, replay_one)

    class ComparisonPlot(LivePlot):
        def redraw(self, force: bool = False, **kw: Any) -> None:
            warmer.cancel()  # the redraw gets the CPU; warming resumes from the new values
            super().redraw(force, **kw)
            warmer.start(self.values)

        def warm_up(self) -> None:
            """Replay the settings one slider step away in the background, from now on."""
            warmer.enabled = True
            warmer.start(self.values)

        def _ipython_display_(self) -> None:
            super()._ipython_display_()
            self.warm_up()

    plot = ComparisonPlot(draw, controls, nrows=2, ncols=2, width=10.0, height=6.6,
                          buttons={"Crash now": crash_now})
    plot.warmer = warmer
    return plot


# -- 5. Exercises ------------------------------------------------------------------------------

# For each data set: the patterns that fit, and why (shown as feedback).
FITS: dict[str, tuple[tuple[str, ...], str]] = {
    "session store": (
        ("write-through", "cache-aside", "read-through"),
        "read on every request and must show a user's own change on the next one; "
        "losing an acknowledged login or cart change is not acceptable, so never write-behind",
    ),
    "product catalogue": (
        ("cache-aside", "read-through"),
        "read-heavy, rarely written, and a first-read miss is harmless: the default",
    ),
    "account balance": (
        ("write-through",),
        "no acknowledged write may be lost, and once a write is acknowledged no cached copy may be "
        "older than it (the version guard also closes the stale-set race) - never write-behind for "
        "money; the check that moves money reads the database itself",
    ),
    "page-view counter": (
        ("write-behind",),
        "write-heavy and loss-tolerant: coalescing turns thousands of increments into a few "
        "batched updates, and losing the last second of views is acceptable",
    ),
}


def _check_choices(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict):
        raise LabError("Answer with a dict: {'session store': 'write-through', ...}.")
    missing = [name for name in FITS if name not in answer]
    if missing:
        return False, f"add a pattern for: {', '.join(missing)}."
    wrong = []
    for name, (fits, why) in FITS.items():
        choice = answer[name]
        if choice not in PATTERNS:
            raise LabError(f"Unknown pattern {choice!r} for {name}; choose one of: {', '.join(PATTERNS)}.")
        if choice not in fits:
            wrong.append(f"{name}: not {choice} - {why}")
    if wrong:
        return False, "; ".join(wrong) + "."
    return True, "each data set got a pattern that matches how it is read, written and how much loss it tolerates."


def _check_shutdown(shutdown: Any) -> tuple[bool, str]:
    if not callable(shutdown):
        raise LabError("Answer with a function: def shutdown(pattern): ...")
    clock = VirtualClock()
    db = Database(clock, rows=20, latency_seconds=0.005)
    store = MemoryStore(clock, namespace="exercise")
    counter = WriteBehind(store, db, clock=clock, flush_interval_seconds=10.0)
    acknowledged = []
    for i in range(50):
        clock.advance(0.01)
        counter.write(i % 20, f"views {i}")
        acknowledged.append((i % 20, f"views {i}"))
    shutdown(counter)
    if not counter.closed:
        counter.crash()  # the process exits after the shutdown hook, whatever it did
    lost = lost_writes_by_db_state(acknowledged, db)
    if lost:
        return False, f"{len(lost)} of {len(acknowledged)} acknowledged writes never reached the database."
    return True, f"all {len(acknowledged)} acknowledged writes reached the database."


def exercises(store: Any = None) -> ExerciseSet:
    """The notebook's exercises: ``choose``, ``cache_aside`` (implement) and ``shutdown``."""
    good_choice = {"session store": "write-through", "product catalogue": "cache-aside",
                   "account balance": "write-through", "page-view counter": "write-behind"}
    return ExerciseSet({
        "choose": Exercise(
            NOTEBOOK, "choose-a-pattern", _check_choices,
            hint="Ask two questions per data set: can a reader accept an older value, and can "
                 "the last few acknowledged writes be lost?",
            solution="answer = {\n    'session store': 'write-through',\n"
                     "    'product catalogue': 'cache-aside',\n"
                     "    'account balance': 'write-through',\n"
                     "    'page-view counter': 'write-behind',\n}",
            kind="choice",
            reference=lambda: dict(good_choice),
            mistakes={"write-behind for money": {**good_choice, "account balance": "write-behind"},
                      "write-through for a counter": {**good_choice, "page-view counter": "write-through"}},
        ),
        "cache_aside": Implement(
            NOTEBOOK, "write-cache-aside", grader.SCENARIOS,
            hint="read: GET the key; on a hit return labkit.Row.from_cache(text); on a miss read the "
                 "database, SET the copy with ttl_seconds=self.ttl_seconds, return the row. write: which "
                 "must happen first, the database write or the cache step - and what goes wrong if a "
                 "reader arrives between the two?",
            reference=lambda: grader.MyCacheAside,
            mistakes=grader.MISTAKES,
            alternatives=grader.ALTERNATIVES,
            skeleton=grader.SKELETON,
            solution=grader.solution_source(),
        ),
        "shutdown": Exercise(
            NOTEBOOK, "clean-shutdown", _check_shutdown,
            hint="Writes still in the queue exist only in this process. Which method empties "
                 "the queue into the database before the process goes away?",
            solution="def shutdown(pattern):\n    pattern.close()   # flushes every queued write",
            reference=lambda: _close,
            mistakes={"crash instead of close": _crash, "nothing": _do_nothing},
        ),
    })


def _close(pattern: Any) -> None:
    pattern.close()


def _crash(pattern: Any) -> None:
    pattern.crash()


def _do_nothing(pattern: Any) -> None:
    return None
