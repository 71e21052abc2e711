"""How fast is notebook 03's simulation?  Prints figures; run by hand.

    python benchmarks/bench_ttl.py

Targets: one simulated day of traffic for 10,000 keys (millions of events) in
under 1 s; a TTL slider move redraws the model curve in under 100 ms and the
simulation dots in under 300 ms (median).  The machine is shared and noisy, so
each figure is the median of a few repeats, and comparisons are ratios taken in
the same run.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from labkit import ttl


def timed(fn, repeats: int = 5) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


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


def slider_moves() -> None:
    print("\nNotebook chart (1,000 keys, 50 reads/s), one TTL slider move:")
    traffic = ttl.EXERCISE_TRAFFIC
    grid = np.logspace(-1, np.log10(ttl.TTL_MAX_SECONDS), 160)
    model_s, _ = timed(lambda: (ttl.model_curve(traffic, grid), ttl.model(traffic, 300.0),
                                ttl.break_even_ttl(traffic, 0.5, 2.0)), 7)
    print(f"  model curve + marker + break-even: {model_s * 1000:6.1f} ms (median)")
    first_s, _ = timed(lambda: [ttl.chart_point(traffic, t) for t in ttl.SIM_TTLS], 1)
    print(f"  first draw's simulated dots (6 TTLs, events drawn once): {first_s * 1000:6.0f} ms")
    new_dot = []
    for ttl_seconds in np.logspace(0, np.log10(ttl.TTL_MAX_SECONDS), 9):
        seconds, _ = timed(lambda t=float(ttl_seconds): ttl.chart_point.__wrapped__(traffic, t), 1)
        new_dot.append(seconds)
    print(
        f"  simulated dot at a new TTL: median {statistics.median(new_dot) * 1000:6.0f} ms, "
        f"max {max(new_dot) * 1000:6.0f} ms (over 9 TTLs from 1 s to 6 h)"
    )
    plot = ttl.explore()
    redraw = []
    for ttl_seconds in (30.0, 120.0, 600.0, 1800.0, 7200.0):
        start = time.perf_counter()
        plot.set(ttl_seconds=ttl_seconds)
        redraw.append(time.perf_counter() - start)
    print(
        f"  whole LivePlot redraw incl. PNG rendering: median {statistics.median(redraw) * 1000:6.0f} ms"
    )


def jitter_speed() -> None:
    seconds, result = timed(lambda: ttl.jitter_timeline(ttl.JITTER_TRAFFIC, 300.0, 0.1), 3)
    plain = ttl.jitter_timeline(ttl.JITTER_TRAFFIC, 300.0, 0.0)
    print(
        f"\nJitter timeline (5,000 keys, 15 min): {seconds * 1000:.0f} ms; peak DB reads/s "
        f"{plain.peak_db_reads_per_second} without jitter, {result.peak_db_reads_per_second} with ±10% "
        f"({plain.peak_db_reads_per_second / result.peak_db_reads_per_second:.1f}x lower)"
    )


if __name__ == "__main__":
    one_day_of_ten_thousand_keys()
    replay_speed()
    slider_moves()
    jitter_speed()
