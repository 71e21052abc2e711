"""The response headers each endpoint sends, and the checks that keep them sane.

A :class:`HeaderSet` is what the origin attaches to a response: ``Cache-Control``
and, where the page depends on a request header, ``Vary``.  The caches never read
these strings here: they hand them to hishel's RFC 9111 state machine.  This
module only validates what a learner writes, so a typo is one clear sentence
rather than a silently different experiment.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import LabError
from ..memo import memo

__all__ = [
    "ENDPOINTS",
    "ASSET_PATH",
    "HeaderSet",
    "header_set",
    "header_policy",
    "DEFAULT_POLICY",
    "LEAKY_ACCOUNT",
    "freshness_is_ambiguous",
]

# The four kinds of page the origin serves.
ENDPOINTS = ("asset", "product", "account", "search")
# A fingerprinted asset: the hash in the name changes whenever the file does.
ASSET_PATH = "/static/app.3f9a2c1e.js"

# Directives a learner may use, with or without a value.
_VALUED = {"max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"}
_FLAGS = {
    "public", "private", "no-store", "no-cache", "must-revalidate",
    "proxy-revalidate", "immutable", "no-transform", "must-understand",
}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_DELTA_SECONDS = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class HeaderSet:
    """``Cache-Control`` (may be empty: no caching instructions at all) and ``Vary``."""

    cache_control: str = ""
    vary: str = ""

    def as_headers(self) -> dict[str, str]:
        out = {}
        if self.cache_control:
            out["cache-control"] = self.cache_control
        if self.vary:
            out["vary"] = self.vary
        return out

    def __str__(self) -> str:
        cc = f"Cache-Control: {self.cache_control}" if self.cache_control else "(no Cache-Control)"
        return f"{cc}; Vary: {self.vary}" if self.vary else cc


def _check_cache_control(endpoint: str, value: str) -> str:
    seen: dict[str, str] = {}
    for raw in value.split(","):
        part = raw.strip()
        if not part:
            continue
        name, _, arg = part.partition("=")
        name = name.strip().lower()
        arg = arg.strip()
        if name not in _VALUED | _FLAGS:
            near = difflib.get_close_matches(name, sorted(_VALUED | _FLAGS), n=1)
            tip = f"; did you mean {near[0]!r}" if near else ""
            raise LabError(
                f"Cache-Control for {endpoint} has {part!r}, which is not a cache directive{tip}?"
            )
        if name in seen:
            raise LabError(
                f"Cache-Control for {endpoint} names {name} twice; give each directive once."
            )
        if name in _VALUED and not _DELTA_SECONDS.match(arg):
            raise LabError(
                f"{name} for {endpoint} needs a whole number of seconds, like {name}=60 (got {part!r})."
            )
        if name in _FLAGS and arg and name not in ("private", "no-cache"):
            raise LabError(f"{name} for {endpoint} takes no value; write just {name!r}.")
        seen[name] = arg
    if "public" in seen and "private" in seen:
        raise LabError(
            f"Cache-Control for {endpoint} says both public and private; pick the one you mean."
        )
    if "no-store" in seen and (set(seen) & {"max-age", "s-maxage", "public", "immutable"}):
        others = ", ".join(sorted(set(seen) & {"max-age", "s-maxage", "public", "immutable"}))
        raise LabError(
            f"Cache-Control for {endpoint} has no-store (never keep a copy) together with "
            f"{others}, which only matter for stored copies; drop one side."
        )
    return ", ".join(p.strip() for p in value.split(",") if p.strip())


def _check_vary(endpoint: str, value: str) -> str:
    names = [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        if name != "*" and not _TOKEN.match(name):
            raise LabError(
                f"Vary for {endpoint} lists {name!r}, which is not a header name; "
                "write names like 'Cookie' or 'Accept-Language'."
            )
    return ", ".join(names)


def header_set(endpoint: str, spec: HeaderSet | str | Mapping[str, str] | None) -> HeaderSet:
    """A checked :class:`HeaderSet` from a Cache-Control string or a small dict of headers.

    >>> header_set("product", "public, max-age=60")
    HeaderSet(cache_control='public, max-age=60', vary='')
    >>> header_set("account", {"Cache-Control": "private, no-cache", "Vary": "Cookie"}).vary
    'Cookie'
    """
    if isinstance(spec, HeaderSet):
        spec = {"cache-control": spec.cache_control, "vary": spec.vary}
    if spec is None:
        spec = ""
    if isinstance(spec, str):
        spec = {"cache-control": spec}
    if not isinstance(spec, Mapping):
        raise LabError(
            f"Headers for {endpoint} must be a Cache-Control string or a dict like "
            f"{{'Cache-Control': 'public, max-age=60'}} (got {type(spec).__name__})."
        )
    lowered: dict[str, str] = {}
    for key, value in spec.items():
        name = str(key).strip().lower()
        if name not in ("cache-control", "vary"):
            raise LabError(
                f"Only Cache-Control and Vary are set per endpoint here (got {key!r} for {endpoint})."
            )
        if not isinstance(value, str):
            raise LabError(f"The {key} value for {endpoint} must be a string (got {value!r}).")
        lowered[name] = value
    return HeaderSet(
        _check_cache_control(endpoint, lowered.get("cache-control", "")),
        _check_vary(endpoint, lowered.get("vary", "")),
    )


def header_policy(spec: Mapping[str, HeaderSet | str | Mapping[str, str]] | None = None,
                  *, base: Mapping[str, HeaderSet] | None = None) -> dict[str, HeaderSet]:
    """Headers for every endpoint: ``spec`` overrides ``base`` (default: :data:`DEFAULT_POLICY`)."""
    policy = dict(DEFAULT_POLICY if base is None else base)
    if spec is None:
        return policy
    if not isinstance(spec, Mapping):
        raise LabError(
            "Headers must be a dict keyed by endpoint, like {'product': 'public, max-age=60'}."
        )
    for endpoint, value in spec.items():
        if endpoint not in ENDPOINTS:
            raise LabError(
                f"Unknown endpoint {endpoint!r}; the origin serves {', '.join(ENDPOINTS)}."
            )
        policy[endpoint] = header_set(endpoint, value)
    return policy


@memo(maxsize=256)  # asked again each time a cache stores or refreshes a response
def freshness_is_ambiguous(cache_control: str) -> bool:
    """True when max-age or s-maxage appears more than once in a response.

    RFC 9111 section 4.2.1 lets a cache use the first value *or* treat the response
    as stale; hishel keeps the last one, so the lab takes the cautious branch.
    """
    counts: dict[str, int] = {}
    for part in cache_control.split(","):
        name = part.split("=", 1)[0].strip().lower()
        if name in ("max-age", "s-maxage"):
            counts[name] = counts.get(name, 0) + 1
    return any(n > 1 for n in counts.values())


DEFAULT_POLICY: dict[str, HeaderSet] = {
    "asset": HeaderSet("public, max-age=31536000, immutable"),
    "product": HeaderSet("public, max-age=60"),
    "account": HeaderSet("private, no-cache", "Cookie"),
    "search": HeaderSet("public, max-age=30"),
}

# The misconfiguration this notebook is about.
LEAKY_ACCOUNT = HeaderSet("public, max-age=60")
