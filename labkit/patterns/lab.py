"""What notebook 01 runs: walk-throughs on the real store, the race and crash demos,
the live side-by-side comparison and the exercises.

The walk-through, race and crash demos use the notebook's own store (fakeredis,
or a real Redis when ``REDIS_URL`` is set) in front of a database on a virtual
clock, so they show real cache commands without real waiting.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..clock import VirtualClock
from ..database import Database, Row
from ..errors import LabError, check_positive
from ..exercises import Exercise
from ..metrics import StalenessMeter
from ..store import MemoryStore, Store
from .core import PATTERNS, Pattern, WriteBehind, cache_key, make_pattern
from .replay import PatternReport, compare, lost_writes_by_db_state

__all__ = [
    "Table",
    "walkthrough",
    "race_demo",
    "CrashReport",
    "crash_demo",
    "explore",
    "draw_comparison",
    "exercises",
    "FITS",
]

NOTEBOOK = "01"
DEMO_DB_LATENCY_SECONDS = 0.005


@dataclass
class Table:
    """A small table that shows as HTML in a notebook and as text elsewhere."""

    columns: list[str]
    rows: list[dict[str, Any]]
    title: str = ""

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(r[c]))}</td>"
                             for c in self.columns) + "</tr>"
            for r in self.rows
        )
        caption = f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>"
        return f"<table>{caption if self.title else ''}<tr>{head}</tr>{body}</table>"

    def __str__(self) -> str:
        widths = {c: max(len(c), *(len(str(r[c])) for r in self.rows)) for c in self.columns}
        lines = [self.title] if self.title else []
        lines.append("  ".join(c.ljust(widths[c]) for c in self.columns))
        lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in self.columns) for r in self.rows]
        return "\n".join(lines)


def _holds(row: Row | None) -> str:
    return "-" if row is None else f"{row.value!r} (v{row.version})"


def _demo_db(rows: int = 10) -> Database:
    return Database(VirtualClock(), rows=rows, latency_seconds=DEMO_DB_LATENCY_SECONDS)


# -- 1. Walk-through -------------------------------------------------------------------


def walkthrough(store: Store, *, row_id: int = 7, patterns: Sequence[str] = PATTERNS) -> Table:
    """Each pattern runs the same five steps on ``store``: read, read, write, read, close.

    After every step the table shows what the cache did, the database queries so
    far and what the cache and the database each hold for the row.
    """
    key = cache_key(row_id)
    rows: list[dict[str, Any]] = []
    for name in patterns:
        db = _demo_db()
        store.delete(key)
        pattern = make_pattern(name, store, db, clock=db.clock, flush_interval_seconds=60.0)
        steps: list[tuple[str, Callable[[], str]]] = [
            ("read", lambda p=pattern: _read_step(p, row_id)),
            ("read again", lambda p=pattern: _read_step(p, row_id)),
            ("write 'new'", lambda p=pattern: _write_step(p, row_id, "new")),
            ("read", lambda p=pattern: _read_step(p, row_id)),
            ("close", lambda p=pattern: _close_step(p)),
        ]
        for step, run in steps:
            happened = run()
            cached = store.get(key)
            rows.append({
                "pattern": name,
                "step": step,
                "what happened": happened,
                "DB reads": db.stats.reads,
                "DB writes": db.stats.writes,
                "cache holds": _holds(None if cached is None else Row.from_cache(cached)),
                "DB holds": _holds(db.peek(row_id)),
            })
        store.delete(key)
    return Table(
        ["pattern", "step", "what happened", "DB reads", "DB writes", "cache holds", "DB holds"],
        rows,
        title=f"Four patterns, one script, on the {store.backend} store (key {key!r})",
    )


def _read_step(pattern: Pattern, row_id: int) -> str:
    hits = pattern.stats.cache_hits
    pattern.read(row_id)
    if pattern.stats.cache_hits > hits:
        return "cache hit"
    if pattern.name == "read-through":
        return "miss: the cache layer's loader read the DB and filled the cache"
    return "miss: the app read the DB and filled the cache"


def _write_step(pattern: Pattern, row_id: int, value: str) -> str:
    pattern.write(row_id, value)
    return {
        "cache-aside": "DB updated, cached key deleted",
        "read-through": "the cache layer updated the DB and deleted the key",
        "write-through": "DB updated first, then the cache",
        "write-behind": "cache updated and write queued: the DB still has the old row",
    }[pattern.name]


def _close_step(pattern: Pattern) -> str:
    queued = pattern.queued_writes if isinstance(pattern, WriteBehind) else 0
    pattern.close()
    return f"flushed {queued} queued write(s) in one batch" if queued else "nothing to do"


# -- 2. The race ---------------------------------------------------------------------------


def race_demo(store: Store, *, row_id: int = 3, patterns: Sequence[str] = PATTERNS) -> Table:
    """A slow reader and a writer interleave on one row, in the worst order.

    The reader misses and loads version 1 from the database; before it fills the
    cache, a writer commits version 2 and does its cache step; then the reader
    fills the cache.  The table shows what the cache holds afterwards and whether
    the next read is stale (older than the database).
    """
    key = cache_key(row_id)
    rows = []
    for name in patterns:
        db = _demo_db()
        store.delete(key)
        reader = make_pattern(name, store, db, clock=db.clock, flush_interval_seconds=0)
        writer = make_pattern(name, store, db, clock=db.clock, flush_interval_seconds=0)

        def interleave(rid: int, reader: Pattern = reader, writer: Pattern = writer) -> None:
            reader.between_steps = None  # only once: the reader is now past its DB step
            writer.write(rid, "new")

        reader.between_steps = interleave
        reader.read(row_id)  # loads v1; the writer commits v2 before the fill
        writer.close()
        meter = StalenessMeter(db)
        cached = store.get(key)
        seen = reader.read(row_id)
        age = meter.observe(row_id, seen.version, db.clock.now())
        rows.append({
            "pattern": name,
            "cache holds": _holds(None if cached is None else Row.from_cache(cached)),
            "DB holds": _holds(db.peek(row_id)),
            "next read": "STALE until the TTL expires" if age or meter.stale_reads else "fresh",
        })
        reader.close()
        store.delete(key)
    return Table(["pattern", "cache holds", "DB holds", "next read"], rows,
                 title="A slow reader fills the cache after a writer's update")


# -- 3. The crash ---------------------------------------------------------------------------


@dataclass
class CrashReport:
    """What a page-view counter kept under write-behind when the process stopped."""

    acknowledged_writes: int
    db_rows_written: int
    db_write_queries: int
    lost_writes: list[tuple[int, str]]
    lost_by_db_state: list[tuple[int, str]]
    counters: list[dict[str, Any]] = field(default_factory=list)
    clean_shutdown: bool = False

    @property
    def lost(self) -> int:
        return len(self.lost_writes)

    def __str__(self) -> str:
        how = "a clean shutdown (close)" if self.clean_shutdown else "a crash"
        lines = [
            f"After {how}: {self.acknowledged_writes} increments acknowledged, "
            f"{self.db_rows_written} row updates reached the DB in {self.db_write_queries} "
            f"batched queries; {self.lost} acknowledged increments were lost."
        ]
        for c in self.counters:
            lines.append(
                f"  page {c['page']}: the app counted {c['counted']}, the cache shows "
                f"{c['cache shows']}, the DB holds {c['DB holds']}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = Table(["page", "counted", "cache shows", "DB holds"], self.counters)
        return f"<p>{html.escape(str(self).splitlines()[0])}</p>{table._repr_html_()}"


def crash_demo(
    store: Store,
    *,
    clean_shutdown: bool = False,
    pages: int = 3,
    increments: int = 60,
    seconds: float = 3.0,
    flush_interval_seconds: float = 1.0,
    stop_at_seconds: float = 2.5,
    seed: int = 1,
) -> CrashReport:
    """Page-view counters under write-behind, stopped ``stop_at_seconds`` into the run.

    ``increments`` page views arrive evenly over ``seconds`` (virtual time) on
    ``pages`` pages; each is a read of the count and a write of count + 1.  With
    ``clean_shutdown=False`` the process dies at ``stop_at_seconds`` (``crash()``);
    with True it shuts down cleanly (``close()``).
    """
    check_positive("seconds", seconds, "s")
    check_positive("increments", increments)
    clock = VirtualClock()
    db = Database(clock, rows=pages, latency_seconds=DEMO_DB_LATENCY_SECONDS)
    db.write_many([(page, "0") for page in range(pages)])  # every counter starts at 0
    db.reset_stats()
    for page in range(pages):
        store.delete(cache_key(page))
    counter = WriteBehind(store, db, clock=clock, flush_interval_seconds=flush_interval_seconds)
    which = np.random.default_rng(seed).integers(0, pages, increments)
    acknowledged: list[tuple[int, str]] = []
    counted = [0] * pages
    for i, page in enumerate(which.tolist()):
        at = i * seconds / increments
        if at >= stop_at_seconds:
            break
        clock.set(max(clock.now(), at))
        count = int(counter.read(page).value) + 1
        counter.write(page, str(count))
        acknowledged.append((page, str(count)))
        counted[page] = count
    lost = [] if clean_shutdown else counter.crash()
    if clean_shutdown:
        counter.close()
    report = CrashReport(
        acknowledged_writes=len(acknowledged),
        db_rows_written=db.stats.writes,
        db_write_queries=counter.stats.db_write_queries,
        lost_writes=lost,
        lost_by_db_state=lost_writes_by_db_state(acknowledged, db),
        clean_shutdown=clean_shutdown,
    )
    for page in range(pages):
        cached = store.get(cache_key(page))
        stored = db.peek(page)
        report.counters.append({
            "page": page,
            "counted": counted[page],
            "cache shows": "-" if cached is None else Row.from_cache(cached).value,
            "DB holds": "-" if stored is None else stored.value,
        })
        store.delete(cache_key(page))
    return report


# -- 4. The live comparison -----------------------------------------------------------------

_LABELS = {"cache-aside": "cache-\naside", "read-through": "read-\nthrough",
           "write-through": "write-\nthrough", "write-behind": "write-\nbehind"}


def _grouped_bars(ax: Any, reports: list[PatternReport], series: list[tuple[str, list[float]]],
                  *, label_format: str = "") -> None:
    from .. import charts

    x = np.arange(len(reports))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label,
                      color=charts.series_style(i)["color"], edgecolor="black", linewidth=0.6,
                      hatch=["", "//", "..", "xx"][i % 4])
        if label_format:
            ax.bar_label(bars, [format(v, label_format) for v in values],
                         fontsize=9 * (1.45 if charts.is_presentation() else 1.0))
    ax.set_xticks(x, [_LABELS.get(r.pattern, r.pattern) for r in reports])


def _legend_on_top(ax: Any, ncol: int) -> None:
    ax.legend(loc="upper center", ncol=ncol, frameon=False, fontsize=8,
              bbox_to_anchor=(0.5, 1.0), handlelength=1.6, columnspacing=1.0)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.0f}×" if b else "many times"


def draw_comparison(fig: Any, results: dict[str, PatternReport], *, crash_note: str = "") -> str:
    """Four panels: DB work, latency, staleness, lost writes.  Returns the caption."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    from .. import charts

    reports = list(results.values())
    by = results
    ax_db, ax_lat, ax_stale, ax_lost = fig.axes

    _grouped_bars(ax_db, reports, [
        ("DB reads", [r.db_reads for r in reports]),
        ("DB rows written", [r.db_writes for r in reports]),
        ("DB write queries", [r.db_write_queries for r in reports]),
    ])
    title = "DB work per pattern"
    if {"cache-aside", "write-through"} <= by.keys():
        title = (f"Write-through reads the DB {_ratio(by['cache-aside'].db_reads, by['write-through'].db_reads)}"
                 " less than cache-aside")
    if "write-behind" in by:
        title += f";\nwrite-behind sends {by['write-behind'].db_write_queries} write queries"
    charts.finish(ax_db, title=title, xlabel="pattern", ylabel="DB operations (count)")
    ax_db.set_ylim(0, 1.3 * max(max(r.db_reads, r.db_writes, r.db_write_queries) for r in reports) + 1)
    _legend_on_top(ax_db, 3)

    _grouped_bars(ax_lat, reports, [
        ("read p50", [r.read_p50_ms for r in reports]),
        ("read p99", [r.read_p99_ms for r in reports]),
        ("write p50", [r.write_p50_ms for r in reports]),
        ("write p99", [r.write_p99_ms for r in reports]),
    ])
    ax_lat.set_yscale("log")
    top = max(max(r.read_p99_ms, r.write_p99_ms) for r in reports)
    ax_lat.set_ylim(0.1, top * 6)
    ax_lat.yaxis.set_major_locator(FixedLocator([0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200]))
    ax_lat.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax_lat.yaxis.set_minor_locator(NullLocator())  # dozens of minor ticks cost a third of a redraw
    title = "Request latency per pattern"
    if {"write-through", "write-behind"} <= by.keys():
        title = (f"A write-behind write takes {by['write-behind'].write_p50_ms:.1f} ms,\n"
                 f"a write-through write {by['write-through'].write_p50_ms:.1f} ms (p50)")
    charts.finish(ax_lat, title=title, xlabel="pattern", ylabel="latency (ms, log scale)")
    _legend_on_top(ax_lat, 4)

    _grouped_bars(ax_stale, reports, [
        ("stale: older than the DB", [100 * r.stale_share for r in reports]),
        ("ahead: not in the DB yet", [100 * r.ahead_of_db_share for r in reports]),
    ])
    stale_any = any(r.stale_share for r in reports)
    ahead = by["write-behind"].ahead_of_db_share if "write-behind" in by else 0.0
    title = ("No pattern served a stale read;" if not stale_any else "Some reads were stale;") + (
        f"\nwrite-behind's DB lagged {100 * ahead:.0f}% of its reads")
    charts.finish(ax_stale, title=title, xlabel="pattern", ylabel="share of reads (%)")
    ax_stale.set_ylim(0, max(10.0, 135 * max(max(r.ahead_of_db_share, r.stale_share) for r in reports)))
    _legend_on_top(ax_stale, 2)

    _grouped_bars(ax_lost, reports, [("acknowledged writes lost", [r.lost_on_crash for r in reports])],
                  label_format="d")
    lost = sum(r.lost_on_crash for r in reports)
    charts.finish(
        ax_lost,
        title=(f"The crash lost {lost} acknowledged writes,\nall from write-behind's queue"
               if lost else "The crash lost no acknowledged write"),
        xlabel="pattern", ylabel="writes lost (count)", legend=False,
    )
    ax_lost.set_ylim(0, max(5, 1.2 * lost))

    wb = by.get("write-behind")
    parts = []
    if wb is not None:
        parts.append(
            f"Write-behind turned {wb.writes} app writes into {wb.db_writes} row updates in "
            f"{wb.db_write_queries} batched queries."
        )
    if crash_note:
        parts.append(crash_note)
    return " ".join(parts)


@lru_cache(maxsize=256)
def _replayed(pattern: str, flush_interval_ms: float, **kwargs: Any) -> PatternReport:
    return compare(patterns=(pattern,), flush_interval_ms=flush_interval_ms, **kwargs)[pattern]


def _compare_remembered(flush_interval_ms: float, **kwargs: Any) -> dict[str, PatternReport]:
    """compare(), remembering each pattern's run: the flush interval only changes
    write-behind's, so moving that slider replays one pattern instead of four."""
    return {
        name: _replayed(name, flush_interval_ms if name == "write-behind" else 500.0, **kwargs)
        for name in PATTERNS
    }


def explore(*, n_requests: int = 2000, n_keys: int = 200, seed: int = 0) -> Any:
    """The four patterns side by side on one workload, with live controls.

    "Crash now" stops the run at a random request (a new one each press);
    until it is pressed, the process crashes after the last request.
    """
    from ..widgets import LivePlot, log_slider, slider

    state = {"presses": 0, "crash_at": None}

    def crash_now(_plot: Any) -> None:
        state["presses"] += 1
        rng = np.random.default_rng(seed + state["presses"])
        state["crash_at"] = int(rng.integers(n_requests // 4, n_requests))

    def draw(fig: Any, write_ratio: float, alpha: float, db_latency_ms: float,
             flush_interval_ms: float) -> str:
        crash_at = state["crash_at"]
        results = _compare_remembered(
            write_ratio=round(write_ratio, 4), alpha=round(alpha, 4),
            db_latency_ms=round(db_latency_ms, 4), flush_interval_ms=round(flush_interval_ms, 4),
            n_requests=n_requests, seed=seed, n_keys=n_keys, crash_at=crash_at,
        )
        served = next(iter(results.values())).requests_run
        lost = results["write-behind"].lost_on_crash if "write-behind" in results else 0
        note = (f"The process crashed after request {served:,} of {n_requests:,}: "
                f"write-behind lost {lost} acknowledged writes.")
        return draw_comparison(fig, results, crash_note=note)

    controls = {
        "write_ratio": slider("writes (share of requests)", 0.0, 0.9, 0.05, 0.2),
        "alpha": slider("key popularity (Zipf alpha)", 0.2, 1.6, 0.1, 0.9),
        "db_latency_ms": log_slider("DB latency (ms)", 0.5, 50.0, DEMO_DB_LATENCY_SECONDS * 1000),
        "flush_interval_ms": log_slider("write-behind flush every (ms)", 10.0, 5000.0, 500.0),
    }
    return LivePlot(draw, controls, nrows=2, ncols=2, width=10.0, height=6.6,
                    buttons={"Crash now": crash_now})


# -- 5. Exercises ------------------------------------------------------------------------------

# For each data set: the patterns that fit, and why (shown as feedback).
FITS: dict[str, tuple[tuple[str, ...], str]] = {
    "session store": (
        ("write-through", "cache-aside", "read-through"),
        "read on every request and must show a user's own change on the next one; "
        "losing an acknowledged login or cart change is not acceptable, so never write-behind",
    ),
    "product catalogue": (
        ("cache-aside", "read-through"),
        "read-heavy, rarely written, and a first-read miss is harmless: the default",
    ),
    "account balance": (
        ("write-through",),
        "consistency-critical: readers must never see an older balance and no acknowledged "
        "write may be lost - never write-behind for money",
    ),
    "page-view counter": (
        ("write-behind",),
        "write-heavy and loss-tolerant: coalescing turns thousands of increments into a few "
        "batched updates, and losing the last second of views is acceptable",
    ),
}


def _check_choices(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict):
        raise LabError("Answer with a dict: {'session store': 'write-through', ...}.")
    missing = [name for name in FITS if name not in answer]
    if missing:
        return False, f"add a pattern for: {', '.join(missing)}."
    wrong = []
    for name, (fits, why) in FITS.items():
        choice = answer[name]
        if choice not in PATTERNS:
            raise LabError(f"Unknown pattern {choice!r} for {name}; choose one of: {', '.join(PATTERNS)}.")
        if choice not in fits:
            wrong.append(f"{name}: not {choice} - {why}")
    if wrong:
        return False, "; ".join(wrong) + "."
    return True, "each data set got a pattern that matches how it is read, written and how much loss it tolerates."


def _stub(pattern: Any) -> None: ...


class _LabExercise(Exercise):
    """An answer still holding the notebook's ``...`` placeholder is "not attempted":
    a function whose body is only ``...``, or a dict with a ``...`` value."""

    def check(self, *answer: Any) -> bool:
        return super().check(*(... if _is_placeholder(a) else a for a in answer))


def _is_placeholder(answer: Any) -> bool:
    if isinstance(answer, dict):
        return any(v is ... for v in answer.values())
    code = getattr(answer, "__code__", None)
    return code is not None and code.co_code == _stub.__code__.co_code


def _check_shutdown(shutdown: Any) -> tuple[bool, str]:
    if not callable(shutdown):
        raise LabError("Answer with a function: def shutdown(pattern): ...")
    clock = VirtualClock()
    db = Database(clock, rows=20, latency_seconds=0.005)
    store = MemoryStore(clock, namespace="exercise")
    counter = WriteBehind(store, db, clock=clock, flush_interval_seconds=10.0)
    acknowledged = []
    for i in range(50):
        clock.advance(0.01)
        counter.write(i % 20, f"views {i}")
        acknowledged.append((i % 20, f"views {i}"))
    shutdown(counter)
    if not counter.closed:
        counter.crash()  # the process exits after the shutdown hook, whatever it did
    lost = lost_writes_by_db_state(acknowledged, db)
    if lost:
        return False, f"{len(lost)} of {len(acknowledged)} acknowledged writes never reached the database."
    return True, f"all {len(acknowledged)} acknowledged writes reached the database."


def _check_penalty(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict) or not {"write_ratio", "alpha"} <= answer.keys():
        raise LabError("Answer with a dict: {'write_ratio': 0.3, 'alpha': 0.9}.")
    results = compare(
        write_ratio=answer["write_ratio"], alpha=answer["alpha"], db_latency_ms=5.0,
        n_requests=4000, n_keys=200, patterns=("cache-aside", "write-through"),
    )
    aside, through = results["cache-aside"], results["write-through"]
    said = (f"cache-aside: hit ratio {aside.hit_ratio:.0%}, median read {aside.read_p50_ms:.1f} ms; "
            f"write-through: median read {through.read_p50_ms:.1f} ms")
    if aside.read_p50_ms >= 5.0 and through.read_p50_ms < 1.0:
        return True, said + " - the median cache-aside read now pays for a DB query."
    return False, said + " - the median cache-aside read still comes from the cache."


def exercises() -> SimpleNamespace:
    """The notebook's exercises: ``choose``, ``shutdown`` and ``penalty``."""
    return SimpleNamespace(
        choose=_LabExercise(
            NOTEBOOK, "choose-a-pattern", _check_choices,
            hint="Ask two questions per data set: can a reader accept an older value, and can "
                 "the last few acknowledged writes be lost?",
            solution="answer = {\n    'session store': 'write-through',\n"
                     "    'product catalogue': 'cache-aside',\n"
                     "    'account balance': 'write-through',\n"
                     "    'page-view counter': 'write-behind',\n}",
        ),
        shutdown=_LabExercise(
            NOTEBOOK, "clean-shutdown", _check_shutdown,
            hint="Writes still in the queue exist only in this process. Which method empties "
                 "the queue into the database before the process goes away?",
            solution="def shutdown(pattern):\n    pattern.close()   # flushes every queued write",
        ),
        penalty=_LabExercise(
            NOTEBOOK, "first-read-penalty", _check_penalty,
            hint="Under cache-aside every write deletes the key, so the next read of that key "
                 "misses. What share of requests must be writes before most reads follow a write?",
            solution="answer = {'write_ratio': 0.7, 'alpha': 0.9}",
        ),
    )
