"""What notebook 00 shows: the live "where does the time go" chart, the course map
and the exercises.  The numbers come from :mod:`labkit.tour.system`."""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

import numpy as np

from .. import charts
from ..errors import check_ttl
from ..exercises import Exercise, ExerciseSet
from .system import TOUR_TRAFFIC, longest_ttl_under, mean_read_ms, measure

__all__ = ["explore", "exercises", "course_map", "CourseMap"]

NOTEBOOK = "00"
STALE_BUDGET = 0.05
# Room above the tallest bar for the one-row legend, so it never covers a bar.
_HEADROOM = 1.4


def _draw(fig: Any, app_work_ms: float, db_latency_ms: float, ttl_seconds: float, write_ratio: float) -> str:
    system = dict(app_work_ms=app_work_ms, db_latency_ms=db_latency_ms,
                  traffic=replace(TOUR_TRAFFIC, write_ratio=write_ratio))
    before = measure(use_cache=False, **system)
    after = measure(use_cache=True, ttl_seconds=ttl_seconds, **system)
    ax_time, ax_truth = fig.axes
    labels = ["no cache", "with cache"]
    parts = [("app work", "app_ms", 2), ("cache round trips", "cache_ms", 1), ("database", "db_ms", 0)]
    bottom = np.zeros(2)
    hatches = ["", "//", ".."]
    for (name, attr, style_i), hatch in zip(parts, hatches, strict=True):
        vals = np.array([getattr(before, attr), getattr(after, attr)])
        ax_time.bar(labels, vals, bottom=bottom, label=name, color=charts.series_style(style_i)["color"],
                    hatch=hatch, edgecolor="white")
        bottom += vals
    speedup = before.total_ms / after.total_ms
    charts.finish(ax_time, title=f"The cache makes a request {speedup:.1f}x faster on average",
                  xlabel="configuration", ylabel="mean time per request (ms)", legend=False)
    # The legend sits in a band above the bars (one row), whatever the app work is.
    ax_time.set_ylim(0, _HEADROOM * float(bottom.max()))
    ax_time.legend(loc="upper center", ncol=3, frameon=False, fontsize="small",
                   handlelength=1.4, columnspacing=1.0, borderaxespad=0.3)
    shares = [after.hit_ratio * 100, after.stale_share * 100]
    bars = ax_truth.bar(["hit ratio", "stale reads"], shares,
                        color=[charts.series_style(0)["color"], charts.series_style(3)["color"]],
                        hatch=["", "xx"], edgecolor="white")
    ax_truth.bar_label(bars, fmt="%.1f%%")
    ax_truth.set_ylim(0, 110)
    charts.finish(ax_truth, title=f"…but {after.stale_share:.1%} of reads were out of date",
                  xlabel="with cache", ylabel="share of reads (%)")
    return (
        f"DB queries: {before.db_queries:,} without the cache, {after.db_queries:,} with it. "
        f"The oldest stale read was {after.max_stale_age_seconds:.1f} s behind the database. "
        f"App work is now {after.app_ms / after.total_ms:.0%} of a cached request: "
        "that part no cache can remove."
    )


def explore() -> Any:
    """Notebook 00's live chart: where a request's time goes, and what the cache costs."""
    from ..widgets import LivePlot, log_slider, slider

    return LivePlot(
        _draw,
        {
            "app_work_ms": slider("app work per request (ms)", 0, 50, 1, 2),
            "db_latency_ms": slider("database query (ms)", 1, 50, 1, 8),
            "ttl_seconds": log_slider("cache TTL (s)", 1, 300, 30),
            "write_ratio": slider("share of requests that are writes", 0, 0.3, 0.01, 0.02),
        },
        ncols=2,
        width=10,
        height=3.8,
    )


class CourseMap:
    """The course map (``labkit.course.NOTEBOOKS``) as a table: HTML in a notebook, text elsewhere."""

    def __init__(self, after: str = NOTEBOOK) -> None:
        from ..course import NOTEBOOKS

        self.lessons = [lesson for lesson in NOTEBOOKS if lesson.number > after]

    @property
    def minutes(self) -> int:
        return sum(lesson.minutes for lesson in self.lessons)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='text-align:left'><a href='{html.escape(lesson.notebook_file)}'>"
            f"{lesson.number} · {html.escape(lesson.title)}</a></td>"
            f"<td style='text-align:left'>{html.escape(lesson.summary)}</td>"
            f"<td style='text-align:right'>{lesson.minutes}</td></tr>"
            for lesson in self.lessons
        )
        return ("<table><caption style='text-align:left'><b>The lab's map</b> "
                f"({len(self.lessons)} notebooks, about {self.minutes / 60:.0f} hours)</caption>"
                "<thead><tr><th scope='col' style='text-align:left'>notebook</th>"
                "<th scope='col' style='text-align:left'>what you will run</th>"
                f"<th scope='col'>minutes</th></tr></thead><tbody>{rows}</tbody></table>")

    def __str__(self) -> str:
        return "\n".join(f"{lesson.number} {lesson.title:<24} {lesson.minutes:>3} min  {lesson.summary}"
                         for lesson in self.lessons)

    def __repr__(self) -> str:
        return f"<CourseMap: notebooks {self.lessons[0].number}-{self.lessons[-1].number}>"


def course_map() -> CourseMap:
    """Every notebook after this one: what it runs and how long it takes."""
    return CourseMap()


def _check_mean_latency(answer_ms: Any) -> tuple[bool, str]:
    expected = mean_read_ms(0.9)
    ok = abs(float(answer_ms) - expected) < 0.01
    if ok:
        return True, (f"{expected:.2f} ms: the 10% of misses cost {expected - 0.9 * 0.2:.2f} ms of it, "
                      "the 90% of hits only 0.18 ms.")
    return False, f"{answer_ms} ms is not it; weigh each outcome by how often it happens."


def _check_best_speedup(answer: Any) -> tuple[bool, str]:
    expected = (40 + 8) / 40
    if abs(float(answer) - expected) < 0.05:
        return True, (f"{expected:.2f}x at best: the 40 ms of rendering is untouched by a data cache. "
                      "Measure first!")
    return False, "Not quite: what is left of the request when the DB part is free?"


def _check_ttl_budget(answer: Any) -> tuple[bool, str]:
    ttl = check_ttl(float(answer))
    stale = measure(use_cache=True, ttl_seconds=ttl).stale_share
    best = longest_ttl_under(STALE_BUDGET)
    if stale > STALE_BUDGET:
        return False, f"at {ttl:g} s, {stale:.1%} of reads are stale: over the 5% budget."
    if ttl < 0.5 * best:
        return False, (f"{stale:.1%} stale is within budget, but a TTL about {best:g} s would be too, "
                       "and a longer TTL saves more DB load.")
    return True, f"{stale:.1%} stale at {ttl:g} s (the longest on the slider's grid is about {best:g} s)."


def exercises(store: Any = None) -> ExerciseSet:
    """Notebook 00's exercises, checked by the same code the lesson uses."""
    return ExerciseSet({
        "mean_latency": Exercise(
            NOTEBOOK, "mean-latency", _check_mean_latency,
            hint="mean = hit_ratio x (cost of a hit) + miss_ratio x (cost of a miss); "
            "a miss pays the GET, the DB query and the SET.",
            solution="answer_ms = 0.9 * 0.2 + 0.1 * (0.2 + 8 + 0.2)   # = 1.02 ms",
            reference=lambda: mean_read_ms(0.9),
            mistakes={"a miss without its cache round trips": 0.9 * 0.2 + 0.1 * 8,
                      "only the hits": 0.2},
        ),
        "best_speedup": Exercise(
            NOTEBOOK, "best-speedup", _check_best_speedup,
            hint="If the database part took 0 ms, how long would the request take? Divide the old time by that.",
            solution="answer = (40 + 8) / 40   # = 1.2x: Amdahl's law",
            reference=lambda: (40 + 8) / 40,
            mistakes={"the database alone": 48 / 8},
        ),
        "ttl_budget": Exercise(
            NOTEBOOK, "ttl-budget", _check_ttl_budget,
            hint="Move the TTL slider (other controls at their defaults) and watch the stale-read bar, "
            "or call tour.measure(use_cache=True, ttl_seconds=...).stale_share.",
            solution="ttl_answer = tour.longest_ttl_under(0.05)   # search the TTL grid",
            reference=lambda: longest_ttl_under(STALE_BUDGET),
            mistakes={"over the staleness budget": 300.0, "wasteful": 2.0},
        ),
    })
