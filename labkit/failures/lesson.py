"""Notebook 08's views, charts and exercises (the notebook holds the idea, this the plumbing).

Every ``explore_*`` returns a :class:`~labkit.widgets.LivePlot` whose ``results`` dict
holds what the chart shows, so tests can check it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import charts
from ..exercises import Exercise, ExerciseSet, Implement, Scenario
from ..store import Store
from ..tables import Table
from ..widgets import LivePlot, choice, int_slider, toggle
from .bloom import BloomFilter, expected_false_positive_rate, optimal_hashes
from .breaker_answers import MISTAKES, Breaker, DeadlineBreaker, RateBreaker
from .checks import (
    WARM_PLAN,
    breaker_scenarios,
    check_negative_ttl,
    check_warming_plan,
)
from .incidents import (
    COLD,
    COLD_TRAFFIC,
    METASTABLE,
    METASTABLE_FIXES,
    METASTABLE_TRAFFIC,
    OUTAGE,
    OUTAGE_STRATEGIES,
    WARMING_PLANS,
    cold_run,
    metastable_run,
    outage_run,
)
from .live import run_live_outage
from .negative import penetration
from .partial import PARTIAL, PARTIAL_BREAKERS, partial_failure
from .replay import ReplayReport
from .slow import SLOW_CACHE, SLOW_STRATEGIES, slow_cache

__all__ = [
    "explore_outage", "outage_table", "live_outage", "explore_slow_cache", "explore_cold_start",
    "explore_penetration", "bloom_table", "explore_metastable", "explore_partial", "exercises", "Table",
]

NOTEBOOK = "08"


def _plot(draw: Callable[..., str], controls: dict[str, Any], **shape: Any) -> LivePlot:
    def drawn(fig: Any, **values: Any) -> str:
        fig.results = {}  # plot.results: the shown chart's runs
        return draw(fig, fig.results, **values)

    return LivePlot(drawn, controls, **shape)


def _shade(ax: Any, start: float, end: float, label: str) -> None:
    ax.axvspan(start, end, color="#999999", alpha=0.15, label=label)


def _timeline(axes: list[Any], runs: dict[str, ReplayReport], incident: Any, shade_label: str,
              width: int = 2, log_scale: bool = False) -> None:
    """DB load against capacity, success rate, p99: one line per run."""
    ax_db, ax_ok, ax_p99 = axes
    for i, (name, r) in enumerate(runs.items()):
        s = r.per_second(width)
        style = charts.series_style(i)
        kw = {"color": style["color"], "linestyle": style["linestyle"], "label": name}
        ax_db.plot(s["t"], s["db_qps"], **kw)
        if log_scale:
            ax_db.set_yscale("log")
        ax_ok.plot(s["t"], s["success"] * 100, **kw)
        ax_p99.plot(s["t"], s["p99_ms"], **kw)
    capacity = next(iter(runs.values())).capacity_qps
    ax_db.axhline(capacity, label=f"DB capacity ({capacity:.0f}/s)", **charts.LIMIT_STYLE)
    for ax in axes:
        _shade(ax, incident.start_seconds, incident.end_seconds, shade_label)
    ax_ok.set_ylim(-3, 103)
    # One legend, top left, with headroom above the lines: the other panels share its styles.
    low, high = ax_db.get_ylim()
    ax_db.set_ylim(low, high * (8 if log_scale else 1.5))


def _finish_timeline(axes: list[Any], titles: tuple[str, str, str], db_label: str) -> None:
    ax_db, ax_ok, ax_p99 = axes
    charts.finish(ax_db, title=titles[0], xlabel="time (s)", ylabel=db_label, legend=False)
    ax_db.legend(frameon=False, loc="upper left")
    charts.finish(ax_ok, title=titles[1], xlabel="time (s)", ylabel="requests served (%)", legend=False)
    charts.finish(ax_p99, title=titles[2], xlabel="time (s)", ylabel="p99 latency (ms)", legend=False)


# -- 1. cache down ---------------------------------------------------------------------------


def _compare(run: Callable[[str], ReplayReport], baseline: str, incident: Any, shade_label: str,
             control: Any, describe: Callable[[ReplayReport, ReplayReport, str], tuple[tuple[str, str, str], str]],
             *, log_scale: bool = False) -> LivePlot:
    """Three timelines (DB load, served, p99): the baseline against the run chosen by ``control``."""

    def draw(fig: Any, results: dict, chosen: str) -> str:
        runs = {baseline: run(baseline), chosen: run(chosen)}
        results.update(runs)
        _timeline(fig.axes, runs, incident, shade_label, log_scale=log_scale)
        titles, caption = describe(runs[baseline], runs[chosen], chosen)
        _finish_timeline(fig.axes, titles, "DB queries per second" + (" (log)" if log_scale else ""))
        return f"{chosen}: {caption}"

    return _plot(draw, {"chosen": control}, ncols=3, width=14, height=3.9)


def explore_outage() -> LivePlot:
    """The naive fallback against a chosen strategy, through a 30 s frozen cache."""
    s, e = OUTAGE.start_seconds, OUTAGE.end_seconds

    def describe(naive: ReplayReport, r: ReplayReport, name: str) -> tuple[tuple[str, str, str], str]:
        return ((f"Naive fallback: {naive.peak_db_qps(s, e) / r.capacity_qps:.1f}x DB capacity",
                 f"{name}: {r.success_rate(s, e):.0%} served in the outage",
                 f"{name}: p99 {r.p99_ms(s + 1, e):.0f} ms in the outage"),
                f"peak DB load {r.peak_db_qps(s, e)} queries/s (capacity {r.capacity_qps:.0f}); "
                f"{r.cache_attempts_while_down:,} requests waited for the frozen cache's timeout.")

    return _compare(outage_run, "fall back to the DB", OUTAGE, "cache frozen",
                    choice("strategy", list(OUTAGE_STRATEGIES), "+ circuit breaker"), describe)


def outage_table() -> Table:
    s, e = OUTAGE.start_seconds, OUTAGE.end_seconds
    rows = []
    for name in OUTAGE_STRATEGIES:
        r = outage_run(name)
        rows.append({"strategy": name, "peak DB queries/s": r.peak_db_qps(s, e),
                     "served in the outage": f"{r.success_rate(s, e):.0%}",
                     "p99 in the outage (ms)": round(r.p99_ms(s + 1, e)),
                     "requests that waited for the timeout": r.cache_attempts_while_down,
                     "served after it (last 10 s)": f"{r.success_rate(60, 70):.0%}"})
    return Table(rows, f"30 s frozen cache, 200 requests/s, DB capacity {r.capacity_qps:.0f} queries/s")


def live_outage(store: Store | None = None, *, breaker: bool = True, phase_seconds: float = 0.6) -> Table:
    """Freeze, kill and restart a real cache under a read loop: a ``redis-server`` the lab starts
    whenever the program is installed, whatever backend ``store`` is; the learner's server is never touched."""
    r = run_live_outage(use_real_server=True, breaker=breaker, phase_seconds=phase_seconds)
    where = ("a redis-server this notebook started on its own port (the notebook's own store is not touched)"
             if r.backend == "lab-started redis-server" else "the fault-injecting wrapper over an in-process store")
    note = (f"{r.note + ' ' if r.note else ''}Cache: {where}; timeout {r.timeout_ms:.0f} ms, "
            f"breaker {'on' if breaker else 'off'}.")
    return Table(r.rows(), note)


# -- 2. cache slow -----------------------------------------------------------------------------

DB_SHARE_CAPACITY = 0.3  # the database can serve about 30% of all reads


def explore_slow_cache() -> LivePlot:
    def draw(fig: Any, results: dict, cache_ms: int) -> str:
        res = slow_cache(cache_ms)
        results["results"] = res
        ax_lat, ax_db = fig.axes
        x = np.arange(len(res))
        ax_lat.bar(x - 0.2, [r.p50_ms for r in res], 0.4, color=charts.COLORS[0], label="p50")
        ax_lat.bar(x + 0.2, [r.p99_ms for r in res], 0.4, color=charts.COLORS[1], hatch="//", label="p99")
        ax_lat.set_xticks(x, [r.strategy.replace(" ", "\n", 1) for r in res])
        wait = res[SLOW_STRATEGIES.index("wait for it")]
        charts.finish(ax_lat, title=f"Waiting for a {cache_ms} ms cache: p50 {wait.p50_ms:.0f} ms, none: "
                      f"{res[0].p50_ms:.0f} ms", xlabel="strategy", ylabel="request latency (ms)")
        ax_db.bar(x, [r.db_share * 100 for r in res], color=charts.COLORS[2])
        ax_db.axhline(DB_SHARE_CAPACITY * 100, label="what the DB can take", **charts.LIMIT_STYLE)
        ax_db.set_xticks(x, [r.strategy.replace(" ", "\n", 1) for r in res])
        ax_db.set_ylim(0, 130)
        charts.finish(ax_db, title="Not waiting for a slow cache sends every read to the DB",
                      xlabel="strategy", ylabel="reads that query the DB (%)", legend=False)
        ax_db.legend(frameon=False, loc="upper center")
        return (f"The healthy cache's p99 is {res[3].timeout_ms:.1f} ms (the hedge waits that long); "
                f"the timeout is {SLOW_CACHE.timeout_factor:g}x it: {res[2].timeout_ms:.1f} ms.")

    slider = int_slider("cache answers in (ms)", 0, 200, 10, 100)
    return _plot(draw, {"cache_ms": slider}, ncols=2, width=13, height=3.9)


# -- 3. cold cache -------------------------------------------------------------------------------


def explore_cold_start() -> LivePlot:
    e, d = COLD.end_seconds, COLD_TRAFFIC.duration_seconds

    def describe(cold: ReplayReport, r: ReplayReport, _: str) -> tuple[tuple[str, str, str], str]:
        return ((f"Over capacity: cold {cold.seconds_over_capacity(e)} s, plan {r.seconds_over_capacity(e)} s",
                 f"Plan: {r.success_rate(d - 20, d):.0%} served at the end (cold {cold.success_rate(d - 20, d):.0%})",
                 f"Plan: p99 {r.p99_ms(d - 20, d):.0f} ms at the end"),
                f"{r.db_wasted:,} database answers arrived after their caller had given up "
                f"(cold: {cold.db_wasted:,}).")

    control = choice("warming plan", list(WARMING_PLANS), "pre-warm + ramp 45 s")
    return _compare(cold_run, "cold (no warming)", COLD, "restart", control, describe)


# -- 4. penetration ---------------------------------------------------------------------------------


def explore_penetration() -> LivePlot:
    def draw(fig: Any, results: dict, negative_ttl_s: int, bloom: bool) -> str:
        ttl = None if negative_ttl_s == 0 else float(negative_ttl_s)
        base, r = penetration(None), penetration(ttl, bloom=bloom)
        results.update(base=base, run=r)
        ax_q, ax_s = fig.axes
        setting = ("not-found TTL " + ("off" if ttl is None else f"{ttl:g} s")) + (" + Bloom" if bloom else "")
        ax_q.bar(["no negative cache", setting], [base.db_queries_for_absent_per_second,
                                                          r.db_queries_for_absent_per_second],
                 color=[charts.COLORS[0], charts.COLORS[2]])
        charts.finish(ax_q, title=f"Absent ids: {base.db_queries_for_absent_per_second:.0f} -> "
                      f"{r.db_queries_for_absent_per_second:.1f} DB queries/s",
                      xlabel="setting", ylabel="DB queries per second (absent ids)")
        ax_s.bar(["reads told 'not found'\nafter the id existed"], [r.false_not_found], color=charts.COLORS[3])
        charts.finish(ax_s, title=f"Oldest wrong 'not found': {r.oldest_false_not_found_seconds:.0f} s after creation",
                      xlabel="what went wrong", ylabel="reads")
        return (f"{r.absent_reads:,} reads for ids that did not exist; negative TTL "
                f"{'off' if ttl is None else f'{ttl:g} s'}, Bloom filter {'on' if bloom else 'off'}"
                f"{f' ({r.bloom_false_positives} false positives let through)' if bloom else ''}.")

    controls = {"negative_ttl_s": int_slider("not-found TTL (s, 0 = off)", 0, 120, 5, 10),
                "bloom": toggle("Bloom filter of existing ids", False)}
    return _plot(draw, controls, ncols=2, width=12, height=3.8)


def bloom_table(ids: int = 2000, probes: int = 5000) -> Table:
    """Measured false-positive rate against the formula, for a few sizes."""
    rows = []
    for bits_per_id in (4, 8, 12, 16):
        bits = bits_per_id * ids
        f = BloomFilter(bits, optimal_hashes(bits, ids))
        f.add_many(range(ids))
        measured = f.measured_false_positive_rate(range(10**7, 10**7 + probes))
        rows.append({"bits per id": bits_per_id, "hashes": f.hashes, "memory (KB)": round(bits / 8192, 1),
                     "formula": f"{expected_false_positive_rate(bits, f.hashes, ids):.2%}",
                     "measured": f"{measured:.2%}"})
    return Table(rows, f"{ids:,} ids in the filter, {probes:,} absent ids probed")


# -- 5. metastable -----------------------------------------------------------------------------------


def explore_metastable() -> LivePlot:
    e, d = METASTABLE.end_seconds, METASTABLE_TRAFFIC.duration_seconds

    def describe(stuck: ReplayReport, r: ReplayReport, name: str) -> tuple[tuple[str, str, str], str]:
        return ((f"After the trigger: over capacity {stuck.seconds_over_capacity(e)} s vs "
                 f"{r.seconds_over_capacity(e)} s",
                 f"{name}: {r.success_rate(d - 20, d):.0%} served at the end",
                 f"{name}: p99 {r.p99_ms(d - 20, d):.0f} ms at the end"),
                f"after the cache came back at {e:.0f} s, {r.seconds_over_capacity(e)} of "
                f"{d - e:.0f} s over capacity; without a budget, {stuck.seconds_over_capacity(e)}.")

    control = choice("fix", [f for f in METASTABLE_FIXES if f != "3 retries, no budget"], "retry budget (10%)")
    return _compare(metastable_run, "3 retries, no budget", METASTABLE, "trigger: cache frozen 30 s",
                    control, describe, log_scale=True)




# -- 6. partial failure -------------------------------------------------------------------------------


def explore_partial() -> LivePlot:
    """One cache node of N frozen: the share of reads that wait, and the DB's load, per breaker."""
    setup = PARTIAL

    def draw(fig: Any, results: dict, nodes: int) -> str:
        runs = {name: partial_failure(name, nodes) for name in PARTIAL_BREAKERS}
        results.update(runs)
        ax_wait, ax_db = fig.axes
        t = np.arange(int(setup.duration_seconds))
        for i, (name, r) in enumerate(runs.items()):
            style = charts.series_style(i)
            kw = {"color": style["color"], "linestyle": style["linestyle"], "label": name}
            ax_wait.plot(t, r.waited_per_second() * 100, **kw)
            ax_db.plot(t, r.db_per_second(), **{**kw, "label": "_nolegend_"})  # one legend: the left one
        ax_db.axhline(setup.db_capacity_qps, label=f"DB capacity ({setup.db_capacity_qps:.0f}/s)",
                      **charts.LIMIT_STYLE)
        _shade(ax_wait, setup.down_from, setup.down_until, f"1 node of {nodes} frozen")
        _shade(ax_db, setup.down_from, setup.down_until, "_nolegend_")
        one, per_node = runs["one breaker, 5 failures in a row"], runs["a breaker per node, failure rate >= 50%"]
        ax_wait.set_ylim(0, max(35.0, 100 / nodes * 1.6))
        charts.finish(ax_wait, title=f"1 node of {nodes} frozen: {one.waited_share():.0%} of reads wait with one "
                      f"breaker, {per_node.waited_share():.1%} with one per node",
                      xlabel="time (s)", ylabel="reads that wait for the timeout (%)", legend=False)
        ax_wait.legend(frameon=False, loc="upper left", fontsize="small")
        peak = max(r.peak_db_qps() for r in runs.values())
        ax_db.set_ylim(0, max(peak * 1.3, setup.db_capacity_qps * 1.8))
        charts.finish(ax_db, title=("A single breaker that opens sends every node's reads to the DB"
                                    if one.openings or runs["one breaker, failure rate >= 50%"].openings
                                    else "Only the frozen node's share reads the DB"),
                      xlabel="time (s)", ylabel="DB queries per second", legend=False)
        ax_db.legend(frameon=False, loc="upper left", fontsize="small")
        return " ".join(f"{name}: opened {r.openings} times, {r.waited_share():.1%} of reads waited, p99 "
                        f"{r.p99_ms():.0f} ms, {r.skipped_healthy_share():.1%} kept from healthy nodes."
                        for name, r in runs.items())

    return _plot(draw, {"nodes": choice("cache nodes", [4, 10, 20], 10)}, ncols=2, width=14, height=4.2)


_SKELETON = '''class Breaker:
    max_fallback_reads = ...   # fallback DB reads at once (the bulkhead); None = no limit

    def __init__(self, clock, failure_threshold=5, reset_timeout_seconds=2.0):
        ...

    def allow(self):
        """True if this request may try the cache (closed; or the one half-open probe)."""
        ...

    def record_success(self):
        ...

    def record_failure(self):
        ...
'''


# Mutants of the reference Breaker that no replay can tell apart from it (tools/mutation_report.py).
_NEVER_READ_CLOSED = "is only read while the breaker is open or half-open, and opening sets it first"
BREAKER_EQUIVALENT_MUTANTS: dict[str, str] = {
    "Breaker.__init__: self.opened_at = 0.0 => pass": f"opened_at {_NEVER_READ_CLOSED}.",
    "Breaker.__init__: self.probing = False => pass": f"probing {_NEVER_READ_CLOSED}.",
    "Breaker.allow: return False => pass": "allow() then answers None instead of False: a caller tests it for "
    "truth, and None is false exactly as False is.",
    "Breaker.__init__: self.opened_at = 0.0 => self.opened_at = None": f"opened_at {_NEVER_READ_CLOSED}.",
    "Breaker.__init__: self.opened_at = 0.0 => self.opened_at = 1.0": f"opened_at {_NEVER_READ_CLOSED}.",
    "Breaker.__init__: self.probing = False => self.probing = None": f"probing {_NEVER_READ_CLOSED}.",
    "Breaker.__init__: self.probing = False => self.probing = True": f"probing {_NEVER_READ_CLOSED}.",
    "Breaker.record_success: self.state, self.failures, self.probing = \"closed\", 0, False => "
    "self.state, self.failures, self.probing = \"closed\", 0, True": f"probing {_NEVER_READ_CLOSED}.",
    "Breaker.allow: if self.state == \"open\" and self.clock.now() - self.opened_at >= "
    "self.reset_timeout_seconds: => if self.state == \"open\" and self.clock.now() - self.opened_at > "
    "self.reset_timeout_seconds:": "> and >= differ only when a call arrives at exactly reset_timeout_seconds "
    "after opening, to the nanosecond; both probe 'after the reset timeout'.",
    "Breaker.record_failure: if self.state == \"half-open\" or self.failures >= self.failure_threshold: => "
    "if self.state == \"XXhalf-openXX\" or self.failures >= self.failure_threshold:":
    "a failed probe still re-opens the breaker: the failure count is never reset while open or half-open, "
    "so it is already at the threshold.",
    "Breaker.record_failure: if self.state == \"half-open\" or self.failures >= self.failure_threshold: => "
    "if self.state == \"HALF-OPEN\" or self.failures >= self.failure_threshold:":
    "a failed probe still re-opens the breaker: the failure count is never reset while open or half-open, "
    "so it is already at the threshold.",
}


def exercises(store: Store | None = None) -> ExerciseSet:
    """Notebook 08's exercises: a breaker with a bulkhead (implement), a not-found TTL, a warming plan."""
    breaker = Implement(
        NOTEBOOK, "breaker",
        [Scenario(name, run) for name, run in breaker_scenarios()],
        hint=("Keep a state: 'closed', 'open', 'half-open'. Count failures in a row; at the threshold, open "
              "and remember clock.now(). While open, allow() is False until reset_timeout_seconds have passed; "
              "then let exactly ONE request through (half-open). Its success closes the breaker, its failure "
              "opens it again. The database runs 4 queries at once, 80 ms each: 50 queries/s."),
        reference=lambda: Breaker,
        mistakes=MISTAKES,
        alternatives={"rate-based trip": RateBreaker, "a probe deadline instead of states": DeadlineBreaker},
        equivalent_mutants=BREAKER_EQUIVALENT_MUTANTS,
        skeleton=_SKELETON,
    )
    negative = Exercise(
        NOTEBOOK, "not-found-ttl", check_negative_ttl,
        hint=("An absent id read r times a second with a not-found TTL of T seconds costs about r / (1 + r*T) "
              "queries a second. 200 ids at 1 read/s each; the database can spare 20 queries/s. "
              "And a new id must be found within 30 s."),
        solution="not_found_ttl = 20   # anything from 9 to 30 s",
        reference=lambda: 20,
        mistakes={"over the staleness budget": 300, "too short to protect the database": 2,
                  "milliseconds, not seconds": 20_000},
    )
    warming = Exercise(
        NOTEBOOK, "warming-plan", check_warming_plan,
        hint=("The warmer loads 25 keys a second for at most 40 s: 1,000 keys, not enough alone. A ramp alone "
              "starts cold. Combine them: pre-warm the hottest keys, and ramp the rest over most of a minute. "
              "(Single-flight changes little here: section 3 says why.)"),
        solution=f"plan = {WARM_PLAN!r}",
        reference=lambda: dict(WARM_PLAN),
        mistakes={"no warming": {},
                  "too few keys pre-warmed": {"prewarm_keys": 200, "ramp_seconds": 60, "single_flight": True},
                  "ramp too short": {"prewarm_keys": 1000, "ramp_seconds": 30, "single_flight": True},
                  "no ramp": {"prewarm_keys": 1000, "single_flight": True},
                  "pre-warms more keys than 40 s allow": {"prewarm_keys": 5000}},
    )
    return ExerciseSet({e.name: e for e in (breaker, negative, warming)})
