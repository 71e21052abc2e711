"""``score(design)``: run the day and judge every axis against its budget.

Seven axes, each passing or failing on a number the earlier notebooks taught:

* **DB load** - the busiest second's database queries: the replayed requests,
  the deploy warm-up's refreshes and the hot keys' expiries at peak.
* **stampede** - DB queries when a data set's hottest key expires at peak.
* **p99 latency** - per data set, the worse of the replayed reads' p99 and the
  p99 of the reads that arrive while its hottest key is rebuilt at peak.
* **staleness** - per data set, the oldest value a reader was shown, against that
  data set's own budget.
* **lost writes** - acknowledged writes gone when the hung write-behind worker was
  killed, against each data set's own budget.
* **leaks** - page views that showed one user another user's data.
* **memory** - the share of reads the cache's memory could serve with each data
  set's eviction policy and budget, and whether the budgets fit the node.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import LabError
from ..tables import Table
from .day import cdn_leaks, deploy_refreshes, eviction_hit_ratio, hot_key_at_peak, replay_data_set
from .design import Design
from .service import (
    CACHE_OBJECTS,
    DATA_SETS,
    DB_CAPACITY_QPS,
    EVICTION_HIT_RATIO_FLOOR,
    HOT_KEY_EXPIRES_AT_SECONDS,
    P99_BUDGET_MS,
    STAMPEDE_BUDGET_QUERIES,
)

__all__ = ["AXES", "Axis", "DataSetScore", "Scorecard", "score"]

AXES = ("DB load", "stampede", "p99 latency", "staleness", "lost writes", "leaks", "memory")


@dataclass(frozen=True)
class Axis:
    """One line of the scorecard: a measured value against its budget."""

    name: str
    value: float
    budget: float
    unit: str
    passed: bool
    detail: str                 # the sentence that explains the number
    ratio: float                # how far from the budget: above 1 is over (worse)


@dataclass(frozen=True)
class DataSetScore:
    """Everything measured for one data set."""

    name: str
    hit_ratio: float
    db_queries: int
    stale_share: float
    max_stale_seconds: float
    stale_budget_seconds: float
    p99_ms: float
    stampede_queries: int
    lost_writes: int
    lost_writes_budget: int
    page_views: int
    leaks: int
    cdn_hit_ratio: float
    eviction_hit_ratio: float


@dataclass
class Scorecard:
    """The verdict on one design: :data:`AXES` in order, and the numbers per data set."""

    design: Design
    seed: int
    axes: dict[str, Axis]
    data_sets: dict[str, DataSetScore]
    db_queries_per_second: np.ndarray = field(repr=False)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.axes.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, a in self.axes.items() if not a.passed]

    def axis(self, name: str) -> Axis:
        if name not in self.axes:
            raise LabError(f"Unknown axis {name!r}; the scorecard has {', '.join(AXES)}.")
        return self.axes[name]

    def headline(self) -> str:
        n = len(self.axes)
        if self.passed:
            return f"{self.design.name}: all {n} budgets met"
        return f"{self.design.name} fails {len(self.failed)} of {n} budgets: {', '.join(self.failed)}"

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        return [
            (a.name, _fmt(a.value, a.unit), _fmt(a.budget, a.unit), "PASS" if a.passed else "FAIL", a.detail)
            for a in self.axes.values()
        ]

    def __repr__(self) -> str:
        return f"<Scorecard {self.headline()}>"

    def __str__(self) -> str:
        lines = [self.headline()]
        lines += [f"  {m:4}  {n:12} {v:>14}  budget {b:>12}   {d}" for n, v, b, m, d in self.rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td><b>{n}</b></td><td style='text-align:right'>{v}</td>"
            f"<td style='text-align:right'>{b}</td><td><b>{m}</b></td>"
            f"<td style='text-align:left'>{d}</td></tr>"
            for n, v, b, m, d in self.rows()
        )
        return (f"<p><b>{self.headline()}</b> (day replayed in {self.seconds:.1f} s)</p>"
                "<table><tr><th>axis</th><th>measured</th><th>budget</th><th>verdict</th>"
                f"<th style='text-align:left'>why</th></tr>{body}</table>")

    def data_set_table(self) -> Table:
        """Per data set: what each axis measured, to find which data set fails."""
        head = ["data set", "hit ratio", "DB queries", "stale reads", "oldest read (s)",
                "stale budget (s)", "p99 (ms)", "queries/expiry", "lost writes", "leaks",
                "memory hit ratio"]
        rows = [
            [s.name, f"{s.hit_ratio:.0%}", f"{s.db_queries:,}", f"{s.stale_share:.1%}",
             f"{s.max_stale_seconds:,.0f}", f"{s.stale_budget_seconds:,.0f}", f"{s.p99_ms:,.1f}",
             str(s.stampede_queries), f"{s.lost_writes} / {s.lost_writes_budget}",
             f"{s.leaks} / {s.page_views}" if s.page_views else "-", f"{s.eviction_hit_ratio:.0%}"]
            for s in self.data_sets.values()
        ]
        return Table(rows, columns=head)


_SINGULAR = {"queries": "query", "writes": "write", "page views": "page view", "queries/s": "query/s"}


def _fmt(value: float, unit: str) -> str:
    if unit == "share":
        return f"{value:.0%}"
    if unit == "ms":
        return f"{value:,.1f} ms"
    text = f"{value:,.0f}"
    return f"{text} {_SINGULAR.get(unit, unit) if text == '1' else unit}".strip()


def possessive(name: str) -> str:
    """``sessions'`` and ``landing's``: the data set's own, said properly."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def score(design: Design, *, seed: int = 0) -> Scorecard:
    """Replay the day through ``design`` and judge it.  Same design and seed, same scorecard."""
    if not isinstance(design, Design):
        raise LabError(
            "score() takes a capstone Design; build one with capstone.NAIVE_DESIGN.change(...) "
            f"or capstone.Design({{...}}) (got {type(design).__name__})."
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise LabError(f"seed must be a whole number >= 0 (got {seed!r}).")
    started = time.perf_counter()
    scores: dict[str, DataSetScore] = {}
    per_second = None
    hot_total = 0
    for name, plan in design.items():
        ds = DATA_SETS[name]
        day = replay_data_set(name, plan, seed)
        hot = hot_key_at_peak(name, plan.ttl_seconds, plan.defense, seed)
        warm = deploy_refreshes(name, plan.ttl_seconds, plan.ttl_jitter, seed)
        views, leaks, cdn_hits = cdn_leaks(name, plan.headers, plan.vary, seed)
        load = day.queries_per_second + warm
        per_second = load if per_second is None else per_second + load
        hot_total += hot.max_queries_per_expiry
        scores[name] = DataSetScore(
            name=name, hit_ratio=day.hit_ratio, db_queries=int(load.sum()),
            stale_share=day.stale_share, max_stale_seconds=day.max_stale_seconds,
            stale_budget_seconds=ds.stale_budget_seconds,
            p99_ms=max(day.read_p99_ms, hot.herd_p99_ms), stampede_queries=hot.max_queries_per_expiry,
            lost_writes=day.lost_writes, lost_writes_budget=ds.lost_writes_budget,
            page_views=views, leaks=leaks, cdn_hit_ratio=cdn_hits,
            eviction_hit_ratio=eviction_hit_ratio(name, plan.policy, plan.memory_objects, seed),
        )
    assert per_second is not None
    per_second = per_second.copy()
    # Every data set's hottest key expires in the same second at peak (the injected event).
    per_second[int(HOT_KEY_EXPIRES_AT_SECONDS)] += hot_total
    axes = _judge(design, scores, per_second)
    return Scorecard(design, seed, axes, scores, per_second, time.perf_counter() - started)


def _clock(second: int) -> str:
    return f"{second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}"


def _judge(design: Design, scores: dict[str, DataSetScore], per_second: np.ndarray) -> dict[str, Axis]:
    """One :class:`Axis` per entry of :data:`AXES`.  A budget of 0 counts one unit
    (one second, one write, one page) as the resolution of "how far over"."""
    axes: dict[str, Axis] = {}
    busiest = int(np.argmax(per_second))
    peak = int(per_second[busiest])
    axes["DB load"] = Axis(
        "DB load", peak, DB_CAPACITY_QPS, "queries/s", peak <= DB_CAPACITY_QPS,
        f"busiest second: {_clock(busiest)}", peak / DB_CAPACITY_QPS,
    )
    herd = max(scores.values(), key=lambda s: s.stampede_queries)
    axes["stampede"] = Axis(
        "stampede", herd.stampede_queries, STAMPEDE_BUDGET_QUERIES, "queries",
        herd.stampede_queries <= STAMPEDE_BUDGET_QUERIES,
        f"worst: {possessive(herd.name)} hottest key, per expiry at peak (the limit is 1)",
        herd.stampede_queries / STAMPEDE_BUDGET_QUERIES,
    )
    slow = max(scores.values(), key=lambda s: s.p99_ms)
    axes["p99 latency"] = Axis(
        "p99 latency", slow.p99_ms, P99_BUDGET_MS, "ms", slow.p99_ms <= P99_BUDGET_MS,
        f"slowest: {slow.name}", slow.p99_ms / P99_BUDGET_MS,
    )
    stale_ratio = {n: s.max_stale_seconds / max(s.stale_budget_seconds, 1.0) for n, s in scores.items()}
    stale_failed = [n for n, s in scores.items() if s.max_stale_seconds > s.stale_budget_seconds]
    w = scores[max(stale_ratio, key=lambda n: stale_ratio[n])]
    axes["staleness"] = Axis(
        "staleness", w.max_stale_seconds, w.stale_budget_seconds, "s", not stale_failed,
        f"oldest read vs its data set's budget; over: {', '.join(stale_failed)}" if stale_failed
        else f"every data set within its budget (closest: {w.name})",
        max(stale_ratio.values()),
    )
    lost_ratio = {n: s.lost_writes / max(s.lost_writes_budget, 1) for n, s in scores.items()}
    lost_failed = [n for n, s in scores.items() if s.lost_writes > s.lost_writes_budget]
    lw = scores[max(lost_ratio, key=lambda n: (lost_ratio[n], scores[n].lost_writes))]
    axes["lost writes"] = Axis(
        "lost writes", lw.lost_writes, lw.lost_writes_budget, "writes", not lost_failed,
        (f"over budget: {', '.join(lost_failed)}" if lost_failed else f"worst: {lw.name}")
        + "; the write-behind worker was killed at 21:10" if lw.lost_writes
        else "no acknowledged write was lost",
        max(lost_ratio.values()),
    )
    leaks = sum(s.leaks for s in scores.values())
    leaky = [f"{n} ({s.leaks})" for n, s in scores.items() if s.leaks]
    axes["leaks"] = Axis(
        "leaks", leaks, 0, "page views", leaks == 0,
        ("another user's page, from the CDN: " + ", ".join(leaky)) if leaky
        else "no page reached the wrong user",
        float(leaks),
    )
    reads = {n: DATA_SETS[n].reads_per_day for n in scores}
    memory_hit = sum(scores[n].eviction_hit_ratio * reads[n] for n in scores) / sum(reads.values())
    used = design.memory_objects
    fits = used <= CACHE_OBJECTS
    axes["memory"] = Axis(
        "memory", memory_hit, EVICTION_HIT_RATIO_FLOOR, "share",
        fits and memory_hit >= EVICTION_HIT_RATIO_FLOOR,
        f"reads the memory could serve; budgets use {used:,} of {CACHE_OBJECTS:,} objects" if fits
        else f"budgets ask for {used:,} objects; the node holds {CACHE_OBJECTS:,}",
        max(EVICTION_HIT_RATIO_FLOOR / max(memory_hit, 1e-9), used / CACHE_OBJECTS),
    )
    return axes
