"""Notebook 01's figures: the side-by-side replay, the live redraws, the demos.

    python benchmarks/bench_patterns.py

Targets: all four patterns on 20,000 requests in under 1 s (virtual clock); every
control of ``patterns.explore()`` redraws, once the chart is shown, in at most about
6x the kernel-side floor (one small line chart to PNG, measured in the same run) -
what a browser median of 2x the browser floor leaves (issue #14).  Cold redraws
(a setting no warming reached) replay the four patterns first.
The machine is shared and noisy, so CPU time is printed next to wall time, and
fakeredis and real Redis are compared as a ratio measured in the same run.
The notebook's top-to-bottom time is in bench_notebooks.py (``... 01``).
"""

from __future__ import annotations

import math
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


def trivial_chart_seconds(repeats: int = 7) -> float:
    """Kernel-side floor, measured in the same run: one small line chart to PNG (the
    browser floor of issue #14 draws the same chart; ratios to it travel between machines)."""
    from labkit import charts

    times = []
    for _ in range(repeats):
        start = time.thread_time()
        with charts.style():
            fig = charts.new_figure(1, 1, width=5, height=3, layout=None)
            fig.axes[0].plot(range(10))
            charts.finish(fig.axes[0], title="t", xlabel="x (s)", ylabel="y (ms)")
            charts.to_png(fig)
        times.append(time.thread_time() - start)
    return statistics.median(times)


def key_presses(widget, presses: int = 4, direction: int = 1) -> list[float]:
    """The values ``presses`` keyboard steps from a slider's value, up (``direction`` 1)
    or down (-1); the other way where the slider ends first."""
    log = hasattr(widget, "base")
    value = math.log(widget.value, widget.base) if log else widget.value
    if not widget.min - 1e-9 <= value + direction * presses * widget.step <= widget.max + 1e-9:
        direction = -direction
    steps = [value + direction * (i + 1) * widget.step for i in range(presses)]
    return [round(widget.base ** s, 6) if log else round(s, 6) for s in steps]


def drive(make_plot, *, warm: bool) -> dict[str, tuple[float, float, float]]:
    """Per control: median wall and redraw-thread CPU seconds of four key presses, and
    the median ratio of each press's CPU to the floor measured right after it (the
    machine is shared: a floor taken once drifts with the load).

    Cold presses go up from the start, warm ones down, so no press finds a value an
    earlier pass remembered.  ``warm``: the plot is shown (``warm_up()``) and given a
    learner's pause between presses, so background warming (where a plot has it)
    finishes first."""
    import labkit

    out = {}
    for name in make_plot().controls:
        labkit.forget()
        plot = make_plot()
        if warm and hasattr(plot, "warm_up"):
            plot.warm_up()
            plot.warmer.wait()
        wall, cpu, ratio = [], [], []
        for value in key_presses(plot.controls[name], direction=-1 if warm else 1):
            w, c = time.perf_counter(), time.thread_time()
            plot.set(**{name: value})
            wall.append(time.perf_counter() - w)
            cpu.append(time.thread_time() - c)
            ratio.append(cpu[-1] / trivial_chart_seconds(repeats=3))
            if warm and hasattr(plot, "warmer"):
                plot.warmer.wait()
        out[name] = (statistics.median(wall), statistics.median(cpu), statistics.median(ratio))
    return out


def print_redraws(title: str, make_plot) -> None:
    floor = trivial_chart_seconds()
    print(f"{title}: redraw per control, median of 4 key presses (kernel side)")
    print(f"  floor (one small line chart to PNG), at the start: {floor * 1000:.0f} ms cpu;"
          " ratios use the floor measured after each press")
    for warm in (False, True):
        label = "shown, warmed" if warm else "cold"
        for name, (wall, cpu, ratio) in drive(make_plot, warm=warm).items():
            print(f"  {label:<13} {name:<18} wall {wall * 1000:5.0f} ms | cpu {cpu * 1000:5.0f} ms"
                  f" = {ratio:4.1f}x the floor")


def bench_redraws() -> None:
    print_redraws("patterns.explore()", patterns.explore)
    from labkit.patterns.replay import EXPLORE_DEFAULTS

    compute = []
    for v in (0.12, 0.22, 0.32, 0.42):
        c = time.thread_time()
        patterns.compare(**{**EXPLORE_DEFAULTS, "write_ratio": v})
        compute.append(time.thread_time() - c)
    print(f"  of a cold redraw, the four replays themselves: median {statistics.median(compute) * 1000:.0f} ms cpu")


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
