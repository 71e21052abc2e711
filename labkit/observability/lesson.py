"""What notebook 10 shows in sections 1-3: the live dashboard, Redis's own numbers, value
costs - and the exercises.  Sections 4-6 (sizing, memory pressure, sampling) are in
:mod:`.views`."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import charts
from ..errors import LabError
from ..exercises import Exercise, ExerciseSet, Implement, Scenario
from ..store import Store
from ..widgets import LivePlot, choice, int_slider
from . import sizing
from .answers import SHELF_HOT_KEY, check_big_key, check_budget, check_pressure, pressure_answer, shelf_values
from .cost import (
    bytes_per_key,
    encode,
    key_cost,
    measure_formats,
    sample_feed,
    sample_record,
    size_ratio,
    string_key_bytes,
)
from .metered import MeteredStore, MeterReading
from .sampler import (
    SAMPLER_ALTERNATIVES,
    SAMPLER_EQUIVALENT_MUTANTS,
    SAMPLER_MISTAKES,
    SAMPLER_SCENARIOS,
    SAMPLER_SKELETON,
    estimate_stale_share,
)
from .server import Reading, big_keys, hot_keys, info_snapshot, mem_keys, memory_usage, object_freq, read_info, slowlog
from .views import explore_sampling, explore_sizing, plain_ticks, show_pressure, show_verification, table
from .workload import SHOP, DataSet, WorkloadRun, run_workload, warm_cache

__all__ = [
    "Dashboard",
    "live_dashboard",
    "draw_hit_ratios",
    "table",
    "redis_readings",
    "key_scans",
    "key_cost_table",
    "explore_formats",
    "explore_sizing",
    "show_verification",
    "show_pressure",
    "explore_sampling",
    "exercises",
]

NOTEBOOK = "10"


# -- 1 · the four numbers ------------------------------------------------------------------


def draw_hit_ratios(ax: Any, reading: MeterReading) -> str:
    """One bar per prefix, the overall hit ratio as a line: the average hides the outlier."""
    rows = sorted(reading.prefixes.values(), key=lambda r: -r.lookups)
    if not rows:
        ax.text(0.5, 0.5, "no reads yet", ha="center", transform=ax.transAxes)
        charts.finish(ax, title="Waiting for traffic", xlabel="key prefix", ylabel="hit ratio (%)")
        return "Waiting for traffic."
    x = np.arange(len(rows))
    for i, r in enumerate(rows):
        style = charts.series_style(i)
        ax.bar(
            x[i],
            r.hit_ratio * 100,
            color=style["color"],
            hatch=["", "//", "..", "xx"][i % 4],
            edgecolor="black",
            linewidth=0.6,
        )
        ax.annotate(
            f"{r.hit_ratio:.0%}\n{r.lookups / max(reading.overall.lookups, 1):.0%} of reads",
            (x[i], r.hit_ratio * 100),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    ax.axhline(
        reading.overall.hit_ratio * 100, **charts.LIMIT_STYLE, label=f"all prefixes: {reading.overall.hit_ratio:.0%}"
    )
    ax.set_xticks(x, [r.prefix for r in rows])
    ax.set_ylim(0, 118)
    worst = reading.worst()
    finding = f"'{worst.prefix}' hits {worst.hit_ratio:.0%} while the average says {reading.overall.hit_ratio:.0%}"
    charts.finish(
        ax, title=finding, xlabel="key prefix (bar labels: hit ratio, share of reads)", ylabel="hit ratio (%)"
    )
    return finding


def _draw_latency(ax: Any, reading: MeterReading) -> str:
    rows = sorted(reading.prefixes.values(), key=lambda r: -r.lookups)
    x = np.arange(len(rows))
    series = [
        ("cache p50", "cache_p50_ms"),
        ("cache p99", "cache_p99_ms"),
        ("DB p50", "db_p50_ms"),
        ("DB p99", "db_p99_ms"),
    ]
    for i, (label, attr) in enumerate(series):
        values = [max(getattr(r, attr), 1e-3) for r in rows]
        ax.bar(
            x + (i - 1.5) * 0.2,
            values,
            width=0.2,
            color=charts.series_style(i)["color"],
            hatch=["", "//", "..", "xx"][i],
            edgecolor="black",
            linewidth=0.5,
            label=label,
        )
    ax.set_yscale("log")
    plain_ticks(ax.yaxis)
    ax.set_xticks(x, [r.prefix for r in rows])
    o = reading.overall
    finding = f"A miss costs the DB's {o.db_p50_ms:.1f} ms; a hit {o.cache_p50_ms * 1000:.0f} µs (medians)"
    charts.finish(ax, title=finding, xlabel="key prefix", ylabel="latency (ms, log scale)")
    return finding


def _draw_rates(ax: Any, reading: MeterReading) -> str:
    rows = sorted(reading.prefixes.values(), key=lambda r: -r.lookups)
    x = np.arange(len(rows))
    series = [("DB queries/s", "db_queries"), ("expired/s", "expirations"), ("evicted/s", "evictions")]
    for i, (label, attr) in enumerate(series):
        ax.bar(
            x + (i - 1) * 0.27,
            [reading.per_second(getattr(r, attr)) for r in rows],
            width=0.27,
            color=charts.series_style(i)["color"],
            hatch=["", "//", ".."][i],
            edgecolor="black",
            linewidth=0.5,
            label=label,
        )
    ax.set_xticks(x, [r.prefix for r in rows])
    busiest = max(rows, key=lambda r: r.db_queries)
    finding = (
        f"'{busiest.prefix}' sends the DB {reading.per_second(busiest.db_queries):,.0f} queries/s "
        f"with {busiest.lookups / max(reading.overall.lookups, 1):.0%} of the reads"
    )
    charts.finish(ax, title=finding, xlabel="key prefix", ylabel="events per second")
    return finding


_VIEWS = {
    "hit ratio by prefix": draw_hit_ratios,
    "latency percentiles": _draw_latency,
    "DB load, expiries, evictions": _draw_rates,
}


class Dashboard:
    """The four numbers of a running workload, per prefix, redrawn as it runs.

    A :class:`MeteredStore` over the notebook's store records; a worker thread runs
    the shop in real time; the chart and table refresh every ``refresh_seconds``.
    """

    def __init__(
        self,
        store: Store,
        data_sets: Sequence[DataSet] = SHOP,
        *,
        requests_per_second: float = 2_000.0,
        refresh_seconds: float = 1.0,
    ) -> None:
        self.meter = MeteredStore(store)
        self.data_sets = tuple(data_sets)
        self.requests_per_second = requests_per_second
        self.refresh_seconds = refresh_seconds
        self.runs: list[WorkloadRun] = []
        self._stop = threading.Event()
        self.plot = LivePlot(
            self._draw,
            {"view": choice("show", list(_VIEWS))},
            width=9.0,
            height=3.4,
            live={"Run 3 s more": lambda _plot: self.run(3.0)},
            ahead=False,  # it shows a workload that keeps running: nothing to keep or draw ahead
        )

    def _draw(self, fig: Any, view: str) -> str:
        reading = self.meter.reading()
        _VIEWS[view](fig.axes[0], reading)
        source = "" if self.meter.backend != "redis" else " (server's own INFO numbers: see section 2)"
        return f"<b>{reading.overall.lookups:,} reads in {reading.seconds:.1f} s</b>{source}" + reading._repr_html_()

    def warm_up(self) -> None:
        """Fill the cache as a shop that has run for a while holds it, then zero the counters."""
        warm_cache(self.meter, self.data_sets)
        self.meter.restart()

    def run(self, seconds: float = 3.0) -> WorkloadRun:
        """Run the shop for ``seconds`` of real time, refreshing the dashboard as it goes."""
        if not 0 < seconds <= 60:
            raise LabError(f"seconds must be between 0 and 60 (got {seconds!r}).")
        if not self.runs and not self.meter.reading().overall.lookups:
            self.warm_up()
        result: list[WorkloadRun] = []
        failed: list[BaseException] = []
        self._stop.clear()

        def work() -> None:
            try:
                result.append(run_workload(
                    self.meter, self.data_sets, n_requests=int(seconds * self.requests_per_second),
                    requests_per_second=self.requests_per_second, seed=len(self.runs), stop=self._stop,
                    seconds=seconds,
                ))
            except Exception as exc:  # noqa: BLE001 - reported below as one sentence, not a thread traceback
                failed.append(exc)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(self.refresh_seconds)
            if worker.is_alive():
                self.plot.redraw(force=True)
        self.plot.redraw(force=True)
        if failed:
            raise LabError(f"The shop stopped: {failed[0]}. Check the cache server, then run the cell again.")
        self.runs.extend(result)
        return result[0] if result else WorkloadRun()

    @property
    def reading(self) -> MeterReading:
        return self.meter.reading()

    def _ipython_display_(self) -> None:
        self.plot._ipython_display_()


def live_dashboard(store: Store, seconds: float = 2.0) -> Dashboard:
    """Show the dashboard and run the shop through it for ``seconds`` of real time."""
    from IPython.display import display

    dash = Dashboard(store)
    display(dash)
    dash.run(seconds)
    return dash


# -- 2 · reading Redis itself -----------------------------------------------------------------


def redis_readings(store: Store, dash: Dashboard, before: dict[str, Any] | None = None) -> Any:
    """INFO, MEMORY USAGE, OBJECT FREQ and SLOWLOG for the dashboard's run, each marked
    'server' or 'computed'."""
    readings: list[Reading] = read_info(store, dash.meter, before)
    hits = Counter(h.key for run in dash.runs for h in run.hits)
    hot, reads = hits.most_common(1)[0] if hits else ("product:0", 0)
    readings.append(memory_usage(store, hot))
    readings.append(object_freq(store, hot, accesses=max(reads, 1)))
    source, slow = slowlog(store, 3, dash.meter)
    rows = [r.as_row() for r in readings]
    if not slow:
        rows.append(
            {
                "figure": "SLOWLOG",
                "value": "empty",
                "source": source,
                "what it tells you": "no command took longer than slowlog-log-slower-than (10 ms by default) to "
                "execute inside the server - network and waiting time are not counted",
            }
        )
    for entry in slow:
        rows.append(
            {
                "figure": "SLOWLOG",
                "value": ", ".join(f"{k} {v}" for k, v in entry.items()),
                "source": source,
                "what it tells you": "the slowest commands"
                + (" by execution time inside the server" if source == "server"
                   else " the app timed (round trips: not what SLOWLOG measures)"),
            }
        )
    where = "a real Redis" if info_snapshot(store) is not None else "fakeredis, which has no INFO"
    return table(rows, note=f"Read from {where}: 'computed' rows are labkit's own arithmetic.")


def key_scans(store: Store, dash: Dashboard, n: int = 3) -> Any:
    """The equivalents of ``redis-cli --bigkeys``, ``--memkeys`` and ``--hotkeys`` over the lab's keys."""
    rows: list[dict[str, Any]] = []
    for f in big_keys(store, n):
        rows.append(
            {"scan": "--bigkeys (strings by length)", "key": f.key, "size": f"{f.value_bytes:,} B", "source": f.source}
        )
    for f in mem_keys(store, n):
        rows.append(
            {"scan": "--memkeys (MEMORY USAGE)", "key": f.key, "size": f"{f.memory_bytes:,} B", "source": f.source}
        )
    reads = Counter(h.key for run in dash.runs for h in run.hits)
    for key, count, counter in hot_keys(dict(reads), n):
        rows.append(
            {
                "scan": "--hotkeys (OBJECT FREQ)",
                "key": key,
                "size": f"{count:,} hits, LFU counter {counter}",
                "source": "computed",
            }
        )
    return table(
        rows,
        note="SCAN walks only this notebook's keys. --bigkeys ranks strings by length in bytes but lists, sets "
        "and hashes by element count (a hash of 10 huge fields ranks below one of 1,000 tiny ones); --memkeys "
        "ranks by MEMORY USAGE. The hot-key ranking needs an LFU policy on a server, so here it is computed "
        "from the hits the app counted.",
    )


# -- 3 · what a value costs ----------------------------------------------------------------------


def key_cost_table(store: Store) -> Any:
    """Three typical keys: where their bytes go, computed, beside MEMORY USAGE when a server answers."""
    examples = {
        "price:17": "1999",
        "session:3f9a": "v" * 40,
        "product:42": encode(sample_record(42), "json").decode(),
    }
    rows = []
    for key, value in examples.items():
        store.set(key, value, 60)
        cost = key_cost(store.k(key), value)
        measured = memory_usage(store, key)
        rows.append(
            {
                "key": key,
                "value bytes": cost.value_bytes,
                "key name bytes": cost.name_bytes,
                "MEMORY USAGE (computed)": cost.memory_usage_bytes,
                f"MEMORY USAGE ({measured.source})": measured.value,
                "+ hash table": cost.used_memory_bytes - cost.memory_usage_bytes - cost.ttl_bytes,
                "+ TTL entry": cost.ttl_bytes,
                "in used_memory": cost.used_memory_bytes,
                "overhead share": f"{cost.overhead_share:.0%}",
            }
        )
        store.delete(key)
    return table(
        rows,
        note="Overhead: the dict entry (24 B), the key's own string, the value's header (16 B), "
        "rounding up to jemalloc's size classes, the main hash table's buckets, and - because a cache sets a "
        "TTL - the key's entry in the expires dict with its buckets, which MEMORY USAGE leaves out.",
    )


def explore_formats() -> LivePlot:
    """Size and encode/decode time of JSON, pickle, msgpack, each with and without zlib."""

    def draw(fig: Any, items: int) -> str:
        feed = sample_feed(items)
        costs = measure_formats(feed, repeat=5)
        size_ax, time_ax = fig.axes
        y = np.arange(len(costs))
        names = [c.format for c in costs]
        for i, c in enumerate(costs):
            size_ax.barh(
                y[i],
                c.size_bytes / 1024,
                color=charts.series_style(i)["color"],
                hatch="//" if "zlib" in c.format else "",
                edgecolor="black",
                linewidth=0.5,
            )
        size_ax.set_yticks(y, names)
        time_ax.barh(
            y - 0.2,
            [c.encode_us for c in costs],
            height=0.4,
            color=charts.series_style(0)["color"],
            label="encode",
            edgecolor="black",
            linewidth=0.5,
        )
        time_ax.barh(
            y + 0.2,
            [c.decode_us for c in costs],
            height=0.4,
            color=charts.series_style(1)["color"],
            hatch="//",
            label="decode",
            edgecolor="black",
            linewidth=0.5,
        )
        time_ax.set_yticks(y, names)
        json_cost = costs[0]
        best = min(costs, key=lambda c: c.size_bytes)
        ratio = size_ratio(items, best.format)  # the same computation as the prose's claims
        charts.finish(
            size_ax,
            title=f"{items} products: {best.format} is {ratio:.1f}x smaller than JSON",
            xlabel="value size (KiB)",
            ylabel="format",
        )
        charts.finish(
            time_ax,
            title="zlib costs CPU on every write and read",
            xlabel="median time (µs, this machine, now)",
            ylabel="format",
        )
        return (
            f"Value bytes: JSON {json_cost.size_bytes:,} B, {best.format} {best.size_bytes:,} B "
            f"({ratio:.1f}x smaller); as keys in Redis {json_cost.memory_bytes:,} B and {best.memory_bytes:,} B, "
            "the key's own overhead included. Times are measured live: compare them as ratios."
        )

    return LivePlot(draw, {"items": int_slider("products in the value", 1, 200, 1, 50)}, ncols=2, width=10, height=3.6)


# -- exercises -----------------------------------------------------------------------------------

def exercises(store: Store | None = None) -> ExerciseSet:
    """Notebook 10's exercises: too small or too short, a maxmemory for 90%, the big key, the sampler."""
    plan = sizing.plan_for(0.9)
    return ExerciseSet(
        {
            "too_small_or_too_short": Exercise(
                NOTEBOOK,
                "too-small-or-too-short",
                check=check_pressure,
                kind="value",
                hint="A low hit ratio has two causes. Keys that left on their own count in expired_keys "
                "(the TTL); keys Redis threw out to stay under maxmemory count in evicted_keys (the memory). "
                "A cache at its target hit ratio is healthy, evictions or not.",
                solution=(
                    "answer = {'cache 1': 'TTL too short',   # expired_keys high, evicted_keys 0\n"
                    "          'cache 2': 'healthy',         # at target: its evictions are the cold tail\n"
                    "          'cache 3': 'too small'}       # evicted_keys high, expired_keys 0"
                ),
                reference=lambda: pressure_answer(),
                mistakes={
                    "judged by hit ratio alone": {"cache 1": "too small", "cache 2": "healthy", "cache 3": "too small"},
                    "evictions mean too small": {"cache 1": "TTL too short", "cache 2": "too small",
                                                 "cache 3": "too small"},
                    "expired and evicted swapped": {"cache 1": "too small", "cache 2": "healthy",
                                                    "cache 3": "TTL too short"},
                },
            ),
            "size_for_90": Exercise(
                NOTEBOOK,
                "size-for-90",
                check=check_budget,
                kind="value",
                hint="Find the smallest capacity whose hit ratio reaches 0.9 on the curve, then multiply by "
                "what one key really costs in Redis (obs.sizing.key_bytes()), not by the value size.",
                solution=(
                    "plan = obs.sizing.plan_for(0.9)\n"
                    f"answer = plan.capacity_keys * obs.sizing.key_bytes()   # {plan.budget_bytes:,} bytes"
                ),
                reference=lambda: sizing.plan_for(0.9).budget_bytes,
                mistakes={
                    "values only": lambda: sizing.plan_for(0.9).values_only_bytes,
                    "MEMORY USAGE only": lambda: sizing.plan_for(0.9).capacity_keys * string_key_bytes(
                        sizing.SIZING.prefix() + sizing.SIZING.key(9_999), "v" * 200),
                    "forgot the TTL's entry": lambda: sizing.plan_for(0.9).capacity_keys * bytes_per_key(
                        sizing.SIZING.prefix() + sizing.SIZING.key(9_999), "v" * 200, ttl=False),
                    "objects, not bytes": lambda: sizing.plan_for(0.9).capacity_keys,
                    "the whole key space": lambda: sizing.plan_for(0.9).distinct_keys * sizing.key_bytes(),
                },
            ),
            "big_key": Exercise(
                NOTEBOOK,
                "big-key",
                check=check_big_key,
                kind="value",
                hint="obs.mem_keys(store, pattern='shelf:*') ranks the shelf by MEMORY USAGE (computed on fakeredis).",
                solution="answer = obs.mem_keys(store, 1, pattern='shelf:*')[0].key   # 'shelf:feed:deals'",
                reference=lambda: max(shelf_values(), key=lambda k: string_key_bytes(k, shelf_values()[k])),
                mistakes={
                    "the hottest key": SHELF_HOT_KEY,
                    "the longest key name": lambda: max(shelf_values(), key=len),
                    "judged by decoded size": "shelf:feed:home",
                },
            ),
            "stale_sampler": Implement(
                NOTEBOOK,
                "stale-sampler",
                [Scenario(name, run) for name, run in SAMPLER_SCENARIOS],
                hint="hits is a stream: decide on each hit as it passes. Keep each with probability "
                "n / total (a Bernoulli sample), or keep a reservoir of n where hit number i (from 0) replaces "
                "a random slot with probability n / (i + 1). Re-read only the hits you keep, and let "
                "obs.wilson_interval(stale, sampled) give the interval.",
                reference=estimate_stale_share,
                mistakes=SAMPLER_MISTAKES,
                skeleton=SAMPLER_SKELETON,
                alternatives=SAMPLER_ALTERNATIVES,
                equivalent_mutants=SAMPLER_EQUIVALENT_MUTANTS,
            ),
        }
    )
