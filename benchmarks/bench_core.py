"""Foundation figures: import cost and notebook 00's slider-to-chart time.

    python benchmarks/bench_core.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def import_seconds(code: str, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def drive(plot, name: str, values: list) -> tuple[list[float], list[float]]:
    """Move one control through ``values``; return wall and CPU seconds per redraw.

    CPU time is what the redraw itself costs; wall time adds whatever else the
    (shared, 2-core) machine was doing."""
    wall, cpu = [], []
    for v in values:
        before = plot.redraws
        w, c = time.perf_counter(), time.process_time()
        plot.set(**{name: v})
        if plot.redraws > before:
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
    return wall, cpu


def report(name: str, wall: list[float], cpu: list[float], target_ms: float) -> None:
    def p95(xs):
        return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]

    print(f"  {name:<16} wall median {statistics.median(wall) * 1000:5.0f} ms, p95 {p95(wall) * 1000:5.0f} ms"
          f" | cpu median {statistics.median(cpu) * 1000:5.0f} ms, p95 {p95(cpu) * 1000:5.0f} ms"
          f"   (target median < {target_ms:.0f} ms)")


def main() -> None:
    bare = import_seconds("pass")
    lab = import_seconds("import labkit")
    full = import_seconds("import labkit, labkit.widgets, labkit.connection, labkit.tour")
    print(f"python start-up                 {bare * 1000:7.0f} ms")
    print(f"import labkit (extra)           {(lab - bare) * 1000:7.0f} ms   target < 1500 ms")
    print(f"import labkit + widgets + tour  {(full - bare) * 1000:7.0f} ms")

    from labkit import tour

    plot = tour.explore()
    sweeps = {
        "app_work_ms": [5, 10, 20, 40, 3, 7, 15, 30],
        "db_latency_ms": [4, 12, 20, 30, 6, 16, 25, 9],
        "ttl_seconds": [2, 5, 10, 60, 120, 300, 15, 45],
        "write_ratio": [0.0, 0.05, 0.1, 0.2, 0.01, 0.03, 0.15, 0.25],
    }
    print("\nnotebook 00 slider -> redrawn chart (kernel side, first visit of each value)")
    for name, values in sweeps.items():
        report(name, *drive(plot, name, values), target_ms=150)


if __name__ == "__main__":
    main()
