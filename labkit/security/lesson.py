"""What notebook 11 shows: the key audit, attacks over real HTTP, how far one poisoned
copy reaches, the Redis side - and the exercises."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import charts
from ..errors import LabError
from ..exercises import Args, Exercise, ExerciseSet, Implement
from ..tables import Table
from ..widgets import LivePlot, int_slider, log_slider
from . import grading, redis_side
from .attacks import ATTACKS, MAX_TTL_SECONDS, attack_outcomes, poisoned_visits, victims_per_copy
from .web import by_extension, insecure_key, key_audit

__all__ = ["key_table", "attack_table", "attacks_summary", "explore_poisoning", "key_collisions",
           "pickle_table", "signed_table", "acl_table", "exercises"]

NOTEBOOK = "11"
_RULES = {"shipped": (insecure_key, by_extension), "fixed": (grading.cache_key, grading.cacheable)}


def _rules(which: str) -> tuple[Any, Any]:
    if which not in _RULES:
        raise LabError(f"rules is 'shipped' or 'fixed' (got {which!r}).")
    return _RULES[which]


def key_table(rules: str = "shipped") -> Table:
    """Section 1: every input the origin might read, against the CDN's key."""
    rows = key_audit(_rules(rules)[0])
    unkeyed = sum(r["verdict"].startswith("UNKEYED") for r in rows)
    return Table(rows, f"The {rules} CDN's key: {unkeyed} inputs change the page without changing the key")


def attack_table(name: str, rules: str = "shipped") -> Table:
    """One attack over real HTTP (loopback), step by step."""
    names = [a.name for a in ATTACKS]
    if name not in names:
        raise LabError(f"There is no attack {name!r}; the lab has {', '.join(repr(n) for n in names)}.")
    run = next(r for r in attack_outcomes(*_rules(rules)) if r.attack.name == name)
    verdict = "it WORKED" if run.succeeded else "it failed"
    return Table(list(run.rows), f"{name}, against the {rules} CDN: {verdict}")


def attacks_summary() -> Table:
    """Every attack against the shipped CDN and against the fixed one."""
    shipped, fixed = (attack_outcomes(*_rules(w)) for w in ("shipped", "fixed"))
    rows = [{"attack": s.attack.name, "shipped CDN": "worked" if s.succeeded else "failed",
             "fixed CDN": "worked" if f.succeeded else "failed"} for s, f in zip(shipped, fixed, strict=True)]
    return Table(rows, f"{sum(r.succeeded for r in shipped)} of {len(rows)} attacks work on the shipped CDN, "
                       f"{sum(r.succeeded for r in fixed)} on the fixed one")


# -- how far one poisoned copy reaches -------------------------------------------------------------

_TTL_GRID = np.geomspace(10, MAX_TTL_SECONDS, 25)


def _draw_victims(fig: Any, visitors_per_second: int, ttl_seconds: float) -> str:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax = fig.axes[0]
    measured = [max(victims_per_copy(visitors_per_second, t), 0.5) for t in _TTL_GRID]
    ax.plot(_TTL_GRID, [visitors_per_second * t for t in _TTL_GRID], **charts.LIMIT_STYLE,
            label="visitors x TTL (the model)")
    ax.plot(_TTL_GRID, measured, **charts.series_style(0), label="measured: CDN replay")
    victims = victims_per_copy(visitors_per_second, ttl_seconds)
    ax.plot([ttl_seconds], [max(victims, 0.5)], marker="o", markersize=11, color="#D55E00", linestyle="none",
            label=f"TTL {ttl_seconds:.3g} s: {victims:,} victims")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # 10, 100, 1000 rather than powers of ten
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        axis.set_minor_formatter(NullFormatter())
    charts.finish(ax, title=f"One poisoned copy with a {ttl_seconds:.3g} s TTL reached {victims:,} visitors",
                  xlabel="TTL of the home page (s, log scale)", ylabel="visitors served the poisoned copy (log scale)")
    ax.legend(loc="upper left", fontsize=9)
    hour = victims_per_copy(visitors_per_second, MAX_TTL_SECONDS)
    return (f"At {visitors_per_second} visitors a second every visitor until the copy expires is a victim: "
            f"{victims:,} at {ttl_seconds:.3g} s, {hour:,} if it lived an hour.")


def explore_poisoning() -> LivePlot:
    """Victims of one poisoned copy against the TTL, at the room's traffic."""
    poisoned_visits(10)  # the default traffic's replay, before the first draw
    return LivePlot(_draw_victims, {
        "visitors_per_second": int_slider("visitors per second", 1, 20, 1, 10),
        "ttl_seconds": log_slider("TTL (s)", 10, MAX_TTL_SECONDS, 60),
    }, width=9, height=4.0)


# -- the Redis side ----------------------------------------------------------------------------------


def key_collisions(store) -> Table:
    rows = [vars(redis_side.key_collision(store, build)) for build in
            (redis_side.naive_key, redis_side.encoded_key, redis_side.validated_key)]
    return Table([{"key builder": r["builder"], "globex's key": r["victim_key"],
                   "'globex:2024' asks invoice 17 at": r["attacker_key"], "and reads": r["attacker_read"]}
                  for r in rows], "A ':' in a tenant's name reaches another tenant's key, unless parts are "
                                  "encoded or checked")


def pickle_table(store) -> Table:
    rows = redis_side.pickle_readers(store)
    ran = rows[-1]["writer's code ran (total)"]
    return Table(rows, f"One pickled write ran the writer's code in {ran} of {len(rows)} readers "
                       "(the lab's payload only counts itself)")


def signed_table(store) -> Table:
    rows = redis_side.signed_reads(store)
    refused = sum(r["the reader got"].startswith("refused") for r in rows)
    return Table(rows, f"Signed JSON: {refused} of {len(rows) - 1} attacker writes refused, no code ran")


def acl_table() -> Any:
    rows = redis_side.acl_attempts()
    if isinstance(rows, str):
        print(rows)
        return None
    refused = sum(r["answer"].startswith("NOPERM") for r in rows)
    return Table(rows, f"On the lab's own redis-server: {refused} of {len(rows)} commands refused by the ACL")


# -- exercises ---------------------------------------------------------------------------------------

VICTIM_BUDGET, BUDGET_TRAFFIC = 100, 5


def _check_ttl(ttl: Any) -> tuple[bool, str]:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl <= MAX_TTL_SECONDS:
        raise LabError(f"The TTL is a number of seconds between 0 and {MAX_TTL_SECONDS} (got {ttl!r}).")
    victims = victims_per_copy(BUDGET_TRAFFIC, ttl)
    if victims > VICTIM_BUDGET:
        return False, (f"at {ttl:g} s one poisoned copy reached {victims} visitors, over the {VICTIM_BUDGET} "
                       f"allowed ({BUDGET_TRAFFIC} visitors/s x {ttl:g} s is about {BUDGET_TRAFFIC * ttl:.0f})")
    if ttl < 0.8 * VICTIM_BUDGET / BUDGET_TRAFFIC:
        return False, (f"{victims} victims at {ttl:g} s is within budget, but a TTL this short throws away hits "
                       f"for nothing: the budget allows close to {VICTIM_BUDGET / BUDGET_TRAFFIC:.0f} s")
    return True, f"one poisoned copy reaches {victims} visitors at {ttl:g} s - within the {VICTIM_BUDGET} allowed"


def _longest_ttl() -> float:
    return max(t for t in range(1, 200) if victims_per_copy(BUDGET_TRAFFIC, t) <= VICTIM_BUDGET)


_COLLIDING = [(("globex", "2024:17"), ("globex:2024", "17")), (("acme_eu", "1"), ("acme:eu", "1")),
              (("a", "b%3Ac"), ("a", "b:c"))]


def _check_invoice_key(build: Any) -> tuple[bool, str]:
    if not callable(build):
        raise LabError("Pass your function itself: ex.invoice_key.check(invoice_key).")
    for pair in _COLLIDING:
        keys = [build(*parts) for parts in pair]
        if not all(isinstance(k, str) and k for k in keys):
            raise LabError(f"invoice_key must return a non-empty string (got {keys[0]!r}).")
        if keys[0] == keys[1]:
            return False, (f"{pair[0]} and {pair[1]} both became the key {keys[0]!r}: two tenants share one "
                           "copy - encode each part so that no separator can come from the input")
    return True, "every pair of different (tenant, invoice) inputs got its own key"


def _underscored(tenant, invoice_id):
    return f"invoice:{tenant.replace(':', '_')}:{invoice_id.replace(':', '_')}"


def exercises(store=None) -> ExerciseSet:
    return ExerciseSet({
        "cdn-rules": Implement(
            NOTEBOOK, "cdn-rules", grading.scenarios(),
            hint=("Put in the key everything the origin's answer depends on (host, path, the query parameters "
                  "it reads, the X-Forwarded-* headers it reflects) - or refuse to store responses to requests "
                  "that carry them. Store a response only when its own Cache-Control says public, never for "
                  "private or no-store, whatever its URL ends with."),
            reference=lambda: Args((grading.cache_key, grading.cacheable)),
            mistakes=grading.MISTAKES, alternatives=grading.ALTERNATIVES,
            equivalent_mutants=grading.EQUIVALENT_MUTANTS, skeleton=grading.SKELETON,
        ),
        "poisoning-ttl": Exercise(
            NOTEBOOK, "poisoning-ttl", _check_ttl,
            hint=(f"Slide the chart above to {BUDGET_TRAFFIC} visitors per second: each second a copy lives "
                  f"adds about {BUDGET_TRAFFIC} victims."),
            solution=f"answer = {VICTIM_BUDGET // BUDGET_TRAFFIC}   # {BUDGET_TRAFFIC}/s x 20 s = 100 visitors",
            reference=lambda: _longest_ttl(), mistakes={"the budget as seconds": VICTIM_BUDGET, "an hour": 3600,
                                              "one second": 1},
        ),
        "invoice-key": Exercise(
            NOTEBOOK, "invoice-key", _check_invoice_key,
            hint="urllib.parse.quote(part, safe='') turns ':' into %3A (and % into %25), so no part can "
                 "make a separator.",
            solution=("from urllib.parse import quote\n\ndef invoice_key(tenant, invoice_id):\n"
                      "    return 'invoice:' + ':'.join(quote(p, safe='') for p in (tenant, invoice_id))"),
            reference=lambda: redis_side.encoded_key,
            mistakes={"an f-string": redis_side.naive_key, "':' replaced by '_'": _underscored},
        ),
    })
