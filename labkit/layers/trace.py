"""Where a request's time goes: the latency model and the per-hop trace.

Every layer spends time on the request path's clock through :meth:`Trace.spend`,
so on a :class:`~labkit.clock.VirtualClock` an hour of traffic replays in a
second and the numbers are the same every run, while the bytes still travel over
real HTTP on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..clock import Clock
from ..errors import check_non_negative, check_positive

__all__ = ["LAYERS", "NETWORKS", "Hop", "Trace", "LatencyModel"]

# The layers that can answer a request, nearest the user first.
LAYERS = ("browser", "CDN", "origin", "app cache", "query cache", "database")
# The two network links a request can cross.
NETWORKS = ("user ↔ CDN", "CDN ↔ origin")
# What a response costs on the wire besides its body.
HEADER_BYTES = 300


@dataclass(frozen=True)
class LatencyModel:
    """Typical costs, in seconds and bytes per second; change any of them per site.

    The defaults describe a shopper on a 20 Mbit/s line, 10 ms from a CDN edge
    whose origin is 30 ms further away, and a database that needs 20 ms a query.
    """

    browser_lookup_seconds: float = 0.0002
    user_cdn_rtt_seconds: float = 0.020
    user_bytes_per_second: float = 2.5e6
    cdn_lookup_seconds: float = 0.0005
    cdn_origin_rtt_seconds: float = 0.060
    origin_bytes_per_second: float = 50e6
    redis_seconds: float = 0.0005
    query_cache_seconds: float = 0.0001
    db_query_seconds: float = 0.020
    render_seconds: float = 0.005
    static_file_seconds: float = 0.0005

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if name.endswith("bytes_per_second"):
                check_positive(name, value, "bytes/s")
            else:
                check_non_negative(name, value, "s")


@dataclass(frozen=True)
class Hop:
    """One stretch of a request's life: which layer or link, when, how long."""

    layer: str
    start_seconds: float
    seconds: float
    note: str = ""


@dataclass
class Trace:
    """The hops of one request, in the order they happened."""

    clock: Clock
    started: float = 0.0
    hops: list[Hop] = field(default_factory=list)
    bytes_on: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started = self.clock.now()

    def spend(self, layer: str, seconds: float, note: str = "") -> None:
        """This layer works for ``seconds`` (the clock moves on)."""
        start = self.clock.now() - self.started
        self.clock.sleep(seconds)
        self.hops.append(Hop(layer, start, seconds, note))

    def spent_elsewhere(self, layer: str, seconds: float, note: str = "") -> None:
        """Record time another thread already spent on the shared clock (the origin)."""
        start = self.hops[-1].start_seconds + self.hops[-1].seconds if self.hops else 0.0
        self.hops.append(Hop(layer, start, seconds, note))

    def carried(self, link: str, n_bytes: int) -> None:
        self.bytes_on[link] = self.bytes_on.get(link, 0) + n_bytes

    @property
    def seconds(self) -> float:
        return self.clock.now() - self.started

    def seconds_in(self, layer: str) -> float:
        return sum(h.seconds for h in self.hops if h.layer == layer)
