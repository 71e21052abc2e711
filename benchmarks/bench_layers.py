"""How fast the cache-layers lab replays traffic (run by hand; prints figures).

    python benchmarks/bench_layers.py                 # fakeredis app cache
    REDIS_URL=redis://127.0.0.1:6379/0 python benchmarks/bench_layers.py

Target: 10,000 requests through browser, CDN, origin (real HTTP on loopback), app
cache and query cache in under 5 s.  The machine is noisy, so each figure is the
best of a few runs, and the per-layer costs are compared as ratios within one run.
"""

from __future__ import annotations

import statistics
import time

from hishel import Headers, Request

import labkit
from labkit.layers import ASSET_PATH, Lab, replay, traffic
from labkit.layers.trace import Trace

REQUESTS = 10_000
USERS = 50


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def per_call_us(fn, n: int = 300) -> float:
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return min(samples)


def main() -> None:
    store = labkit.connect(namespace="bench-layers")
    store.reset()
    print(f"app cache: {store.describe()}")
    events = traffic(users=USERS, requests=REQUESTS, duration_seconds=3600,
                     product_writes_per_minute=2, account_writes_per_minute=1, seed=1)
    with Lab(store) as lab:
        def run(**options):
            site = lab.site(users=USERS, **options)
            try:
                return replay(site, events)
            finally:
                lab.close_site(site)

        seconds, report = timed(run)
        origin = sum(report.origin_requests.values()) + report.not_modified_at_origin
        print(f"\n{REQUESTS:,} requests, default headers, {USERS} users over a simulated hour:")
        print(f"  best of 3: {seconds:.2f} s ({REQUESTS / seconds:,.0f} requests/s) - target < 5 s")
        print("  answered by: " + ", ".join(f"{k} {v:.0%}" for k, v in report.answered_share().items()))
        print(f"  reached the origin over HTTP: {origin:,} ({origin / REQUESTS:.0%}), "
              f"{report.not_modified_at_origin:,} of them 304s")

        no_store = {e: "no-store" for e in ("asset", "product", "account", "search")}
        worst, worst_report = timed(lambda: run(headers=no_store), repeat=1)
        print(f"\nsame traffic, no-store everywhere (every request crosses all four layers): "
              f"{worst:.2f} s ({REQUESTS / worst:,.0f} requests/s)")

        site = lab.site(users=USERS)
        site.get(0, ASSET_PATH)
        site.get(1, "/product/1")
        browser_us = per_call_us(lambda: site.get(0, ASSET_PATH))
        request = Request("GET", "/product/1", Headers({"cookie": "session=user-1"}))
        cdn_us = per_call_us(lambda: site.cdn.handle(request, Trace(site.clock)))
        origin_us = per_call_us(lambda: site.client.send("GET", "/product/1", {}))
        lab.close_site(site)
        print("\nper request (best of 3 batches):")
        print(f"  browser hit        {browser_us:7.0f} us   (1.0x)")
        print(f"  CDN hit            {cdn_us:7.0f} us   ({cdn_us / browser_us:.1f}x)")
        print(f"  origin over HTTP   {origin_us:7.0f} us   ({origin_us / browser_us:.1f}x)  "
              "(app cache hit, no caches in front)")
        median_ms = statistics.median(v.seconds for v in report.visits) * 1000
        worst_ms = statistics.median(v.seconds for v in worst_report.visits) * 1000
        print(f"\nmedian modelled page-view latency: {median_ms:.1f} ms (no-store: {worst_ms:.1f} ms)")
    store.reset()


if __name__ == "__main__":
    main()
