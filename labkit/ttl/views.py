"""Notebook 03's live charts (each ``explore_*`` returns a LivePlot)."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .jitter import jitter_timeline
from .model import break_even_hit_ratio, break_even_ttl, model, model_curve, read_latency_ms
from .simulation import SimResult, simulate
from .traffic import Traffic, popularity_bands

if TYPE_CHECKING:
    from ..widgets import LivePlot


TTL_MIN_SECONDS, TTL_MAX_SECONDS = 1.0, 6 * 3600.0
SIM_TTLS = (1.0, 10.0, 60.0, 600.0, 3600.0, 6 * 3600.0)
_CHART_READS = 600_000
CHART_CACHE_MS, CHART_DB_MS = 0.5, 2.0
JITTER_TRAFFIC = Traffic(n_keys=5000, alpha=0.6, reads_per_second=1000.0, writes_per_key_per_hour=0.0)


def chart_duration_seconds(reads_per_second: float) -> float:
    """How much traffic a chart simulates: about 600,000 reads, between 1 h and 1 day."""
    return float(np.clip(_CHART_READS / reads_per_second, 3600.0, 86400.0))


@functools.lru_cache(maxsize=256)
def chart_point(traffic: Traffic, ttl_seconds: float) -> SimResult:
    """The simulation behind one chart dot (cached: moving the TTL back is free)."""
    return simulate(
        traffic,
        ttl_seconds,
        duration_seconds=chart_duration_seconds(traffic.reads_per_second),
        history_seconds=TTL_MAX_SECONDS,
    )


def format_seconds(seconds: float) -> str:
    """300 -> '5 min', 5400 -> '1.5 h', 0.47 -> '0.47 s'."""
    if math.isinf(seconds):
        return "never"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def _mark_ttl(ax: Any, ttl: float) -> None:
    ax.axvline(ttl, color="#000000", linestyle=":", linewidth=1.2)
    ax.annotate(
        f"your TTL\n{format_seconds(ttl)}", (ttl, 0.97), xycoords=("data", "axes fraction"),
        xytext=(4, 0), textcoords="offset points", va="top", fontsize="small",
    )


_TTL_TICKS = (
    (0.01, "10 ms"), (0.1, "0.1 s"), (1.0, "1 s"), (10.0, "10 s"), (60.0, "1 min"),
    (600.0, "10 min"), (3600.0, "1 h"), (21600.0, "6 h"),
)


def _ttl_axis(ax: Any, low: float, high: float) -> None:
    """A log TTL axis with readable fixed ticks (also far cheaper to draw than auto ticks)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ticks = [(t, label) for t, label in _TTL_TICKS if low <= t <= high]
    ax.xaxis.set_major_locator(FixedLocator([t for t, _ in ticks]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([label for _, label in ticks])


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
    ttl_seconds: float = 300.0,
    reads_per_second: float = 50.0,
    writes_per_key_per_hour: float = 2.0,
    alpha: float = 0.9,
) -> str:
    """Hit ratio and stale reads against TTL (model lines, simulated dots), and DB load."""
    from .. import charts

    traffic = _traffic(alpha, reads_per_second, writes_per_key_per_hour)
    ttl = float(ttl_seconds)
    grid = np.logspace(-1, math.log10(TTL_MAX_SECONDS), 160)
    curve = model_curve(traffic, grid)
    points = [chart_point(traffic, t) for t in SIM_TTLS]
    here_sim, here_model = chart_point(traffic, ttl), model(traffic, ttl)
    break_even = break_even_ttl(traffic, CHART_CACHE_MS, CHART_DB_MS)
    ax, ax_db = fig.axes

    _shade_overhead(ax, break_even, grid[0])
    for i, (name, label) in enumerate((("hit_ratio", "hit ratio"), ("stale_read_share", "stale reads"))):
        style = charts.series_style(i)
        ax.plot(grid, 100 * curve[name], color=style["color"], linestyle=style["linestyle"],
                label=f"{label} (model)")
        sims = [100 * getattr(p, name) for p in points] + [100 * getattr(here_sim, name)]
        ax.plot([*SIM_TTLS, ttl], sims, linestyle="none", marker=style["marker"],
                color=style["color"], markeredgecolor="white", label=f"{label} (simulated)")
    _mark_ttl(ax, ttl)
    _ttl_axis(ax, grid[0], grid[-1])
    ax.set_ylim(0, 104)
    charts.finish(
        ax,
        title=f"At {format_seconds(ttl)}: {here_model.hit_ratio:.0%} hits, "
        f"{here_model.stale_read_share:.1%} stale",
        xlabel="TTL (log scale)", ylabel="share of reads (%)",
    )
    ax.legend(frameon=False, fontsize="x-small", loc="center left")

    style = charts.series_style(2)
    ax_db.plot(grid, curve["db_reads_per_second"], color=style["color"], label="model")
    ax_db.plot([*SIM_TTLS, ttl], [p.db_reads_per_second for p in points] + [here_sim.db_reads_per_second],
               linestyle="none", marker=style["marker"], color=style["color"],
               markeredgecolor="white", label="simulated")
    ax_db.axhline(traffic.reads_per_second, label="no cache: every read", **charts.LIMIT_STYLE)
    _mark_ttl(ax_db, ttl)
    _ttl_axis(ax_db, grid[0], grid[-1])
    ax_db.set_ylim(0, traffic.reads_per_second * 1.08)
    charts.finish(
        ax_db,
        title=f"The DB answers {here_model.db_reads_per_second:.3g} of {traffic.reads_per_second:g} reads/s",
        xlabel="TTL (log scale)", ylabel="DB queries per second",
    )
    return (
        f"TTL {format_seconds(ttl)}: model {here_model.hit_ratio:.1%} hits and "
        f"{here_model.stale_read_share:.2%} stale reads; simulation "
        f"{here_sim.hit_ratio:.1%} and {here_sim.stale_read_share:.2%} "
        f"({_runs_note(here_sim)}). No stale read was older than "
        f"{format_seconds(here_sim.max_stale_age_seconds)} (the TTL bounds it). "
        f"Grey: TTLs under {format_seconds(break_even)}, where a {CHART_CACHE_MS} ms cache "
        f"in front of a {CHART_DB_MS} ms query costs more than it saves."
    )


def explore(ttl_seconds: float = 300.0) -> LivePlot:
    """The trade-off: TTL, read rate, write rate and skew sliders over two charts."""
    from ..widgets import LivePlot, log_slider, slider

    return LivePlot(
        draw_tradeoff,
        {
            "ttl_seconds": log_slider("TTL (s)", TTL_MIN_SECONDS, TTL_MAX_SECONDS, ttl_seconds),
            "reads_per_second": log_slider("reads/s (all keys)", 1, 200, 50),
            "writes_per_key_per_hour": log_slider("writes per key per hour", 0.05, 30, 2),
            "alpha": slider("Zipf alpha (skew)", 0.5, 1.0, 0.05, 0.9),
        },
        ncols=2, width=11, height=4.2,
    )


def draw_bands(fig: Any, ttl_seconds: float = 10.0, alpha: float = 0.9) -> str:
    """Hit ratio per popularity band against TTL: hot keys hit early, the tail late."""
    from .. import charts

    traffic = _traffic(alpha, 50.0, 2.0)
    ttl = float(ttl_seconds)
    grid = np.logspace(0, math.log10(TTL_MAX_SECONDS), 120)
    here = chart_point(traffic, ttl)
    (ax,) = fig.axes
    bands = popularity_bands(traffic.n_keys)
    for i, band in enumerate(bands):
        style = charts.series_style(i)
        rates = traffic.read_rates()[band.keys]
        ax.plot(grid, 100 * model_curve(traffic, grid, band)["hit_ratio"], color=style["color"],
                linestyle=style["linestyle"],
                label=f"{band.label} ({rates.sum() / traffic.reads_per_second:.0%} of reads)")
        ax.plot([ttl], [100 * here.bands[i].hit_ratio], marker=style["marker"], color=style["color"],
                markeredgecolor="white", linestyle="none")
    _mark_ttl(ax, ttl)
    _ttl_axis(ax, grid[0], grid[-1])
    ax.set_ylim(0, 104)
    top, tail = here.bands[0], here.bands[-1]
    charts.finish(
        ax,
        title=f"At {format_seconds(ttl)} the top 10 keys hit {top.hit_ratio:.0%}, "
        f"the tail {tail.hit_ratio:.0%}",
        xlabel="TTL (log scale)", ylabel="hit ratio (%)",
    )
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    return (
        f"Lines: model per band; dots: simulated at your TTL. A key read every "
        f"{1 / traffic.read_rates()[-1]:.0f} s on average (the least popular) needs a TTL of "
        f"minutes before its copy is ever reused."
    )


def explore_bands(ttl_seconds: float = 10.0) -> LivePlot:
    from ..widgets import LivePlot, log_slider, slider

    return LivePlot(
        draw_bands,
        {
            "ttl_seconds": log_slider("TTL (s)", TTL_MIN_SECONDS, TTL_MAX_SECONDS, ttl_seconds),
            "alpha": slider("Zipf alpha (skew)", 0.5, 1.0, 0.05, 0.9),
        },
        width=9, height=3.8,
    )


def draw_cost(
    fig: Any, ttl_seconds: float = 1.0, cache_ms: float = CHART_CACHE_MS, db_ms: float = CHART_DB_MS
) -> str:
    """Mean read latency against TTL, with the region where the cache only costs."""
    from .. import charts

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
    _mark_ttl(ax, ttl)
    _ttl_axis(ax, grid[0], grid[-1])
    ax.set_ylim(0, max(db_ms, float(latency.max())) * 1.15)
    title = (
        "At these costs no TTL makes the cache pay"
        if math.isinf(break_even)
        else f"Below a TTL of {format_seconds(break_even)} the cache only adds latency"
    )
    charts.finish(ax, title=title, xlabel="TTL (log scale)", ylabel="mean read latency (ms)")
    ax.legend(frameon=False, fontsize="small", loc="upper right")
    return (
        f"Break-even hit ratio 2c/(c+d) = {break_even_hit_ratio(cache_ms, db_ms):.0%}. "
        f"At {format_seconds(ttl)} a read costs {here:.2f} ms on average against {db_ms:g} ms "
        "straight from the database."
    )


def explore_cost(ttl_seconds: float = 1.0) -> LivePlot:
    from ..widgets import LivePlot, log_slider, slider

    return LivePlot(
        draw_cost,
        {
            "ttl_seconds": log_slider("TTL (s)", 0.01, TTL_MAX_SECONDS, ttl_seconds),
            "cache_ms": slider("cache round trip (ms)", 0.05, 2.0, 0.05, CHART_CACHE_MS),
            "db_ms": slider("DB query (ms)", 0.5, 20.0, 0.5, CHART_DB_MS),
        },
        width=9, height=3.8,
    )


def draw_jitter(fig: Any, jitter_percent: float = 10.0, ttl_seconds: float = 300.0) -> str:
    """DB reads per second after a bulk warm-up, without and with jitter."""
    from .. import charts

    ttl = float(ttl_seconds)
    plain = jitter_timeline(JITTER_TRAFFIC, ttl, 0.0)
    jittered = jitter_timeline(JITTER_TRAFFIC, ttl, jitter_percent / 100)
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
    return (
        f"{JITTER_TRAFFIC.n_keys:,} keys filled at t=0 with a {format_seconds(ttl)} TTL, "
        f"{JITTER_TRAFFIC.reads_per_second:g} reads/s. Mean DB load: "
        f"{plain.mean_db_reads_per_second:.1f} /s without jitter, "
        f"{jittered.mean_db_reads_per_second:.1f} /s with it."
    )


def explore_jitter(jitter_percent: float = 10.0) -> LivePlot:
    from ..widgets import LivePlot, choice, slider

    return LivePlot(
        draw_jitter,
        {
            "jitter_percent": slider("jitter ± (%)", 0.0, 50.0, 5.0, jitter_percent),
            "ttl_seconds": choice("TTL (s)", [60.0, 300.0, 600.0], 300.0),
        },
        width=10, height=3.6,
    )
