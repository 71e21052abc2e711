"""Charts drawn ahead of the hand: a slider's next steps are ready before it moves.

A learner moves a slider one step at a time (an arrow key, a click beside the
handle), and often back again.  So after a :class:`~labkit.widgets.LivePlot`
shows a chart, it asks this module to draw the same chart at each control's
neighbouring values while the kernel is idle; when the learner moves, the frame
(PNG, text alternative and caption) is already there and only has to be sent.
Nothing is drawn ahead while a cell runs, while a chart is redrawing for the
learner, or at all if ``CACHE_LAB_AHEAD=0`` (a crowded hub may want that).

A frame is exactly what a redraw would have shown: draw functions run with the
same values, and a draw that can only show a draft at once (a simulation still
running) draws the complete chart when it is drawn ahead (see
:func:`rendering_ahead`) and marks a draft it shows with :func:`draft`, so a
draft is replaced as soon as the run that completes it ends.

>>> neighbours(5, lower=0, upper=10, step=1)
[6, 4]
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["enabled", "enable", "rendering_ahead", "draft", "take_draft_flag", "neighbours", "control_neighbours",
           "AheadWorker", "worker", "run_quietly", "IDLE_SECONDS"]

IDLE_SECONDS = 0.25  # the kernel must have been idle this long before drawing ahead
_local = threading.local()
_settings = {"enabled": None}


def enabled() -> bool:
    """True where drawing ahead pays: in a kernel (a learner's hand), unless turned off."""
    if _settings["enabled"] is not None:
        return bool(_settings["enabled"])
    if os.environ.get("CACHE_LAB_AHEAD", "1").strip() in {"0", "off", "no", "false"}:
        return False
    return _kernel_shell() is not None


def enable(on: bool | None = True) -> None:
    """Turn drawing ahead on or off for this process (``None``: back to the default)."""
    _settings["enabled"] = on


def rendering_ahead() -> bool:
    """True inside a draw made ahead of a move: draw the complete chart, start nothing."""
    return bool(getattr(_local, "ahead", False))


def draft() -> None:
    """Mark the chart being drawn as a draft (it shows partial results while a run
    completes them): shown again until that run ends (``run_live(..., forget=False)``),
    never drawn ahead."""
    _local.draft = True


def take_draft_flag() -> bool:
    was = bool(getattr(_local, "draft", False))
    _local.draft = False
    return was


def neighbours(value: Any, *, lower: Any = None, upper: Any = None, step: Any = None,
               options: Sequence[Any] | None = None, base: float | None = None) -> list[Any]:
    """The values one key press up and one down (up first), as the browser's slider makes them.

    A slider's handle lives on the grid ``lower + k * step`` (in exponents for a log
    slider): a value off the grid is first snapped to its nearest grid point, and a
    step past either end stops at the end.

    >>> neighbours(0.9, lower=0.5, upper=1.0, step=0.05)
    [0.95, 0.85]
    >>> [round(v, 1) for v in neighbours(300, lower=-2, upper=4.33, step=0.05, base=10)]
    [354.8, 281.8]
    """
    if options is not None:
        opts = list(options)
        if value not in opts:
            return []
        i = opts.index(value)
        return [opts[j] for j in (i + 1, i - 1) if 0 <= j < len(opts)]
    if isinstance(value, bool):
        return [not value]
    if not isinstance(value, (int, float)) or not step or lower is None or upper is None:
        return []
    import math

    if base is not None and value <= 0:
        return []
    where = math.log(value, base) if base is not None else value
    snapped = lower + round((where - lower) / step) * step
    found = []
    for to in (snapped + step, snapped - step):
        if (to > upper + 1e-9 and snapped >= upper - 1e-9) or (to < lower - 1e-9 and snapped <= lower + 1e-9):
            continue  # already at that end
        to = min(max(to, lower), upper)
        v = base ** to if base is not None else to
        if isinstance(value, int) and base is None:
            found.append(int(round(v)))
        else:
            found.append(float(f"{v:.12g}"))
    return found


def control_neighbours(widget: Any, value: Any = None) -> list[Any]:
    """The values a control (an ipywidgets control) reaches in one key press from
    ``value`` (default: where it is)."""
    value = widget.value if value is None else value
    if isinstance(value, tuple):  # range sliders move two ends: not worth guessing
        return []
    options = getattr(widget, "options", None)
    if options:
        labels = getattr(widget, "_options_values", None)
        return neighbours(value, options=list(labels) if labels else [o[1] if isinstance(o, tuple) else o
                                                                          for o in options])
    if isinstance(value, bool):
        return neighbours(value)
    if not hasattr(widget, "step"):
        return []
    if hasattr(widget, "base"):
        return neighbours(value, lower=widget.min, upper=widget.max, step=widget.step, base=widget.base)
    return neighbours(value, lower=widget.min, upper=widget.max, step=widget.step)


def _kernel_shell() -> Any:
    try:
        from IPython.core.interactiveshell import InteractiveShell
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    if not InteractiveShell.initialized():
        return None
    shell = InteractiveShell.instance()
    return shell if getattr(shell, "kernel", None) is not None else None


class AheadWorker:
    """One background thread per kernel that draws frames ahead, most wanted first.

    ``want(plot, wishes, urgent)`` replaces the plot's earlier wishes; an urgent
    plot (the one the learner just moved) goes to the front of the line, a new
    plot to the back.  Work waits while a cell runs or any chart redraws.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[tuple[weakref.ReferenceType, list[dict[str, Any]]]] = []
        self._thread: threading.Thread | None = None
        self._cell_running = False
        self._quiet_since = time.monotonic()
        self._foreground = 0
        self._hooked = False
        self._busy = False  # a frame is being drawn ahead now
        self.drawn = 0  # frames drawn ahead (tests and benchmarks read it)

    # --- what the kernel and the charts tell it ---------------------------------

    def _hook_cells(self) -> None:
        if self._hooked:
            return
        self._hooked = True
        shell = _kernel_shell()
        if shell is None:
            return
        self._cell_running = True  # a plot is being made by a running cell
        shell.events.register("pre_run_cell", self._cell_started)
        shell.events.register("post_run_cell", self._cell_finished)

    def _cell_started(self, *_args: Any) -> None:
        with self._cond:
            self._cell_running = True

    def _cell_finished(self, *_args: Any) -> None:
        with self._cond:
            self._cell_running = False
            self._quiet_since = time.monotonic()
            self._cond.notify_all()

    def foreground(self, delta: int) -> None:
        """A redraw for the learner starts (+1) or ends (-1): drawing ahead waits meanwhile."""
        with self._cond:
            self._foreground += delta
            self._quiet_since = time.monotonic()
            self._cond.notify_all()

    def want(self, plot: Any, wishes: list[dict[str, Any]], *, urgent: bool) -> None:
        if not wishes or not enabled():
            return
        with self._cond:
            self._hook_cells()
            self._queue = [(ref, w) for ref, w in self._queue if ref() is not None and ref() is not plot]
            entry = (weakref.ref(plot), list(wishes))
            if urgent:
                self._queue.insert(0, entry)
            else:
                self._queue.append(entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="labkit-draw-ahead", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def forget(self, plot: Any) -> None:
        with self._cond:
            self._queue = [(ref, w) for ref, w in self._queue if ref() is not None and ref() is not plot]

    @property
    def pending(self) -> int:
        with self._cond:
            return sum(len(w) for _ref, w in self._queue)

    def wait_done(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is left to draw ahead (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    # --- the thread ----------------------------------------------------------------

    def _next(self) -> tuple[Any, dict[str, Any]] | None:
        """The next wish, once the kernel has been quiet long enough; None to stop."""
        with self._cond:
            while True:
                self._queue = [(ref, w) for ref, w in self._queue if ref() is not None and w]
                if not self._queue:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait(5.0)
                    if not self._queue:
                        self._thread = None
                        return None
                    continue
                quiet = time.monotonic() - self._quiet_since
                if self._cell_running or self._foreground > 0 or quiet < IDLE_SECONDS:
                    self._cond.wait(max(0.02, IDLE_SECONDS - quiet))
                    continue
                ref, wishes = self._queue[0]
                values = wishes.pop(0)
                self._busy = True
                return ref(), values

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            plot, values = item
            if plot is None:
                continue
            _local.ahead = True
            try:
                if plot.draw_ahead(values):
                    self.drawn += 1
            except Exception:  # noqa: BLE001 - a frame drawn ahead is a bonus; the real redraw reports
                pass
            finally:
                _local.ahead = False
                _local.draft = False
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


_worker: list[AheadWorker] = []
_worker_lock = threading.Lock()


def worker() -> AheadWorker:
    """This process's worker (made on first use)."""
    with _worker_lock:
        if not _worker:
            _worker.append(AheadWorker())
        return _worker[0]


def run_quietly(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` as a foreground redraw: drawing ahead waits until it is done."""
    w = worker()
    w.foreground(+1)
    try:
        return fn()
    finally:
        w.foreground(-1)
