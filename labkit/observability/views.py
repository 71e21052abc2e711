"""What notebook 10 shows from section 4 on: sizing checked on a real server, memory
pressure read from the server's counters, staleness by sampling (and the small
helpers every view of the notebook uses)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import charts
from ..store import Store
from ..widgets import LivePlot, choice, nudge_if_unlocked, slider
from . import pressure, sizing
from .server import lfu_counter
from .staleness import sample_staleness, stale_flags
from .workload import SHOP_RUN, watched_run

__all__ = ["table", "plain_ticks", "explore_sizing", "show_verification", "show_pressure", "explore_sampling"]


def table(rows: Sequence[Mapping[str, Any]], note: str = "") -> Any:
    """Rows of dicts as a small HTML table (text in a terminal)."""
    from IPython.display import HTML

    if not rows:
        return HTML(f"<p>{html.escape(note) or 'Nothing to show.'}</p>")
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    tail = f"<p>{html.escape(note)}</p>" if note else ""
    return HTML(f"<table><tr>{head}</tr>{body}</table>{tail}")


def plain_ticks(*axes: Any) -> None:
    """Log-scale ticks as plain numbers (0.1, 1, 10): easier to read than 10^-1, and
    no math-text layout on every redraw."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for axis in axes:
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


# -- 4 · sizing ----------------------------------------------------------------------------------


def explore_sizing() -> LivePlot:
    """The hit-ratio curve against memory, exact and from a 10% SHARDS sample; the budget for a target."""
    curve = sizing.sizing_curve()
    per_key = sizing.key_bytes()
    capacities = np.arange(1, curve.distinct_keys + 1)
    exact = curve.hits_by_capacity[1:] / curve.requests
    sampled = sizing.shards_curve(0.1)
    mib = capacities * per_key / 2**20

    def draw(fig: Any, target: float) -> str:
        ax = fig.axes[0]
        plan = sizing.plan_for(round(target, 3))
        ax.plot(mib, exact * 100, **{**charts.series_style(0), "marker": None}, label="exact LRU (stack distances)")
        ax.plot(mib, sampled * 100, **{**charts.series_style(1), "marker": None}, label="SHARDS, 10% of keys")
        ax.axhline(target * 100, color="#777777", linewidth=0.8, linestyle=":")
        ax.axvline(
            plan.budget_bytes / 2**20, **charts.LIMIT_STYLE, label=f"budget: {plan.budget_bytes / 2**20:.2f} MiB"
        )
        ax.set_ylim(0, 100)
        charts.finish(
            ax,
            title=f"{target:.0%} hits need {plan.budget_bytes / 2**20:.2f} MiB: "
            f"{plan.capacity_keys:,} of {plan.distinct_keys:,} keys",
            xlabel=f"memory for cached keys (MiB, at {per_key} B per key)",
            ylabel="hit ratio (%)",
        )
        return (
            f"{plan}. Counting only the values ({plan.value_bytes} B each) would buy "
            f"{plan.values_only_bytes / 2**20:.2f} MiB - "
            f"{plan.values_only_bytes / plan.budget_bytes:.0%} of what is needed."
        )

    return LivePlot(draw, {"target": slider("target hit ratio", 0.70, 0.92, 0.01, 0.90)})


def show_verification(store: Store | None = None, target: float = 0.9) -> sizing.Verification:
    """Set the planned maxmemory on a server the lab owns, replay, compare with the prediction."""
    from IPython.display import display

    nudge_if_unlocked()  # before the tables, so the nudge never lands between a table and its chart
    plan = sizing.plan_for(target)
    result = sizing.verify_on_server(plan.budget_bytes, policies=("allkeys-lru", "allkeys-lfu"), store=store)
    if result.skipped_reason:
        print(
            f"Not verified on a real server ({result.skipped_reason}). The model predicts "
            f"{plan.predicted_hit_ratio:.1%} hits and {plan.predicted_evictions:,} evictions."
        )
        return result
    display(table(result.rows(), note=f"On {result.where}, maxmemory = empty server + {plan.budget_bytes:,} B."))
    freqs = [(key, reads, freq) for r in result.runs for key, reads, freq in r.object_freqs]
    if freqs:
        display(table(
            [{"key": key, "GETs": f"{reads:,}", "OBJECT FREQ (server)": freq,
              "computed (lfu_counter)": lfu_counter(reads - 1)} for key, reads, freq in freqs],
            note="Under allkeys-lfu: a logarithmic counter; the first GET missed, every later one could raise it.",
        ))
    fig = charts.new_figure(1, 1, width=8.0, height=3.2)
    ax = fig.axes[0]
    labels = ["model: exact LRU"] + [f"server: {r.policy}" for r in result.runs]
    values = [result.predicted_hit_ratio] + [r.hit_ratio for r in result.runs]
    floors = [sizing.random_floor(result.planned_keys)] + [sizing.random_floor(r.keys_held) for r in result.runs]
    for i, value in enumerate(values):
        ax.barh(
            i,
            value * 100,
            color=charts.series_style(i)["color"],
            hatch=["", "//", ".."][i % 3],
            edgecolor="black",
            linewidth=0.5,
        )
        ax.annotate(f"{value:.1%}", (value * 100, i), xytext=(4, -3), textcoords="offset points", fontsize=8)
    ax.plot(
        [f * 100 for f in floors],
        range(len(floors)),
        linestyle="none",
        marker="|",
        markersize=18,
        color="black",
        label="random eviction, same number of keys",
    )
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlim(min(floors + values) * 100 - 4, 100)
    lru = result.runs[0]
    charts.finish(
        ax,
        title=f"Server LRU: {lru.hit_ratio:.1%} vs {result.predicted_hit_ratio:.1%} predicted "
        f"({lru.keys_held:,} keys held, {result.planned_keys:,} planned)",
        xlabel="hit ratio (%)",
        ylabel="who measured",
    )
    charts.show(fig)
    return result


# -- 5 · memory pressure -------------------------------------------------------------------------


def show_pressure(store: Store | None = None) -> list[pressure.Counters]:
    """Three caches on the same traffic, read by their counters: the server's own on a
    server the lab starts, the model's (exact LRU with TTLs) always beside them."""
    from IPython.display import display

    nudge_if_unlocked()
    computed, measured, where = pressure.run_cases(store=store)
    shown = measured or computed
    rows = [c.as_row() for c in computed] + [c.as_row() for c in measured]
    note = (f"'server' rows: INFO stats on {where}, allkeys-lru, maxmemory = empty server + the cache's budget. "
            if measured else f"No server here ({where}) - ")
    note += ("'computed' rows: exact LRU with the same TTLs and the same number of keys, on a virtual clock "
             f"({pressure.REPLAY_REQUESTS:,} reads at {pressure.REPLAY_RATE:,.0f} a second).")
    display(table(rows, note=note))
    fig = charts.new_figure(1, 1, width=8.0, height=3.2)
    ax = fig.axes[0]
    x = np.arange(len(shown))
    for i, (label, attr) in enumerate((("expired_keys", "expired_keys"), ("evicted_keys", "evicted_keys"))):
        ax.bar(x + (i - 0.5) * 0.38, [getattr(c, attr) for c in shown], width=0.38,
               color=charts.series_style(i)["color"], hatch=["", "//"][i], edgecolor="black", linewidth=0.5,
               label=label)
    ax.set_xticks(x, [f"{c.name}\n{c.hit_ratio:.0%} hits" for c in shown])
    causes = [f"{c.name} {'expires' if c.expired_keys > c.evicted_keys else 'evicts'}"
              for c in shown if pressure.diagnosis_of(c) != "healthy"]
    source = "server" if measured else "computed"
    charts.finish(ax, title=("Low hit ratios, different causes: " + ", ".join(causes) + f" ({source})")
                  if causes else f"Every cache at its target ({source})",
                  xlabel="cache (and its hit ratio)", ylabel="keys removed in the run")
    charts.show(fig)
    return shown


# -- 6 · is the cache right? -------------------------------------------------------------------


def explore_sampling(hits: Sequence[Any] | None = None) -> LivePlot:
    """Twenty independent samples of ``n`` hits, each with its 95% interval, against the truth."""
    hits = stale_flags(hits if hits is not None else watched_run(SHOP_RUN)[1].hits)
    sizes = np.array([n for n in (25, 50, 100, 200, 400, 800, 1600, 3200, 6400) if n <= len(hits)])

    def draw(fig: Any, sampled: int) -> str:
        width_ax, ci_ax = fig.axes
        truth = sample_staleness(hits, 1).true_share
        half = [np.mean([sample_staleness(hits, int(n), seed=s).half_width for s in range(10)]) for n in sizes]
        width_ax.plot(sizes, np.array(half) * 100, **charts.series_style(0), label="measured (mean of 10 samples)")
        width_ax.plot(
            sizes,
            196 * np.sqrt(max(truth, 1e-3) * (1 - truth) / sizes),
            **charts.series_style(1),
            label="1.96·sqrt(p(1-p)/n)",
        )
        width_ax.axvline(sampled, **charts.LIMIT_STYLE)
        width_ax.set_xscale("log")
        width_ax.set_yscale("log")
        plain_ticks(width_ax.xaxis, width_ax.yaxis)
        points = np.array(half) * 100
        width_ax.set_yticks([t for t in (0.25, 0.5, 1, 2, 5, 10, 20) if points.min() / 1.3 <= t <= points.max() * 1.3])
        charts.finish(
            width_ax,
            title="4x the sample halves the interval",
            xlabel="hits re-read from the DB (log)",
            ylabel="95% interval half-width\n(percentage points, log)",
        )
        estimates = [sample_staleness(hits, sampled, seed=s) for s in range(20)]
        for i, e in enumerate(estimates):
            style = charts.series_style(0 if e.covers_truth else 3)
            ci_ax.errorbar(
                e.estimate * 100,
                i + 1,
                xerr=[[(e.estimate - e.low) * 100], [(e.high - e.estimate) * 100]],
                fmt=style["marker"],
                color=style["color"],
                capsize=3,
            )
        ci_ax.axvline(truth * 100, **charts.LIMIT_STYLE, label=f"true stale share {truth:.1%}")
        covered = sum(e.covers_truth for e in estimates)
        ci_ax.set_yticks([1, 5, 10, 15, 20])
        charts.finish(
            ci_ax,
            title=f"{covered} of 20 intervals from {sampled:,} hits contain the truth",
            xlabel="stale share of hits (%)",
            ylabel="sample number",
        )
        return (
            f"Each row re-reads {sampled:,} random hits from the database. Red squares mark intervals that "
            f"missed the true {truth:.1%}; about 1 in 20 should."
        )

    return LivePlot(
        draw, {"sampled": choice("hits sampled", [int(n) for n in sizes], value=400)}, ncols=2, width=10, height=3.8
    )


