"""Claims: the numbers a notebook's prose states, computed and checked.

A concept's ``claims.py`` declares each measured number its notebook states::

    @claim("stale_share", notebook="00", fact="about one read in seven is stale",
           holds=lambda v: 0.10 <= v <= 0.20)
    def stale_share() -> float:
        return tour.measure(use_cache=True, ttl_seconds=300).stale_share

The notebook source writes ``{claim:stale_share}`` (or ``{claim:stale_share:.0%}``)
where the prose gives the number; ``tools/build_notebooks.py`` fills it in when it
builds the ``.ipynb``.  ``holds`` states the teaching fact as a range or an
inequality, and ``tests/test_claims.py`` asserts it for every claim, so

* a code change that breaks the lesson fails a test, and
* a code change that only moves the number makes the built notebook differ from
  its source until it is rebuilt - the prose can no longer silently go wrong.

Claims are computed with the notebook's own settings on a virtual clock (seeded),
so they are the same on every machine and every run.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import LabError

__all__ = ["Claim", "claim", "claims_for", "fill", "PLACEHOLDER", "all_claims"]

# {claim:name} or {claim:name:format-spec}
PLACEHOLDER = re.compile(r"\{claim:([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}")


@dataclass
class Claim:
    name: str
    notebook: str
    fact: str
    compute: Callable[[], Any]
    holds: Callable[[Any], bool]
    _value: Any = field(default=None, repr=False)
    _computed: bool = field(default=False, repr=False)

    def value(self) -> Any:
        """The claim's number (computed once per process)."""
        if not self._computed:
            self._value = self.compute()
            self._computed = True
        return self._value

    def check(self) -> tuple[bool, str]:
        value = self.value()
        ok = bool(self.holds(value))
        return ok, f"{self.notebook}/{self.name} = {value!r}: {'holds' if ok else 'FAILS'} - {self.fact}"

    def format(self, spec: str | None = None) -> str:
        value = self.value()
        if spec:
            return format(value, spec)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:.3g}"
        return str(value)


_REGISTRY: dict[str, dict[str, Claim]] = {}


def claim(name: str, *, notebook: str, fact: str, holds: Callable[[Any], bool]) -> Callable:
    """Register the decorated function as notebook ``notebook``'s claim ``name``."""
    if not fact.strip():
        raise LabError(f"Claim {name!r} needs a fact: the teaching fact its holds() check states.")

    def decorate(fn: Callable[[], Any]) -> Callable[[], Any]:
        _REGISTRY.setdefault(notebook, {})[name] = Claim(name, notebook, fact, fn, holds)
        return fn

    return decorate


def claims_for(notebook: str) -> dict[str, Claim]:
    """Every claim of one notebook (imports its concept's ``claims`` module)."""
    from .course import lesson

    module = lesson(notebook).claims_module
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise  # a claims module that exists but imports something missing
    return dict(_REGISTRY.get(notebook, {}))


def all_claims() -> list[Claim]:
    from .course import numbers

    return [c for nn in numbers() for c in claims_for(nn).values()]


def fill(text: str, notebook: str) -> str:
    """``text`` with every ``{claim:...}`` replaced by the claim's formatted value."""
    if "{claim:" not in text:
        return text
    known = claims_for(notebook)

    def replace(match: re.Match[str]) -> str:
        name, spec = match.group(1), match.group(2)
        if name not in known:
            raise LabError(
                f"Notebook {notebook} states {{claim:{name}}}, but labkit has no such claim; "
                f"define it in {notebook}'s claims.py (known: {', '.join(sorted(known)) or 'none'})."
            )
        return known[name].format(spec)

    return PLACEHOLDER.sub(replace, text)
