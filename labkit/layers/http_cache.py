"""HTTP caches that decide by RFC 9111, using hishel's sans-IO state machine (via ``rfc9111``).

hishel 2 exposes the RFC as states: ``IdleClient.next(request, entries)`` says
*serve from cache*, *revalidate* or *miss*; ``CacheMiss.next(response)`` says
*store* or *could not store*; ``NeedRevalidation.next(response)`` handles a 304.
:class:`HttpCache` drives those states and keeps the bodies, and adds only what
hishel leaves to the caller:

* **Age on the lab's clock.** hishel computes a response's age from its ``Date``
  header and ``time.time()``. Each lookup therefore shows hishel a view of every
  stored response whose ``Date`` encodes the age the RFC asks for (section 4.2.3:
  the ``Age`` received from upstream, plus the response delay, plus the time
  resident here), measured on the request path's clock, so virtual time works.
* **Ambiguous freshness is stale.** With two ``max-age`` values hishel keeps the
  last; RFC 9111 section 4.2.1 allows the first or "stale", and the lab says stale.
* **Answering a client's validation** (section 4.3.2): a shared cache strips the
  client's ``If-None-Match``, serves or fetches the full response as usual, and
  answers ``304`` itself when the client's copy matches.
"""

from __future__ import annotations

import itertools
import math
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from typing import Any

from ..errors import LabError
from ..memo import memo
from . import rfc9111 as rfc
from .origin import etag_matches
from .policy import freshness_is_ambiguous
from .trace import HEADER_BYTES, Trace

__all__ = ["Exchange", "HttpCache", "Link", "OriginClient", "Upstream"]

_CONDITIONAL = ("if-none-match", "if-modified-since")
_SERVER_TIMING_LAYERS = {"app-cache": "app cache", "query-cache": "query cache",
                         "database": "database", "origin": "origin"}


@dataclass
class Exchange:
    """A response on its way back, and the layer whose copy (or verdict) it carries."""

    status: int
    headers: dict[str, str]
    body: bytes
    answered_by: str
    revalidated_by: str | None = None  # who confirmed a stored copy with a 304
    meta: dict[str, str] = field(default_factory=dict)


Upstream = Callable[[rfc.Request, Trace], Exchange]


def _plain(headers: rfc.Headers) -> dict[str, str]:
    return {k: headers[k] for k in headers}


@dataclass
class _Stored:
    entry: rfc.Entry
    body: bytes
    answered_by: str
    response_time: float
    corrected_initial_age: float
    view_headers: dict[str, list[str]] | None = None  # the headers hishel sees, less Date

    def base_view_headers(self) -> dict[str, list[str]]:
        if self.view_headers is None:
            headers = self.entry.response.headers
            lists = {k: headers.get_list(k) or [] for k in headers if k not in ("date", "age")}
            cc = ", ".join(lists.get("cache-control", []))
            if freshness_is_ambiguous(cc):
                lists["cache-control"] = [cc + ", no-cache"]
            self.view_headers = lists
        return self.view_headers


class HttpCache:
    """A browser's private cache (``shared=False``) or a CDN's shared one (``shared=True``)."""

    def __init__(self, name: str, *, shared: bool, upstream: Upstream,
                 lookup_seconds: float = 0.0) -> None:
        self.name = name
        self.shared = shared
        self.upstream = upstream
        self.lookup_seconds = lookup_seconds
        self.options = rfc.CacheOptions(shared=shared, supported_methods=["GET", "HEAD"])
        self._idle = rfc.IdleClient(options=self.options)  # holds only the options: reusable
        self._entries: dict[str, list[_Stored]] = {}
        self._ids = itertools.count(1)  # stored entries' ids: unique within this cache
        self.hits = self.misses = self.revalidations = self.not_modified = 0

    # -- what is stored ------------------------------------------------------------
    def stored_paths(self) -> list[str]:
        return [url for url, items in self._entries.items() if items]

    def stored_count(self, path: str | None = None) -> int:
        if path is None:
            return sum(len(v) for v in self._entries.values())
        return len(self._entries.get(path, []))

    def stored_bodies(self, path: str) -> list[bytes]:
        return [s.body for s in self._entries.get(path, [])]

    def purge(self, path: str | None = None) -> int:
        """Drop stored copies (one path, or everything); returns how many."""
        if path is None:
            n = self.stored_count()
            self._entries.clear()
            return n
        return len(self._entries.pop(path, []))

    # -- the lookup --------------------------------------------------------------------
    def _age(self, stored: _Stored, now: float) -> float:
        return stored.corrected_initial_age + max(0.0, now - stored.response_time)

    def _view(self, stored: _Stored, now: float, wall_second: int) -> rfc.Entry:
        """The stored entry as hishel should judge it now (see the module notes)."""
        date = _http_date(wall_second - math.floor(self._age(stored, now)))
        headers = rfc.Headers({**stored.base_view_headers(), "date": [date]})  # copies the lists
        entry = stored.entry
        return rfc.Entry(entry.id, entry.request, rfc.Response(entry.response.status_code, headers, None))

    def handle(self, request: rfc.Request, trace: Trace) -> Exchange:
        trace.spend(self.name, self.lookup_seconds, "lookup")
        client_condition = None
        if self.shared and any(request.headers.get_list(h) is not None for h in _CONDITIONAL):
            client_condition = request.headers.get("if-none-match")
            kept = {k: request.headers[k] for k in request.headers if k not in _CONDITIONAL}
            request = replace(request, headers=rfc.Headers(kept))
        exchange = self._run(request, trace)
        if (client_condition and exchange.status == 200 and "etag" in exchange.headers
                and etag_matches(client_condition, exchange.headers["etag"])):
            self.not_modified += 1
            headers = {k: v for k, v in exchange.headers.items()
                       if k in ("cache-control", "etag", "vary", "age", "expires", "date")}
            return replace(exchange, status=304, headers=headers, body=b"")
        return exchange

    def _run(self, request: rfc.Request, trace: Trace) -> Exchange:
        clock = trace.clock
        now = clock.now()
        stored_here = self._entries.get(request.url)
        if stored_here:
            wall_second = int(time.time())
            views = {s.entry.id: s for s in stored_here}
            state = self._idle.next(request, [self._view(s, now, wall_second) for s in stored_here])
        else:
            views = {}
            state = self._idle.next(request, [])
        upstream: Exchange | None = None
        sent_at = now
        while True:
            # Each of hishel's states is its own class (and an ABC, whose isinstance is slow).
            kind = type(state)
            if kind is rfc.FromCache:
                stored = views[state.entry.id]
                headers = _plain(state.entry.response.headers)
                headers["age"] = str(int(self._age(stored, clock.now())))
                if upstream is None:
                    self.hits += 1
                    return Exchange(200, headers, stored.body, self.name)
                return Exchange(200, headers, stored.body, self.name,
                                revalidated_by=upstream.answered_by)
            elif kind is rfc.CacheMiss or kind is rfc.NeedRevalidation:
                if kind is rfc.NeedRevalidation:
                    self.revalidations += 1
                else:
                    self.misses += 1
                sent_at = clock.now()
                upstream = self.upstream(state.request, trace)
                state = state.next(rfc.Response(upstream.status, rfc.Headers(upstream.headers)))
            elif kind is rfc.StoreAndUse:
                assert upstream is not None
                self._store(request, state.response, upstream, clock.now(), sent_at)
                return upstream
            elif kind is rfc.CouldNotBeStored:
                assert upstream is not None
                return upstream
            elif kind is rfc.InvalidateEntries:
                drop = set(state.entry_ids)
                self._entries[request.url] = [s for s in self._entries.get(request.url, [])
                                              if s.entry.id not in drop]
                state = state.next()
            elif kind is rfc.NeedToBeUpdated:
                assert upstream is not None
                for updated in state.updating_entries:
                    old = views[updated.id]
                    old.entry = updated
                    old.view_headers = None
                    old.response_time = clock.now()
                    old.corrected_initial_age = _age_header(upstream.headers) + (clock.now() - sent_at)
                state = state.next()
            else:  # pragma: no cover - hishel added a state we do not know
                raise LabError(f"Unexpected cache state {type(state).__name__}.")

    def _store(self, request: rfc.Request, response: rfc.Response, upstream: Exchange,
               now: float, sent_at: float) -> None:
        entry = rfc.Entry(id=uuid.UUID(int=next(self._ids)), request=request, response=response)
        # A browser keeps one response per URL: a Vary mismatch is a miss, and the new
        # response replaces the old.  A shared cache may keep one per Vary variant, and
        # a new response replaces the variant it would be chosen for.
        kept = [s for s in self._entries.get(request.url, [])
                if self.shared and not rfc.vary_matches(request, s.entry)]
        kept.append(_Stored(entry, upstream.body, upstream.answered_by, now,
                            _age_header(upstream.headers) + (now - sent_at)))
        self._entries[request.url] = kept

    def __repr__(self) -> str:
        kind = "shared" if self.shared else "private"
        return f"<HttpCache {self.name} ({kind}): {self.stored_count()} stored>"


@memo(maxsize=4096)
def _http_date(epoch_second: int) -> str:
    return formatdate(epoch_second, usegmt=True)


def _age_header(headers: dict[str, str]) -> float:
    try:
        return max(0.0, float(int(headers.get("age", "0").split(",")[0])))
    except ValueError:
        return 0.0  # RFC 9111 section 5.1: an invalid Age is ignored


class Link:
    """A network hop: half a round trip out, half back plus the bytes on the wire."""

    def __init__(self, name: str, *, rtt_seconds: float, bytes_per_second: float,
                 target: Upstream) -> None:
        self.name, self.rtt_seconds, self.bytes_per_second = name, rtt_seconds, bytes_per_second
        self.target = target
        self.bytes_carried = 0

    def __call__(self, request: rfc.Request, trace: Trace) -> Exchange:
        trace.spend(self.name, self.rtt_seconds / 2, "request")
        exchange = self.target(request, trace)
        size = HEADER_BYTES + len(exchange.body)
        self.bytes_carried += size
        trace.carried(self.name, size)
        trace.spend(self.name, self.rtt_seconds / 2 + size / self.bytes_per_second,
                    f"{exchange.status}, {size:,} B")
        return exchange


class OriginClient:
    """Real HTTP/1.1 to the origin over one keep-alive connection.

    Written on a plain socket: ``http.client`` parses each response's headers with
    the email package, several times the cost of everything else a request does
    here.  The origin always sends ``Content-Length``, so a response is its status
    line, its header lines and that many bytes.
    """

    def __init__(self, host: str, port: int, site_id: str) -> None:
        self.host, self.port, self.site_id = host, port, site_id
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self.requests = 0

    def local_address(self) -> tuple[str, int] | None:
        """This end of the connection, as the origin sees it (connects first); None if it cannot."""
        try:
            host, port = self._connection()[0].getsockname()[:2]
        except OSError:
            self.close()
            return None
        return str(host), int(port)

    def _connection(self) -> tuple[socket.socket, Any]:
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock, self._reader = sock, sock.makefile("rb")
        return self._sock, self._reader

    def send(self, method: str, path: str, headers: dict[str, str],
             body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        out = [f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
               f"x-lab-site: {self.site_id}\r\n"]
        out += [f"{k}: {v}\r\n" for k, v in headers.items()
                if k not in ("connection", "x-lab-site", "host", "content-length")]
        if body or method == "POST":
            out.append(f"content-length: {len(body)}\r\n")
        message = "".join(out).encode("latin-1") + b"\r\n" + body
        for attempt in (1, 2):
            try:
                sock, reader = self._connection()
                sock.sendall(message)
                answer = _read_response(reader, method)
                self.requests += 1
                if answer[1].get("connection", "").lower() == "close":
                    self.close()
                return answer
            except (ConnectionError, OSError, ValueError):
                self.close()
                if attempt == 2:
                    raise LabError(
                        f"The origin at http://{self.host}:{self.port} did not answer; "
                        "it may have been stopped - make a new Lab to start it again."
                    ) from None
        raise AssertionError("unreachable")

    def __call__(self, request: rfc.Request, trace: Trace) -> Exchange:
        status, headers, body = self.send(request.method, request.url, _plain(request.headers))
        if status == 500:
            raise LabError(f"The origin failed while serving {request.url}: {body.decode()[:200]}")
        metrics, deepest = _server_timing(headers.pop("server-timing", ""))
        for name, note, dur in metrics:
            trace.spent_elsewhere(name, dur, note)
        return Exchange(status, headers, body, deepest)

    def close(self) -> None:
        if self._sock is not None:
            self._reader.close()
            self._sock.close()
            self._sock = self._reader = None


def _read_response(reader: Any, method: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response from ``reader``; ConnectionError if the server hung up."""
    status_line = reader.readline(65_537)
    if not status_line:
        raise ConnectionError("the origin closed the connection")
    status = int(status_line.split(None, 2)[1])
    headers: dict[str, str] = {}
    while True:
        line = reader.readline(65_537)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ConnectionError("the origin closed the connection mid-response")
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if method == "HEAD" or status in (204, 304) else int(headers.get("content-length") or 0)
    body = reader.read(length) if length else b""
    if len(body) < length:
        raise ConnectionError("the origin closed the connection mid-body")
    return status, headers, body


def _deepest_layer(metrics: tuple[tuple[str, str, float], ...]) -> str:
    """Which server-side layer produced the data: app cache, else database, else query cache."""
    notes = {(layer, note) for layer, note, _ in metrics}
    if ("app cache", "hit") in notes:
        return "app cache"
    if any(layer == "database" for layer, _ in notes):
        return "database"
    if ("query cache", "hit") in notes:
        return "query cache"
    return "origin"


@memo(maxsize=1024)  # the origin's few kinds of answer repeat the same header
def _server_timing(header: str) -> tuple[tuple[tuple[str, str, float], ...], str]:
    """A Server-Timing header as (layer, note, seconds) per metric, and the deepest layer."""
    metrics = tuple(timing for timing in map(_parse_timing, header.split(",")) if timing[0])
    return metrics, _deepest_layer(metrics)


def _parse_timing(metric: str) -> tuple[str, str, float]:
    """One Server-Timing metric (``name;desc="x";dur=1.2``) as (layer, note, seconds)."""
    parts = [p.strip() for p in metric.split(";")]
    if not parts or not parts[0]:
        return "", "", 0.0
    name = _SERVER_TIMING_LAYERS.get(parts[0], parts[0])
    note, dur = "", 0.0
    for p in parts[1:]:
        key, _, value = p.partition("=")
        if key == "desc":
            note = value.strip('"')
        elif key == "dur":
            dur = float(value) / 1000
    return name, note, dur
