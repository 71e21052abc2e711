"""How fast the cache-layers lab replays traffic (run by hand; prints figures).

    python benchmarks/bench_layers.py                 # fakeredis app cache
    REDIS_URL=redis://127.0.0.1:6379/0 python benchmarks/bench_layers.py

Target: 10,000 requests through browser, CDN, origin (real HTTP on loopback), app
cache and query cache in under 5 s.  The machine is noisy, so each figure is the
best of a few runs, and the per-layer costs are compared as ratios within one run.
CPU time (``time.process_time``, both threads: the replay and the origin) is printed
beside the wall time because it moves much less with other load on the machine.

Then each control of each notebook-06 chart is moved four steps, with a one-second
pause between moves as a learner's hand makes, and the kernel-side redraw median
(``LivePlot.draw_seconds``: measure, draw, encode the PNG) is printed per control.

Measured on the shared 2-core machine.  The same work takes 4.1-5.4 s of CPU from one
run to the next here even at load 1, so "before" and "after" ran alternately (four
rounds of the replay block above, each the best of 3, load 2-4), and the instruction
count (valgrind's cachegrind, 2,000 requests, the same every run) is given with them:

======================================  ===============  ===============
10,000-request replay (fakeredis)       before           after
======================================  ===============  ===============
wall, best of 3                         6.3-7.6 s        4.0-5.2 s
CPU of that run, both threads           6.3-7.4 s        4.0-5.2 s
instructions per request                1.54 M           1.25 M
======================================  ===============  ===============

"before" is the first round's result.  That round made the origin and its client
speak HTTP/1.1 on plain sockets (one ``sendall`` per message) instead of
``http.client`` against ``BaseHTTPRequestHandler``: a trivial round trip went from
286 us of CPU to 29 us, and a replay from 5.8-6.8 s of CPU to 4.8-5.0 s (load 4-9,
another day: compare figures only within one table).  Shortening the interpreter's
switch interval was measured then and rejected (no gain, 19% more CPU).

Second round ("before" -> "after"), each change checked to leave every replay's
visits, hops and counts identical (and the notebook's claims with them):

* Each page's ``ETag`` is hashed once per distinct page (the 150 kB script once per
  shop) instead of SHA-256 over every body sent: 3,509 hashes a replay became ~350.
* A replay runs its thread and the origin's thread for its connection on one CPU
  (``site._one_cpu``).  Client and origin take turns, so on two CPUs every turn woke
  the other CPU, and on this busy machine often waited for it: "before" spent up to
  30% more wall than CPU, "after" spends the same.
* The cycle collector is paused during a replay (it makes no reference cycles; the
  collector's passes over the visits it keeps cost 4-6%, counting the one deferred
  pass at the end).
* Small things on every request: one ``IdleClient`` per cache, no view built when
  nothing is stored, hishel's states told apart by class (``isinstance`` on its ABCs
  costs 0.4 us a miss), counter ids instead of ``uuid4`` (4 us each), each distinct
  ``Server-Timing`` header parsed once, the app cache's rows in one JSON level with
  the deadline in front, a page body built with one copy.

What is left, sampled with py-spy: about a third is hishel (its Cache-Control and
email date parsers and its header copies, through its public API), a quarter to a
third the app cache's redis-py + fakeredis commands (one GET per origin read, one
SET per miss: no two of them can share a round trip), the rest the lab's own code
(HTTP on both ends, the shop, the trace), spread over many small pieces.  Serving the
lab's own connection on the client's thread measured about 12% less CPU (before the
pinning), but the origin would then no longer be a server running on its own; not done.

Kernel-side redraw medians per control, from the first round (1 s between moves, four
moves; "before" ran with load ~7, "after" with load ~3, so read them as rough; not
measured again in the second round):

===========================================  ========  ========
control                                      before    after
===========================================  ========  ========
waterfall: CDN-origin round trip              626 ms    216 ms
waterfall: product page Cache-Control         726 ms    228 ms
traffic: product & search Cache-Control      2857 ms    626 ms  (measured ahead, see below)
traffic: app cache TTL (slider of 7 TTLs)    1554 ms    609 ms
revalidation: connection / page           876 / 499  221 / 146
staleness: browser max-age / CDN s-maxage 1656 / 1363  294 / 266
staleness: purge / delete app key toggles 1242 / 1271  403 / 382
leak: headers / users / shared laptops  2868 / 1619 / 1315   589 / 414 / 313
===========================================  ========  ========

The traffic chart's two controls share one measuring-ahead worker (the next step of
each first); a replay there is ~0.6 s of CPU under load, so at one move a second the
ahead measurement is not always done in time (max ~1.9 s).  The rest of each redraw
is matplotlib drawing a fresh figure (glyph rendering dominates), which ``LivePlot``
owns.
"""

from __future__ import annotations

import statistics
import sys
import time

import ipywidgets as W
from hishel import Headers, Request

import labkit
from labkit.layers import ASSET_PATH, Lab, replay, traffic
from labkit.layers.trace import Trace

REQUESTS = 10_000
USERS = 50


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall = time.perf_counter() - start
        print(f"    run: wall {wall:.2f} s, CPU {time.process_time() - cpu:.2f} s")
        best = min(best, wall)
    return best, result


def control_steps(widget, n: int = 4) -> list:
    """The next ``n`` values a learner's arrow key gives ``widget``."""
    if isinstance(widget, W.Dropdown | W.SelectionSlider):
        options = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        at = options.index(widget.value)
        return [options[(at + k) % len(options)] for k in range(1, n + 1)]
    if isinstance(widget, W.Checkbox):
        return [not widget.value, widget.value] * (n // 2)
    if isinstance(widget, W.FloatLogSlider):
        import math

        at = math.log10(widget.value)
        return [widget.base ** min(widget.max, at + widget.step * k) for k in range(1, n + 1)]
    return [min(widget.max, widget.value + widget.step * k) for k in range(1, n + 1)]


def redraw_medians(label: str, plot, pause: float = 1.0) -> None:
    """Move each control four steps (``pause`` seconds apart); print the redraw median."""
    for name, widget in plot.controls.items():
        start, seconds = widget.value, []
        for value in control_steps(widget):
            time.sleep(pause)
            before = len(plot.draw_seconds)
            plot.set(**{name: value})
            if len(plot.draw_seconds) > before:
                seconds.append(plot.draw_seconds[-1])
        plot.set(**{name: start})
        if seconds:
            print(f"  {label:22} {name:30} median {statistics.median(seconds) * 1000:6.0f} ms  "
                  f"(max {max(seconds) * 1000:5.0f} ms)")


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

        if "--no-sliders" not in sys.argv:
            from labkit import layers

            print("\nkernel-side redraw per control (1 s between moves):")
            for name in ("explore_waterfall", "explore_traffic", "explore_revalidation",
                         "explore_staleness", "explore_leak"):
                redraw_medians(name, getattr(layers, name)(lab))
    store.reset()


if __name__ == "__main__":
    main()
