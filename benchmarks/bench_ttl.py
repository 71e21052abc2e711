"""How fast is notebook 03's simulation?  Prints figures; run by hand.

    python benchmarks/bench_ttl.py [--sliders | --dots]

Targets: one simulated day of traffic for 10,000 keys (millions of events) in
under 1 s; every slider redraws kernel-side in about 100 ms or less (median), so
the browser redraw stays within 2x the ~110 ms floor of the stack (issue #14).  The machine is shared and noisy, so
each figure is the median of a few repeats, and comparisons are ratios taken in
the same run.

Chart dots (``--dots``): what a traffic slider costs in 03 - the six SIM_TTLS dots
plus the learner's TTL (300 s), everything forgotten first.  Before, every replica
of a TTL was one run_events call that redrew its writes, searched every read with
np.searchsorted and merged its copies with np.insert; now the replicas of a TTL run
together, a per-key time index finds reads, write histories are kept for the next
TTL, and only the copies that served stale reads are summed.  The results are
identical (tests/test_ttl.py pins some).  Median of 3 ms, best of three runs each,
on the shared 2-core machine:

    alpha, reads/s, writes/key/h    before   after
    0.85,  50, 2                       901     308   2.9x
    0.9,   50, 2 (explore defaults)    806     324   2.5x
    0.5,   50, 2                       825     293   2.8x
    1.0,   50, 2                       741     261   2.8x
    0.9,    1, 2                       280     149   1.9x  (few reads: writes dominate)
    0.9,  200, 2                       740     274   2.7x
    0.9,   50, 0.05                    363     149   2.4x
    0.9,   50, 30                      943     436   2.2x  (drawing the writes dominates)

One simulated day of 10,000 keys went from 1.0-1.8 s to 0.41-0.44 s (TTL 1 s),
0.7-1.0 s to 0.38 s (1 min), 0.38-0.56 s to 0.22 s (5 min) and 0.13 s to 0.06 s
(1 h); drawing its events is unchanged.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from timing import timed  # noqa: E402 - benchmarks/ is on the path when run as a script

from labkit import ttl


def one_day_of_ten_thousand_keys() -> None:
    traffic = ttl.Traffic(n_keys=10_000, alpha=0.8, reads_per_second=50.0, writes_per_key_per_hour=1.0)
    print("One simulated day, 10,000 keys, 50 reads/s, 1 write per key per hour:")

    def events():
        return ttl.make_events(
            traffic.read_rates(), traffic.write_rate_per_second,
            duration_seconds=86_400, history_seconds=3600, seed=0,
        )

    make_s, ev = timed(events, 3)
    print(f"  draw {ev.n_reads:,} reads + {ev.n_writes:,} writes: {make_s * 1000:6.0f} ms")
    for ttl_seconds in (1.0, 60.0, 300.0, 3600.0):
        run_s, result = timed(lambda t=ttl_seconds: ttl.summarize(ttl.run_events(ev, t)), 3)
        events_per_s = (ev.n_reads + ev.n_writes) / (make_s + run_s)
        print(
            f"  TTL {ttl.format_seconds(ttl_seconds):>6}: simulate {run_s * 1000:6.0f} ms, "
            f"total {(make_s + run_s) * 1000:6.0f} ms ({events_per_s / 1e6:4.1f} M events/s), "
            f"hit ratio {result.hit_ratio:.4f} vs model {ttl.model(traffic, ttl_seconds).hit_ratio:.4f}"
        )


def replay_speed() -> None:
    events = ttl.make_events(np.array([4.0, 1.0, 0.2]), 1 / 20, duration_seconds=600, history_seconds=60)
    store_s, _ = timed(lambda: ttl.replay_through_store(events, 30.0), 3)
    fast_s, _ = timed(lambda: ttl.run_events(events, 30.0).outcomes(), 3)
    print(
        f"\nReference replay through MemoryStore + SQLite, {events.n_reads:,} reads: "
        f"{store_s * 1000:.0f} ms; the fast simulation on the same events: {fast_s * 1000:.1f} ms "
        f"({store_s / fast_s:.0f}x faster)"
    )


# The traffic of the task that asked for faster dots, the explore chart's defaults, and
# each traffic slider (skew, reads/s, writes per key per hour) at both ends of its range.
DOT_TRAFFICS = [
    (0.85, 50.0, 2.0), (0.9, 50.0, 2.0), (0.5, 50.0, 2.0), (1.0, 50.0, 2.0),
    (0.9, 1.0, 2.0), (0.9, 200.0, 2.0), (0.9, 50.0, 0.05), (0.9, 50.0, 30.0),
]


def chart_dots() -> None:
    """What a traffic slider costs: the six SIM_TTLS dots and the current TTL's, from scratch."""
    print("\nNotebook 03's chart dots after a traffic move: SIM_TTLS + 300 s, nothing memoized")
    for alpha, reads, writes in DOT_TRAFFICS:
        traffic = ttl.Traffic(n_keys=1000, alpha=alpha, reads_per_second=reads, writes_per_key_per_hour=writes)

        def dots(traffic: ttl.Traffic = traffic) -> None:
            _forget()
            for ttl_seconds in (*ttl.SIM_TTLS, 300.0):
                ttl.chart_point(traffic, ttl_seconds)

        seconds, _ = timed(dots, 3)
        print(f"  alpha {alpha:4g}, {reads:5g} reads/s, {writes:5g} writes/key/h: {seconds * 1000:6.0f} ms")


def _forget() -> None:
    import labkit

    forget = getattr(labkit, "forget", None)
    forget() if forget else ttl.clear_caches()  # the latter: the code before labkit.memo


# Every slider of notebook 03 and the values a learner's key presses visit.
SLIDERS = {
    "explore": {
        "ttl_seconds": [360.0, 432.0, 518.0, 622.0],
        "reads_per_second": [60.0, 72.0, 86.0, 104.0],
        "writes_per_key_per_hour": [2.4, 2.9, 3.5, 4.1],
        "alpha": [0.85, 0.8, 0.75, 0.7],
    },
    "explore_bands": {"ttl_seconds": [12.0, 14.4, 17.3, 20.7], "alpha": [0.85, 0.8, 0.75, 0.7]},
    "explore_cost": {"ttl_seconds": [1.2, 1.44, 1.73, 2.07], "cache_ms": [0.55, 0.6, 0.65, 0.7],
                     "db_ms": [2.5, 3.0, 3.5, 4.0]},
    "explore_jitter": {"jitter_percent": [15.0, 20.0, 25.0, 30.0], "ttl_seconds": [600.0, 60.0, 300.0, 600.0]},
}


def floor_line() -> str:
    """The kernel side of the browser floor: one small line chart rendered to PNG."""
    from labkit import charts

    cpu = []
    for _ in range(5):
        with charts.style():
            fig = charts.new_figure(1, 1, width=6, height=3.5, layout=None)
            fig.axes[0].plot(np.arange(50), np.sin(np.arange(50) / 5))
            start = time.thread_time()
            charts.to_png(fig)
            cpu.append(time.thread_time() - start)
    return f"floor (one small line chart to PNG): CPU median {statistics.median(cpu) * 1e3:.0f} ms"


def slider_moves() -> None:
    """Kernel-side time of each key press (the synchronous redraw), first move and median of four.

    Wall time and the CPU time of the redrawing thread (compare CPU time on a busy
    machine).  A move that needs new simulated dots redraws the model at once and
    simulates the dots in the background; "dots in" is the wall time until they are
    drawn too.
    """
    print("\nNotebook 03, every slider: four key presses each, from a cold start (nothing memoized)")
    print(f"  {floor_line()}")
    print(f"  {'chart / slider (ms)':<42} {'first':>6} {'median':>7} {'CPU first':>10} {'CPU median':>11} "
          f"{'dots in':>8}")
    for factory, sliders in SLIDERS.items():
        for name, values in sliders.items():
            _forget()
            plot = getattr(ttl, factory)()
            if hasattr(plot, "wait_idle"):
                plot.wait_idle(120)
            press, cpu, settle = [], [], []
            for value in values:
                start, cpu_start = time.perf_counter(), time.thread_time()
                plot.set(**{name: value})  # moved from code, the redraw runs in this thread
                cpu.append(time.thread_time() - cpu_start)
                press.append(time.perf_counter() - start)
                if hasattr(plot, "wait_idle"):
                    plot.wait_idle(120)
                settle.append(time.perf_counter() - start)
            print(f"  {factory + ' / ' + name:<42} {press[0] * 1e3:6.0f} {statistics.median(press) * 1e3:7.0f} "
                  f"{cpu[0] * 1e3:10.0f} {statistics.median(cpu) * 1e3:11.0f} {statistics.median(settle) * 1e3:8.0f}")


def jitter_speed() -> None:
    seconds, result = timed(lambda: ttl.jitter_timeline(ttl.JITTER_TRAFFIC, 300.0, 0.1), 3)
    plain = ttl.jitter_timeline(ttl.JITTER_TRAFFIC, 300.0, 0.0)
    print(
        f"\nJitter timeline (5,000 keys, 15 min): {seconds * 1000:.0f} ms; peak DB reads/s "
        f"{plain.peak_db_reads_per_second} without jitter, {result.peak_db_reads_per_second} with ±10% "
        f"({plain.peak_db_reads_per_second / result.peak_db_reads_per_second:.1f}x lower)"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--sliders"]:
        slider_moves()
    elif sys.argv[1:] == ["--dots"]:
        chart_dots()
    else:
        one_day_of_ten_thousand_keys()
        replay_speed()
        chart_dots()
        slider_moves()
        jitter_speed()
