"""The numbers notebook 06's prose states, measured with the notebook's own settings.

They replay seeded traffic on a virtual clock through a lab of their own: a real
HTTP origin on loopback with a fakeredis app cache, stopped when Python exits.
"""

from __future__ import annotations

import atexit

from ..claims import claim
from ..memo import memo
from .experiments import measure_leak, measure_revalidation, measure_staleness, measure_traffic, waterfall_scenario
from .site import Lab
from .trace import NETWORKS

NOTEBOOK = "06"


@memo(maxsize=1)
def _lab() -> Lab:
    from ..connection import connect

    lab = Lab(connect("fakeredis://", namespace="06-claims"))
    atexit.register(lab.close)
    return lab


@memo(maxsize=1)
def _traffic():
    return measure_traffic(_lab())


@memo(maxsize=4)
def _staleness(invalidate_app_cache_on_write: bool = True, purge_cdn_on_write: bool = False):
    return measure_staleness(_lab(), invalidate_app_cache_on_write=invalidate_app_cache_on_write,
                             purge_cdn_on_write=purge_cdn_on_write)


@claim("cold_view_ms", notebook=NOTEBOOK, fact="a cold page view crossing every layer takes about a tenth of a second",
       holds=lambda v: 90 <= v <= 150)
def cold_view_ms() -> float:
    return waterfall_scenario(_lab())[0].visit.seconds * 1000


@claim("cold_wire_share", notebook=NOTEBOOK, fact="most of a cold view's time is on the wire, not in the server",
       holds=lambda v: 0.6 <= v <= 0.9)
def cold_wire_share() -> float:
    cold = waterfall_scenario(_lab())[0].visit
    return sum(h.seconds for h in cold.hops if h.layer in NETWORKS) / cold.seconds


@claim("edge_share_one_user", notebook=NOTEBOOK, fact="one shopper gets almost nothing from browsers and CDN",
       holds=lambda v: v < 0.1)
def edge_share_one_user() -> float:
    return _traffic()[0].edge_share


@claim("edge_share_many_users", notebook=NOTEBOOK,
       fact="with 125 shoppers the browsers and the CDN answer over half of all requests", holds=lambda v: v > 0.5)
def edge_share_many_users() -> float:
    return _traffic()[-1].edge_share


@claim("median_ms_one_user", notebook=NOTEBOOK, fact="a lone shopper's median view crosses to the origin",
       holds=lambda v: v > median_ms_many_users())
def median_ms_one_user() -> float:
    return _traffic()[0].median_ms


@claim("median_ms_many_users", notebook=NOTEBOOK, fact="sharing makes the median view faster",
       holds=lambda v: v < median_ms_one_user())
def median_ms_many_users() -> float:
    return _traffic()[-1].median_ms


@claim("not_modified_share_of_full", notebook=NOTEBOOK,
       fact="a 304 saves the body, not the round trip: it takes a large share of a full fetch",
       holds=lambda v: 0.35 <= v <= 0.75)
def not_modified_share_of_full() -> float:
    fetches = measure_revalidation(_lab())
    return fetches[1].seconds / fetches[2].seconds


@claim("cdn_worst_stale_seconds", notebook=NOTEBOOK,
       fact="without a purge the CDN shows the old price longest, within its s-maxage of 300 s",
       holds=lambda v: 100 < v <= 301)
def cdn_worst_stale_seconds() -> float:
    return _staleness().worst_by_layer["CDN"]


@claim("purge_without_app_invalidation_seconds", notebook=NOTEBOOK,
       fact="a CDN purge refilled from a stale app cache lasts longer than no purge at all",
       holds=lambda v: v > cdn_worst_stale_seconds())
def purge_without_app_invalidation_seconds() -> float:
    return _staleness(invalidate_app_cache_on_write=False, purge_cdn_on_write=True).worst_by_layer["CDN"]


@claim("leaked_users", notebook=NOTEBOOK,
       fact="with public, max-age=60 on /account nearly every one of 30 users sees another's page",
       holds=lambda v: v >= 25)
def leaked_users() -> int:
    return measure_leak(_lab()).users_shown_someone_else
