"""Cache layers: browser, CDN, application cache and database query cache, over real HTTP.

==================  ==========================================================
``policy``          the headers each endpoint sends, checked one clear sentence at a time
``trace``           the latency model and each request's hops
``origin``          the shop over HTTP on 127.0.0.1, its app cache and query cache
``rfc9111``         the one place labkit meets hishel (RFC 9111's decisions, public API)
``http_cache``      browser and CDN caches that decide by RFC 9111
``site``            the whole path, seeded traffic, replays and their reports
``experiments``     the notebook's measurements and the header grader (numbers only)
``lesson``          the notebook's live charts and exercises (loaded on use)
``claims``          the numbers notebook 06's prose states
==================  ==========================================================
"""

from __future__ import annotations

from ..course import lesson_attributes
from .experiments import REFERENCE_POLICY, REQUIREMENTS, grade_headers
from .http_cache import Exchange, HttpCache
from .origin import OriginServer, QueryCache, Shop
from .policy import ASSET_PATH, DEFAULT_POLICY, ENDPOINTS, LEAKY_ACCOUNT, HeaderSet, header_policy, header_set
from .site import DEFAULT_MIX, Event, Lab, Report, Site, Visit, replay, traffic
from .trace import LAYERS, Hop, LatencyModel

__all__ = [
    "ASSET_PATH",
    "DEFAULT_MIX",
    "DEFAULT_POLICY",
    "ENDPOINTS",
    "LAYERS",
    "LEAKY_ACCOUNT",
    "REFERENCE_POLICY",
    "REQUIREMENTS",
    "Event",
    "Exchange",
    "HeaderSet",
    "Hop",
    "HttpCache",
    "Lab",
    "LatencyModel",
    "OriginServer",
    "QueryCache",
    "Report",
    "Shop",
    "Site",
    "Visit",
    "grade_headers",
    "header_policy",
    "header_set",
    "replay",
    "traffic",
]

_LESSON = {"describe", "exercises", "explore_leak", "explore_revalidation", "explore_staleness",
           "explore_traffic", "explore_waterfall"}


__getattr__ = lesson_attributes(__name__, _LESSON)
