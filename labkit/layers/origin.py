"""The origin: a small shop served over real HTTP on 127.0.0.1.

Behind it sit the two server-side layers:

* the **application cache** - the lab's Redis store (fakeredis or a real server),
  cache-aside, with a TTL kept on the shop's clock;
* the **database query cache** - a small result cache keyed by SQL and parameters,
  emptied by any write to the table (as MySQL's query cache was), in front of the
  SQLite :class:`~labkit.database.Database`.

One :class:`OriginServer` (one port, one thread) hosts any number of shops, each
with its own database, clock and headers; a request names its shop in the
``X-Lab-Site`` header, which no cache uses as part of its key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from socketserver import StreamRequestHandler
from urllib.parse import parse_qs, urlsplit

from ..clock import Clock
from ..database import Database, Row
from ..errors import LabError, check_positive, check_ttl
from ..memo import memo
from ..store import Store
from .policy import ASSET_PATH, ENDPOINTS, HeaderSet
from .trace import LatencyModel

__all__ = [
    "QueryCache",
    "AppCache",
    "Shop",
    "OriginResponse",
    "OriginServer",
    "endpoint_of",
    "SEARCH_TERMS",
    "BODY_BYTES",
]

SEARCH_TERMS = ("lamp", "chair", "desk", "mug", "rug", "clock", "shelf", "plant")
# Rough page sizes, so a 304 that skips the body saves something worth seeing.
BODY_BYTES = {"asset": 150_000, "product": 40_000, "account": 6_000, "search": 20_000}
_SQL_ONE = "SELECT id, value, version, updated_at FROM items WHERE id = ?"
_RESULTS_PER_SEARCH = 4
_FILLER = ("lorem ipsum " * (max(BODY_BYTES.values()) // 12 + 1)).encode()
_FILLER_VIEW = memoryview(_FILLER)


def endpoint_of(path: str) -> str | None:
    """Which of the four endpoints a path belongs to (None for anything else)."""
    route = urlsplit(path).path
    if route == ASSET_PATH:
        return "asset"
    if route.startswith("/product/"):
        return "product"
    if route == "/account":
        return "account"
    if route == "/search":
        return "search"
    return None


class QueryCache:
    """Repeated query results, closest to the data: any write to the table empties it.

    That blunt rule is why such a cache is never stale - and why a busy table
    keeps it nearly empty.
    """

    def __init__(self, db: Database, *, capacity: int = 64, lookup_seconds: float = 0.0001) -> None:
        self.db = db
        self.capacity = int(check_positive("capacity", capacity))
        self.lookup_seconds = lookup_seconds
        self._results: OrderedDict[tuple[str, tuple[int, ...]], Row | None] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.invalidations = 0

    def read(self, row_id: int) -> tuple[Row | None, bool]:
        """The row and whether the query cache answered (True) or the database did."""
        key = (_SQL_ONE, (row_id,))
        self.db.clock.sleep(self.lookup_seconds)
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                self.hits += 1
                return self._results[key], True
            self.misses += 1
        row = self.db.read(row_id)
        with self._lock:
            self._results[key] = row
            if len(self._results) > self.capacity:
                self._results.popitem(last=False)
        return row, False

    def write(self, row_id: int, value: str) -> Row:
        row = self.db.write(row_id, value)
        with self._lock:
            self._results.clear()
            self.invalidations += 1
        return row

    def __len__(self) -> int:
        return len(self._results)


class AppCache:
    """Cache-aside in the lab's store, with expiry measured on the shop's clock.

    The deadline travels inside the value (``"<deadline> <data>"``; no TTL, no
    deadline), so a virtual hour of traffic expires entries correctly even though
    Redis itself counts real seconds; the Redis TTL is set too, so nothing outlives
    its welcome on a real server.
    """

    def __init__(self, store: Store, clock: Clock, *, prefix: str, ttl_seconds: float | None,
                 command_seconds: float = 0.0005) -> None:
        self.store, self.clock, self.prefix = store, clock, prefix
        self.ttl_seconds = check_ttl(ttl_seconds, "app_ttl_seconds")
        self.command_seconds = command_seconds
        self.hits = self.misses = 0

    def get(self, key: str) -> str | None:
        self.clock.sleep(self.command_seconds)
        raw = self.store.get(self.prefix + key)
        if raw is not None:
            deadline, _, data = raw.partition(" ")
            if not deadline or self.clock.now() < float(deadline):
                self.hits += 1
                return data
        self.misses += 1
        return None

    def set(self, key: str, data: str) -> None:
        self.clock.sleep(self.command_seconds)
        deadline = "" if self.ttl_seconds is None else repr(self.clock.now() + self.ttl_seconds)
        self.store.set(self.prefix + key, f"{deadline} {data}", ttl_seconds=self.ttl_seconds)

    def delete(self, key: str) -> None:
        self.clock.sleep(self.command_seconds)
        self.store.delete(self.prefix + key)


@dataclass
class OriginResponse:
    status: int
    headers: dict[str, str]
    body: bytes = b""


def _pad(text: str, size: int) -> str:
    return (text * (size // max(1, len(text)) + 1))[:size]


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


@memo(maxsize=4096)
def _page_etag(head: bytes, size: int) -> str:
    """The ETag of the page ``_page_body(head, size)``: the whole body hashed, once per page.

    Only the head of a page varies, so a page seen before (most of a replay's pages)
    does not hash its 40 kB again.
    """
    return etag_of(_page_body(head, size))


def _page_body(head: bytes, size: int) -> bytes:
    return b"".join((head, _FILLER_VIEW[: max(0, size - len(head) - 2)], b'"}'))  # one copy


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match uses (RFC 9110 section 13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag[2:] if etag.startswith("W/") else etag
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if (tag[2:] if tag.startswith("W/") else tag) == opaque:
            return True
    return False


@dataclass
class ShopStats:
    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENDPOINTS, 0))
    not_modified: int = 0
    writes: int = 0


class Shop:
    """The origin application: four endpoints over an app cache, a query cache and a DB.

    Rows ``0 .. products-1`` are products; row ``products + u`` is user ``u``'s account.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        site_id: str,
        headers: Mapping[str, HeaderSet],
        products: int = 50,
        users: int = 20,
        app_ttl_seconds: float | None = 30.0,
        invalidate_app_cache_on_write: bool = True,
        etags: bool = True,
        latency: LatencyModel = LatencyModel(),
        query_cache_capacity: int = 64,
    ) -> None:
        self.clock, self.latency = clock, latency
        self.products, self.users = int(products), int(users)
        self.headers = dict(headers)
        self.etags = etags
        self.invalidate_app_cache_on_write = invalidate_app_cache_on_write
        self.db = Database(clock, rows=self.products + self.users,
                           latency_seconds=latency.db_query_seconds, parallel_queries=4)
        self.query_cache = QueryCache(self.db, capacity=query_cache_capacity,
                                      lookup_seconds=latency.query_cache_seconds)
        self.app_cache = AppCache(store, clock, prefix=f"layers:{site_id}:",
                                  ttl_seconds=app_ttl_seconds, command_seconds=latency.redis_seconds)
        self.stats = ShopStats()
        self._lock = threading.Lock()  # one request at a time: the clock is shared
        self._asset = _pad("/* app bundle */ console.log('shop');", BODY_BYTES["asset"]).encode()
        self._asset_etag = etag_of(self._asset)

    # -- identity -------------------------------------------------------------------
    def user_of(self, headers: Mapping[str, str]) -> int | None:
        """The signed-in user, from ``Cookie: session=user-N`` or ``Authorization: Bearer user-N``."""
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            for part in headers.get("cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == "session":
                    token = value.strip()
        if token.startswith("user-") and token[5:].isdigit() and int(token[5:]) < self.users:
            return int(token[5:])
        return None

    def account_row(self, user: int) -> int:
        return self.products + user

    @staticmethod
    def search_results(term: str, products: int) -> list[int]:
        start = sum(map(ord, term))
        return [(start + 7 * i) % products for i in range(_RESULTS_PER_SEARCH)]

    # -- data through the server-side layers ----------------------------------------------
    def _row(self, row_id: int, timings: list[tuple[str, float, str]]) -> Row:
        t0 = self.clock.now()
        row, hit = self.query_cache.read(row_id)
        if row is None:
            raise LabError(f"No row {row_id} in this shop's database.")
        if hit:
            timings.append(("query cache", self.clock.now() - t0, "hit"))
        else:
            lookup = self.query_cache.lookup_seconds
            timings.append(("query cache", lookup, "miss"))
            timings.append(("database", self.clock.now() - t0 - lookup, "query"))
        return row

    def _cached(self, key: str, load, timings: list[tuple[str, float, str]]) -> list[Row]:
        t0 = self.clock.now()
        raw = self.app_cache.get(key)
        if raw is not None:
            timings.append(("app cache", self.clock.now() - t0, "hit"))
            return [Row(int(i), value, int(version), float(at)) for i, value, version, at in json.loads(raw)]
        timings.append(("app cache", self.clock.now() - t0, "miss"))
        rows = load()
        t1 = self.clock.now()
        self.app_cache.set(key, json.dumps([[r.id, r.value, r.version, r.updated_at] for r in rows]))
        timings.append(("app cache", self.clock.now() - t1, "fill"))
        return rows

    # -- HTTP ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> OriginResponse:
        with self._lock:
            if method == "POST":
                return self._write(path, body)
            if method not in ("GET", "HEAD"):
                return OriginResponse(405, {"cache-control": "no-store"})
            return self._read(path, headers)

    def _read(self, path: str, headers: Mapping[str, str]) -> OriginResponse:
        endpoint = endpoint_of(path)
        timings: list[tuple[str, float, str]] = []
        etag: str | None
        url = urlsplit(path)
        if endpoint is None:
            return OriginResponse(404, {"cache-control": "no-store"}, b'{"error": "not found"}')
        if endpoint == "asset":
            self.clock.sleep(self.latency.static_file_seconds)
            timings.append(("origin", self.latency.static_file_seconds, "static file"))
            body, etag = self._asset, self._asset_etag if self.etags else None
        elif endpoint == "product":
            tail = url.path[len("/product/"):]
            if not tail.isdigit() or int(tail) >= self.products:
                return OriginResponse(404, {"cache-control": "no-store"}, b'{"error": "no such product"}')
            pid = int(tail)
            (row,) = self._cached(f"product:{pid}", lambda: [self._row(pid, timings)], timings)
            body, etag = self._page({"page": "product", "id": pid, "version": row.version, "name": row.value})
        elif endpoint == "account":
            user = self.user_of(headers)
            if user is None:
                return OriginResponse(401, {"cache-control": "no-store"}, b'{"error": "sign in"}')
            rid = self.account_row(user)
            (row,) = self._cached(f"account:{user}", lambda: [self._row(rid, timings)], timings)
            body, etag = self._page({"page": "account", "user": f"user-{user}",
                                     "version": row.version, "orders": row.value})
        else:
            term = (parse_qs(url.query).get("q") or [""])[0]
            ids = self.search_results(term, self.products)
            rows = self._cached(f"search:{term}", lambda: [self._row(i, timings) for i in ids], timings)
            body, etag = self._page({"page": "search", "q": term,
                                     "results": [[r.id, r.version] for r in rows]})
        self.clock.sleep(self.latency.render_seconds)
        timings.append(("origin", self.latency.render_seconds, "render"))
        self.stats.requests[endpoint] += 1
        out = {"content-type": "application/json", **self.headers[endpoint].as_headers()}
        out["server-timing"] = ", ".join(
            f'{name.replace(" ", "-")};desc="{note}";dur={secs * 1000:.3f}' for name, secs, note in timings
        )
        if etag is not None:
            out["etag"] = etag
            inm = headers.get("if-none-match")
            if inm and etag_matches(inm, etag):
                # The page was still built: a 304 saves the transfer, not the work.
                self.stats.not_modified += 1
                return OriginResponse(304, out)
        return OriginResponse(200, out, body)

    def _page(self, data: dict) -> tuple[bytes, str | None]:
        """The page as JSON, padded to its typical size (the small fields first), and its ETag."""
        head = json.dumps(data).encode()[:-1] + b', "filler": "'
        size = BODY_BYTES[data["page"]]
        return _page_body(head, size), _page_etag(head, size) if self.etags else None

    def _write(self, path: str, body: bytes) -> OriginResponse:
        """``POST /product/N`` or ``POST /account/N``: new value in the body."""
        parts = urlsplit(path).path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ("product", "account") or not parts[1].isdigit():
            return OriginResponse(404, {"cache-control": "no-store"})
        n = int(parts[1])
        limit = self.products if parts[0] == "product" else self.users
        if n >= limit:
            return OriginResponse(404, {"cache-control": "no-store"})
        row_id = n if parts[0] == "product" else self.account_row(n)
        self.query_cache.write(row_id, body.decode() or "updated")
        if self.invalidate_app_cache_on_write:
            self.app_cache.delete(f"{parts[0]}:{n}")
        self.stats.writes += 1
        return OriginResponse(204, {"cache-control": "no-store"})


_MAX_LINE = 65_536
_MAX_HEADERS = 100
_REASONS = {status.value: status.phrase for status in HTTPStatus}


@memo(maxsize=64)
def _date_header(epoch_second: int) -> bytes:
    return f"date: {formatdate(epoch_second, usegmt=True)}\r\n".encode()


class _Handler(StreamRequestHandler):
    """HTTP/1.1 with keep-alive, written out by hand.

    ``BaseHTTPRequestHandler`` parses every request's headers with the email package
    and writes the status line, headers and body in separate calls: about 0.2 ms of
    CPU per request, most of a replay's cost.  The shop needs only the request line,
    the headers as a dict and a ``Content-Length`` body; the whole response leaves
    in one ``sendall``.
    """

    timeout = 10
    disable_nagle_algorithm = True  # headers and body leave at once, no 40 ms stalls
    server: _LabHTTPServer
    _cpus: frozenset[int] | None = None  # where the client asked this connection to run
    _cpus_before: set[int] | None = None

    def handle(self) -> None:
        try:
            while self._serve_one():
                pass
        except (OSError, ValueError):  # the client went away or sent garbage: drop it
            pass

    def _serve_one(self) -> bool:
        """Answer one request; False when the connection should close."""
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/") or len(line) > _MAX_LINE:
            self._send(OriginResponse(400, {"cache-control": "no-store"}, b'{"error": "bad request"}'),
                       "GET", keep_alive=False)
            return False
        method, path, version = parts
        if self.server.cpus.get(self.client_address) != self._cpus:
            self._follow_client_cpus()
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            self._send(OriginResponse(431, {"cache-control": "no-store"}), method, keep_alive=False)
            return False
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" and (version != "HTTP/1.0" or connection == "keep-alive")
        self._send(self._response(method, path, headers, body), method, keep_alive=keep_alive)
        return keep_alive

    def _follow_client_cpus(self) -> None:
        """Run this connection's thread where its client asked (see ``OriginServer.share_cpus``)."""
        wanted = self.server.cpus.get(self.client_address)
        try:
            if self._cpus is None:
                self._cpus_before = os.sched_getaffinity(0)
            os.sched_setaffinity(0, wanted if wanted is not None else self._cpus_before)
        except OSError:  # not allowed here: serve from wherever the thread runs
            pass
        self._cpus = wanted

    def _response(self, method: str, path: str, headers: dict[str, str], body: bytes) -> OriginResponse:
        if method not in ("GET", "HEAD", "POST"):
            return OriginResponse(501, {"cache-control": "no-store"})
        shop = self.server.shops.get(headers.get("x-lab-site", ""))
        if shop is None:
            return OriginResponse(404, {"cache-control": "no-store"}, b'{"error": "unknown site"}')
        try:
            return shop.handle(method, path, headers, body)
        except Exception as exc:  # a broken layer shows up as a 500, never a hang
            message = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
            return OriginResponse(500, {"cache-control": "no-store"}, message)

    def _send(self, resp: OriginResponse, method: str, *, keep_alive: bool) -> None:
        head = [f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, '')}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in resp.headers.items()]
        head.append(f"content-length: {len(resp.body)}\r\n")
        if not keep_alive:
            head.append("connection: close\r\n")
        out = "".join(head).encode("latin-1") + _date_header(int(time.time())) + b"\r\n"
        self.connection.sendall(out + resp.body if resp.body and method != "HEAD" else out)


class _LabHTTPServer(ThreadingHTTPServer):
    shops: dict[str, Shop]
    cpus: dict[tuple[str, int], frozenset[int]]  # client address -> CPUs for its connection


class OriginServer:
    """A ThreadingHTTPServer on 127.0.0.1 and a free port, in a daemon thread.

    >>> with OriginServer() as origin:
    ...     origin.host
    '127.0.0.1'
    """

    host = "127.0.0.1"  # loopback only: the lab never listens on a public interface

    def __init__(self) -> None:
        self._server: _LabHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self.port = 0

    def start(self) -> OriginServer:
        if self._server is not None:
            return self
        server = _LabHTTPServer((self.host, 0), _Handler)
        server.shops, server.cpus = {}, {}
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"labkit-origin-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def bound_address(self) -> tuple[str, int]:
        if self._server is None:
            raise LabError("The origin server is stopped; call start() first.")
        host, port = self._server.socket.getsockname()[:2]
        return str(host), int(port)

    def mount(self, shop_factory) -> tuple[str, Shop]:
        """Create a shop with a fresh id (``shop_factory(site_id)``) and serve it."""
        if self._server is None:
            raise LabError("The origin server is stopped; call start() (or make a new Lab).")
        site_id = f"s{next(self._ids)}"
        shop = shop_factory(site_id)
        self._server.shops[site_id] = shop
        return site_id, shop

    def unmount(self, site_id: str) -> None:
        if self._server is not None:
            self._server.shops.pop(site_id, None)

    def share_cpus(self, client_address: tuple[str, int], cpus: frozenset[int] | None) -> None:
        """Serve the connection from ``client_address`` on ``cpus`` from its next request on
        (None: wherever the operating system likes again).  See :func:`labkit.layers.site.replay`."""
        if self._server is None:
            return
        if cpus is None:
            self._server.cpus.pop(client_address, None)
        else:
            self._server.cpus[client_address] = cpus

    def stop(self) -> None:
        """Stop accepting connections and close the port (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OriginServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"listening on {self.url}" if self.running else "stopped"
        return f"<OriginServer {state}>"
