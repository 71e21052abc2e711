"""The whole request path, and replays of traffic through it.

``browser (private, one per device) → user↔CDN link → CDN (shared) → CDN↔origin
link → origin over real HTTP → app cache (Redis) → query cache → database``.

:class:`Lab` owns the origin server (start it once per notebook, stop it in the
clean-up cell); :meth:`Lab.site` builds a fresh shop with its own headers,
database, caches and virtual clock, so every experiment starts cold.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from ..clock import Clock, VirtualClock
from ..errors import LabError, check_choice, check_positive
from ..memo import memo
from ..metrics import percentile
from ..store import Store
from .http_cache import HttpCache, Link, OriginClient
from .origin import SEARCH_TERMS, OriginServer, Shop, endpoint_of
from .policy import ASSET_PATH, ENDPOINTS, HeaderSet, header_policy
from .rfc9111 import Headers, Request
from .trace import LAYERS, NETWORKS, Hop, LatencyModel, Trace

__all__ = ["Lab", "Site", "Visit", "Report", "Event", "traffic", "replay", "DEFAULT_MIX"]

DEFAULT_MIX = {"asset": 0.25, "product": 0.5, "account": 0.15, "search": 0.10}


@dataclass(frozen=True)
class Visit:
    """One page view, as the user experienced it."""

    at_seconds: float
    user: int
    path: str
    endpoint: str
    status: int
    answered_by: str          # the deepest layer the request reached
    served_from: str          # whose stored copy (or fresh response) the user got
    revalidated: bool         # a stored copy was confirmed with a 304
    seconds: float
    hops: tuple[Hop, ...]
    bytes_to_user: int
    page_user: int | None     # for /account: whose page came back
    stale_seconds: float      # how long ago the data shown stopped being current

    @property
    def cross_user(self) -> bool:
        return self.page_user is not None and self.page_user != self.user


def _page_fields(body: bytes) -> dict:
    """The small fields of a page (they come first; the filler is not parsed)."""
    cut = body.find(b', "filler"')
    return _parsed_head(body[:cut] + b"}") if cut > 0 else json.loads(body)


@memo(maxsize=4096)  # a replay's pages repeat: the same few hundred heads
def _parsed_head(head: bytes) -> dict:
    return json.loads(head)


class Site:
    """A shop behind browsers and a CDN, all on one clock.

    ``users_per_browser=2`` puts two users on each device (a family laptop, a
    library kiosk): what the browser stores for one, the next one may be shown.
    """

    def __init__(
        self,
        origin: OriginServer,
        store: Store,
        *,
        headers: Mapping[str, HeaderSet | str | Mapping[str, str]] | None = None,
        users: int = 20,
        products: int = 50,
        users_per_browser: int = 1,
        identity: str = "cookie",
        app_ttl_seconds: float | None = 30.0,
        invalidate_app_cache_on_write: bool = True,
        purge_cdn_on_write: bool = False,
        etags: bool = True,
        latency: LatencyModel = LatencyModel(),
        clock: Clock | None = None,
    ) -> None:
        self.users = int(check_positive("users", users))
        self.products = int(check_positive("products", products))
        self.users_per_browser = int(check_positive("users_per_browser", users_per_browser))
        self.identity = check_choice("identity", identity, ("cookie", "authorization"))
        self.policy = header_policy(headers)
        self.purge_cdn_on_write = purge_cdn_on_write
        self.latency = latency
        self.clock = clock or VirtualClock(1_000.0)
        self.origin = origin
        self.site_id, self.shop = origin.mount(lambda site_id: Shop(
            store, self.clock, site_id=site_id, headers=self.policy, products=self.products,
            users=self.users, app_ttl_seconds=app_ttl_seconds,
            invalidate_app_cache_on_write=invalidate_app_cache_on_write, etags=etags,
            latency=latency,
        ))
        self.db = self.shop.db
        self.client = OriginClient(origin.host, origin.port, self.site_id)
        self.cdn_origin = Link(NETWORKS[1], rtt_seconds=latency.cdn_origin_rtt_seconds,
                               bytes_per_second=latency.origin_bytes_per_second, target=self.client)
        self.cdn = HttpCache("CDN", shared=True, upstream=self.cdn_origin,
                             lookup_seconds=latency.cdn_lookup_seconds)
        self.user_cdn = Link(NETWORKS[0], rtt_seconds=latency.user_cdn_rtt_seconds,
                             bytes_per_second=latency.user_bytes_per_second, target=self.cdn.handle)
        n_browsers = -(-self.users // self.users_per_browser)
        self.browsers = [
            HttpCache("browser", shared=False, upstream=self.user_cdn,
                      lookup_seconds=latency.browser_lookup_seconds)
            for _ in range(n_browsers)
        ]

    # -- requests -----------------------------------------------------------------------
    def browser_of(self, user: int) -> HttpCache:
        return self.browsers[user // self.users_per_browser]

    def _user_headers(self, user: int) -> dict[str, str]:
        if self.identity == "cookie":
            return {"cookie": f"session=user-{user}"}
        return {"authorization": f"Bearer user-{user}"}

    def get(self, user: int, path: str) -> Visit:
        """User ``user`` opens ``path`` in their browser."""
        if isinstance(user, bool) or not isinstance(user, (int, np.integer)) or not 0 <= user < self.users:
            raise LabError(f"user must be a whole number from 0 to {self.users - 1} (got {user!r}).")
        endpoint = endpoint_of(path)
        if endpoint is None:
            raise LabError(
                f"{path!r} is not a page of this shop; try {ASSET_PATH!r}, '/product/3', "
                "'/account' or '/search?q=lamp'."
            )
        user = int(user)
        trace = Trace(self.clock)
        started = self.clock.now()
        request = Request("GET", path, Headers(self._user_headers(user)))
        exchange = self.browser_of(user).handle(request, trace)
        answered = exchange.revalidated_by or exchange.answered_by
        page_user, stale = self._inspect(endpoint, exchange.body)
        return Visit(
            at_seconds=started, user=user, path=path, endpoint=endpoint, status=exchange.status,
            answered_by=answered, served_from=exchange.answered_by,
            revalidated=exchange.revalidated_by is not None, seconds=trace.seconds,
            hops=tuple(trace.hops), bytes_to_user=trace.bytes_on.get(NETWORKS[0], 0),
            page_user=page_user, stale_seconds=stale,
        )

    def _inspect(self, endpoint: str, body: bytes) -> tuple[int | None, float]:
        """Whose page is this, and how stale is its data (from the database's record)."""
        if endpoint == "asset" or not body:
            return None, 0.0
        data = _page_fields(body)
        now = self.clock.now()
        if endpoint == "product":
            return None, self.db.stale_age(data["id"], data["version"], now)
        if endpoint == "account":
            owner = int(data["user"][5:])
            return owner, self.db.stale_age(self.shop.account_row(owner), data["version"], now)
        return None, max((self.db.stale_age(i, v, now) for i, v in data["results"]), default=0.0)

    def write(self, kind: str, n: int, value: str | None = None) -> None:
        """The back office changes product ``n`` or user ``n``'s account (straight to the origin)."""
        check_choice("kind", kind, ("product", "account"))
        body = (value or f"{kind} {n} changed at {self.clock.now():.0f}").encode()
        status, _, _ = self.client.send("POST", f"/{kind}/{n}", {"content-type": "text/plain"}, body)
        if status != 204:
            raise LabError(f"There is no {kind} {n} in this shop (the origin answered {status}).")
        if self.purge_cdn_on_write and kind == "product":
            self.cdn.purge(f"/product/{n}")

    def close(self) -> None:
        """Close the connection, stop serving this shop and delete its app-cache keys."""
        self.client.close()
        self.origin.unmount(self.site_id)
        keys = self.shop.app_cache.store.scan_keys(self.shop.app_cache.prefix + "*")
        if keys:
            self.shop.app_cache.store.delete(*keys)
        self.db.close()

    def __repr__(self) -> str:
        return (f"<Site {self.site_id}: {self.users} users on {len(self.browsers)} browsers, "
                f"{self.products} products, origin {self.origin.url}>")


@dataclass(frozen=True)
class Event:
    """At ``t`` seconds, ``user`` opens ``path`` (or, with ``write``, the back office writes)."""

    t: float
    user: int
    path: str
    write: str | None = None  # "product" or "account" for a back-office write of row `user`


def traffic(
    *,
    users: int,
    requests: int,
    duration_seconds: float = 600.0,
    products: int = 50,
    mix: Mapping[str, float] | None = None,
    alpha: float = 0.9,
    product_writes_per_minute: float = 0.0,
    account_writes_per_minute: float = 0.0,
    seed: int = 0,
) -> list[Event]:
    """Seeded shopping traffic: page views spread over ``duration_seconds``, plus writes."""
    check_positive("users", users)
    check_positive("requests", requests)
    check_positive("duration_seconds", duration_seconds, "s")
    shares = dict(DEFAULT_MIX if mix is None else mix)
    for name in shares:
        check_choice("endpoint in mix", name, ENDPOINTS)
    rng = np.random.default_rng(seed)
    kinds = list(shares)
    p = np.array([shares[k] for k in kinds], dtype=float)
    if p.sum() <= 0:
        raise LabError("mix needs at least one endpoint with a share > 0.")
    picks = rng.choice(len(kinds), size=requests, p=p / p.sum())
    times = np.sort(rng.uniform(0, duration_seconds, size=requests))
    who = rng.integers(0, users, size=requests)
    zipf = 1.0 / np.arange(1, products + 1) ** alpha
    product_ids = rng.choice(products, size=requests, p=zipf / zipf.sum())
    term_ids = rng.integers(0, len(SEARCH_TERMS), size=requests)
    events = []
    for t, k, u, pid, term in zip(times, picks, who, product_ids, term_ids, strict=True):
        kind = kinds[k]
        path = {"asset": ASSET_PATH, "product": f"/product/{pid}", "account": "/account",
                "search": f"/search?q={SEARCH_TERMS[term]}"}[kind]
        events.append(Event(float(t), int(u), path))
    for rate, kind, count in ((product_writes_per_minute, "product", products),
                              (account_writes_per_minute, "account", users)):
        n = int(round(rate * duration_seconds / 60))
        if n:
            w_times = rng.uniform(0, duration_seconds, size=n)
            w_rows = (rng.choice(products, size=n, p=zipf / zipf.sum()) if kind == "product"
                      else rng.integers(0, count, size=n))
            events += [Event(float(t), int(r), "", write=kind) for t, r in zip(w_times, w_rows, strict=True)]
    events.sort(key=lambda e: e.t)
    return events


@dataclass
class Report:
    """What a replay measured, per layer and per endpoint."""

    visits: list[Visit]
    origin_requests: dict[str, int]
    not_modified_at_origin: int
    db_queries: int
    cdn_stored_paths: list[str]
    writes: int

    def answered_share(self, endpoint: str | None = None) -> dict[str, float]:
        chosen = [v for v in self.visits if endpoint in (None, v.endpoint)]
        counts = Counter(v.answered_by for v in chosen)
        return {layer: counts.get(layer, 0) / len(chosen) if chosen else 0.0 for layer in LAYERS}

    @property
    def cross_user_visits(self) -> list[Visit]:
        return [v for v in self.visits if v.cross_user]

    def max_stale_seconds(self, endpoint: str | None = None) -> float:
        return max((v.stale_seconds for v in self.visits if endpoint in (None, v.endpoint)), default=0.0)

    def stale_share(self, endpoint: str | None = None) -> float:
        chosen = [v for v in self.visits if endpoint in (None, v.endpoint)]
        return sum(v.stale_seconds > 0 for v in chosen) / len(chosen) if chosen else 0.0

    def latency_ms(self, q: float, endpoint: str | None = None) -> float:
        return percentile([v.seconds for v in self.visits if endpoint in (None, v.endpoint)], q) * 1000

    def views(self, endpoint: str | None = None) -> int:
        return sum(1 for v in self.visits if endpoint in (None, v.endpoint))

    @property
    def origin_share(self) -> float:
        total = sum(self.origin_requests.values()) + self.not_modified_at_origin
        return total / len(self.visits) if self.visits else 0.0

    @property
    def account_pages_in_cdn(self) -> int:
        return sum(1 for p in self.cdn_stored_paths if endpoint_of(p) == "account")


def _current_cpu() -> int | None:
    """The CPU this thread runs on now (Linux), else None."""
    try:
        with open("/proc/thread-self/stat") as f:
            return int(f.read().rpartition(")")[2].split()[36])
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def _one_cpu(site: Site) -> Iterator[None]:
    """Run this thread and the origin's thread for ``site``'s connection on one CPU.

    A replay is one request at a time: the client sends, then waits while the origin
    works, then the origin waits while the client works.  On two CPUs every turn wakes
    a thread on the other CPU, which on a busy machine may first have to wait for it;
    on one CPU a turn is a switch between two threads.  Both are let go afterwards.
    Where threads cannot be pinned (not Linux, one CPU, a sandbox that refuses) the
    replay runs as it would anyway.
    """
    try:
        mine = os.sched_getaffinity(0)
        here = _current_cpu()
        cpu = frozenset({here if here in mine else min(mine)})
        address = site.client.local_address() if len(mine) > 1 else None
        if address is not None:
            os.sched_setaffinity(0, cpu)
    except (AttributeError, OSError):  # no sched_* functions here, or not allowed
        address = None
    if address is None:
        yield
        return
    site.origin.share_cpus(address, cpu)
    try:
        yield
    finally:
        site.origin.share_cpus(address, None)
        os.sched_setaffinity(0, mine)


_PAUSE_LOCK = threading.Lock()
_pause = {"depth": 0, "was_enabled": True}


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a replay runs; it restarts afterwards.

    A replay keeps every visit and hop it measures (tens of thousands of small
    objects) and makes no reference cycles, so the collector's passes over them are
    pure cost: 5-8% of a 10,000-request replay.  Overlapping replays share one pause;
    a collector that was off before stays off.
    """
    with _PAUSE_LOCK:
        if _pause["depth"] == 0:
            _pause["was_enabled"] = gc.isenabled()
            gc.disable()
        _pause["depth"] += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _pause["depth"] -= 1
            if _pause["depth"] == 0 and _pause["was_enabled"]:
                gc.enable()


def replay(site: Site, events: Iterable[Event]) -> Report:
    """Play ``events`` through ``site`` in time order; the site's clock follows them."""
    visits: list[Visit] = []
    writes = 0
    can_jump = isinstance(site.clock, VirtualClock)
    with _one_cpu(site), _cycle_collector_paused():
        for event in events:
            if can_jump and event.t + 1_000.0 > site.clock.now():
                site.clock.set(event.t + 1_000.0)  # the site's clock starts at 1000 s
            if event.write:
                site.write(event.write, event.user)
                writes += 1
            else:
                visits.append(site.get(event.user, event.path))
    stats = site.shop.stats
    return Report(
        visits=visits,
        origin_requests=dict(stats.requests),
        not_modified_at_origin=stats.not_modified,
        db_queries=site.db.stats.reads,
        cdn_stored_paths=[p for p in site.cdn.stored_paths() for _ in range(site.cdn.stored_count(p))],
        writes=writes,
    )


class Lab:
    """The origin server for one notebook (or test), and a factory of fresh sites.

    >>> lab = Lab(labkit.connect(namespace="06"))   # doctest: +SKIP
    >>> site = lab.site(headers={"account": "public, max-age=60"})   # doctest: +SKIP
    >>> lab.close()   # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.origin = OriginServer().start()
        self._sites: list[Site] = []
        self.memo: dict[str, object] = {}  # results worth computing once per lab (grading)
        # Held while a remembered measurement runs and while stopping: a measurement
        # made ahead of time in the background never races the clean-up cell.
        self.lock = threading.RLock()

    def site(self, **options) -> Site:
        """A fresh site; restarts the origin if the clean-up cell stopped it (a chart moved later)."""
        if not self.origin.running:
            self.origin.start()
        site = Site(self.origin, self.store, **options)
        self._sites.append(site)
        return site

    def close_site(self, site: Site) -> None:
        if site in self._sites:
            self._sites.remove(site)
            site.close()

    def close(self) -> None:
        """Close every site's connection and stop the origin server."""
        with self.lock:
            for site in self._sites:
                site.close()
            self._sites.clear()
            self.origin.stop()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """One line for a learner: where the origin listens and what its app cache is."""
        return (f"Origin server at http://{self.origin.host}:{self.origin.port} (loopback only); "
                f"app cache: {self.store.describe()}")

    def __repr__(self) -> str:
        return f"<Lab origin={self.origin!r} cache={self.store.describe()}>"
