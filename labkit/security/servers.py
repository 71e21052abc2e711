"""The origin and the CDN on real HTTP, on 127.0.0.1 - the standard library does the framing.

``http.server.ThreadingHTTPServer`` serves both; the CDN reaches the origin, and the
lab's clients reach the CDN, with ``http.client``.  Each server turns a request into
a :class:`~labkit.security.web.Request` and hands it to the same pure code the
replays use, so what runs over HTTP is exactly what the charts measure.

>>> with Stack() as stack:
...     [stack.get("/product?id=3").headers["x-cache"] for _ in range(2)]
['MISS', 'HIT']
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from ..clock import wall_clock
from .web import Cdn, Request, Response, by_extension, insecure_key, origin

__all__ = ["serve", "send", "Stack"]

# Hop-by-hop and framing headers are the HTTP library's business, never copied across.
_FRAMING = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


def serve(app: Callable[[Request], tuple[Response, str | None]]) -> ThreadingHTTPServer:
    """A loopback HTTP server (its own thread) answering every GET with ``app(request)``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            parts = urlsplit(self.path)
            request = Request(parts.path, dict(parse_qsl(parts.query)),
                              {k.lower(): v for k, v in self.headers.items()})
            response, cache_status = app(request)
            body = response.body.encode()
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if cache_status:
                self.send_header("x-cache", cache_status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # a lab server keeps quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.02,), name="labkit-security-http", daemon=True).start()
    return server


def send(port: int, request: Request) -> Response:
    """One GET to ``127.0.0.1:port`` with ``http.client``; the response with lower-case headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", request.url, headers=request.headers)
        answer = connection.getresponse()
        headers = {k.lower(): v for k, v in answer.getheaders() if k.lower() not in _FRAMING}
        return Response(answer.status, headers, answer.read().decode())
    finally:
        connection.close()


class Stack:
    """The origin and a CDN in front of it, both on loopback ports; ``with Stack() as s:``.

    ``cache_key`` and ``cacheable`` are the CDN's rules (the shipped, insecure ones by
    default); ``clock`` decides when stored copies expire (the wall clock by default).
    """

    def __init__(self, cache_key=insecure_key, cacheable=by_extension, *, clock=wall_clock) -> None:
        self.origin_server = serve(lambda request: (origin(request), None))
        origin_port = self.origin_server.server_address[1]
        self.cdn = Cdn(lambda request: send(origin_port, request), cache_key, cacheable, clock=clock)
        self._lock = threading.Lock()  # one request through the CDN's table at a time
        self.cdn_server = serve(self._through_cdn)

    def _through_cdn(self, request: Request) -> tuple[Response, str]:
        with self._lock:
            return self.cdn.handle(request)

    @property
    def port(self) -> int:
        return int(self.cdn_server.server_address[1])

    def send(self, request: Request) -> Response:
        return send(self.port, request)

    def get(self, url: str, headers: dict[str, str] | None = None) -> Response:
        parts = urlsplit(url)
        return self.send(Request(parts.path, dict(parse_qsl(parts.query)),
                                 {"host": "shop.example", **(headers or {})}))

    def close(self) -> None:
        for server in (self.cdn_server, self.origin_server):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
