"""Notebook 01's figures: the side-by-side replay, the live redraws, the demos.

    python benchmarks/bench_patterns.py

Targets: all four patterns on 20,000 requests in under 1 s (virtual clock); every
control of ``patterns.explore()`` redraws in under 150 ms median, kernel-side.
The machine is shared and noisy, so CPU time is printed next to wall time, and
fakeredis and real Redis are compared as a ratio measured in the same run.
The notebook's top-to-bottom time is in bench_notebooks.py (``... 01``).
"""

from __future__ import annotations

import statistics
import time

import labkit
from labkit import patterns
from labkit.redis_server import LocalRedis, redis_server_binary


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn()`` over ``repeats`` runs."""
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def bench_replay() -> None:
    print("Side-by-side replay, all four patterns (target: 20,000 requests < 1 s)")
    for n in (2_000, 20_000):
        wall, cpu = timed(lambda n=n: patterns.compare(n_requests=n), repeats=5)
        per_request_us = cpu / (4 * n) * 1e6
        print(f"  {n:>6,} requests: wall {wall:5.2f} s | cpu {cpu:5.2f} s "
              f"({per_request_us:.1f} µs per pattern-request)")


def bench_redraws() -> None:
    print("patterns.explore(): redraw time per control (target: median < 150 ms)")
    plot = patterns.explore()
    moves = {
        "write_ratio": [0.1, 0.3, 0.5, 0.05, 0.4, 0.25, 0.6],
        "alpha": [0.5, 1.2, 0.7, 1.4, 1.0, 0.3, 0.8],
        "db_latency_ms": [1.0, 20.0, 2.0, 40.0, 8.0, 0.8, 12.0],
        "flush_interval_ms": [50.0, 2000.0, 100.0, 4000.0, 250.0, 20.0, 1000.0],
    }
    for name, values in moves.items():
        wall, cpu = [], []
        for v in values:
            w, c = time.perf_counter(), time.process_time()
            plot.set(**{name: v})
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        print(f"  {name:<18} wall median {statistics.median(wall) * 1000:5.0f} ms"
              f" | cpu median {statistics.median(cpu) * 1000:5.0f} ms")
    button = plot._buttons[0]
    wall, cpu = [], []
    for _ in range(5):
        w, c = time.perf_counter(), time.process_time()
        button.click()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    print(f"  {'crash now':<18} wall median {statistics.median(wall) * 1000:5.0f} ms"
          f" | cpu median {statistics.median(cpu) * 1000:5.0f} ms")
    reference = tour_redraw_cpu()
    print(f"  reference, same run: notebook 00's two-panel chart redraws in {reference * 1000:.0f} ms cpu"
          " (median)")
    compute = []
    for v in (0.12, 0.22, 0.32, 0.42):
        w = time.perf_counter()
        patterns.compare(write_ratio=v, n_requests=2000, n_keys=200)
        compute.append(time.perf_counter() - w)
    print(f"  of which the replay itself: median {statistics.median(compute) * 1000:.0f} ms; "
          "the rest is drawing and PNG rendering")


def tour_redraw_cpu() -> float:
    from labkit import tour

    plot = tour.explore()
    cpu = []
    for v in (0.0, 0.05, 0.1, 0.2, 0.01, 0.03, 0.15):
        c = time.process_time()
        plot.set(write_ratio=v)
        cpu.append(time.process_time() - c)
    return statistics.median(cpu)


def bench_demos() -> None:
    print("Step-by-step demos on the notebook's store (walk-through + race + crash + clean shutdown)")
    stores = {"fakeredis": labkit.connect("fakeredis://", namespace="bench-01")}
    server = LocalRedis() if redis_server_binary() else None
    if server:
        stores["real Redis"] = labkit.connect(server.url, namespace="bench-01", fallback=False)
    try:
        times = {}
        for name, store in stores.items():
            def demos(store=store):
                patterns.walkthrough(store)
                patterns.race_demo(store)
                patterns.crash_demo(store)
                patterns.crash_demo(store, clean_shutdown=True)

            times[name], _ = timed(demos, repeats=5)
            commands = store.stats.commands
            print(f"  {name:<10} {times[name] * 1000:6.0f} ms wall ({commands // 5} cache commands per run)")
            store.reset()
        if "real Redis" in times:
            print(f"  real Redis / fakeredis: {times['real Redis'] / times['fakeredis']:.2f}×")
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    bench_replay()
    bench_redraws()
    bench_demos()
