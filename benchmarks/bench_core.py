"""Foundation figures: import cost and notebook 00's slider-to-chart time (kernel side,
as a ratio to the floor measured in the same run; see bench_patterns.print_redraws).

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


def main() -> None:
    bare = import_seconds("pass")
    lab = import_seconds("import labkit")
    full = import_seconds("import labkit, labkit.widgets, labkit.connection, labkit.tour")
    print(f"python start-up                 {bare * 1000:7.0f} ms")
    print(f"import labkit (extra)           {(lab - bare) * 1000:7.0f} ms   target < 1500 ms")
    print(f"import labkit + widgets + tour  {(full - bare) * 1000:7.0f} ms")

    from bench_patterns import print_redraws

    from labkit import tour

    print()
    print_redraws("notebook 00, tour.explore()", tour.explore)


if __name__ == "__main__":
    main()
