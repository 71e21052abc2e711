"""The notebook's exercises, graded by replaying traffic through every layer.

A header answer passes when, over half an hour of seeded shopping traffic (two
users to each family laptop, prices and accounts changing now and then):

* nobody is ever shown another user's account page, and the CDN stores none;
* every page is as fresh as :data:`REQUIREMENTS` asks;
* the origin does no needless work: the fingerprinted asset is fetched at most
  twice, and product and search pages reach the origin at most 25% more often
  (plus a little slack) than with the reference headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..errors import LabError
from ..exercises import Exercise
from .policy import ENDPOINTS, HeaderSet, header_policy
from .site import Event, Lab, Report, replay, traffic

__all__ = ["REQUIREMENTS", "REFERENCE_POLICY", "grade_headers", "grading_traffic",
           "exercises", "STALENESS_LIMIT_SECONDS"]

STALENESS_LIMIT_SECONDS = {"product": 60.0, "account": 60.0, "search": 120.0}
ASSET_ORIGIN_FETCHES_ALLOWED = 2
LOAD_TOLERANCE = 1.25
LOAD_SLACK = 10
_SLACK_SECONDS = 1.0  # one request's own latency

REQUIREMENTS = {
    "asset": "/static/app.3f9a2c1e.js - the name changes whenever the file does; "
             "fetch it from the origin as rarely as possible.",
    "product": "/product/N - public; a price change must reach every shopper within 60 s.",
    "account": "/account - per user (session cookie); never shown to anyone else, never "
               "kept by the CDN; changes show within 60 s. Some users share a laptop.",
    "search": "/search?q=... - the same for everyone; results may be up to 120 s old "
              "(the origin's app cache already adds up to 30 s).",
}

REFERENCE_POLICY: dict[str, HeaderSet] = {
    "asset": HeaderSet("public, max-age=31536000, immutable"),
    "product": HeaderSet("public, max-age=60"),
    "account": HeaderSet("private, no-cache", "Cookie"),
    "search": HeaderSet("public, max-age=60"),
}

_SITE = {"users": 24, "users_per_browser": 2, "products": 40, "app_ttl_seconds": 30.0}


@lru_cache(maxsize=1)
def grading_traffic() -> tuple[Event, ...]:
    return tuple(traffic(
        users=_SITE["users"], products=_SITE["products"], requests=1500, duration_seconds=1800,
        product_writes_per_minute=2, account_writes_per_minute=1, seed=6,
    ))


def _replay(lab: Lab, policy: Mapping[str, HeaderSet]) -> Report:
    site = lab.site(headers=dict(policy), **_SITE)
    try:
        return replay(site, grading_traffic())
    finally:
        lab.close_site(site)


def _reference(lab: Lab) -> Report:
    if "reference" not in lab.memo:
        lab.memo["reference"] = _replay(lab, REFERENCE_POLICY)
    return lab.memo["reference"]  # type: ignore[return-value]


def _parse_answer(answer: Any) -> dict[str, HeaderSet]:
    if not isinstance(answer, Mapping):
        raise LabError(
            "Answer with a dict of the four endpoints, like {'asset': '...', 'product': '...', "
            "'account': {'Cache-Control': '...', 'Vary': '...'}, 'search': '...'}."
        )
    missing = [e for e in ENDPOINTS if e not in answer]
    if missing:
        raise LabError(
            f"Give headers for all four endpoints ({', '.join(ENDPOINTS)}); missing: {', '.join(missing)}."
        )
    return header_policy(answer)


def grade_headers(answer: Any, lab: Lab, *, reference: Report | None = None) -> tuple[bool, str]:
    """Replay the grading traffic with ``answer``'s headers; (passed, one-line verdict)."""
    policy = _parse_answer(answer)
    report = _replay(lab, policy)
    leaks = report.cross_user_visits
    if leaks:
        v = leaks[0]
        where = ("by the CDN" if v.served_from == "CDN"
                 else "by a shared laptop's browser cache")
        fix = ("per-user pages must be private" if v.served_from == "CDN"
               else "add Vary: Cookie (one copy per signed-in user) or make the browser revalidate")
        return False, (f"{len(leaks)} account views showed someone else's page - user {v.user} "
                       f"got user {v.page_user}'s, served {where}; {fix}.")
    if report.account_pages_in_cdn:
        return False, ("No one saw another's page this time, but the CDN kept "
                       f"{report.account_pages_in_cdn} account pages - per-user data in a shared "
                       "cache; mark /account private.")
    for endpoint, limit in STALENESS_LIMIT_SECONDS.items():
        worst = report.max_stale_seconds(endpoint)
        if worst > limit + _SLACK_SECONDS:
            return False, (f"{endpoint} pages were up to {worst:.0f} s out of date after a change; "
                           f"the limit is {limit:.0f} s, so shorten how long the caches keep them.")
    asset_fetches = report.origin_requests["asset"]
    if asset_fetches > ASSET_ORIGIN_FETCHES_ALLOWED:
        return False, (f"The fingerprinted asset was fetched from the origin {asset_fetches} times "
                       "in 30 minutes; its name changes whenever its content does, so every layer "
                       "may keep it for a year.")
    ref = reference or _reference(lab)
    for endpoint in ("product", "search"):
        mine, best = report.origin_requests[endpoint], ref.origin_requests[endpoint]
        if mine > LOAD_TOLERANCE * best + LOAD_SLACK:
            return False, (f"{endpoint} pages reached the origin {mine} times, against {best} when "
                           "the CDN shares one copy among all users; let the CDN keep them as long "
                           "as freshness allows.")
    origin_total = sum(report.origin_requests.values()) + report.not_modified_at_origin
    return True, (f"No leaks, nothing per-user in the CDN, every page fresh enough, and the origin "
                  f"handled {origin_total} of {len(report.visits)} requests.")


def exercises(lab: Lab) -> dict[str, Exercise]:
    """The notebook's exercises, bound to this lab's origin."""
    headers = Exercise(
        "06", "headers-for-four-endpoints",
        check=lambda answer: grade_headers(answer, lab),
        hint=("Ask of each page: is it the same for everyone (then the CDN may share it) or per "
              "user (then private, and Vary on what identifies the user)? Then: how stale may it "
              "be? A fingerprinted name never changes content."),
        solution=(
            "answer = {\n"
            "    'asset':   'public, max-age=31536000, immutable',\n"
            "    'product': 'public, max-age=60',\n"
            "    'account': {'Cache-Control': 'private, no-cache', 'Vary': 'Cookie'},\n"
            "    'search':  'public, max-age=60',\n"
            "}\n"
            "# account could also be 'private, max-age=30' with Vary: Cookie; product could use\n"
            "# 'public, max-age=30, s-maxage=60'. 'no-store' on account passes too, at the price\n"
            "# of sending the whole page every time."
        ),
    )
    staleness = Exercise(
        "06", "worst-case-staleness",
        check=_check_staleness,
        hint=("The browser does not start its own clock at zero: the CDN tells it the copy's age "
              "in the Age header. Which cache holds the oldest copy, and for how long?"),
        solution=(
            "answer = 600\n"
            "# The CDN may keep the page 600 s (s-maxage). The browser counts the Age the CDN\n"
            "# sends, so its own 60 s run from when the origin made the page, not from when the\n"
            "# browser got it: the worst case is 600 s, not 660 s."
        ),
    )
    return {"headers": headers, "staleness": staleness}


def _check_staleness(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise LabError(f"Answer with a number of seconds, like 120 (got {answer!r}).")
    if abs(answer - 600) <= 5:
        return True, ("600 s: the CDN's copy lives 600 s, and the browser's 60 s count from when "
                      "the origin made the page, because the CDN reports its age.")
    if abs(answer - 660) <= 5:
        return False, ("Close: that adds the browser's 60 s on top, but the browser counts the Age "
                       "the CDN reports, so its copy expires when the CDN's would be 60 s old.")
    return False, ("Find the layer that may hold a copy longest, and remember the Age header "
                   "tells the browser how old a CDN copy already is.")
