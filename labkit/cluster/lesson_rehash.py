"""Notebook 09, section 2: where keys go when a node joins, for five placement schemes.

The engine is :mod:`.rehash`; this module draws it (the explorer of keys moved and the
miss storm, and the chart of keys moved and load spread per scheme).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import charts
from ..widgets import LivePlot, choice, int_slider
from . import rehash

__all__ = ["explore_rehash", "show_spread", "REHASH_VNODES", "REHASH_NODES"]


def _draw_rehash(fig: Any, vnodes: int, nodes: int) -> str:
    from matplotlib.ticker import MaxNLocator

    left, right = fig.axes
    xs = np.array(REHASH_NODES)
    left.plot(xs, xs / (xs + 1), **charts.LIMIT_STYLE, label="formula n/(n+1)")
    left.plot(xs, 1 / (xs + 1), color="#000000", linestyle=":", linewidth=1.5, label="formula 1/(n+1)")
    for i, scheme in enumerate(rehash.SCHEMES):
        style = charts.series_style(i)
        measured = [rehash.moved_share(scheme, int(n), vnodes=vnodes) for n in xs]
        left.plot(xs + (i - 2) * 0.08, measured, color=style["color"], marker=style["marker"], linestyle="none",
                  label=scheme)
    left.set_ylim(0, 1)
    # Few ticks: drawing tick labels is most of a redraw's cost, and these carry the story.
    left.set_xticks([1, 3, 5, 7, 9])
    left.set_yticks([0, 0.25, 0.5, 0.75, 1])
    charts.finish(left, title="Modulo moves n/(n+1) of the keys; the others 1/(n+1)",
                  xlabel="nodes before one joins", ylabel="share of keys that move", legend=False)
    left.legend(frameon=False, ncols=2, loc="center right", fontsize="small")
    seconds = np.arange(60)
    storms = {s: rehash.miss_storm(s, nodes, vnodes=vnodes)
              for s in ("modulo", "consistent hashing", "redis cluster")}
    for i, (scheme, series) in enumerate(storms.items()):
        style = charts.series_style(i * 2 if scheme != "redis cluster" else 1)
        right.plot(seconds, series, color=style["color"], linestyle=style["linestyle"], label=scheme)
    right.axvline(20, **charts.LIMIT_STYLE, label="node joins")
    right.set_xticks([0, 20, 40, 60])
    right.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    charts.finish(right, title=f"Client-side sharding: a miss storm when node {nodes + 1} joins",
                  xlabel="time (s)", ylabel="database reads per second")
    mod, ring = storms["modulo"].sum(), storms["consistent hashing"].sum()
    return (f"With {nodes} nodes and client-side sharding, modulo sent <b>{mod:,}</b> extra reads to the "
            f"database, consistent hashing ({vnodes} virtual nodes each) <b>{ring:,}</b>, Redis Cluster <b>0</b>: "
            "it moves the data with the slot. Rendezvous and jump hashing move the same share as the ring, "
            "so their storms match its.")


SPREAD_SCHEMES = (("modulo", 0), ("hash slots", 0), ("consistent hashing", 1), ("consistent hashing", 160),
                  ("rendezvous", 0), ("jump", 0))


def _spread_label(scheme: str, vnodes: int) -> str:
    return f"ring, {vnodes} point{'s' if vnodes > 1 else ''}" if scheme == "consistent hashing" else scheme


def show_spread(nodes: int = 4) -> None:
    """Keys moved by one join and the busiest node's load, for every scheme at ``nodes`` nodes."""
    fig = charts.new_figure(1, 2, width=11.0, height=3.8)
    moved_ax, load_ax = fig.axes
    labels = [_spread_label(s, v) for s, v in SPREAD_SCHEMES]
    moved = [rehash.moved_share(s, nodes, vnodes=max(v, 1)) for s, v in SPREAD_SCHEMES]
    loads = [rehash.load_spread(s, nodes, vnodes=max(v, 1)) for s, v in SPREAD_SCHEMES]
    ys = np.arange(len(labels))
    for ax, values in ((moved_ax, moved), (load_ax, loads)):
        for y, value in zip(ys, values, strict=True):
            ax.barh(y, value, color=charts.series_style(int(y))["color"], hatch=["", "//", "..", "xx", "\\\\", "--"][y])
            ax.text(value, y, f" {value:.2f}", va="center")
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
    moved_ax.axvline(1 / (nodes + 1), **charts.LIMIT_STYLE, label=f"the newcomer's share, 1/{nodes + 1}")
    moved_ax.set_xlim(0, 1)
    load_ax.axvline(1, **charts.LIMIT_STYLE, label="perfectly even")
    load_ax.set_xlim(0, max(loads) * 1.2)
    charts.finish(moved_ax, title=f"Node {nodes + 1} joins: all but modulo move its share",
                  xlabel="share of 10,000 keys that move", ylabel="scheme")
    worst = labels[int(np.argmax(loads))]
    charts.finish(load_ax, title=f"Busiest node: {max(loads):.1f}x a fair share ({worst})",
                  xlabel=f"busiest node's keys / a fair share, {nodes} nodes", ylabel="scheme")
    charts.show(fig)


REHASH_VNODES = (1, 16, 160)
REHASH_NODES = range(1, 10)


def _sweep_rehash() -> None:
    """Every setting the two controls reach, computed once (memoized in ``rehash``, about
    0.1 s): a move then only draws."""
    for vnodes in REHASH_VNODES:
        for nodes in REHASH_NODES:
            for scheme in rehash.SCHEMES:
                rehash.moved_share(scheme, nodes, vnodes=vnodes)
                rehash.miss_storm(scheme, nodes, vnodes=vnodes)


def explore_rehash() -> LivePlot:
    """Keys moved by a join (measured vs formula) and the database's miss storm."""
    _sweep_rehash()
    return LivePlot(_draw_rehash, {
        "vnodes": choice("virtual nodes per node (ring)", list(REHASH_VNODES), 160),
        "nodes": int_slider("nodes before the join", REHASH_NODES[0], REHASH_NODES[-1], 1, 3),
    }, ncols=2, width=11.0, height=3.8)
