"""Notebook 03's data sets and exercises: which keys need more than a TTL?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import LabError
from ._common import (
    _check_ttl,
)
from .model import (
    _solve_ttl,
    break_even_hit_ratio,
    break_even_ttl,
    hit_ratio_model,
    longest_ttl_within,
    model,
    read_latency_ms,
    stale_share_of_hits_model,
)
from .traffic import Traffic
from .views import CHART_CACHE_MS, CHART_DB_MS

if TYPE_CHECKING:
    from ..exercises import Exercise


@dataclass(frozen=True)
class DataSet:
    """One kind of cached record, with its traffic and its tolerance for staleness."""

    name: str
    reads_per_second: float  # per key
    writes_per_hour: float  # per key
    stale_budget: float  # the largest tolerable share of stale reads (0 = never)

    def stale_read_share(self, ttl_seconds: float) -> float:
        """Model: the share of this key's reads that are stale under a TTL."""
        ttl = _check_ttl(ttl_seconds)
        return float(
            hit_ratio_model(self.reads_per_second, ttl)
            * stale_share_of_hits_model(self.writes_per_hour / 3600, ttl)
        )

    def longest_ttl_within_budget(self) -> float:
        """The longest TTL whose stale reads stay within the budget (0 if none does)."""
        if self.stale_budget <= 0:
            return 0.0
        if self.writes_per_hour <= 0:
            return math.inf
        return _solve_ttl(self.stale_read_share, self.stale_budget * (1 + 1e-12))

    def break_even_ttl(self, cache_ms: float, db_ms: float) -> float:
        """The shortest TTL at which caching this key beats reading the DB."""
        target = break_even_hit_ratio(cache_ms, db_ms)
        if target >= 1:
            return math.inf
        # λT / (1 + λT) = h*  <=>  T = h* / ((1 - h*) λ)
        return target / ((1 - target) * self.reads_per_second)


DATA_SETS = (
    DataSet("product description", reads_per_second=5.0, writes_per_hour=1 / 24, stale_budget=0.01),
    DataSet("trending list", reads_per_second=20.0, writes_per_hour=60.0, stale_budget=0.10),
    DataSet("stock level", reads_per_second=2.0, writes_per_hour=30.0, stale_budget=0.005),
    DataSet("account balance", reads_per_second=0.1, writes_per_hour=12.0, stale_budget=0.001),
    DataSet("exchange rate", reads_per_second=5.0, writes_per_hour=720.0, stale_budget=0.001),
    DataSet("user permissions", reads_per_second=1.0, writes_per_hour=0.5, stale_budget=0.0),
)


def needs_event_invalidation(data_set: DataSet, cache_ms: float, db_ms: float) -> bool:
    """True when no TTL is both fresh enough and long enough to pay for the cache."""
    return data_set.longest_ttl_within_budget() < data_set.break_even_ttl(cache_ms, db_ms)


def data_set_table(cache_ms: float = CHART_CACHE_MS, db_ms: float = CHART_DB_MS) -> Any:
    """The data sets as an HTML table for the notebook (traffic and budgets only)."""
    from IPython.display import HTML

    rows = "".join(
        f"<tr><td>{d.name}</td><td>{d.reads_per_second:g}</td><td>{d.writes_per_hour:.3g}</td>"
        f"<td>{d.stale_budget:.1%}</td></tr>"
        for d in DATA_SETS
    )
    return HTML(
        "<table><tr><th>data set</th><th>reads/s per key</th><th>writes/hour per key</th>"
        f"<th>stale reads tolerated</th></tr>{rows}</table>"
        f"<p>Cache round trip {cache_ms} ms, DB query {db_ms} ms.</p>"
    )


# ---------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------

EXERCISE_TRAFFIC = Traffic(n_keys=1000, alpha=0.9, reads_per_second=50.0, writes_per_key_per_hour=2.0)
STALE_BUDGET = 0.02


def exercises() -> dict[str, Exercise]:
    """The notebook's three exercises, with checks that accept a small margin."""
    from ..exercises import Exercise

    longest = longest_ttl_within(EXERCISE_TRAFFIC, STALE_BUDGET)
    shortest = break_even_ttl(EXERCISE_TRAFFIC, CHART_CACHE_MS, CHART_DB_MS)
    needs = {d.name for d in DATA_SETS if needs_event_invalidation(d, CHART_CACHE_MS, CHART_DB_MS)}

    def check_longest(answer: Any) -> tuple[bool, str]:
        ttl = _check_ttl(answer, "your TTL")
        stale = model(EXERCISE_TRAFFIC, ttl).stale_read_share
        if stale > STALE_BUDGET * 1.0005:
            return False, f"at {ttl:g} s, {stale:.2%} of reads are stale: over the 2% budget."
        if ttl < 0.9 * longest:
            return False, f"{ttl:g} s stays within budget ({stale:.2%} stale), but a longer TTL still would."
        return True, f"{ttl:g} s gives {stale:.2%} stale reads; the exact limit is {longest:.0f} s."

    def check_shortest(answer: Any) -> tuple[bool, str]:
        ttl = _check_ttl(answer, "your TTL")
        hit = model(EXERCISE_TRAFFIC, ttl).hit_ratio
        cost = float(read_latency_ms(hit, CHART_CACHE_MS, CHART_DB_MS))
        if ttl < shortest * 0.999:
            return False, f"at {ttl:g} s a read costs {cost:.2f} ms, more than the {CHART_DB_MS} ms query alone."
        if ttl > shortest * 1.15:
            return False, f"{ttl:g} s pays for itself, but a shorter TTL would too."
        needed = break_even_hit_ratio(CHART_CACHE_MS, CHART_DB_MS)
        return True, f"the break-even TTL is {shortest:.2f} s (hit ratio {needed:.0%})."

    def check_needs(answer: Any) -> tuple[bool, str]:
        if isinstance(answer, str) or not hasattr(answer, "__iter__"):
            raise LabError("Answer with a set of data set names, e.g. {'stock level'}.")
        chosen = {str(a) for a in answer}
        unknown = chosen - {d.name for d in DATA_SETS}
        if unknown:
            raise LabError(f"Unknown data set {sorted(unknown)[0]!r}; use the names from the table.")
        missing, extra = needs - chosen, chosen - needs
        if not missing and not extra:
            return True, "for these, no TTL is both fresh enough and long enough to pay for itself."
        parts = []
        if missing:
            parts.append(f"{len(missing)} that need events {'is' if len(missing) == 1 else 'are'} missing")
        if extra:
            parts.append(f"{len(extra)} of yours can live with a TTL alone")
        return False, "; ".join(parts) + "."

    return {
        "longest_ttl": Exercise(
            "03", "longest-ttl", check_longest,
            hint="Stale reads grow with the TTL. Try ttl.model(traffic, 300).stale_read_share, "
            "then halve or double the TTL until you bracket 2%.",
            solution=(
                "candidates = range(1, 3600)\n"
                "answer = max(t for t in candidates\n"
                "             if ttl.model(traffic, t).stale_read_share <= 0.02)"
                f"   # {int(longest)} s"
            ),
        ),
        "shortest_ttl": Exercise(
            "03", "shortest-ttl", check_shortest,
            hint="The cache pays once the hit ratio passes 2c/(c+d) = 40%. Find the TTL where "
            "ttl.model(traffic, t).hit_ratio crosses 0.4 (it is below 10 s).",
            solution=(
                "candidates = [t / 100 for t in range(1, 1000)]\n"
                "answer = min(t for t in candidates if ttl.model(traffic, t).hit_ratio >= 0.4)"
                f"   # {shortest:.2f} s"
            ),
        ),
        "needs_events": Exercise(
            "03", "needs-events", check_needs,
            hint="For each data set compare d.longest_ttl_within_budget() with "
            "d.break_even_ttl(0.5, 2.0): if the freshest acceptable TTL is shorter than the "
            "shortest one that pays, a TTL alone cannot do the job.",
            solution=(
                "answer = {d.name for d in ttl.DATA_SETS\n"
                "          if d.longest_ttl_within_budget() < d.break_even_ttl(0.5, 2.0)}"
                f"   # {sorted(needs)}"
            ),
        ),
    }
