"""Notebook 01's step-by-step demos on the notebook's own store: the walk-through,
the stale-set race and the write-behind crash.

They use the notebook's store (fakeredis, or a real Redis when ``REDIS_URL`` is
set) in front of a database on a virtual clock, so they show real cache commands
without real waiting.  Results are small tables (HTML in a notebook, text elsewhere).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..clock import VirtualClock
from ..database import Database, Row
from ..errors import check_positive
from ..metrics import StalenessMeter
from ..store import Store
from .core import PATTERNS, Pattern, WriteBehind, cache_key, make_pattern, parse_cached
from .replay import lost_writes_by_db_state

__all__ = ["Table", "walkthrough", "race_demo", "CrashReport", "PageViews", "PAGE_VIEWS", "crash_demo",
           "DEMO_DB_LATENCY_SECONDS"]

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
                "cache holds": _holds(None if cached is None else parse_cached(cached)),
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
            "cache holds": _holds(None if cached is None else parse_cached(cached)),
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


@dataclass(frozen=True)
class PageViews:
    """The crash demo's traffic: ``increments`` page views, evenly over ``seconds``."""

    pages: int = 3        # each view goes to one of them, at random
    increments: int = 60
    seconds: float = 3.0  # virtual time
    seed: int = 1

    def __post_init__(self) -> None:
        check_positive("seconds", self.seconds, "s")
        check_positive("increments", self.increments)


PAGE_VIEWS = PageViews()


def crash_demo(
    store: Store,
    *,
    clean_shutdown: bool = False,
    views: PageViews = PAGE_VIEWS,
    flush_interval_seconds: float = 1.0,
    stop_at_seconds: float = 2.5,
) -> CrashReport:
    """Page-view counters under write-behind, stopped ``stop_at_seconds`` into the run.

    Each page view is a read of the count and a write of count + 1.  With
    ``clean_shutdown=False`` the process dies at ``stop_at_seconds`` (``crash()``);
    with True it shuts down cleanly (``close()``).
    """
    pages, increments = views.pages, views.increments
    clock = VirtualClock()
    db = Database(clock, rows=pages, latency_seconds=DEMO_DB_LATENCY_SECONDS)
    db.write_many([(page, "0") for page in range(pages)])  # every counter starts at 0
    db.reset_stats()
    for page in range(pages):
        store.delete(cache_key(page))
    counter = WriteBehind(store, db, clock=clock, flush_interval_seconds=flush_interval_seconds)
    which = np.random.default_rng(views.seed).integers(0, pages, increments)
    acknowledged: list[tuple[int, str]] = []
    counted = [0] * pages
    for i, page in enumerate(which.tolist()):
        at = i * views.seconds / increments
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
            "cache shows": "-" if cached is None else parse_cached(cached).value,
            "DB holds": "-" if stored is None else stored.value,
        })
        store.delete(cache_key(page))
    return report
