"""Notebook 03's lesson layer: the live charts, the data sets and the exercises.

Every ``explore*`` function returns a :class:`~labkit.widgets.LivePlot`.  The
simulated dots behind a chart are memoized per (traffic, TTL); a dot not simulated
yet is computed in the background while the model lines redraw at once, so a
slider answers in one draw and the dots follow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import charts
from ..ahead import draft, rendering_ahead
from ..errors import LabError
from ..exercises import Exercise, ExerciseSet
from ..widgets import LivePlot, choice, log_slider, slider
from . import settings
from ._common import _check_ttl
from .jitter import jitter_timeline
from .model import break_even_hit_ratio, break_even_ttl, longest_ttl_within, model, model_curve, read_latency_ms
from .settings import (
    CHART_CACHE_MS,
    CHART_DB_MS,
    EXERCISE_TRAFFIC,
    STALE_BUDGET,
    TTL_MAX_SECONDS,
    TTL_MIN_SECONDS,
    chart_point,
    format_seconds,
    needs_event_invalidation,
)
from .simulation import SimResult
from .traffic import Traffic, popularity_bands

# (traffic, TTL) pairs whose chart dot has been simulated in this process.  The memo
# behind chart_point holds the results; this set only lets a draw ask "is it ready?"
# without computing it (after labkit.forget() a listed dot is simply recomputed).
_SIMULATED: set[tuple[Traffic, float]] = set()


def _dots(traffic: Traffic, ttls: Iterable[float], *, wait: bool) -> dict[float, SimResult]:
    """The simulated dots that are ready (all of them if ``wait``)."""
    ready = {}
    for ttl in ttls:
        if wait or (traffic, ttl) in _SIMULATED:
            ready[ttl] = chart_point(traffic, ttl)
            _SIMULATED.add((traffic, ttl))
    return ready


def _simulate_later(plot: LivePlot, traffic: Traffic, ttls: Iterable[float]) -> bool:
    """Simulate missing dots in the background; the plot redraws with them when done.

    Called from inside a draw: the simulation starts once that draw's image is out,
    so it never slows the redraw the learner is waiting for.  True if dots were missing.
    """
    missing = [t for t in ttls if (traffic, t) not in _SIMULATED]
    if not missing:
        return False
    drawn = plot.redraws

    def simulate(_plot: LivePlot) -> None:
        deadline = time.monotonic() + 5.0
        while plot.redraws <= drawn and time.monotonic() < deadline:
            time.sleep(0.01)
        _dots(traffic, missing, wait=True)

    # The dots complete the draft shown; every kept chart was complete already.
    plot.run_live(f"simulate {traffic} {missing}", simulate, forget=False)
    return True


_PERCENT_TICKS = (0, 25, 50, 75, 100)


def _fixed_title_position(fig: Any) -> None:
    # Titles stay put: automatic placement looks for top tick labels these charts never have.
    for ax in fig.axes:
        ax.set_title(ax.get_title(), y=1.0)


_TTL_TICKS = (
    (0.01, "10 ms"), (0.1, "0.1 s"), (1.0, "1 s"), (10.0, "10 s"), (60.0, "1 min"),
    (600.0, "10 min"), (3600.0, "1 h"), (21600.0, "6 h"),
)


def _finish_ttl_chart(ax: Any, ttl: float, grid: np.ndarray, *, title: str, ylabel: str, legend_at: str,
                      legend_size: str = "small", percent: bool = False) -> None:
    """Label a chart against TTL: a log axis over ``grid`` with readable fixed ticks (also
    far cheaper to draw than auto ticks), the learner's TTL marked, the legend at
    ``legend_at`` (a fixed place is cheaper than "best"); ``percent``: a 0-100% y axis."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.axvline(ttl, color="#000000", linestyle=":", linewidth=1.2)
    ax.annotate(
        f"your TTL\n{format_seconds(ttl)}", (ttl, 0.97), xycoords=("data", "axes fraction"),
        xytext=(4, 0), textcoords="offset points", va="top", fontsize="small",
    )
    low, high = grid[0], grid[-1]
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ticks = [(t, label) for t, label in _TTL_TICKS if low <= t <= high]
    ax.xaxis.set_major_locator(FixedLocator([t for t, _ in ticks]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([label for _, label in ticks])
    if percent:
        ax.set_ylim(0, 104)
        ax.set_yticks(_PERCENT_TICKS)  # fewer tick labels: a sixth less to draw
    charts.finish(ax, title=title, xlabel="TTL (log scale)", ylabel=ylabel, legend=False)
    ax.legend(frameon=False, fontsize=legend_size, loc=legend_at)


def _shade_overhead(ax: Any, break_even: float, low: float) -> None:
    if break_even > low:
        ax.axvspan(low, break_even, color="#999999", alpha=0.25, linewidth=0,
                   label="cache is pure overhead")


def _runs_note(sim: SimResult) -> str:
    reads = f"{sim.reads // sim.replicas:,} reads"
    if sim.replicas == 1:
        return reads
    return f"{reads}, each replayed against {sim.replicas} independent write histories"


def _traffic(alpha: float, reads_per_second: float, writes_per_key_per_hour: float) -> Traffic:
    return Traffic(
        n_keys=1000, alpha=round(float(alpha), 4), reads_per_second=round(float(reads_per_second), 4),
        writes_per_key_per_hour=round(float(writes_per_key_per_hour), 4),
    )


def draw_tradeoff(
    fig: Any,
    ttl_seconds: float,
    reads_per_second: float,
    writes_per_key_per_hour: float,
    alpha: float,
    *,
    wait: bool = True,
) -> str:
    """Hit ratio and stale reads against TTL (model lines, simulated dots), and DB load.

    With ``wait=False`` only the dots simulated already are drawn (see :func:`explore`).
    """
    traffic = _traffic(alpha, reads_per_second, writes_per_key_per_hour)
    ttl = float(ttl_seconds)
    grid = np.logspace(-1, math.log10(TTL_MAX_SECONDS), 100)
    curve = model_curve(traffic, grid)
    dots = _dots(traffic, [*settings.SIM_TTLS, ttl], wait=wait)
    dot_ttls = sorted(dots)
    here_sim, here_model = dots.get(ttl), model(traffic, ttl)
    break_even = break_even_ttl(traffic, CHART_CACHE_MS, CHART_DB_MS)
    ax, ax_db = fig.axes

    _shade_overhead(ax, break_even, grid[0])
    for i, (name, label) in enumerate((("hit_ratio", "hit ratio"), ("stale_read_share", "stale reads"))):
        style = charts.series_style(i)
        ax.plot(grid, 100 * curve[name], color=style["color"], linestyle=style["linestyle"],
                label=f"{label} (model)")
        sims = [100 * getattr(dots[t], name) for t in dot_ttls]
        ax.plot(dot_ttls, sims, linestyle="none", marker=style["marker"],
                color=style["color"], markeredgecolor="white", label=f"{label} (simulated)")
    _finish_ttl_chart(
        ax, ttl, grid, percent=True,
        title=f"At {format_seconds(ttl)}: {here_model.hit_ratio:.0%} hits, "
        f"{here_model.stale_read_share:.1%} stale",
        ylabel="share of reads (%)", legend_at="center left", legend_size="x-small",
    )

    style = charts.series_style(2)
    ax_db.plot(grid, curve["db_reads_per_second"], color=style["color"], label="model")
    ax_db.plot(dot_ttls, [dots[t].db_reads_per_second for t in dot_ttls],
               linestyle="none", marker=style["marker"], color=style["color"],
               markeredgecolor="white", label="simulated")
    ax_db.axhline(traffic.reads_per_second, label="no cache: every read", **charts.LIMIT_STYLE)
    ax_db.set_ylim(0, traffic.reads_per_second * 1.08)
    ax_db.yaxis.set_major_locator(MaxNLocator(4, steps=[1, 2, 5, 10]))
    _finish_ttl_chart(
        ax_db, ttl, grid,
        title=f"The DB answers {here_model.db_reads_per_second:.3g} of {traffic.reads_per_second:g} reads/s",
        ylabel="DB queries per second", legend_at="lower left", legend_size="x-small",
    )
    _fixed_title_position(fig)
    simulated = (
        f"simulation {here_sim.hit_ratio:.1%} and {here_sim.stale_read_share:.2%} "
        f"({_runs_note(here_sim)}). No stale read was older than "
        f"{format_seconds(here_sim.max_stale_age_seconds)} (the TTL bounds it)."
        if here_sim is not None else
        f"simulating the dots for this setting ({len(dots)} of {len(settings.SIM_TTLS) + 1} ready)…"
    )
    return (
        f"TTL {format_seconds(ttl)}: model {here_model.hit_ratio:.1%} hits and "
        f"{here_model.stale_read_share:.2%} stale reads; {simulated} "
        f"Grey: TTLs under {format_seconds(break_even)}, where a {CHART_CACHE_MS} ms cache "
        f"in front of a {CHART_DB_MS} ms query costs more than it saves."
    )


def explore(ttl_seconds: float = 300.0) -> LivePlot:
    """The trade-off: TTL, read rate, write rate and skew sliders over two charts.

    The first draw simulates every dot; after that a move redraws the model at once
    and simulates any new dot in the background (memoized: moving back is free).
    """
    return _progressive(
        draw_tradeoff, lambda v: (_traffic(v["alpha"], v["reads_per_second"], v["writes_per_key_per_hour"]),
                                  [*settings.SIM_TTLS, float(v["ttl_seconds"])]),
        {
            "ttl_seconds": log_slider("TTL (s)", TTL_MIN_SECONDS, TTL_MAX_SECONDS, ttl_seconds),
            "reads_per_second": log_slider("reads/s (all keys)", 1, 200, 50),
            "writes_per_key_per_hour": log_slider("writes per key per hour", 0.05, 30, 2),
            "alpha": slider("Zipf alpha (skew)", 0.5, 1.0, 0.05, 0.9),
        },
        ncols=2, width=11, height=4.2,
    )


def _progressive(draw: Any, dots_for: Any, controls: dict[str, Any], **shape: Any) -> LivePlot:
    """A LivePlot whose first draw waits for its dots and whose later draws do not."""
    state = {"plot": None}

    def progressive_draw(fig: Any, **values: Any) -> str:
        plot = state["plot"]
        # Drawn ahead of a move (in the background), a chart waits for all its dots.
        wait = plot is None or rendering_ahead()
        caption = draw(fig, **values, wait=wait)
        if not wait and _simulate_later(plot, *dots_for(values)):
            draft()  # dots are missing: shown again only until they are simulated
        return caption

    plot = LivePlot(progressive_draw, controls, **shape)
    state["plot"] = plot
    return plot


def draw_bands(fig: Any, ttl_seconds: float, alpha: float, *, wait: bool = True) -> str:
    """Hit ratio per popularity band against TTL: hot keys hit early, the tail late."""
    traffic = _traffic(alpha, 50.0, 2.0)
    ttl = float(ttl_seconds)
    grid = np.logspace(0, math.log10(TTL_MAX_SECONDS), 80)
    here = _dots(traffic, [ttl], wait=wait).get(ttl)
    (ax,) = fig.axes
    bands = popularity_bands(traffic.n_keys)
    for i, band in enumerate(bands):
        style = charts.series_style(i)
        rates = traffic.read_rates()[band.keys]
        ax.plot(grid, 100 * model_curve(traffic, grid, band)["hit_ratio"], color=style["color"],
                linestyle=style["linestyle"],
                label=f"{band.label} ({rates.sum() / traffic.reads_per_second:.0%} of reads)")
        if here is not None:
            ax.plot([ttl], [100 * here.bands[i].hit_ratio], marker=style["marker"], color=style["color"],
                    markeredgecolor="white", linestyle="none")
    # The simulated figures once they are ready; the model's until then.
    band_hits = ([b.hit_ratio for b in here.bands] if here is not None
                 else list(model(traffic, ttl).band_hit_ratios))
    _finish_ttl_chart(
        ax, ttl, grid, percent=True,
        title=f"At {format_seconds(ttl)} the top 10 keys hit {band_hits[0]:.0%}, "
        f"the tail {band_hits[-1]:.0%}",
        ylabel="hit ratio (%)", legend_at="lower right",
    )
    _fixed_title_position(fig)
    return (
        ("Lines: model per band; dots: simulated at your TTL. " if here is not None
         else "Lines: model per band; simulating the dots at your TTL… ") +
        f"A key read every "
        f"{1 / traffic.read_rates()[-1]:.0f} s on average (the least popular) needs a TTL of "
        f"minutes before its copy is ever reused."
    )


def explore_bands(ttl_seconds: float = 10.0) -> LivePlot:
    return _progressive(
        draw_bands, lambda v: (_traffic(v["alpha"], 50.0, 2.0), [float(v["ttl_seconds"])]),
        {
            "ttl_seconds": log_slider("TTL (s)", TTL_MIN_SECONDS, TTL_MAX_SECONDS, ttl_seconds),
            "alpha": slider("Zipf alpha (skew)", 0.5, 1.0, 0.05, 0.9),
        },
        width=9, height=3.8,
    )


def draw_cost(fig: Any, ttl_seconds: float, cache_ms: float, db_ms: float) -> str:
    """Mean read latency against TTL, with the region where the cache only costs."""
    traffic = _traffic(0.9, 50.0, 2.0)
    ttl = float(ttl_seconds)
    grid = np.logspace(-2, math.log10(TTL_MAX_SECONDS), 200)
    latency = read_latency_ms(model_curve(traffic, grid)["hit_ratio"], cache_ms, db_ms)
    break_even = break_even_ttl(traffic, cache_ms, db_ms)
    (ax,) = fig.axes
    _shade_overhead(ax, min(break_even, grid[-1]), grid[0])
    style = charts.series_style(0)
    ax.plot(grid, latency, color=style["color"], label="with the cache (model)")
    ax.axhline(db_ms, label="no cache: every read queries the DB", **charts.LIMIT_STYLE)
    here = float(read_latency_ms(model(traffic, ttl).hit_ratio, cache_ms, db_ms))
    ax.plot([ttl], [here], marker=style["marker"], color=style["color"], linestyle="none")
    ax.set_ylim(0, max(db_ms, float(latency.max())) * 1.15)
    title = (
        "At these costs no TTL makes the cache pay"
        if math.isinf(break_even)
        else f"Below a TTL of {format_seconds(break_even)} the cache only adds latency"
    )
    _finish_ttl_chart(ax, ttl, grid, title=title, ylabel="mean read latency (ms)", legend_at="upper right")
    _fixed_title_position(fig)
    return (
        f"Break-even hit ratio 2c/(c+d) = {break_even_hit_ratio(cache_ms, db_ms):.0%}. "
        f"At {format_seconds(ttl)} a read costs {here:.2f} ms on average against {db_ms:g} ms "
        "straight from the database."
    )


def explore_cost(ttl_seconds: float = 1.0) -> LivePlot:
    return LivePlot(
        draw_cost,
        {
            "ttl_seconds": log_slider("TTL (s)", 0.01, TTL_MAX_SECONDS, ttl_seconds),
            "cache_ms": slider("cache round trip (ms)", 0.05, 2.0, 0.05, CHART_CACHE_MS),
            "db_ms": slider("DB query (ms)", 0.5, 20.0, 0.5, CHART_DB_MS),
        },
        width=9, height=3.8,
    )


def draw_jitter(fig: Any, jitter_percent: float, ttl_seconds: float) -> str:
    """DB reads per second after a bulk warm-up, without and with jitter."""
    ttl = float(ttl_seconds)
    plain = jitter_timeline(settings.JITTER_TRAFFIC, ttl, 0.0)
    jittered = jitter_timeline(settings.JITTER_TRAFFIC, ttl, jitter_percent / 100)
    (ax,) = fig.axes
    seconds = np.arange(plain.db_reads_per_second.size)
    for i, (result, label) in enumerate(
        ((plain, "no jitter"), (jittered, f"±{jitter_percent:.0f}% jitter"))
    ):
        style = charts.series_style(i)
        ax.plot(seconds, result.db_reads_per_second, color=style["color"],
                linestyle=style["linestyle"], linewidth=1.2,
                label=f"{label}: peak {result.peak_db_reads_per_second} /s")
    ax.set_xlim(0, seconds.size)
    factor = plain.peak_db_reads_per_second / max(1, jittered.peak_db_reads_per_second)
    title = (
        f"±{jitter_percent:.0f}% jitter cuts the peak {factor:.1f}x"
        if jitter_percent > 0
        else "Every key expires in the same second, and again one TTL later"
    )
    charts.finish(ax, title=title, xlabel="seconds since the bulk warm-up",
                  ylabel="DB queries per second")
    _fixed_title_position(fig)
    return (
        f"{settings.JITTER_TRAFFIC.n_keys:,} keys filled at t=0 with a {format_seconds(ttl)} TTL, "
        f"{settings.JITTER_TRAFFIC.reads_per_second:g} reads/s. Mean DB load: "
        f"{plain.mean_db_reads_per_second:.1f} /s without jitter, "
        f"{jittered.mean_db_reads_per_second:.1f} /s with it."
    )


def explore_jitter(jitter_percent: float = 10.0) -> LivePlot:
    return LivePlot(
        draw_jitter,
        {
            "jitter_percent": slider("jitter ± (%)", 0.0, 50.0, 5.0, jitter_percent),
            "ttl_seconds": choice("TTL (s)", [60.0, 300.0, 600.0], 300.0),
        },
        width=10, height=3.6,
    )


# ---------------------------------------------------------------------------------
# Notebook 03's data sets: which keys need more than a TTL?
# ---------------------------------------------------------------------------------


def data_set_table(cache_ms: float = CHART_CACHE_MS, db_ms: float = CHART_DB_MS) -> Any:
    """The data sets as an HTML table for the notebook (traffic and budgets only)."""
    from IPython.display import HTML

    rows = "".join(
        f"<tr><td>{d.name}</td><td>{d.reads_per_second:g}</td><td>{d.writes_per_hour:.3g}</td>"
        f"<td>{d.stale_budget:.1%}</td></tr>"
        for d in settings.DATA_SETS
    )
    return HTML(
        "<table><tr><th>data set</th><th>reads/s per key</th><th>writes/hour per key</th>"
        f"<th>stale reads tolerated</th></tr>{rows}</table>"
        f"<p>Cache round trip {cache_ms} ms, DB query {db_ms} ms.</p>"
    )


# ---------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------

def exercises() -> ExerciseSet:
    """The notebook's three exercises, with checks that accept a small margin."""
    longest = longest_ttl_within(EXERCISE_TRAFFIC, STALE_BUDGET)
    shortest = break_even_ttl(EXERCISE_TRAFFIC, CHART_CACHE_MS, CHART_DB_MS)
    needs = {d.name for d in settings.DATA_SETS if needs_event_invalidation(d, CHART_CACHE_MS, CHART_DB_MS)}

    # The model is exact, so the margins are about what a TTL setting costs, not noise.
    # longest-ttl: from 90% of the exact limit, where a TTL 10% short gives up about one point
    # of hit ratio (a round minute gives up four, and stopping at the halving bracket, 75 s,
    # nearly one and a half).
    # shortest-ttl: up to 15% over the break-even, where the cache saves under 2.5% of a query's
    # time; a round 5 s already saves 9%, so it is not "the shortest".  Below the break-even
    # (0.1% slack for rounding) the cache is overhead, however slightly.
    longest_whole = math.floor(longest)  # the longest whole second within budget
    longest_hit = model(EXERCISE_TRAFFIC, longest_whole).hit_ratio
    needed = break_even_hit_ratio(CHART_CACHE_MS, CHART_DB_MS)

    def check_longest(answer: Any) -> tuple[bool, str]:
        ttl = _check_ttl(answer, "your TTL")
        run = model(EXERCISE_TRAFFIC, ttl)
        stale = run.stale_read_share
        if stale > STALE_BUDGET * 1.0005:
            return False, (f"over the staleness budget: at {ttl:g} s, {stale:.2%} of reads are stale "
                           f"(budget {STALE_BUDGET:.0%}).")
        if ttl < 0.9 * longest:
            return False, (f"far below the longest: {ttl:g} s stays within budget ({stale:.2%} stale), but so "
                           f"does {longest_whole} s, which hits {longest_hit:.1%} of reads against "
                           f"{run.hit_ratio:.1%} here; the check accepts from 90% of the longest.")
        return True, (f"{ttl:g} s gives {stale:.2%} stale reads and {run.hit_ratio:.1%} hits; the exact "
                      f"limit is {longest:.1f} s.")

    def check_shortest(answer: Any) -> tuple[bool, str]:
        ttl = _check_ttl(answer, "your TTL")
        hit = model(EXERCISE_TRAFFIC, ttl).hit_ratio
        cost = float(read_latency_ms(hit, CHART_CACHE_MS, CHART_DB_MS))
        if ttl < shortest * 0.999:
            slip = ""
            if abs(hit - CHART_CACHE_MS / CHART_DB_MS) < 0.01:
                slip = (f" That TTL reaches a {hit:.0%} hit ratio, c/d: the break-even of a miss "
                        "without its SET (a miss pays the GET, the query and the SET).")
            return False, (f"pure overhead: at {ttl:g} s the hit ratio is {hit:.1%}, under the {needed:.0%} "
                           f"break-even, so a read costs {cost:.3f} ms, more than the {CHART_DB_MS} ms query "
                           f"alone.{slip}")
        if ttl > shortest * 1.15:
            return False, (f"longer than needed: {ttl:g} s pays for itself ({hit:.1%} hits, {cost:.2f} ms a "
                           f"read), but so does any TTL from {shortest:.2f} s; the check accepts up to 15% "
                           "over it.")
        return True, f"the break-even TTL is {shortest:.2f} s (hit ratio {needed:.0%}); {ttl:g} s gives {hit:.1%}."

    def check_needs(answer: Any) -> tuple[bool, str]:
        if isinstance(answer, str) or not hasattr(answer, "__iter__"):
            raise LabError("Answer with a set of data set names, e.g. {'stock level'}.")
        chosen = {str(a) for a in answer}
        unknown = chosen - {d.name for d in settings.DATA_SETS}
        if unknown:
            raise LabError(f"Unknown data set {sorted(unknown)[0]!r}; use the names from the table.")
        missing, extra = needs - chosen, chosen - needs
        if not missing and not extra:
            return True, "for these, no TTL is both fresh enough and long enough to pay for itself."
        parts = []
        if missing:
            parts.append(f"{len(missing)} that need events {'is' if len(missing) == 1 else 'are'} missing")
        if extra:
            parts.append(f"{len(extra)} of yours can live with a TTL alone")
        return False, "; ".join(parts) + "."

    return ExerciseSet({
        "longest_ttl": Exercise(
            "03", "longest-ttl", check_longest,
            hint="Stale reads grow with the TTL. Try ttl.model(traffic, 300).stale_read_share, "
            "then halve or double the TTL until you bracket 2%.",
            solution=(
                "candidates = range(1, 3600)\n"
                "answer = max(t for t in candidates\n"
                "             if ttl.model(traffic, t).stale_read_share <= 0.02)"
                f"   # {int(longest)} s"
            ),
            reference=lambda: int(longest),
            mistakes={"over the staleness budget": 2 * int(longest), "far below the longest": int(longest) // 3,
                      "a round minute": 60, "the halving bracket not refined": 75,
                      "2% read as 2": 3599},
        ),
        "shortest_ttl": Exercise(
            "03", "shortest-ttl", check_shortest,
            hint="The cache pays once the hit ratio passes 2c/(c+d) = 40%. Find the TTL where "
            "ttl.model(traffic, t).hit_ratio crosses 0.4 (it is below 10 s).",
            solution=(
                "candidates = [t / 100 for t in range(1, 1000)]\n"
                "answer = min(t for t in candidates if ttl.model(traffic, t).hit_ratio >= 0.4)"
                f"   # {shortest:.2f} s"
            ),
            reference=lambda: math.ceil(shortest * 100) / 100,
            mistakes={"pure overhead": shortest / 3, "longer than needed": 20 * shortest,
                      "a miss without its SET": lambda: min(t / 100 for t in range(1, 1000)
                                                            if model(EXERCISE_TRAFFIC, t / 100).hit_ratio >= 0.25),
                      "a round 5 s": 5.0},
        ),
        "needs_events": Exercise(
            "03", "needs-events", check_needs,
            hint="For each data set compare d.longest_ttl_within_budget() with "
            "d.break_even_ttl(0.5, 2.0): if the freshest acceptable TTL is shorter than the "
            "shortest one that pays, a TTL alone cannot do the job.",
            solution=(
                "answer = {d.name for d in ttl.DATA_SETS\n"
                "          if d.longest_ttl_within_budget() < d.break_even_ttl(0.5, 2.0)}"
                f"   # {sorted(needs)}"
            ),
            reference=lambda: set(needs),
            mistakes={"one missing": set(sorted(needs)[1:]), "the stock level too": needs | {"stock level"}},
        ),
    })
