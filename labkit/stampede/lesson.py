"""Notebook 04's live charts and exercises (the notebook holds the idea, this the plumbing).

Every ``explore_*`` function returns a :class:`~labkit.widgets.LivePlot` whose
``results`` dict holds the shown chart's reports, so tests can check what it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import charts
from ..errors import LabError
from ..exercises import Exercise, ExerciseSet, Implement, Scenario, Verdict
from ..store import Store
from ..widgets import LivePlot, choice, int_slider, log_slider, slider, toggle
from .defenses import DEFENSES, Outcome, check_beta
from .herd import HerdReport, replay_lock, run_expired_lock, run_herd
from .lock import naive_acquire, naive_release
from .preview import VIRTUAL, preview_expired_lock, preview_herd, preview_stall
from .simulation import (
    BETA_TASK,
    SIM_DEFENSES,
    beta_task_run,
    poisson_arrivals,
    protection_costs,
    simulate_herd,
    simulate_traffic,
    synchronized_expiry,
)

__all__ = [
    "explore_herd",
    "explore_lock_ttl",
    "explore_stall",
    "compare_defenses",
    "explore_xfetch",
    "explore_jitter",
    "explore_protection",
    "exercises",
    "BETA_TASK",
    "beta_task_run",
    "SCENARIOS",
]

NOTEBOOK = "04"
_OUTCOME_ORDER = [Outcome.HIT, Outcome.LOADED, Outcome.WAITED, Outcome.STALE, Outcome.ERROR, Outcome.STUCK]
_OUTCOME_LABEL = {
    Outcome.HIT: "hit (fresh)",
    Outcome.LOADED: "queried the DB",
    Outcome.WAITED: "waited for a refresh",
    Outcome.STALE: "served the stale copy",
    Outcome.ERROR: "failed fast",
    Outcome.STUCK: "never returned",
}


RECIPE = "common lock recipe"
CORRECT = "correct lock"
_LIVE = "Run live"


def _plot(draw: Callable[..., str], controls: dict[str, Any], *,
          live: Callable[[dict[str, Any]], Any] | None = None, **shape: Any) -> LivePlot:
    """A LivePlot; with ``live``, its ``draw(fig, results, live, **values)`` also sees the last live run.

    ``live(values)`` runs the real experiment for the current settings (real threads,
    real time); its result is passed to ``draw`` only while the settings still match.
    """
    plot: list[LivePlot] = []

    def wrapped(fig: Any, **values: Any) -> str:
        fig.results = {}  # plot.results: the shown chart's
        if live is None:
            return draw(fig, fig.results, **values)
        ran = plot[0].live_results.get(_LIVE) if plot else None
        matching = ran[1] if ran is not None and ran[0] == values else None
        return draw(fig, fig.results, matching, **values)

    buttons = None if live is None else {_LIVE: lambda p: (dict(p.values), live(dict(p.values)))}
    made = LivePlot(wrapped, controls, live=buttons, **shape)
    plot.append(made)
    return made


def _source(report: HerdReport) -> str:
    if report.backend == VIRTUAL:
        return "preview on the virtual clock; press Run live for real threads"
    return f"live: real threads on {report.backend}, {report.wall_seconds:.2f} s"


def _limit_line(ax: Any, label: str = "limit: 1 query per expiry") -> None:
    ax.axhline(1, label=label, **charts.LIMIT_STYLE)


def _timeline_steps(ax: Any, report: Any, i: int, label: str) -> None:
    points = [(0.0, 0)] + [(t, n) for t, n in report.timeline if t >= -0.001]
    t = np.array([p[0] for p in points]) * 1000
    n = np.array([p[1] for p in points])
    style = charts.series_style(i)
    ax.step(t, n, where="post", color=style["color"], linestyle=style["linestyle"], label=label)


def _latency_scatter(ax: Any, report: Any, give_up_ms: float | None = None) -> None:
    for i, outcome in enumerate(_OUTCOME_ORDER):
        picked = [j for j, o in enumerate(report.outcomes) if o == outcome]
        if not picked:
            continue
        style = charts.series_style(i)
        x = report.arrival_seconds[picked] * 1000
        y = report.latencies_seconds[picked] * 1000
        if outcome == Outcome.STUCK:
            y = np.full(len(picked), give_up_ms or 0.0)
            x = np.nan_to_num(x)
        ax.scatter(x, y, s=14, color=style["color"], marker=style["marker"],
                   label=f"{_OUTCOME_LABEL[outcome]} ({len(picked)})")


def _queries(n: int) -> str:
    return f"{n} DB quer{'y' if n == 1 else 'ies'}"


# -- 1. the herd -----------------------------------------------------------------------------


def explore_herd(store: Store) -> LivePlot:
    """One expiry, a burst of readers: sliders preview on the virtual clock, Run live releases threads."""

    def draw(fig: Any, results: dict, live: HerdReport | None, readers: int, db_latency_ms: int,
             defense: str) -> str:
        r = live or preview_herd(defense, readers, db_latency_seconds=db_latency_ms / 1000)
        results["report"] = r
        ax_t, ax_l, ax_q = fig.axes
        _timeline_steps(ax_t, r, 0, f"{defense}")
        _limit_line(ax_t, "limit: 1")
        charts.finish(ax_t, title=f"{r.peak_db_in_flight} DB queries ran at once",
                      xlabel="time since the key expired (ms)", ylabel="DB queries in flight")
        _latency_scatter(ax_l, r)
        charts.finish(ax_l, title=f"Slowest reader waited {r.max_latency_seconds * 1000:.0f} ms",
                      xlabel="reader's cache lookup answered at (ms)", ylabel="reader latency (ms)")
        ax_q.bar([defense], [r.db_queries], color=charts.COLORS[0])
        _limit_line(ax_q)
        ax_q.set_yscale("log")
        ax_q.set_ylim(0.5, max(2 * r.readers, 10))
        charts.finish(ax_q, title=f"{_queries(r.db_queries)} for one expiry",
                      xlabel="defense", ylabel="DB queries (log scale)")
        return f"{r.readers} readers ({_source(r)}): {r.summary()}."

    def run(values: dict[str, Any]) -> HerdReport:
        return run_herd(values["defense"], values["readers"], store,
                        db_latency_seconds=values["db_latency_ms"] / 1000)

    controls = {
        "readers": int_slider("readers", 10, 400, 10, 200),
        "db_latency_ms": int_slider("DB latency (ms)", 5, 100, 5, 50),
        "defense": choice("defense", list(SIM_DEFENSES), "none"),
    }
    return _plot(draw, controls, live=run, ncols=3, width=13, height=3.8)


# -- 2. the common recipe's flaws -------------------------------------------------------------


def explore_lock_ttl(store: Store, *, db_latency_ms: int = 150) -> LivePlot:
    """Three callers 60 ms apart; the lock TTL against a 150 ms query, the recipe vs the correct lock."""

    def draw(fig: Any, results: dict, live: tuple[HerdReport, HerdReport] | None, lock_ttl_ms: int) -> str:
        if live is None:
            naive, fixed = (preview_expired_lock(d, lock_ttl_seconds=lock_ttl_ms / 1000,
                                                 db_latency_seconds=db_latency_ms / 1000)
                            for d in ("naive-lock", "lock"))
        else:
            naive, fixed = live
        results.update(naive=naive, fixed=fixed)
        ax_t, ax_b = fig.axes
        _timeline_steps(ax_t, naive, 0, RECIPE)
        _timeline_steps(ax_t, fixed, 1, CORRECT)
        _limit_line(ax_t, "limit: 1 refresh")
        title = f"Common lock recipe: {naive.peak_db_in_flight} refreshes at once; correct: {fixed.peak_db_in_flight}"
        charts.finish(ax_t, title=title, xlabel="time (ms)", ylabel="refresh queries in flight")
        labels = ["refreshes at once", "foreign locks freed", "DB queries"]
        x = np.arange(len(labels))
        for i, (name, r) in enumerate(((RECIPE, naive), (CORRECT, fixed))):
            values = [r.peak_db_in_flight, r.foreign_lock_frees, r.db_queries]
            ax_b.bar(x + (i - 0.5) * 0.38, values, width=0.38, color=charts.COLORS[i], label=name,
                     hatch=None if i == 0 else "//")
        ax_b.set_xticks(x, labels)
        charts.finish(ax_b, title=f"Lock TTL {lock_ttl_ms} ms vs a {db_latency_ms} ms query",
                      xlabel="what happened", ylabel="count")
        return (f"{_source(naive).capitalize()}. The recipe: {naive.db_queries} refreshes, "
                f"{naive.foreign_lock_frees} foreign lock(s) freed. Correct lock: {fixed.db_queries} refresh, "
                f"{fixed.foreign_lock_frees} foreign locks freed ({fixed.counts[Outcome.WAITED]} callers waited "
                "and got the fresh value).")

    def run(values: dict[str, Any]) -> tuple[HerdReport, HerdReport]:
        ttl, latency = values["lock_ttl_ms"] / 1000, db_latency_ms / 1000
        return tuple(run_expired_lock(d, store, lock_ttl_seconds=ttl, db_latency_seconds=latency)
                     for d in ("naive-lock", "lock"))  # type: ignore[return-value]

    return _plot(draw, {"lock_ttl_ms": int_slider("lock TTL (ms)", 20, 400, 10, 50)}, live=run,
                 ncols=2, width=12)


def explore_stall(store: Store, *, readers: int = 30) -> LivePlot:
    """A stalled database: the recipe's retry never returns; the correct lock meets its deadline."""
    names = (RECIPE, f"{CORRECT}, stale copy", f"{CORRECT}, no stale copy")

    def draw(fig: Any, results: dict, live: dict[str, HerdReport] | None, deadline_s: float) -> str:
        give_up = deadline_s + 0.25
        runs = live or {
            names[0]: preview_stall("naive-lock", readers, deadline_seconds=deadline_s),
            names[1]: preview_stall("lock", readers, deadline_seconds=deadline_s, stale_copy=True),
            names[2]: preview_stall("lock", readers, deadline_seconds=deadline_s, stale_copy=False),
        }
        results.update(runs)
        ax = fig.axes[0]
        for i, r in enumerate(runs.values()):
            style = charts.series_style(i)
            y = np.where(np.isnan(r.latencies_seconds), give_up, r.latencies_seconds) * 1000
            ax.scatter(np.full(readers, i) + np.linspace(-0.3, 0.3, readers), y, s=12,
                       color=style["color"], marker="x" if r.stuck_readers else style["marker"])
        ax.axhline(deadline_s * 1000, color=charts.COLORS[3], linestyle=":", label="the readers' deadline")
        ax.axhline(give_up * 1000, color="#777777", linestyle="-.", label="we stopped watching (still waiting)")
        ax.set_xticks(range(len(runs)), [f"{name}\n{r.returned}/{readers} returned" for name, r in runs.items()])
        naive, stale, bare = runs.values()
        charts.finish(ax, title=(f"Stalled DB: the recipe {naive.returned}/{readers} returned; "
                                 f"correct lock {stale.returned + bare.returned}/{2 * readers}, all by the deadline"),
                      xlabel="defense", ylabel="reader latency (ms)", legend=True)
        return (f"{_source(stale).capitalize()}. Correct lock: {stale.served_stale} served the stale copy, "
                f"{bare.counts[Outcome.ERROR]} failed fast with: \u201c{bare.errors[0] if bare.errors else ''}\u201d")

    def run(values: dict[str, Any]) -> dict[str, HerdReport]:
        deadline = values["deadline_s"]
        give_up = deadline + 0.25
        return {
            names[0]: run_herd("naive-lock", readers, store, stall_db=True, stale_copy=True, give_up_seconds=give_up),
            names[1]: run_herd("lock", readers, store, stall_db=True, wait_seconds=deadline, give_up_seconds=give_up),
            names[2]: run_herd("lock", readers, store, stall_db=True, stale_copy=False, wait_seconds=deadline,
                               give_up_seconds=give_up),
        }

    return _plot(draw, {"deadline_s": slider("reader deadline (s)", 0.1, 1.0, 0.1, 0.3)}, live=run,
                 width=11, height=4)


# -- 3. the defenses side by side -------------------------------------------------------------


def compare_defenses(store: Store, *, readers: int = 200, db_latency_seconds: float = 0.05) -> LivePlot:
    """Every defense against the same herd: the live herd next to the virtual-clock simulation.

    The first draw releases a real herd per defense (one app process); the slider then
    previews other process counts on the virtual clock, and Run live measures them.
    """

    def live_herds(processes: int) -> dict[str, HerdReport]:
        return {d: run_herd(d, readers, store, db_latency_seconds=db_latency_seconds, app_processes=processes)
                for d in DEFENSES}

    first = ({"processes": 1}, live_herds(1))

    def draw(fig: Any, results: dict, live: dict[str, HerdReport] | None, processes: int) -> str:
        if live is None and processes == first[0]["processes"]:
            live = first[1]
        simulated = {d: simulate_herd(d, readers, recompute_seconds=db_latency_seconds, parallel_queries=16,
                                      app_processes=processes).db_queries for d in SIM_DEFENSES}
        previews = {d: preview_herd(d, readers, db_latency_seconds=db_latency_seconds, app_processes=processes)
                    for d in SIM_DEFENSES}
        shown = live or previews
        results.update(reports=shown, simulated=simulated, live=live is not None)
        ax_q, ax_p, ax_c = fig.axes
        names = list(shown)
        x = np.arange(len(names))
        ax_q.bar(x, [shown[d].db_queries for d in names], color=charts.COLORS[0],
                 label="live herd" if live else "virtual clock")
        sx = [i for i, d in enumerate(names) if d in simulated]
        ax_q.scatter(sx, [simulated[names[i]] for i in sx], marker="D", s=40, color=charts.COLORS[1],
                     zorder=3, label="simulation, same parameters")
        _limit_line(ax_q)
        ax_q.set_yscale("log")
        ax_q.set_ylim(0.5, 3 * readers)
        ax_q.set_xticks(x, names, rotation=30)
        limit = ("Lock, single-flight and SWR reach the limit of 1" if processes == 1 else
                 f"With {processes} app processes only the lock and SWR reach 1")
        charts.finish(ax_q, title=limit, xlabel="defense", ylabel="DB queries per expiry (log)")
        ax_p.bar(x, [shown[d].latency_ms(99) for d in names], color=charts.COLORS[2])
        ax_p.set_xticks(x, names, rotation=30)
        charts.finish(ax_p, title="The herd is also the slowest for readers",
                      xlabel="defense", ylabel="p99 reader latency (ms)")
        commands = first[1] if live is None else live
        ax_c.bar(np.arange(len(commands)), [r.commands_per_read for r in commands.values()], color=charts.COLORS[4])
        ax_c.set_xticks(np.arange(len(commands)), list(commands), rotation=30)
        measured_at = processes if live is not None else first[0]["processes"]
        charts.finish(ax_c, title=f"Defenses pay in cache round trips (live, {measured_at} process)",
                      xlabel="defense", ylabel="store commands per read")
        source = ("live herds on real threads" if live is not None else
                  "virtual-clock preview; press Run live to release real herds at this process count")
        lines = [f"{d}: {shown[d].db_queries} ({'live' if live else 'preview'}) / {simulated.get(d, '-')} "
                 "simulated" for d in names]
        return f"{source}.<br>" + "<br>".join(lines)

    return _plot(draw, {"processes": int_slider("app processes", 1, 8, 1, 1)},
                 live=lambda values: live_herds(values["processes"]), ncols=3, width=13, height=4)


# -- 4. steady traffic: XFetch ---------------------------------------------------------------


def explore_xfetch(*, seconds: float = 3600.0, ttl_seconds: float = 30.0, recompute_seconds: float = 0.05) -> LivePlot:
    """An hour of steady traffic on one hot key, every defense on the same reads."""
    arrivals_cache: dict[int, np.ndarray] = {}

    def draw(fig: Any, results: dict, beta: float, clients: int) -> str:
        if clients not in arrivals_cache:
            arrivals_cache[clients] = poisson_arrivals(clients * 0.1, seconds, seed=clients)
        arrivals = arrivals_cache[clients]
        reports = {d: simulate_traffic(d, clients=clients, seconds=seconds, ttl_seconds=ttl_seconds,
                                       recompute_seconds=recompute_seconds, beta=beta, arrivals=arrivals,
                                       app_processes=4)
                   for d in SIM_DEFENSES}
        results["reports"] = reports
        names = list(SIM_DEFENSES)
        x = np.arange(len(names))
        ax_q, ax_m = fig.axes
        mean = [reports[d].mean_queries_per_expiry for d in names]
        top = [reports[d].max_queries_per_expiry for d in names]
        ax_q.bar(x, mean, color=charts.COLORS[0], label="mean")
        ax_q.scatter(x, top, marker="v", color=charts.COLORS[1], zorder=3, label="worst window")
        _limit_line(ax_q)
        ax_q.set_yscale("log")
        ax_q.set_ylim(0.5, max(top) * 2 + 1)
        ax_q.set_xticks(x, names)
        xf = reports["xfetch"]
        charts.finish(ax_q, title=f"XFetch (beta={beta:.2g}): {xf.mean_queries_per_expiry:.1f} queries per expiry",
                      xlabel="defense", ylabel="DB queries per expiry (log)")
        ax_m.bar(x, [100 * (1 - reports[d].share_windows_without_miss) for d in names], color=charts.COLORS[3])
        ax_m.set_xticks(x, names)
        ax_m.set_ylim(0, 105)
        missed = 100 * (1 - xf.share_windows_without_miss)
        charts.finish(ax_m, title=f"XFetch: readers saw a miss in {missed:.1f}% of expiries",
                      xlabel="defense", ylabel="expiries where a reader missed (%)")
        reads_per_second = clients * 0.1
        return (f"{clients:,} clients, {reads_per_second:,.0f} reads/s for {seconds / 3600:g} h ({xf.reads:,} reads, "
                f"{xf.windows} expiries). XFetch refreshed on average {xf.mean_refresh_lead_seconds:.2f} s early; "
                f"SWR served {reports['swr'].stale_reads:,} stale reads. Simulated in "
                f"{sum(r.runtime_seconds for r in reports.values()):.2f} s.")

    controls = {
        "beta": log_slider("beta", 0.1, 10, 1.0),
        "clients": choice("clients", [200, 1000, 10_000], 10_000),
    }
    return _plot(draw, controls, ncols=2, width=12)


# -- 5. many keys: TTL jitter --------------------------------------------------------------------


def explore_jitter(*, keys: int = 1000, ttl_seconds: float = 300.0) -> LivePlot:
    def draw(fig: Any, results: dict, jitter_percent: int) -> str:
        flat = synchronized_expiry(keys, ttl_seconds=ttl_seconds, jitter_fraction=0.0)
        jittered = synchronized_expiry(keys, ttl_seconds=ttl_seconds, jitter_fraction=jitter_percent / 100)
        results.update(flat=flat, jittered=jittered)
        ax = fig.axes[0]
        minutes = np.arange(len(flat)) / 60
        ax.plot(minutes, flat, color=charts.COLORS[3], linestyle="-", linewidth=1, label="same TTL for all")
        ax.plot(minutes, jittered, color=charts.COLORS[0], linestyle="--", linewidth=1.5,
                label=f"TTL \u00b1{jitter_percent}%")
        ax.set_yscale("symlog", linthresh=10)
        charts.finish(ax, title=(f"{keys:,} keys filled together: peak {flat.max():,} refreshes/s; "
                                 f"with \u00b1{jitter_percent}% jitter {jittered.max():,}/s"),
                      xlabel="time (minutes)", ylabel="DB refreshes per second (symlog)")
        return (f"Same TTL: {flat.max():,} refreshes in one second, every {ttl_seconds / 60:g} minutes. "
                f"\u00b1{jitter_percent}%: peak {jittered.max():,}/s, and the peaks keep flattening.")

    return _plot(draw, {"jitter_percent": int_slider("TTL jitter (\u00b1%)", 0, 30, 1, 10)}, width=11)


# -- 6. what protection costs -----------------------------------------------------------------------


def explore_protection(*, keys: int = 10_000, reads_per_second: float = 5000.0) -> LivePlot:
    costs = protection_costs(keys, reads_per_second=reads_per_second)
    herd = 1 + costs.reads_per_second * 0.05

    def draw(fig: Any, results: dict, hot_keys_only: bool, hot_keys: int) -> str:
        protected = hot_keys if hot_keys_only else keys
        saved = float(costs.duplicates_per_second[:protected].sum())
        paid = float(costs.bookkeeping_per_second[:protected].sum())
        results.update(protected=protected, saved=saved, paid=paid, costs=costs)
        rank = np.arange(1, keys + 1)
        ax_h, ax_c = fig.axes
        ax_h.loglog(rank, herd, color=charts.COLORS[0], label="queries when the key expires")
        ax_h.axhline(2, color=charts.COLORS[3], linestyle=":", label="a herd: 2 or more")
        ax_h.axvline(protected, color="#777777", linestyle="-.", label=f"protected: top {protected:,}")
        herd_keys = int((herd >= 2).sum())
        charts.finish(ax_h, title=f"Only the {herd_keys} hottest keys ever stampede",
                      xlabel="key popularity rank (log)", ylabel="concurrent DB queries (log)")
        extra_per_read = costs.bookkeeping_per_second / costs.reads_per_second
        ax_c.loglog(rank, extra_per_read, color=charts.COLORS[1], linestyle="--")
        ax_c.axvline(protected, color="#777777", linestyle="-.")
        charts.finish(ax_c, title="Cold keys pay the lock's cost on nearly every read",
                      xlabel="key popularity rank (log)", ylabel="extra store commands per read (log)")
        every = costs.bookkeeping_per_second.sum()
        return (f"Protecting {protected:,} of {keys:,} keys: +{paid:,.1f} store commands/s, saves {saved:.1f} "
                f"duplicate DB queries/s. Protecting every key: +{every:,.0f} commands/s to save "
                f"{costs.duplicates_per_second.sum():.1f}/s.")

    controls = {
        "hot_keys_only": toggle("protect hot keys only", True),
        "hot_keys": int_slider("hot keys", 10, 2000, 10, 100),
    }
    return _plot(draw, controls, ncols=2, width=12)


# -- exercises ------------------------------------------------------------------------------------


SCENARIOS = {
    "A": {"answers": {"lock"},
          "why": "readers must never see the old balance, and 40 servers must share one refresh: a "
                 "distributed lock (single-flight would still send one query per server)."},
    "B": {"answers": {"swr", "xfetch"},
          "why": "staleness is acceptable and the rebuild is slow: serve the old copy while one refresh "
                 "runs (swr), or refresh before expiry (xfetch) - nobody waits 1.5 s."},
    "C": {"answers": {"jitter"},
          "why": "the keys do not share readers, they share an expiry time: spread the TTLs."},
}
CHOICES = ("none", "lock", "single-flight", "xfetch", "swr", "jitter")


def check_beta_choice(beta: float) -> tuple[bool, str]:
    beta = check_beta(beta)
    t = BETA_TASK
    r = beta_task_run(beta)
    share, lead = r.share_windows_without_miss, r.mean_refresh_lead_seconds
    measured = f"beta={beta:g}: no miss in {100 * share:.1f}% of {r.windows} expiries, refreshed {lead:.1f} s early"
    if share < t["min_share_without_miss"]:
        return False, f"{measured}; too many expiries reach readers - raise beta."
    if lead > t["max_mean_lead_seconds"]:
        return False, f"{measured}; that throws away too much of each TTL - lower beta."
    return True, measured + "."


def check_scenarios(answers: dict[str, str]) -> tuple[bool, str]:
    if not isinstance(answers, dict) or set(answers) != set(SCENARIOS):
        raise LabError("Answer with a dict for scenarios A, B and C, e.g. {'A': 'lock', 'B': ..., 'C': ...}.")
    wrong = []
    for name, spec in SCENARIOS.items():
        given = str(answers[name]).strip().lower()
        if given not in CHOICES:
            raise LabError(f"Scenario {name}: {given!r} is not one of {', '.join(CHOICES)}.")
        if given not in spec["answers"]:
            wrong.append(name)
    if wrong:
        return False, f"look again at scenario {', '.join(wrong)}."
    return True, " ".join(f"{n}: {s['why']}" for n, s in SCENARIOS.items())


LOADER_SKELETON = '''def read(store, db, row_id, clock, *, ttl_seconds=30.0, not_found_ttl_seconds=5.0,
         lock_ttl_seconds=1.0, wait_seconds=0.5):
    """Return row_id's value through the cache, or None if the row does not exist.

    Cache key f"item:{row_id}", lock key f"lock:item:{row_id}" (held for lock_ttl_seconds).
    Store values with pack(value, fresh_for_seconds, clock) and keep the key longer (10x),
    so an expired copy can still be served stale; unpack(raw, clock) gives (value, fresh).
    A failed refresh is shared: DB_DOWN, fresh for 1 s.
    db.read(row_id, timeout_seconds=...) returns a Row (.value) or None, and raises
    DatabaseError / DatabaseTimeout. clock.now() and clock.sleep(s) tell and pass time.
    """
    ...'''


def _replay_scenario(name: str, replay: Callable[[Any], Any]) -> Scenario:
    def run(read: Any) -> Verdict:
        if not callable(read):
            raise LabError("Answer with your read(store, db, row_id, clock, ...) function.")
        result = replay(read)
        return Verdict(result.passed, result.message, result.rows)

    return Scenario(name, run)


def _loader_exercise() -> Implement:
    from . import loaders
    from .loader import REPLAYS
    from .loader_store import STORE_REPLAYS

    return Implement(
        NOTEBOOK, "complete-loader", [_replay_scenario(name, replay) for name, replay in STORE_REPLAYS + REPLAYS],
        hint=("Five properties, one replay each: a unique token and compare_and_delete (expired lock); "
              "when someone else holds the lock, return the stale copy at once (herd); cache NOT_FOUND "
              "for not_found_ttl_seconds (missing id); when your query fails, cache DB_DOWN for a second "
              "so the waiters fail fast (failing database); a deadline for the query and the wait "
              "(stalled database)."),
        reference=loaders.read,
        mistakes=loaders.MISTAKES,
        alternatives=loaders.ALTERNATIVES,
        equivalent_mutants=loaders.EQUIVALENT_MUTANTS,
        skeleton=LOADER_SKELETON,
    )


def exercises(store: Store | None = None) -> ExerciseSet:
    """Notebook 04's exercises (the replays build their own stores: ``store`` is unused)."""
    return ExerciseSet({
        "complete-loader": _loader_exercise(),
        "pick-beta": Exercise(
            NOTEBOOK, "pick-beta", check_beta_choice, kind="value",
            hint="A miss happens when nobody recomputed early enough. With 20 reads/s and a 0.4 s "
                 "recompute, only about 8 reads arrive per recompute time: beta=1 is not enough. "
                 "Try values between 1 and 10.",
            solution="beta = 2   # any beta from about 1.5 to 5 passes\nex[\"pick-beta\"].check(beta)",
            reference=lambda: 2.0,
            mistakes={"too timid": 0.5, "too eager": 12.0},
        ),
        "choose-defense": Exercise(
            NOTEBOOK, "choose-defense", check_scenarios, kind="choice",
            hint="Ask three questions: may a reader see an old value? Is the herd one process or many? "
                 "Do many keys expire at the same moment?",
            solution="answers = {\"A\": \"lock\", \"B\": \"swr\", \"C\": \"jitter\"}   # B: \"xfetch\" also passes",
            reference=lambda: {"A": "lock", "B": "swr", "C": "jitter"},
            mistakes={"single-flight across 40 servers": {"A": "single-flight", "B": "swr", "C": "jitter"},
                      "a lock where keys share an expiry": {"A": "lock", "B": "swr", "C": "lock"}},
        ),
    })


def common_lock_replay() -> str:
    """The common lock recipe's acquire/release in the step-by-step replay."""
    return str(replay_lock(naive_acquire, naive_release))
