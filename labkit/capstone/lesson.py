"""What notebook 07 shows: the scorecard chart, the day's DB load, the explorer, the exercises."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import ahead as drawing_ahead
from .. import charts
from ..errors import LabError
from ..exercises import Args, Exercise, ExerciseSet
from ..tables import Table
from .day import cdn_leaks, cdn_stored_per_user
from .design import DEFENSES, INVALIDATIONS, NAIVE_DESIGN, REFERENCE_DESIGN, Design, explorer_design
from .scorecard import AXES, Scorecard, score
from .service import (
    CACHE_OBJECTS,
    DATA_SETS,
    DAY_SECONDS,
    DB_CAPACITY_QPS,
    DEPLOY_AT_SECONDS,
    EVICTION_HIT_RATIO_FLOOR,
    HOT_KEY_EXPIRES_AT_SECONDS,
    P99_BUDGET_MS,
    STAMPEDE_BUDGET_QUERIES,
)

__all__ = [
    "service_table", "knob_table", "DayReport", "run_day", "draw_scorecard", "draw_db_load",
    "compare", "explore", "exercises",
]

NOTEBOOK = "07"
_FLOOR, _CEILING = 0.01, 1e4  # ratios outside this range are drawn at its edge
PER_USER_HEADERS = ("public, max-age=300", "private, no-cache", "private, no-store")


def service_table() -> Table:
    """The six data sets: what they hold, their traffic, and what each may tolerate."""
    head = ["data set", "what it is", "keys", "reads/day", "writes/day", "stale budget",
            "lost-write budget", "served at", "hottest key at peak"]
    rows = [
        [ds.name, ds.description, f"{ds.keys:,}", f"{ds.reads_per_day:,}", f"{ds.writes_per_day:,}",
         f"{ds.stale_budget_seconds:,.0f} s", str(ds.lost_writes_budget),
         (ds.path + (" (per user)" if ds.per_user else "")) if ds.path else "-",
         f"{ds.hot_key_reads_per_second:g} reads/s, rebuilt in {ds.recompute_seconds * 1000:g} ms"]
        for ds in DATA_SETS.values()
    ]
    return Table(rows, columns=head, note=(
        f"Whole service: the database takes {DB_CAPACITY_QPS} queries/s; a hot key may cost "
        f"{STAMPEDE_BUDGET_QUERIES} queries per expiry; reads p99 &le; {P99_BUDGET_MS:g} ms; "
        f"no page may reach the wrong user; the cache node holds {CACHE_OBJECTS:,} objects and "
        f"must serve &ge; {EVICTION_HIT_RATIO_FLOOR:.0%} of reads from memory."))


def _check_cards(cards: Sequence[Scorecard]) -> list[Scorecard]:
    cards = list(cards)
    if not cards or not all(isinstance(c, Scorecard) for c in cards):
        raise LabError("Pass one or more scorecards, as returned by capstone.score(design).")
    return cards


def _title(cards: list[Scorecard]) -> str:
    parts = []
    for c in cards:
        n = len(c.axes)
        parts.append(f"{c.design.name} meets all {n} budgets" if c.passed
                     else f"{c.design.name} fails {len(c.failed)} of {n}")
    return "; ".join(parts)


def _plain_log_axis(axis: Any) -> None:
    """Decades as plain numbers (0.1, 1, 10) and no minor ticks: easier to read, and
    much quicker to draw than mathtext labels for every tick."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    axis.set_major_locator(LogLocator(base=10, numticks=9))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))


def _times(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def draw_scorecard(ax: Any, cards: Sequence[Scorecard]) -> str:
    """One row per axis, one marker per design: measured / budget, on a log scale.

    Left of the dashed line is within budget.  Every marker also carries its
    verdict as text, so nothing depends on colour: "pass" sits left of its marker
    and "FAIL" right of it, so a label never crosses the budget line.
    """
    cards = _check_cards(cards)
    y = np.arange(len(AXES))[::-1]
    offsets = np.linspace(-0.18, 0.18, len(cards)) if len(cards) > 1 else [0.0]
    for i, (card, dy) in enumerate(zip(cards, offsets, strict=True)):
        ratios = np.clip([card.axes[a].ratio for a in AXES], _FLOOR, _CEILING)
        style = charts.series_style(i)
        ax.plot(ratios, y + dy, linestyle="none", marker=style["marker"], color=style["color"],
                markersize=8, label=card.design.name)
        for r, yy, a in zip(ratios, y + dy, AXES, strict=True):
            passed = card.axes[a].passed
            ax.annotate("pass" if passed else "FAIL", (r, yy), xytext=(-7 if passed else 7, -3),
                        textcoords="offset points", fontsize=8, ha="right" if passed else "left",
                        color=style["color"], fontweight="normal" if passed else "bold")
    ax.axvline(1.0, **charts.LIMIT_STYLE, label="budget")
    ax.set_xscale("log")
    ax.set_xlim(_FLOOR / 12, _CEILING * 8)
    _plain_log_axis(ax.xaxis)
    ax.set_yticks(y, list(AXES))
    ax.set_ylim(-0.6, len(AXES) - 0.4)
    charts.finish(ax, title=_title(cards),
                  xlabel="measured ÷ budget (log scale; right of the dashed line = over budget)",
                  ylabel="scorecard axis", legend=False)
    # A fixed corner: "best" scans every marker and label on each redraw. The top rows'
    # markers stay far left of it: DB load and stampede ratios stay below 1000x, and the
    # legend starts near 3000x.
    ax.legend(frameon=False, loc="upper right")
    return _title(cards)


def _busiest_second_per(per_second: np.ndarray, seconds: int) -> np.ndarray:
    n = len(per_second) // seconds * seconds
    return per_second[:n].reshape(-1, seconds).max(axis=1)


def draw_db_load(ax: Any, cards: Sequence[Scorecard]) -> str:
    """The busiest second of every 5 minutes of the day, per design, against the DB's capacity."""
    cards = _check_cards(cards)
    for i, card in enumerate(cards):
        busiest = _busiest_second_per(card.db_queries_per_second, 300)
        style = charts.series_style(i)
        ax.step(np.arange(len(busiest)) / 12.0, np.maximum(busiest, 0.5), where="post", color=style["color"],
                linestyle=style["linestyle"], linewidth=1.4, label=card.design.name)
    ax.axhline(DB_CAPACITY_QPS, **charts.LIMIT_STYLE, label="DB capacity")
    for t, what in ((DEPLOY_AT_SECONDS, "06:00 deploy warms the catalogue"),
                    (HOT_KEY_EXPIRES_AT_SECONDS, "19:30 hot keys expire, 20:00 cache restarts")):
        ax.axvline(t / 3600, color="#777777", linewidth=0.8, linestyle=":")
        ax.annotate(what, (t / 3600, 0.97), xycoords=("data", "axes fraction"), rotation=90,
                    xytext=(-3, 0), textcoords="offset points", fontsize=7, va="top", ha="right",
                    color="#333333", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
    ax.set_yscale("log")
    _plain_log_axis(ax.yaxis)
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    worst = max(cards, key=lambda c: c.axes["DB load"].value)
    load = worst.axes["DB load"]
    finding = (f"{worst.design.name}: {load.value:,.0f} queries in one second at "
               f"{load.detail.split(': ')[-1]}, {_times(load.ratio)} the DB's capacity"
               if not load.passed else f"Every design stays under the DB's {DB_CAPACITY_QPS} queries/s")
    charts.finish(ax, title=finding, xlabel="time of day (h)",
                  ylabel="DB queries/s (busiest second\nof each 5 min, log scale)")
    return finding


class DayReport:
    """A scorecard as a notebook shows it: headline, chart, table, per data set table."""

    def __init__(self, card: Scorecard) -> None:
        self.card = card

    def figure(self) -> Any:
        fig = charts.new_figure(1, 1, width=9.0, height=3.4)
        draw_scorecard(fig.axes[0], [self.card])
        return fig

    def _repr_html_(self) -> str:
        return (self.card._repr_html_() + charts.image_html(self.figure())
                + "<p><b>Per data set</b></p>" + self.card.data_set_table()._repr_html_())

    def __str__(self) -> str:
        return f"{self.card}\n\n{self.card.data_set_table()}"

    __repr__ = __str__


def run_day(design: Design, *, seed: int = 0) -> DayReport:
    """Score ``design`` and show the result (use ``.card`` for the numbers)."""
    return DayReport(score(design, seed=seed))


def compare(*designs: Design, seed: int = 0) -> Any:
    """The scorecards of several designs on one chart, and their DB load through the day."""
    if not designs:
        designs = (NAIVE_DESIGN, REFERENCE_DESIGN)
    cards = [score(d, seed=seed) for d in designs]
    fig = charts.new_figure(2, 1, width=9.5, height=7.4)
    draw_scorecard(fig.axes[0], cards)
    draw_db_load(fig.axes[1], cards)
    return _Figure(fig, cards)


class _Figure:
    """A figure that displays once and keeps its scorecards (``.cards``) for code."""

    def __init__(self, fig: Any, cards: list[Scorecard]) -> None:
        self.fig, self.cards = fig, cards

    def _repr_html_(self) -> str:
        # An <img> with the chart's text alternative (and its numbers), never a bare PNG.
        return charts.image_html(self.fig)

    def __repr__(self) -> str:
        return "\n".join(c.headline() for c in self.cards)


_CONTROL_NAMES = {"catalogue_ttl": "the catalogue TTL", "ttl_jitter": "the TTL jitter",
                  "landing_defense": "the landing page defense", "per_user_headers": "the per-user headers",
                  "invalidation": "the invalidation"}


def why_no_effect(changed: str, values: Mapping[str, Any]) -> str:
    """Why moving one explorer control left every budget where it was (a sentence)."""
    shortest_ttl = values["catalogue_ttl"] * (1 - values["ttl_jitter"])
    if changed == "ttl_jitter" and shortest_ttl >= DAY_SECONDS - DEPLOY_AT_SECONDS:
        hours = (DAY_SECONDS - DEPLOY_AT_SECONDS) / 3600
        return (f"TTL jitter changes nothing at a {values['catalogue_ttl']:,.0f} s TTL: the catalogue keys "
                f"warmed at 06:00 outlive the {hours:.0f} hours left in the day, so none of them expires "
                "and there is no expiry to spread. Shorten the catalogue TTL to see jitter work.")
    if changed == "ttl_jitter" and values["ttl_jitter"] == 0:
        return "With no jitter, the warmed catalogue keys expire together again."
    return (f"Moving {_CONTROL_NAMES.get(changed, changed)} moved no budget in this design: "
            "another axis limits it. The failing axes are listed below.")


def explore(base: Design = NAIVE_DESIGN, *, seed: int = 0) -> Any:
    """Fix the naive design one knob at a time and watch the scorecard (a LivePlot).

    Every move replays only the data sets it touches (the replays are remembered).
    A move that changes no number says why in the caption, so no control seems dead.
    """
    from ..widgets import LivePlot, choice, slider

    if not isinstance(base, Design):
        raise LabError("explore() starts from a capstone Design, such as capstone.NAIVE_DESIGN.")
    reference = score(REFERENCE_DESIGN, seed=seed)
    ahead = _ScoreAhead(seed)
    plot_ref: list[Any] = []  # the LivePlot, once built: scoring ahead waits for its redraw

    def draw(fig: Any, catalogue_ttl: float, ttl_jitter: float, landing_defense: str,
             per_user_headers: str, invalidation: str) -> str:
        values = {"catalogue_ttl": catalogue_ttl, "ttl_jitter": ttl_jitter, "landing_defense": landing_defense,
                  "per_user_headers": per_user_headers, "invalidation": invalidation}
        card = score(explorer_design(base, **values), seed=seed)
        draw_scorecard(fig.axes[0], [card, reference])
        draw_db_load(fig.axes[1], [card, reference])
        if not drawing_ahead.enabled():  # in a kernel the slider's steps are drawn ahead, scores and all
            # A new catalogue TTL replays the catalogue's day (~0.2 s): score the slider's
            # neighbours now, so the next step is a memo hit.
            at = CATALOGUE_TTLS.index(catalogue_ttl) if catalogue_ttl in CATALOGUE_TTLS else 0
            shown = plot_ref[0].redraws if plot_ref else 0
            ahead.want([explorer_design(base, **{**values, "catalogue_ttl": CATALOGUE_TTLS[i]})
                        for i in (at + 1, at - 1) if 0 <= i < len(CATALOGUE_TTLS)],
                       after=lambda: not plot_ref or plot_ref[0].redraws > shown)
        failing = "; ".join(f"<b>{a}</b>: {card.axes[a].detail}" for a in card.failed)
        headline = card.headline()
        return (headline[0].upper() + headline[1:] + "."
                + (f" Still failing - {failing}." if failing else ""))

    def note(before: dict[str, Any], now: dict[str, Any]) -> str:
        """Why a move changed no number (said as the chart is shown: it depends on the move)."""
        changed = [k for k, v in now.items() if before.get(k) != v]
        if len(changed) == 1 and _same_numbers(score(explorer_design(base, **now), seed=seed),
                                               score(explorer_design(base, **before), seed=seed)):
            return f"<i>{why_no_effect(changed[0], now)}</i><br>"
        return ""

    from ipywidgets import Layout, SelectionSlider

    controls = {
        "catalogue_ttl": SelectionSlider(
            description="catalogue TTL", options=[(_ttl_label(t), t) for t in CATALOGUE_TTLS], value=3600,
            continuous_update=False, style={"description_width": "initial"}, layout=Layout(width="420px")),
        "ttl_jitter": slider("TTL jitter (±share)", 0.0, 0.5, 0.05, 0.0),
        "landing_defense": choice("landing page defense", DEFENSES, "none"),
        "per_user_headers": choice("balances + my-orders headers", PER_USER_HEADERS, PER_USER_HEADERS[0],
                                   layout=Layout(width="380px")),
        "invalidation": choice("cache-aside invalidation", INVALIDATIONS, "ttl-only"),
    }
    plot = LivePlot(draw, controls, nrows=2, width=9.5, height=7.2, note=note)
    plot_ref.append(plot)
    return plot


# The catalogue TTLs the explorer offers, from half a minute to a day.
CATALOGUE_TTLS = (30, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def _ttl_label(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 3600 else f"{seconds // 3600} h"


class _ScoreAhead:
    """Scores designs in one background thread, newest wishes first (``score`` is memoized)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._wanted: list[Design] = []
        self._after: Callable[[], bool] = lambda: True
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def want(self, designs: list[Design], after: Callable[[], bool] = lambda: True) -> threading.Thread | None:
        """Score ``designs`` once ``after()`` is true (the chart has been shown: a
        background replay during the PNG encode would slow the redraw it is for)."""
        with self._lock:
            self._wanted = list(designs)
            self._after = after
            if self._thread is None and self._wanted:
                self._thread = threading.Thread(target=self._work, name="labkit-score-ahead", daemon=True)
                self._thread.start()
            return self._thread

    def _work(self) -> None:
        deadline = time.monotonic() + 30
        while not self._after() and time.monotonic() < deadline:
            time.sleep(0.01)
        while True:
            with self._lock:
                if not self._wanted:
                    self._thread = None
                    return
                design = self._wanted.pop(0)
            # A failure here is scored again, in the open, when the slider gets there.
            with contextlib.suppress(Exception):
                score(design, seed=self.seed)


def _same_numbers(card: Scorecard, previous: Scorecard | None) -> bool:
    if previous is None:
        return False
    return all(card.axes[a].value == previous.axes[a].value for a in AXES) and np.array_equal(
        card.db_queries_per_second, previous.db_queries_per_second)


# One change at a time to the naive design: (label, explorer settings).
KNOBS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("naive, unchanged", {}),
    ("catalogue TTL 300 s", {"catalogue_ttl": 300}),
    ("TTL jitter 0.2", {"ttl_jitter": 0.2}),
    ("landing page: lock", {"landing_defense": "lock"}),
    ("landing page: xfetch", {"landing_defense": "xfetch"}),
    ("landing page: swr", {"landing_defense": "swr"}),
    ("per-user pages: private, no-cache", {"per_user_headers": "private, no-cache"}),
    ("invalidation: on-write", {"invalidation": "on-write"}),
    ("jitter + swr + private + on-write", {"ttl_jitter": 0.2, "landing_defense": "swr",
                                           "per_user_headers": "private, no-cache",
                                           "invalidation": "on-write"}),
)
_EXPLORER_DEFAULTS = {"catalogue_ttl": 3600, "ttl_jitter": 0.0, "landing_defense": "none",
                      "per_user_headers": PER_USER_HEADERS[0], "invalidation": "ttl-only"}


def knob_table(*, seed: int = 0) -> Table:
    """What each of the explorer's knobs does on its own (and four of them together)."""
    head = ["change to the naive design", "busiest DB second", "landing page: queries per expiry",
            "landing p99 (ms)", "leaks", "budgets failed"]
    rows = []
    for label, knobs in KNOBS:
        card = score(explorer_design(NAIVE_DESIGN, **{**_EXPLORER_DEFAULTS, **knobs}), seed=seed)
        load = card.axes["DB load"]
        rows.append([label, f"{load.value:,.0f} at {load.detail.split(': ')[-1][:5]}",
                     str(card.data_sets["landing"].stampede_queries),
                     f"{card.data_sets['landing'].p99_ms:,.1f}", f"{card.axes['leaks'].value:,.0f}",
                     ", ".join(card.failed) or "none"])
    return Table(rows, columns=head)


# -- exercises --------------------------------------------------------------------------------

def _per_user_in_cdn(design: Design) -> str:
    """What the CDN kept of per-user pages, in a sentence ("" if nothing).

    No leak in a replay is not enough: a header that lets the CDN store per-user pages
    (no-cache, max-age=0, s-maxage=0: stored, then revalidated) leaks the day a revalidation
    is skipped or an ETag is shared.  The replay counts what the CDN kept.
    """
    kept = {name: cdn_stored_per_user(name, plan.headers, plan.vary) for name, plan in design.items()
            if DATA_SETS[name].per_user}
    stored = {name: n for name, n in kept.items() if n}
    if not stored:
        return ""
    where = " and ".join(f"{n} {name} page{'s' if n > 1 else ''}" for name, n in stored.items())
    return (f"the CDN kept {where}: that header lets a shared cache store per-user data, and only "
            "revalidation stands between it and the next user. Mark per-user pages private (or no-store).")


def _check_leaks(balances_headers: Any, user_pages_headers: Any) -> tuple[bool, str]:
    for name, value in (("balances_headers", balances_headers), ("user_pages_headers", user_pages_headers)):
        if not isinstance(value, str):
            raise LabError(f"{name} must be a Cache-Control string like 'public, max-age=60' (got {value!r}).")
    design = NAIVE_DESIGN.change(name="naive + your headers",
                                 balances={"headers": balances_headers},
                                 user_pages={"headers": user_pages_headers})
    # The scorecard's leaks axis, for this design, without running the rest of the day: only
    # the CDN replays decide it.
    leaky = {name: cdn_leaks(name, plan.headers, plan.vary)[1] for name, plan in design.items()}
    leaky = {name: n for name, n in leaky.items() if n}
    if leaky:
        where = ", ".join(f"{name} ({n})" for name, n in leaky.items())
        return False, (f"{sum(leaky.values()):,} page views still showed another user's page (another user's "
                       f"page, from the CDN: {where}).")
    stored = _per_user_in_cdn(design)
    if stored:
        return False, f"no page reached the wrong user in this replay, but {stored}"
    return True, ("no page reached the wrong user, and the CDN kept no per-user page: a shared cache may "
                  "not store a response marked private, and never stores no-store.")


def _check_stampede(defense: Any) -> tuple[bool, str]:
    if not isinstance(defense, str):
        raise LabError(f"Answer with one defense name, one of: {', '.join(DEFENSES)}.")
    card = score(NAIVE_DESIGN.change(name="naive + your defense", landing={"defense": defense}))
    herd, p99 = card.axes["stampede"], card.axes["p99 latency"]
    if not herd.passed:
        return False, (f"{defense}: {herd.value:.0f} DB queries per expiry of the landing page "
                       f"(budget {herd.budget:.0f}).")
    if not p99.passed:
        return False, (f"{defense} protects the database (1 query per expiry), but the readers who "
                       f"arrive during the rebuild wait for it: p99 {p99.value:,.0f} ms "
                       f"(budget {p99.budget:.0f} ms).")
    return True, (f"{defense}: 1 DB query per expiry and p99 {p99.value:.1f} ms - readers get the "
                  "previous page at once while one request rebuilds it.")


def _check_all_green(design: Any) -> tuple[bool, str]:
    if not isinstance(design, Design):
        raise LabError("Answer with a Design, e.g. capstone.NAIVE_DESIGN.change(name='mine', ...).")
    if design == REFERENCE_DESIGN:
        return False, "that is the reference design itself: change it, or build your own from the naive one."
    card = score(design)
    if not card.passed:
        return False, f"{card.headline()}. Read the 'why' column of run_day(...) for each."
    stored = _per_user_in_cdn(design)
    if stored:
        return False, f"{card.headline()}, but {stored}"
    return True, f"{card.headline()} - and it is your own design."


def _all_green_answer() -> Design:
    namespace: dict[str, Any] = {}
    exec(_ALL_GREEN, {"capstone": __import__("labkit.capstone", fromlist=["NAIVE_DESIGN"])}, namespace)
    return namespace["my_design"]


def exercises(store: Any = None) -> ExerciseSet:
    """Notebook 07's exercises (the day runs on its own virtual clock: ``store`` is unused)."""
    return ExerciseSet({
        "leaks": Exercise(
            NOTEBOOK, "leaks", _check_leaks, kind="value",
            hint="A CDN is a shared cache. Which Cache-Control directive forbids a shared cache from "
                 "storing a response, while still letting the user's own browser keep it?",
            solution='balances_headers = "private, no-store"\nuser_pages_headers = "private, no-cache"',
            reference=lambda: Args(("private, no-store", "private, no-cache")),
            mistakes={"still public": Args(("public, max-age=60", "public, max-age=60")),
                      "only one page private": Args(("private, no-store", "public, max-age=300")),
                      "no-cache taken for do-not-store": Args(("no-cache", "no-cache")),
                      "max-age=0 taken for do-not-store": Args(("max-age=0", "private, no-cache"))},
        ),
        "stampede": Exercise(
            NOTEBOOK, "stampede", _check_stampede, kind="choice",
            hint="Two budgets: DB queries per expiry AND p99 latency. A lock passes the first; what do "
                 "the 100 readers behind the lock do for half a second? Which defense lets them have "
                 "the old page meanwhile?",
            solution='defense = "swr"   # stale-while-revalidate',
            reference=lambda: "swr",
            mistakes={"a lock makes readers wait": "lock", "no defense": "none",
                      "xfetch at 200 reads/s": "xfetch"},
        ),
        "all-green": Exercise(
            NOTEBOOK, "all-green", _check_all_green, kind="value",
            hint="Fix one axis at a time with run_day(...): headers for leaks, 'swr' on the landing page, "
                 "'on-write' invalidation (write-through for sessions and balances), jitter for the "
                 "deploy, then move memory from data sets that fit to those that need it.",
            solution=_ALL_GREEN,
            reference=lambda: _all_green_answer(),
            mistakes={"the reference copied": lambda: REFERENCE_DESIGN, "the naive design": lambda: NAIVE_DESIGN},
        ),
    })


_ALL_GREEN = '''my_design = capstone.NAIVE_DESIGN.change(
    name="mine",
    sessions={"pattern": "write-through", "invalidation": "on-write", "memory_objects": 150},
    catalogue={"invalidation": "on-write", "defense": "lock", "ttl_jitter": 0.2, "policy": "s3fifo",
               "memory_objects": 200, "headers": "public, max-age=60"},
    balances={"pattern": "write-through", "invalidation": "on-write", "ttl_seconds": 600,
              "memory_objects": 100, "headers": "private, no-store"},
    view_counters={"pattern": "write-behind", "invalidation": "on-write",
                   "flush_interval_seconds": 5, "memory_objects": 49},
    landing={"ttl_seconds": 60, "defense": "swr", "memory_objects": 1, "headers": "public, max-age=30"},
    user_pages={"invalidation": "on-write", "memory_objects": 100, "headers": "private, no-cache"},
)'''
