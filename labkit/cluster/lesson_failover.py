"""Notebook 09, section 5: a master crashes - what clients saw, and what the cluster forgot.

The experiment is :func:`.failover.failover`, run once per lab on the cluster it
controls (real or simulated); the chart and the table below show that one run.
"""

from __future__ import annotations

from typing import Any

from .. import charts
from ..tables import Table
from . import experiments as ex

__all__ = ["explore_failover", "show_failover_losses"]


FAILOVER_STATES = {"ok": (0, "", "answered"), "CLUSTERDOWN": (1, "xx", "CLUSTERDOWN"),
                   "no answer": (3, "..", "no answer (connection refused)")}


def _failover_run(lab: Any) -> ex.FailoverResult:
    result = lab.results.get("failover")
    if result is None:  # one crash per lab: the chart and the table show the same one
        result = lab.results["failover"] = ex.failover(lab.control, lab.prefix)
    return result


def explore_failover(lab: Any) -> None:
    """Crash a master (once per lab) and chart what a client asking each master got."""
    result = _failover_run(lab)
    fig = charts.new_figure(width=11.0, height=3.8)
    ax = fig.axes[0]
    names = list(result.probes)
    step = 0.05
    drawn: set[str] = set()
    for row, name in enumerate(names):
        probes = result.probes[name]
        for (t, state), until in zip(probes, [t for t, _ in probes[1:]] + [probes[-1][0] + step], strict=True):
            colour, hatch, label = FAILOVER_STATES[state]  # each answer holds until the next probe
            ax.broken_barh([(t, until - t)], (row - 0.35, 0.7), facecolors=charts.series_style(colour)["color"],
                           hatch=hatch, edgecolor="white", linewidth=0,
                           label=None if state in drawn else label)
            drawn.add(state)
    ax.set_yticks(range(len(names)), [f"{n.rsplit(':', 1)[1]}" + (" (crashed)" if n == result.crashed else "")
                                      for n in names])
    ax.set_ylim(-0.6, len(names) + 0.4)  # room for the legend above the rows
    if result.recovered:
        down = min(result.down_seconds(n) for n in result.survivors)
        finding = (f"Every master refused for {down:.1f} s, not only the crashed one; "
                   f"its replica took over after {result.recovered_after_seconds:.1f} s")
    else:
        finding = "No answer for 15 s: the replica had not taken over yet (a very busy machine?)"
    charts.finish(ax, title=lab.title(lab.control, finding), xlabel="seconds since the master crashed",
                  ylabel="master (port) asked for one of its keys")
    handles = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    order = [label for _, _, label in FAILOVER_STATES.values() if label in handles]
    ax.legend([handles[label] for label in order], order, loc="upper left", ncols=3, frameon=False)
    charts.show(fig)


def show_failover_losses(lab: Any) -> Table:
    """What the crashed master had acknowledged and its replica never applied."""
    result = _failover_run(lab)
    if not result.recovered:
        return Table([{"measured": "the replica had not taken over", "value": "nothing to count"}])
    undone = "back" if result.delete_undone else "still deleted"
    return Table([
        {"measured": "acknowledged writes (SET) the replica had not applied",
         "value": f"{result.lost_writes} of {result.unreplicated_writes} lost"},
        {"measured": "the cache invalidation (DEL cached-price), acknowledged before the crash",
         "value": f"undone: the key is {undone}"},
        {"measured": "cached-price after the failover", "value": repr(result.deleted_value_after)},
        {"measured": "its TTL after the failover (seconds)", "value": result.deleted_ttl_after},
    ], f"After the failover on {'simulated shards' if lab.control.simulated else 'the real cluster'}")
