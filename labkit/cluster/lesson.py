"""Notebook 09's views, charts and exercises (the notebook holds the idea, this the plumbing).

:func:`start_lab` picks the cluster: a real one started on this machine when the
``redis-server`` binary exists, simulated shards otherwise (or with
``LABKIT_CLUSTER=simulated``).  Every chart drawn from simulated shards says so in
its title.  ``REDIS_CLUSTER_URL`` names an existing cluster: the lab only reads and
writes its own keys there, and runs the sections that change a cluster (resharding,
lag, failover) on simulated shards instead.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from typing import Any

import numpy as np

from .. import charts
from ..clock import VirtualClock
from ..errors import LabError
from ..exercises import Exercise, ExerciseSet, Implement
from ..redis_server import redis_server_binary
from ..tables import Table
from ..widgets import LivePlot, int_slider, slider
from . import experiments as ex
from .checks import (
    HOT_READS_PER_SECOND,
    OTHER_LOAD,
    REPLICA_LAG_SECONDS,
    SHARD_CAPACITY,
    WINDOW_SECONDS,
    DeadlineRouter,
    FirstWriteOnly,
    ForgetsAfterFirstRead,
    OneTimeForAllKeys,
    RecentWritesRouter,
    ShortWindow,
    WallClock,
    check_copies,
    copies_needed,
    router_scenarios,
)
from .lesson_failover import explore_failover, show_failover_losses
from .lesson_rehash import explore_rehash, show_spread
from .race import FILLS, replica_fill_race
from .routing import ReadYourWrites
from .shards import SimulatedCluster

__all__ = [
    "Lab", "start_lab", "show_keys", "show_crossslot", "explore_rehash", "show_reshard",
    "show_spread", "explore_hot_key", "show_near_cache", "explore_replicas", "show_replica_timeline", "show_wait",
    "show_replica_fill",
    "explore_failover", "show_failover_losses", "exercises", "Table",
]

NOTEBOOK = "09"


class Lab:
    """The notebook's cluster(s), its key prefix, and what it has measured so far.

    ``close()`` (or leaving a ``with Lab(...) as lab:`` block) deletes its keys and stops
    what it started; the interpreter's exit does the same for a lab left open.
    """

    def __init__(self, prefix: str, *, simulated: bool | None = None) -> None:
        self.prefix = prefix
        forced = os.environ.get("LABKIT_CLUSTER", "").strip().lower() == "simulated"
        url = os.environ.get("REDIS_CLUSTER_URL", "").strip()
        want_sim = simulated if simulated is not None else forced or (not url and redis_server_binary() is None)
        self.local = None
        if want_sim:
            self.cluster: Any = SimulatedCluster(3, 1, clock=VirtualClock())
            self.control: Any = self.cluster
            why = "" if forced or simulated else ", as redis-server is not installed here"
            self.where = f"simulated shards (3 masters + 3 replicas in this process, on a virtual clock{why})"
        elif url:
            from .real import RealCluster

            self.cluster = RealCluster(url=url)
            self.control = SimulatedCluster(3, 1, clock=VirtualClock())
            self.where = ("your cluster at REDIS_CLUSTER_URL (keys under the lab's prefix only); "
                          "resharding, lag and failover run on simulated shards")
        else:
            from .local import LocalCluster
            from .real import RealCluster

            try:
                self.local = LocalCluster(3, 1, spares=1)
            except LabError as exc:  # a lesson never stops on a cluster that would not start
                print(f"⚠️  {exc} Running on simulated shards instead.")
                self.cluster = self.control = SimulatedCluster(3, 1, clock=VirtualClock())
                self.where = "simulated shards (the local cluster did not start)"
            else:
                self.cluster = self.control = RealCluster(self.local)
                ports = ", ".join(str(n.port) for n in self.local.nodes if n.role != "spare")
                self.where = f"a real Redis Cluster on 127.0.0.1 (3 masters + 3 replicas, ports {ports})"
        self.results: dict[Any, Any] = {}
        # One experiment at a time on the lab's own cluster: a "Run live" in one chart must
        # not count its commands into another chart's run.
        self.live_lock = threading.Lock()
        self.preview_lock = threading.RLock()  # the previews' simulated shards: one run at a time
        self._closed = False
        atexit.register(self.close)

    @staticmethod
    def title(cluster: Any, text: str) -> str:
        return f"{text} (simulated)" if cluster.simulated else text

    def close(self) -> None:
        """Delete the lab's keys and stop every process the lab started."""
        if self._closed:
            return
        self._closed = True
        for cluster in {id(self.cluster): self.cluster, id(self.control): self.control}.values():
            # A cluster the lab started dies with its keys; someone else's keeps only theirs.
            if not cluster.simulated and getattr(cluster, "local", None) is None:
                with contextlib.suppress(Exception):  # a node that went away cannot be cleaned
                    cluster.delete_prefix(self.prefix)
            cluster.stop()
        atexit.unregister(self.close)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<cluster Lab: {self.where}>"


_latest: list[Lab] = []


def start_lab(store: Any = None, *, simulated: bool | None = None, quiet: bool = False) -> Lab:
    """The notebook's cluster, keys under ``store.prefix`` (the learner's own prefix).

    Running the setup cell again stops the cluster the previous run started first.
    """
    while _latest:
        _latest.pop().close()
    prefix = store.prefix if store is not None else "labkit:09:"
    lab = Lab(prefix, simulated=simulated)
    _latest.append(lab)
    if not quiet:
        said = store.describe() if store is not None else ""
        unused = f" ({said} is left alone: a cluster needs servers of its own)" if said.startswith("real") else ""
        print(f"Running on {lab.where}{unused}; keys under {prefix!r}. "
              "It stops when you run the last cell or the kernel stops.")
    return lab


def open_cluster(*, simulated: bool | None = None) -> Lab:
    return start_lab(simulated=simulated, quiet=True)


# ---------------------------------------------------------------------------------
# 1. Where a key lives
# ---------------------------------------------------------------------------------

KEY_NAMES = ["user:42:name", "user:42:email", "{user:42}:name", "{user:42}:email", "{user:42}:cart"]


def show_keys(lab: Lab, names: list[str] | None = None) -> Table:
    return Table(ex.key_table(lab.cluster, lab.prefix, names or KEY_NAMES),
                 f"Where each key lives (prefix {lab.prefix!r} not shown)")


def show_crossslot(lab: Lab) -> None:
    print(ex.crossslot_demo(lab.cluster, lab.prefix, ["user:42:name", "user:42:email"]))
    print(ex.crossslot_demo(lab.cluster, lab.prefix, ["{user:42}:name", "{user:42}:email"]))


# ---------------------------------------------------------------------------------
# 2. Adding a node (the placement charts: :mod:`.lesson_rehash`)
# ---------------------------------------------------------------------------------

def show_reshard(lab: Lab) -> Table:
    """Add a fourth master and move it a quarter of the slots while a client reads."""
    cluster = lab.control
    result = lab.results.get("reshard") or ex.reshard(cluster, lab.prefix)
    lab.results["reshard"] = result
    where = "simulated shards" if cluster.simulated else "the real cluster"
    return Table([
        {"measured": "keys that moved to the new master", "value": f"{result.keys_moved:,} of {result.keys:,}"},
        {"measured": "share moved (formula 1/(n+1))",
         "value": f"{result.moved_share:.1%} (formula {result.formula_share:.1%})"},
        {"measured": "slots moved", "value": f"{result.slots_moved:,} of 16,384"},
        {"measured": "ASK redirects (key already moved, slot still moving)", "value": result.ask_redirects},
        {"measured": "MOVED redirects (slot moved: client updates its map)", "value": result.moved_redirects},
        {"measured": "reads that returned the right value",
         "value": f"{result.reads_correct:,} of {2 * result.keys:,}"},
    ], f"Resharding 3 -> 4 masters on {where}")


# ---------------------------------------------------------------------------------
# 3. The hot key
# ---------------------------------------------------------------------------------

FIXES = ("none", "near cache", "copies")
LIVE = "Run live"


def _preview(lab: Lab, cluster: Any) -> Any:
    """Where a slider's experiment runs at once: simulated shards with ``cluster``'s masters
    and slot map (the same engine code, a virtual clock, the same counts), private to the
    previews so warming them in the background disturbs nothing; "Run live" runs it on
    ``cluster``."""
    with lab.preview_lock:
        made = lab.results.get(("preview", id(cluster)))
        if made is not None and lab._closed:
            return made[1]  # the last cell stopped the cluster: keep previewing its last shape
        layout = cluster.slot_ports()
        if made is None or made[0] != layout:  # a reshard or failover since: shape a new one
            made = lab.results[("preview", id(cluster))] = (layout, SimulatedCluster.like(cluster))
            lab.results.setdefault("previews", []).append(made[1])  # alive, so its id names only it
    return made[1]


def _warm(lab: Lab, preview: Any, settings: list[Any], default: Any) -> threading.Thread:
    """Preview every setting a slider reaches, nearest the default first, in the background:
    a learner's move then only draws."""
    def work() -> None:
        for value in sorted(settings, key=lambda v: abs(v - default)):
            if lab._closed:
                return
            with contextlib.suppress(LabError):  # a setting that cannot run shows its sentence when drawn
                preview(value)

    thread = threading.Thread(target=work, name="labkit-09-warm", daemon=True)
    thread.start()
    return thread


def _engine_tag(cluster: Any, live: bool) -> Any:
    # Results are kept per engine: "live" for the lab's own cluster, else per preview.
    return "live" if live else id(cluster)


def _hot(lab: Lab, fix: str, copies: int, *, live: bool = True, on: Any = None) -> ex.HotKeyResult:
    """One hot-key run, measured once per setting: on the lab's cluster (``live``) or its
    preview (``on``, or the one shaped like the cluster now)."""
    cluster = lab.cluster if live else on or _preview(lab, lab.cluster)
    key = ("hot", fix, copies if fix == "copies" else 0, _engine_tag(cluster, live))
    if key not in lab.results:
        with lab.live_lock if live else lab.preview_lock:
            if key not in lab.results:  # a warmer may have made it while this waited
                lab.results[key] = ex.hot_key_load(cluster, lab.prefix, fix=fix, copies=copies)
    return lab.results[key]


def _state(lab: Lab) -> tuple:
    """What a chart of the lab's cluster shows besides its slider: kept frames are per state."""
    measured = sum(1 for key in lab.results if isinstance(key, tuple) and key[-1] == "live")
    shapes = len(lab.results.get("previews", ()))  # a reshard or failover shapes a new preview
    return lab.cluster.simulated, lab.control.simulated, lab._closed, measured, shapes, "failover" in lab.results


def _measured(lab: Lab, kind: str, *setting: Any) -> Any:
    """The run at this setting on the lab's own (real) cluster, if one was made."""
    return lab.results.get((kind, *setting, "live"))


def _draw_hot(lab: Lab, fig: Any, copies: int) -> str:
    ax = fig.axes[0]
    spread = _measured(lab, "hot", "copies", copies) if not lab.cluster.simulated else None
    preview = spread is None and not lab.cluster.simulated
    spread = spread or _hot(lab, "copies", copies, live=False)
    runs = [_hot(lab, "none", copies), _hot(lab, "near cache", copies), spread]
    nodes = sorted(runs[0].counts)
    width = 0.26
    for i, run in enumerate(runs):
        total = sum(run.counts.values())
        shares = [run.counts.get(n, 0) / total for n in nodes]
        label = run.fix if run.fix != "copies" else f"{copies} copies of the hot key"
        ax.bar(np.arange(len(nodes)) + (i - 1) * width, shares, width,
               label=label + (" (simulated preview)" if i == 2 and preview else ""),
               color=charts.series_style(i)["color"], hatch=["", "//", ".."][i], edgecolor="white")
    ax.axhline(1 / len(nodes), **charts.LIMIT_STYLE, label="fair share")
    held = spread.copies_on
    ax.set_xticks(np.arange(len(nodes)), [f"{n.rsplit(':', 1)[1]}\n{held.get(n, 0)} of {copies} copies"
                                          for n in nodes])
    ax.set_ylim(0, 1)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1])  # few tick labels: most of a redraw's cost
    base, near, spread = runs
    charts.finish(ax, title=lab.title(lab.cluster, f"One master served {base.hot_node_share:.0%} of commands; "
                                                   f"a near cache {near.hot_node_share:.0%}"),
                  xlabel="master (port) and the copies of the hot key its slots hold",
                  ylabel="share of the commands it served")
    where = (f" The copies at this setting are a <b>preview on simulated shards</b> with this cluster's slot map "
             f"(the same counts, computed at once); press <b>{LIVE}</b> to measure them on the real cluster."
             if preview else "")
    busiest = max(spread.counts, key=lambda n: spread.counts[n])
    most = held.get(busiest, 0)
    why = (f" A copy's slot comes from hashing its name, not from a plan: master {busiest.rsplit(':', 1)[1]} holds "
           f"<b>{most} of the {copies} copies</b>, so it serves {most}/{copies} of the hot key's reads on top of "
           f"its own keys{' - more copies than masters means some master holds two' if copies > len(nodes) else ''}."
           if most > 1 else "")
    return (f"{base.requests:,} reads, {base.hot_key_share:.0%} of them for one product. Busiest master: "
            f"<b>{base.hot_node_share:.0%}</b> of commands without a fix, <b>{near.hot_node_share:.0%}</b> with a "
            f"near cache ({near.near_hits:,} reads never left the app), <b>{spread.hot_node_share:.0%}</b> with "
            f"{copies} copies, which cost <b>{spread.writes_per_update} SETs per update</b> instead of 1.{why}{where}")


def explore_hot_key(lab: Lab) -> LivePlot:
    """Commands per master under a Zipf workload, from each node's INFO commandstats.

    The chart opens on runs measured on the lab's cluster; the copies slider previews
    other settings on simulated shards at once, and "Run live" measures the current one."""
    control = int_slider("copies of the hot key", 2, 12, 1, 6)
    if not lab.cluster.simulated:
        _hot(lab, "copies", control.value)  # the default setting, measured for real
    live = None if lab.cluster.simulated else {LIVE: lambda plot: _hot(lab, "copies", plot.values["copies"])}
    plot = LivePlot(lambda fig, copies: _draw_hot(lab, fig, copies), {"copies": control},
                    live=live, width=9.0, height=3.8, state=lambda: _state(lab))
    settings = list(range(control.min, control.max + 1, control.step))
    # The warmer gets its preview here: only this thread looks at the lab's cluster.
    preview = _preview(lab, lab.cluster)
    plot.warmer = _warm(lab, lambda c: _hot(lab, "copies", c, live=False, on=preview), settings, control.value)
    return plot


def show_near_cache(lab: Lab) -> Table:
    """Read the hot key twice, change it, read again: the server tells the near cache."""
    from .tracking import NearCache

    key = ex.product_key(lab.prefix, 0)
    lab.cluster.set(key, "price-0")
    rows = []
    with NearCache(lab.cluster) as near:
        for step in ("first read", "second read"):
            value = near.get(key)
            rows.append({"step": step, "value": value, "served from": "node" if near.hits == 0 else "app memory"})
        lab.cluster.set(key, "price-0 (discounted)")
        near.wait_for_invalidations()
        rows.append({"step": "another client writes", "value": "price-0 (discounted)",
                     "served from": f"node sent {near.invalidations} invalidation"})
        rows.append({"step": "third read", "value": near.get(key),
                     "served from": "node" if near.misses == 2 else "app memory (stale!)"})
    return Table(rows, "A near cache with server-assisted invalidation")


# ---------------------------------------------------------------------------------
# 4. Replicas and lag
# ---------------------------------------------------------------------------------

def _replicas(lab: Lab, lag_seconds: float, *, live: bool = True, on: Any = None) -> ex.ReplicaReads:
    """One replica experiment, measured once per lag: on the lab's cluster (``live``) or its
    preview (``on``, or the one shaped like the cluster now)."""
    cluster = lab.control if live else on or _preview(lab, lab.control)
    key = ("replicas", round(lag_seconds, 2), _engine_tag(cluster, live))
    if key not in lab.results:
        with lab.live_lock if live else lab.preview_lock:
            if key not in lab.results:
                lab.results[key] = ex.replica_reads(cluster, lab.prefix, lag_seconds=lag_seconds)
    return lab.results[key]


def _draw_replicas(lab: Lab, fig: Any, lag_seconds: float) -> str:
    run = _measured(lab, "replicas", round(lag_seconds, 2)) if not lab.control.simulated else None
    preview = run is None and not lab.control.simulated
    run = run or _replicas(lab, lag_seconds, live=False)
    # The timeline table shows the run the chart shows (not one drawn ahead of a move).
    fig.results = {"run": run, "simulated": lab.control.simulated or preview}
    ax = fig.axes[0]
    policies = list(ex.POLICIES)
    stale = [run.stale_reads[p] for p in policies]
    primary = [run.primary_reads[p] for p in policies]
    xs = np.arange(len(policies))
    ax.bar(xs - 0.2, stale, 0.4, label="stale reads", color=charts.series_style(3)["color"])
    ax.bar(xs + 0.2, primary, 0.4, label="reads sent to the primary", color=charts.series_style(0)["color"],
           hatch="//", edgecolor="white")
    ax.set_xticks(xs, policies)
    ax.set_ylim(0, run.reads["replica"] * 1.4)  # room for the legend above the bars
    ax.set_yticks(np.arange(0, run.reads["replica"] + 1, 2))
    rs, ryw = run.stale_reads["replica"], run.stale_reads["read-your-writes"]
    title = f"Replica reads: {rs} of {run.reads['replica']} stale; read-your-writes: {ryw}"
    charts.finish(ax, title=f"{title} (simulated preview)" if preview else lab.title(lab.control, title),
                  xlabel="where the user's reloads are read", ylabel=f"reads (of {run.reads['replica']})")
    window = ex.RYW_WINDOW_SECONDS
    where = (f" This lag is a <b>preview on simulated shards</b> (virtual clock, at once); press <b>{LIVE}</b> "
             "to pause the real replica for it." if preview else "")
    return (f"The replica lagged {lag_seconds:g} s behind its master. Reading it right after a write returned the "
            f"old profile <b>{rs}</b> times; routing this user's reads to the primary for {window:g} s after their "
            f"write gave <b>{ryw}</b> stale reads, and the reload after that window went back to the replica.{where}")


def explore_replicas(lab: Lab) -> LivePlot:
    """Stale reads per router.  On a real cluster the chart opens on a real run; the lag
    slider previews other lags on simulated shards at once, and "Run live" pauses the
    real replica for the current one."""
    control = slider("replica lag (s)", 0.1, 0.5, 0.1, ex.LAG_SECONDS)
    real = not lab.control.simulated
    if real:
        _replicas(lab, control.value)  # the default setting, measured for real
    live = {LIVE: lambda plot: _replicas(lab, plot.values["lag_seconds"])} if real else None
    plot = LivePlot(lambda fig, lag_seconds: _draw_replicas(lab, fig, lag_seconds), {"lag_seconds": control},
                    live=live, width=9.0, height=3.6, state=lambda: _state(lab))
    lab.results["replicas-plot"] = plot
    steps = round((control.max - control.min) / control.step)
    lags = [round(control.min + i * control.step, 2) for i in range(steps + 1)]
    preview = _preview(lab, lab.control)
    plot.warmer = _warm(lab, lambda lag: _replicas(lab, lag, live=False, on=preview), lags, control.value)
    return plot


def show_replica_timeline(lab: Lab) -> Table:
    plot = lab.results.get("replicas-plot")
    shown = plot.results if plot is not None else {}
    run = shown.get("run")
    if run is None:
        raise LabError("Run the replica experiment above first (explore_replicas).")
    where = " (simulated)" if shown.get("simulated") else ""
    return Table(run.timeline, f"The first round: one write at t = 0, then four reloads per router{where}")


def show_wait(lab: Lab) -> Table:
    return Table(ex.wait_demo(lab.control, lab.prefix), "WAIT 1 100: did one replica apply the write within 100 ms?")


def show_replica_fill(lag_seconds: float = 0.5) -> Table:
    rows = []
    for fill in FILLS:
        run = replica_fill_race(fill, lag_seconds=lag_seconds)
        rows.append({"the reader fills the cache": fill, "stale reads in the next minute": run.stale_reads})
    return Table(rows, f"Simulated on a virtual clock: delete after the write, then a refill 50 ms later; "
                       f"the database replica lags {lag_seconds:g} s")


# 5. Failover: :mod:`.lesson_failover`

# ---------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------

ROUTER_SKELETON = '''class MyRouter:
    def __init__(self, clock, window_seconds):
        ...

    def wrote(self, key):
        """This client's write to key was acknowledged by the primary."""
        ...

    def route(self, key):
        """Return "primary" or "replica" for this client's next read of key."""
        ...
'''


ROUTER_EQUIVALENT_MUTANTS = {
    "ReadYourWrites.route: if written is not None and self.clock.now() - written < self.window_seconds: => "
    "if written is not None and self.clock.now() - written <= self.window_seconds:":
        "Only a read at exactly window_seconds after a write tells < from <=, and there either answer is "
        "right: the window is longer than the lag, so the replica has had the write for half a second.",
}


def exercises(store: Any = None) -> ExerciseSet:
    """Notebook 09's exercises; graded on simulated shards (no cluster needed)."""
    router = Implement(
        NOTEBOOK, "read-your-writes", router_scenarios(),
        hint=(f"Remember clock.now() for each key in wrote(); in route(), send the read to the primary while "
              f"now - that time < window_seconds (the replica lags {REPLICA_LAG_SECONDS:g} s, the window is "
              f"{WINDOW_SECONDS:g} s), and to the replica otherwise."),
        reference=lambda: ReadYourWrites,
        mistakes={
            "forgets after the first read": ForgetsAfterFirstRead,
            "a window shorter than the replica lag": ShortWindow,
            "records only the first write": FirstWriteOnly,
            "one time for all keys": OneTimeForAllKeys,
            "measures time with the wall clock": WallClock,
        },
        alternatives={"a deadline per key": DeadlineRouter, "recent writes in a queue": RecentWritesRouter},
        equivalent_mutants=ROUTER_EQUIVALENT_MUTANTS,
        skeleton=ROUTER_SKELETON,
    )
    sizing = Exercise(
        NOTEBOOK, "hot-key-copies", check_copies, kind="value",
        hint=(f"Each master has {SHARD_CAPACITY:,} - {OTHER_LOAD:,} commands/s to spare for the hot key. "
              f"Divide {HOT_READS_PER_SECOND:,} by that, and round up."),
        solution=(f"copies = math.ceil({HOT_READS_PER_SECOND:,} / ({SHARD_CAPACITY:,} - {OTHER_LOAD:,}))"
                  f"   # = {copies_needed()}").replace(",", "_"),
        reference=lambda: copies_needed(),
        mistakes={"ignores the other keys' load": 4, "rounds down": 5},
    )
    return ExerciseSet({"read-your-writes": router, "hot-key-copies": sizing})
