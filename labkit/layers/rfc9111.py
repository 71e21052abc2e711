"""The one place labkit meets hishel: RFC 9111's decisions through hishel's public API.

hishel 2 exposes HTTP caching (RFC 9111) as a sans-IO state machine: given a
request and the stored entries, ``IdleClient.next`` answers *serve from cache*,
*revalidate* or *miss*, and each later state says what to do with the response.
Everything labkit uses from hishel is imported here, by the names hishel exports
at its top level; :mod:`labkit.layers.http_cache` drives the states.

What hishel leaves to the caller and labkit adds here in its own words:

* :func:`vary_matches` - whether a stored response may answer a request, by the
  request headers its ``Vary`` names (RFC 9111 section 4.1).  A cache needs it
  to replace the stored copy of the same variant when a new one arrives.
* :func:`page_request` - a GET as a browser sends it, for callers outside this
  package (the capstone's CDN replay).
"""

from __future__ import annotations

from hishel import (
    CacheMiss,
    CacheOptions,
    CouldNotBeStored,
    Entry,
    FromCache,
    Headers,
    IdleClient,
    InvalidateEntries,
    NeedRevalidation,
    NeedToBeUpdated,
    Request,
    Response,
    StoreAndUse,
)

__all__ = [
    "CacheMiss",
    "CacheOptions",
    "CouldNotBeStored",
    "Entry",
    "FromCache",
    "Headers",
    "IdleClient",
    "InvalidateEntries",
    "NeedRevalidation",
    "NeedToBeUpdated",
    "Request",
    "Response",
    "StoreAndUse",
    "page_request",
    "vary_matches",
]


def _field_names(value: str) -> list[str]:
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def _normalized(value: str | None) -> str | None:
    # Whitespace and repeated lines of one field do not make two requests differ (4.1).
    return None if value is None else ",".join(part.strip() for part in value.split(","))


def vary_matches(request: Request, stored: Entry) -> bool:
    """May ``stored`` answer ``request``, as far as its ``Vary`` header goes?

    Every request header the stored response's ``Vary`` names must have the same
    value in both requests (or be absent from both); ``Vary: *`` never matches.
    """
    vary = stored.response.headers.get("vary")
    if not vary:
        return True
    for name in _field_names(vary):
        if name == "*":
            return False
        if _normalized(request.headers.get(name)) != _normalized(stored.request.headers.get(name)):
            return False
    return True


def page_request(url: str, headers: dict[str, str] | None = None) -> Request:
    """A GET for ``url`` with ``headers``, as hishel's state machine expects it."""
    return Request("GET", url, Headers(dict(headers or {})))
