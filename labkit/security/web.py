"""The shop's origin, the CDN in front of it, and the rules the CDN caches by.

Pure: a :class:`Request` in, a :class:`Response` out.  ``servers`` puts the same
two objects on real HTTP (``http.server`` on loopback); the replays call them
directly on a virtual clock.  Nothing here parses bytes.

The origin reflects three **unkeyed inputs** - ``X-Forwarded-Host`` and
``X-Forwarded-Scheme`` into its script URL, and the ``utm_content`` query parameter
into a share link - and its router is lax: ``/account/settings/x.css``,
``/account/settings;x.js`` and ``/account/settings%2Fx.png`` all reach the private
settings page (``public, max-age=60, private``: the framework's default, and the view's
addition), as ``/account/orders/x.css`` reaches the orders page (``..., no-store``).

>>> page = origin(Request("/", headers={"host": "shop.example", "x-forwarded-host": "evil.example"}))
>>> "https://evil.example/static/app.js" in page.body
True
>>> origin(Request("/account/settings;x.js", headers={"cookie": "session=alice"})).headers["cache-control"]
'public, max-age=60, private'
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from ..clock import Clock, VirtualClock
from ..errors import LabError

__all__ = [
    "Request", "Response", "origin", "Cdn", "SITES", "SESSIONS", "STATIC_EXTENSIONS", "MARKETING_PARAMS",
    "insecure_key", "by_extension", "extension_of", "PROBES", "key_audit",
]

SITES = {"shop.example": "The Shop", "blog.example": "The Shop's blog"}
SESSIONS = {"alice": ("Alice", "sk_live_alice_4f9a"), "bob": ("Bob", "sk_live_bob_77c1")}
STATIC_EXTENSIONS = (".css", ".js", ".png", ".jpg", ".svg", ".ico", ".woff2")
MARKETING_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


@dataclass(frozen=True)
class Request:
    """A GET as the CDN sees it: the raw path, the query and lower-case headers."""

    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"

    @property
    def host(self) -> str:
        return self.headers.get("host", "shop.example")

    @property
    def url(self) -> str:
        return self.path + (f"?{urlencode(self.query)}" if self.query else "")


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def cache_control(self) -> dict[str, str]:
        """``Cache-Control`` as directives: ``{"public": "", "max-age": "60"}``."""
        parts = (p.strip() for p in self.headers.get("cache-control", "").split(","))
        return dict((p.split("=", 1) + [""])[:2] for p in parts if p)  # type: ignore[misc]

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    @property
    def max_age(self) -> int:
        age = self.cache_control.get("max-age", "")
        return int(age) if age.isdigit() else 0


def _route(path: str) -> str:
    """The origin's lax router: decodes %2F, drops ``;params``, matches by prefix."""
    path = unquote(path).split(";")[0]
    for prefix, route in (("/account/settings", "settings"), ("/account/orders", "orders"), ("/static/", "static")):
        if path.startswith(prefix):
            return route
    return {"/": "home", "/product": "product", "/cart": "cart"}.get(path, "missing")


SITE_DEFAULT = "public, max-age=60"  # the framework adds it to every page; views may add to it


def _page(body: str, cache_control: str | None = SITE_DEFAULT, content_type: str = "text/html") -> Response:
    headers = {"content-type": content_type}
    if cache_control is not None:
        headers["cache-control"] = cache_control
    return Response(200, headers, body)


def origin(request: Request) -> Response:
    """The shop's application server."""
    site = SITES.get(request.host, "The Shop")
    route = _route(request.path)
    if route == "home":
        # Absolute URLs built from what the load balancer forwards - or anyone sends.
        scheme = request.headers.get("x-forwarded-scheme", "https")          # unkeyed input 1
        script_host = request.headers.get("x-forwarded-host", request.host)  # unkeyed input 2
        share = request.query.get("utm_content")                             # unkeyed input 3
        body = f"<h1>{site}</h1><script src='{scheme}://{script_host}/static/app.js'></script>"
        if share:
            body += f"<a href='/?utm_content={share}'>share this page</a>"
        return _page(body)
    if route == "product":
        return _page(f"<h1>{site}: product {request.query.get('id', '?')}</h1>")
    if route == "static":
        ext = extension_of(request.path)
        return _page(f"/* {request.path} */", "public, max-age=86400", _TYPES.get(ext, "application/octet-stream"))
    if route in ("settings", "orders", "cart"):
        session = _cookie(request, "session")
        if session not in SESSIONS:
            return Response(302, {"location": "/login", "cache-control": "no-store"}, "")
        name, api_key = SESSIONS[session]
        if route == "settings":  # the view adds private to the framework's default
            return _page(f"<h1>{name}'s settings</h1><p>API key: {api_key}</p>", SITE_DEFAULT + ", private")
        if route == "orders":    # ... and this one no-store
            return _page(f"<h1>{name}'s orders</h1><p>Card ending {api_key[-4:]}</p>", SITE_DEFAULT + ", no-store")
        return _page(f"<h1>{name}'s cart</h1>", None)  # an older handler: no Cache-Control at all
    return Response(404, {"content-type": "text/html", "cache-control": "no-store"}, "<h1>Not found</h1>")


def _cookie(request: Request, name: str) -> str | None:
    for part in request.headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def extension_of(path: str) -> str:
    """The extension the CDN sees at the end of the raw path: ``".css"`` or ``""``."""
    last = path.rsplit("/", 1)[-1]
    return "." + last.rsplit(".", 1)[-1].lower() if "." in last else ""


# -- the CDN's rules, as shipped (both insecure) --------------------------------------------


def insecure_key(request: Request) -> Hashable:
    """Host, path and query - marketing parameters dropped, so campaign links share a copy."""
    query = {k: v for k, v in request.query.items() if k not in MARKETING_PARAMS}
    return (request.host, request.path, tuple(sorted(query.items())))


def by_extension(request: Request, response: Response) -> bool:
    """Static-looking URLs are cached whatever the origin says; other pages by their headers."""
    if extension_of(request.path) in STATIC_EXTENSIONS:
        return response.status == 200
    cc = response.cache_control
    return response.status == 200 and "public" in cc and "private" not in cc and "no-store" not in cc


_HOME = {"host": "shop.example"}
PROBES = (  # an input, and two home-page requests that differ only in it
    ("Host", Request("/", headers=_HOME), Request("/", headers={"host": "blog.example"})),
    ("query: id (a product)", Request("/product", {"id": "1"}, _HOME), Request("/product", {"id": "2"}, _HOME)),
    ("query: utm_source", Request("/", headers=_HOME), Request("/", {"utm_source": "ads"}, _HOME)),
    ("query: utm_content", Request("/", headers=_HOME), Request("/", {"utm_content": "x"}, _HOME)),
    ("X-Forwarded-Host", Request("/", headers=_HOME), Request("/", headers={**_HOME, "x-forwarded-host": "x"})),
    ("X-Forwarded-Scheme", Request("/", headers=_HOME),
     Request("/", headers={**_HOME, "x-forwarded-scheme": "http"})),
    ("Accept-Language", Request("/", headers=_HOME), Request("/", headers={**_HOME, "accept-language": "fr"})),
    ("Cookie", Request("/", headers=_HOME), Request("/", headers={**_HOME, "cookie": "session=alice"})),
)


def key_audit(cache_key: Callable[[Request], Hashable]) -> list[dict[str, str]]:
    """For each input: does the origin's answer change with it, and does the key?

    >>> [row["input"] for row in key_audit(insecure_key) if row["verdict"].startswith("UNKEYED")]
    ['query: utm_content', 'X-Forwarded-Host', 'X-Forwarded-Scheme']
    """
    rows = []
    for name, a, b in PROBES:
        changes = (origin(a).status, origin(a).body) != (origin(b).status, origin(b).body)
        keyed = cache_key(a) != cache_key(b)
        verdict = ("UNKEYED: one request can poison the copy others get" if changes and not keyed
                   else "keyed" if keyed else "ignored by both")
        rows.append({"input": name, "changes the page": "yes" if changes else "no",
                     "in the key": "yes" if keyed else "no", "verdict": verdict})
    return rows


KeyRule = Callable[[Request], Hashable]
CacheRule = Callable[[Request, Response], bool]


class Cdn:
    """A shared cache in front of ``fetch`` (the origin, in process or over HTTP).

    ``cache_key(request)`` says which stored copy answers a request;
    ``cacheable(request, response)`` says whether a response may be stored for everyone.
    A stored copy lives for the response's ``max-age``, or ``default_ttl_seconds``.

    >>> cdn = Cdn(origin, insecure_key, by_extension, clock=VirtualClock())
    >>> [cdn.handle(Request("/product", {"id": "1"}))[1] for _ in range(2)]
    ['MISS', 'HIT']
    """

    def __init__(self, fetch: Callable[[Request], Response], cache_key: KeyRule, cacheable: CacheRule, *,
                 clock: Clock | None = None, default_ttl_seconds: float = 60.0,
                 ttl_seconds: float | None = None) -> None:
        self.fetch, self.cache_key, self.cacheable = fetch, cache_key, cacheable
        self.clock = clock or VirtualClock()
        self.default_ttl_seconds, self.ttl_seconds = default_ttl_seconds, ttl_seconds
        self.copies: dict[Any, tuple[float, Response]] = {}
        self.hits = self.misses = 0

    def handle(self, request: Request) -> tuple[Response, str]:
        """The response and ``"HIT"``, ``"MISS"`` (stored) or ``"PASS"`` (not stored)."""
        if request.method != "GET":
            return self.fetch(request), "PASS"
        key = self.cache_key(request)
        try:
            stored = self.copies.get(key)
        except TypeError:
            raise LabError(f"A cache key must be hashable, such as a string or a tuple (got {key!r}).") from None
        now = self.clock.now()
        if stored is not None and stored[0] > now:
            self.hits += 1
            return stored[1], "HIT"
        self.misses += 1
        response = self.fetch(request)
        if not self.cacheable(request, response):
            return response, "PASS"
        ttl = self.ttl_seconds or response.max_age or self.default_ttl_seconds
        self.copies[key] = (now + ttl, response)
        return response, "MISS"

    @property
    def hit_ratio(self) -> float:
        return self.hits / max(self.hits + self.misses, 1)
