"""Cache layers: browser, CDN, application cache and database query cache, over real HTTP.

==================  ==========================================================
``policy``          the headers each endpoint sends, checked one clear sentence at a time
``trace``           the latency model and each request's hops
``origin``          the shop over HTTP on 127.0.0.1, its app cache and query cache
``http_cache``      browser and CDN caches that decide by RFC 9111 (hishel's state machine)
``site``            the whole path, seeded traffic, replays and their reports
``explore``         the notebook's live charts
``grading``         the exercises, graded by replaying traffic through every layer
==================  ==========================================================
"""

from __future__ import annotations

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
    "header_policy",
    "header_set",
    "replay",
    "traffic",
]

from . import explore, grading  # noqa: E402
from .explore import (  # noqa: E402
    describe,
    explore_leak,
    explore_revalidation,
    explore_staleness,
    explore_traffic,
    explore_waterfall,
)
from .grading import REQUIREMENTS, exercises  # noqa: E402

__all__ += [
    "REQUIREMENTS",
    "describe",
    "exercises",
    "explore",
    "explore_leak",
    "explore_revalidation",
    "explore_staleness",
    "explore_traffic",
    "explore_waterfall",
    "grading",
]
