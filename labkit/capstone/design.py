"""A cache design: one :class:`Plan` per data set, checked one clear sentence at a time.

>>> d = NAIVE_DESIGN.change(landing={"defense": "swr"})
>>> d["landing"].defense
'swr'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import LabError, check_choice
from ..eviction import POLICIES as EVICTION_POLICIES
from ..layers.policy import header_set
from ..patterns import PATTERNS
from ..stampede import SIM_DEFENSES
from .service import CACHE_OBJECTS, DATA_SET_NAMES, DATA_SETS

__all__ = [
    "Plan",
    "Design",
    "INVALIDATIONS",
    "DEFENSES",
    "POLICIES",
    "PATTERNS",
    "NAIVE_DESIGN",
    "REFERENCE_DESIGN",
    "explorer_design",
]

# "ttl-only": writers never tell the cache; only the TTL corrects a copy.
# "on-write": every write goes through the pattern (cache-aside deletes the key,
# write-through updates it, write-behind updates it and queues the DB write).
INVALIDATIONS = ("ttl-only", "on-write")
DEFENSES = SIM_DEFENSES
# OPT needs to know the future: a real cache cannot run it.
POLICIES = tuple(p for p in EVICTION_POLICIES if p != "opt")


def _number(name: str, value: Any, low: float, high: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise LabError(f"{name} must be a number from {low:g} to {high:g}{unit} (got {value!r}).")
    return float(value)


@dataclass(frozen=True)
class Plan:
    """How one data set is cached."""

    pattern: str = "cache-aside"
    ttl_seconds: float = 3600.0
    invalidation: str = "ttl-only"
    defense: str = "none"          # against a stampede on the data set's hottest key
    ttl_jitter: float = 0.0        # +/- this share of the TTL, for keys filled together
    policy: str = "lru"            # eviction policy
    memory_objects: int = 200      # this data set's share of the cache node
    headers: str | None = None     # Cache-Control sent with the page (None: no header)
    vary: str = ""                 # the Vary header
    flush_interval_seconds: float = 30.0  # write-behind only: how often the worker flushes

    def checked(self, data_set: str) -> Plan:
        """This plan if it is valid for ``data_set``; else one sentence saying what to fix."""
        where = f"{data_set}: "
        try:
            check_choice("pattern", self.pattern, PATTERNS)
            check_choice("invalidation", self.invalidation, INVALIDATIONS)
            check_choice("stampede defense", self.defense, DEFENSES)
            if self.policy == "opt":
                raise LabError(
                    "opt is the offline optimum and needs tomorrow's requests; "
                    f"choose a policy a cache can run: {', '.join(POLICIES)}."
                )
            check_choice("eviction policy", self.policy, POLICIES)
        except LabError as exc:
            raise LabError(where + str(exc)) from None
        _number(where + "ttl_seconds", self.ttl_seconds, 1, 86400, " s")
        _number(where + "ttl_jitter", self.ttl_jitter, 0, 0.9, "")
        _number(where + "flush_interval_seconds", self.flush_interval_seconds, 0.1, 3600, " s")
        if (isinstance(self.memory_objects, bool) or not isinstance(self.memory_objects, int)
                or not 1 <= self.memory_objects <= CACHE_OBJECTS):
            raise LabError(
                f"{where}memory_objects must be a whole number from 1 to {CACHE_OBJECTS} "
                f"(got {self.memory_objects!r})."
            )
        if self.pattern in ("write-through", "write-behind") and self.invalidation != "on-write":
            raise LabError(
                f"{where}{self.pattern} sends every write through the cache, so its invalidation "
                "is 'on-write'; set invalidation='on-write' or pick cache-aside."
            )
        if DATA_SETS[data_set].path is None and (self.headers is not None or self.vary):
            raise LabError(
                f"{where}this data set is never sent to a browser, so it has no HTTP headers; "
                "leave headers=None."
            )
        if self.headers is not None:
            if not isinstance(self.headers, str):
                raise LabError(
                    f"{where}headers must be a Cache-Control string like 'private, no-cache' "
                    f"(got {self.headers!r})."
                )
            header_set(data_set, {"Cache-Control": self.headers, "Vary": self.vary})
        return self


class Design(Mapping[str, Plan]):
    """A plan for every data set.  Immutable: :meth:`change` returns a new design."""

    def __init__(self, plans: Mapping[str, Plan | Mapping[str, Any]], name: str = "my design",
                 notes: Mapping[str, str] | None = None) -> None:
        if not isinstance(plans, Mapping):
            raise LabError("A design is a dict of data set name -> plan, like {'landing': {...}, ...}.")
        unknown = [k for k in plans if k not in DATA_SETS]
        if unknown:
            raise LabError(_unknown("data set", unknown[0], DATA_SET_NAMES))
        missing = [k for k in DATA_SET_NAMES if k not in plans]
        if missing:
            raise LabError(
                f"The design has no plan for {', '.join(missing)}; every data set needs one "
                "(start from capstone.NAIVE_DESIGN.change(...))."
            )
        self._plans = {k: _as_plan(k, plans[k]).checked(k) for k in DATA_SET_NAMES}
        self.name = name
        # Why each plan was chosen (shown in the table; dropped when a plan changes).
        self.notes = {k: str(v) for k, v in (notes or {}).items() if k in self._plans}

    def __getitem__(self, data_set: str) -> Plan:
        if data_set not in self._plans:
            raise LabError(_unknown("data set", data_set, DATA_SET_NAMES))
        return self._plans[data_set]

    def __iter__(self) -> Iterator[str]:
        return iter(self._plans)

    def __len__(self) -> int:
        return len(self._plans)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Design) and self._plans == other._plans

    def __hash__(self) -> int:
        return hash(tuple(self._plans.items()))

    def change(self, name: str | None = None, **changes: Mapping[str, Any]) -> Design:
        """A copy with some fields changed: ``design.change(landing={"defense": "swr"})``."""
        plans = dict(self._plans)
        for data_set, fields_ in changes.items():
            if data_set not in plans:
                raise LabError(_unknown("data set", data_set, DATA_SET_NAMES))
            if not isinstance(fields_, Mapping):
                raise LabError(
                    f"Changes for {data_set} must be a dict of fields, like {{'ttl_seconds': 300}} "
                    f"(got {fields_!r})."
                )
            plans[data_set] = _as_plan(data_set, {**asdict(plans[data_set]), **fields_})
        notes = {k: v for k, v in self.notes.items() if k not in changes}
        return Design(plans, name=name or self.name, notes=notes)

    @property
    def memory_objects(self) -> int:
        return sum(p.memory_objects for p in self._plans.values())

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: asdict(p) for k, p in self._plans.items()}

    def _repr_html_(self) -> str:
        cols = [f.name for f in fields(Plan)]
        why = ["why"] if self.notes else []
        head = "".join(f"<th>{c}</th>" for c in ["data set", *cols, *why])
        rows = "".join(
            "<tr>" + f"<td><b>{k}</b></td>" + "".join(f"<td>{getattr(p, c)}</td>" for c in cols)
            + (f"<td style='text-align:left'>{self.notes.get(k, '')}</td>" if why else "") + "</tr>"
            for k, p in self._plans.items()
        )
        return f"<p><b>{self.name}</b></p><table><tr>{head}</tr>{rows}</table>"

    def __repr__(self) -> str:
        return f"<Design {self.name!r}: {', '.join(f'{k}={p.pattern}' for k, p in self._plans.items())}>"


def _unknown(kind: str, value: Any, valid: tuple[str, ...]) -> str:
    near = difflib.get_close_matches(str(value), valid, n=1)
    tip = f" (did you mean {near[0]!r}?)" if near else ""
    return f"Unknown {kind} {value!r}{tip}; choose one of: {', '.join(valid)}."


def _as_plan(data_set: str, value: Plan | Mapping[str, Any]) -> Plan:
    if isinstance(value, Plan):
        return value
    if not isinstance(value, Mapping):
        raise LabError(f"The plan for {data_set} must be a dict of fields or a Plan (got {value!r}).")
    names = [f.name for f in fields(Plan)]
    for key in value:
        if key not in names:
            raise LabError(f"{data_set}: " + _unknown("plan field", key, tuple(names)))
    return replace(Plan(), **value)


# All cache-aside, one TTL, nobody told about writes, no stampede defense, LRU with
# an even share of memory, and `public` on every page.
NAIVE_DESIGN = Design(
    {
        name: Plan(
            pattern="cache-aside", ttl_seconds=3600, invalidation="ttl-only", defense="none",
            ttl_jitter=0.0, policy="lru", memory_objects=CACHE_OBJECTS // len(DATA_SETS),
            headers=None if ds.path is None else "public, max-age=300",
        )
        for name, ds in DATA_SETS.items()
    },
    name="naive",
)

REFERENCE_DESIGN = Design(
    {
        "sessions": Plan("write-through", 1800, "on-write", "none", 0.0, "lru", 150),
        "catalogue": Plan("cache-aside", 3600, "on-write", "lock", 0.2, "tinylfu", 200,
                          "public, max-age=60"),
        "balances": Plan("write-through", 300, "on-write", "none", 0.0, "lru", 100,
                         "private, no-store"),
        "view_counters": Plan("write-behind", 3600, "on-write", "none", 0.0, "s3fifo", 49,
                              flush_interval_seconds=10),
        "landing": Plan("cache-aside", 60, "ttl-only", "swr", 0.0, "lru", 1,
                        "public, max-age=30"),
        "user_pages": Plan("cache-aside", 600, "on-write", "none", 0.0, "lru", 100,
                           "private, no-cache", "Cookie"),
    },
    name="reference",
    notes={
        "sessions": "read on every request and must die at logout: write-through keeps the copy "
                    "exact; all 150 fit in memory",
        "catalogue": "the import now deletes what it changes, so the TTL can be long; jitter spreads "
                     "the deploy's warm-up; TinyLFU keeps the popular products",
        "balances": "money: write-through, and never stored by a browser or a CDN",
        "view_counters": "counted on every view: write-behind turns thousands of writes into a few "
                         "batches, and a lost count is acceptable",
        "landing": "one very hot key that may be 2 minutes old: serve the old page while one "
                   "request rebuilds it",
        "user_pages": "per user: cached in Redis, never in a shared cache",
    },
)


def explorer_design(base: Design, catalogue_ttl: float, ttl_jitter: float, landing_defense: str,
                    per_user_headers: str, invalidation: str) -> Design:
    """``base`` with the explorer's five settings applied (what the explorer scores, and the claims)."""
    changes: dict[str, Mapping[str, Any]] = {}
    for name, plan in base.items():
        settings: dict[str, Any] = {}
        if plan.pattern in ("cache-aside", "read-through"):
            settings["invalidation"] = invalidation
        if name in ("balances", "user_pages"):
            settings["headers"] = per_user_headers
        changes[name] = settings
    changes["catalogue"] = {**changes["catalogue"], "ttl_seconds": round(catalogue_ttl),
                            "ttl_jitter": ttl_jitter}
    changes["landing"] = {**changes["landing"], "defense": landing_defense}
    return base.change(name="your design", **changes)
