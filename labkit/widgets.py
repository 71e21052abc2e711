"""Live controls bound to a chart, and the predict-then-run widget.

:class:`LivePlot` owns one figure and one image.  Moving a control calls your
``draw(fig, **values)`` once, renders the figure to PNG and swaps the image's
bytes: no flicker, no stacked figures, nothing redrawn when nothing changed.
Sliders only report when released, so a drag stays smooth.  A move made in the
browser redraws off the kernel's message loop with a visible "updating…" state,
and a burst of moves (arrow keys fire one change per press) draws once, with the
last value.  ``live={"Run live": fn}`` adds buttons for real-time experiments:
they say "running…" at once, run ``fn(plot)`` in a thread and then redraw.

Every chart carries a text alternative (its title plus key numbers, from
:func:`labkit.charts.describe`) and a "Show the numbers" table; every control
has an accessible name.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import traitlets

from . import ahead as drawing_ahead
from . import charts
from .errors import LabError
from .predictions import NUDGE, _Prediction, _predictions, nudge_if_unlocked

__all__ = [
    "LivePlot", "slider", "int_slider", "log_slider", "choice", "toggle", "button", "predict",
    "nudge_if_unlocked", "NUDGE",
]

_LABEL_STYLE = {"description_width": "initial"}
_WIDE = W.Layout(width="420px")


def slider(description: str, min: float, max: float, step: float, value: float, **kw: Any) -> W.FloatSlider:
    return W.FloatSlider(
        description=description, min=min, max=max, step=step, value=value,
        continuous_update=False, style=_LABEL_STYLE, layout=_WIDE, **kw,
    )


def int_slider(description: str, min: int, max: int, step: int, value: int, **kw: Any) -> W.IntSlider:
    return W.IntSlider(
        description=description, min=min, max=max, step=step, value=value,
        continuous_update=False, style=_LABEL_STYLE, layout=_WIDE, **kw,
    )


def log_slider(description: str, min: float, max: float, value: float, **kw: Any) -> W.FloatLogSlider:
    """A slider over powers of ten: ``min``/``max`` are the real values, not exponents.

    Its steps (0.05 in the exponent, 12% each) are laid from ``value``, so the
    starting value is a step the handle can come back to: ArrowRight then ArrowLeft
    returns to exactly the chart the learner started from.  The ends move inward by
    less than a step to stay on those steps.
    """
    import math

    step = 0.05
    here, low, high = math.log10(value), math.log10(min), math.log10(max)
    lowest = here - math.floor(round((here - low) / step, 9)) * step
    highest = here + math.floor(round((high - here) / step, 9)) * step
    return W.FloatLogSlider(
        description=description, base=10, min=round(lowest, 12), max=round(highest, 12),
        step=step, value=value, continuous_update=False, style=_LABEL_STYLE, layout=_WIDE,
        readout_format=".3g", **kw,
    )


def choice(description: str, options: Sequence[Any], value: Any = None, **kw: Any) -> W.Dropdown:
    return W.Dropdown(
        description=description, options=list(options),
        value=options[0] if value is None else value, style=_LABEL_STYLE, **kw,
    )


def toggle(description: str, value: bool = False, **kw: Any) -> W.Checkbox:
    return W.Checkbox(description=description, value=value, indent=False, **kw)


def button(description: str, **kw: Any) -> W.Button:
    # As wide as its words: a fixed width cuts longer labels ("Lock in my predic…").
    kw.setdefault("layout", W.Layout(width="max-content", min_width="8em"))
    return W.Button(description=description, **kw)


class ChartImage(W.Image):
    """A chart's image; its ``tooltip`` carries the text alternative to the page.

    ipywidgets' image view puts no ``alt`` on its ``<img>``: the only text it writes there
    is the ``tooltip``, as ``title``, and only when the model has an empty ``description``
    (which ``Image`` lacks: the view then stops with a TypeError), so this model carries
    one.  The page's accessibility snippet (``_ACCESSIBILITY_JS``) moves that ``title``
    to ``alt`` on every redraw, so a screen reader reads the sentence and hovering shows
    no long tooltip; the reading copy (``tools/build_site.py``) writes it as ``alt``.
    """

    description = traitlets.Unicode("").tag(sync=True)


# ipywidgets 8.1 draws a slider's handle as a noUiSlider <div role="slider"> with no
# accessible name: the visible label beside it is a <label> that is not tied to it
# (ipywidgets passes noUiSlider no handleAttributes, and no widget option reaches the
# handle).  This snippet, shown with each live chart and prediction, links each
# handle to its visible label with aria-labelledby.  It also keeps arrow keys for
# the focused control: the notebook's command mode binds them (ArrowUp/Down move to
# another cell; ArrowLeft/Right move between headings), and Notebook 7 handles its
# shortcuts before the control sees the key.  Marking the key handled
# (preventDefault) in the capture phase makes the shortcut engine skip it while the
# slider still moves; radio buttons, whose arrow keys are the browser's own default
# action, are moved here.  It runs in JupyterLab and Notebook 7 (trusted output, as
# every output of a cell the learner ran is); where scripts do not run (an
# untrusted or static copy) the controls still work with the mouse, only unnamed.
# A chart image's text alternative arrives as its title (see ChartImage): the snippet
# moves it to alt each time the chart redraws.
_ACCESSIBILITY_JS = """
(function () {
  if (window.__labkitA11y) { window.__labkitA11y(); return; }
  var n = 0, queued = false;
  var ARROWS = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown'];
  // A chart's sentence goes to alt (what a screen reader reads), not title (a tooltip).
  function alts() {
    document.querySelectorAll('img.widget-image[title]').forEach(function (img) {
      img.setAttribute('alt', img.getAttribute('title'));
      img.removeAttribute('title');
    });
  }
  function fix() {
    queued = false;
    alts();
    document.querySelectorAll('.widget-slider').forEach(function (box) {
      var label = box.querySelector('label.widget-label');
      var handles = box.querySelectorAll('.noUi-handle');
      if (!label || !handles.length || !label.textContent.trim()) return;
      if (!label.id) label.id = 'labkit-label-' + (++n);
      handles.forEach(function (h) {
        if (h.getAttribute('aria-labelledby') !== label.id) h.setAttribute('aria-labelledby', label.id);
      });
    });
    reachable();
  }
  // An output wider or taller than its area scrolls; a keyboard reaches it only if it
  // can take focus (axe: scrollable-region-focusable).
  function reachable() {
    document.querySelectorAll('.jp-OutputArea-output').forEach(function (out) {
      var scrolls = out.scrollWidth > out.clientWidth + 1 || out.scrollHeight > out.clientHeight + 1;
      if (scrolls && !out.hasAttribute('tabindex')) {
        out.setAttribute('tabindex', '0');
        out.setAttribute('role', 'region');
        out.setAttribute('aria-label', 'scrolling output ' + (++n));
      }
    });
  }
  window.addEventListener('keydown', function (e) {
    if (ARROWS.indexOf(e.key) < 0 || !e.target || !e.target.closest) return;
    if (e.target.closest('.noUi-handle')) { e.preventDefault(); return; }
    var radio = e.target.closest('.widget-radio-box input[type=radio]');
    if (!radio || e.key.indexOf('Arrow') !== 0) return;
    e.preventDefault();
    var all = Array.prototype.slice.call(radio.closest('.widget-radio-box').querySelectorAll('input[type=radio]'));
    var step = (e.key === 'ArrowDown' || e.key === 'ArrowRight') ? 1 : -1;
    var next = all[(all.indexOf(radio) + step + all.length) % all.length];
    if (next && !next.disabled) { next.focus(); next.click(); }
  }, true);
  window.__labkitA11y = fix;
  new MutationObserver(function () {
    alts();
    if (!queued) { queued = true; requestAnimationFrame(fix); }
  }).observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ['title']});
  fix();
})();
"""


def name_controls() -> None:
    """Give every slider handle on the page its visible label as its accessible name."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import Javascript, display

    if InteractiveShell.initialized():  # in a kernel; a plain script would print the object
        display(Javascript(_ACCESSIBILITY_JS))


@dataclass(frozen=True)
class _Frame:
    """What one redraw shows: the picture, its text alternative and its caption."""

    png: bytes
    alt_text: str
    result: Any
    fig: Any
    values: dict[str, Any]
    draft: bool = False  # partial results, shown until the run that completes them ends


def _key_value(value: Any) -> Any:
    # A browser's float is the kernel's float give or take its last digits.
    if isinstance(value, float):
        return float(f"{value:.9g}")
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


class LivePlot:
    """Controls above a chart that redraws when any control changes.

    ``draw(fig, **values)`` draws into a cleared figure and may return a short
    string, shown under the chart (the "what to notice" that follows the numbers).
    ``buttons`` run an action and redraw at once; ``live`` buttons run a real-time
    experiment ``fn(plot)`` in a background thread (its result lands in
    ``plot.live_results[label]``), then redraw.

    >>> lp = LivePlot(lambda fig, n: f"n={n}", {"n": int_slider("n", 1, 5, 1, 2)})
    >>> lp.set(n=3); lp.redraws
    2
    """

    def __init__(
        self,
        draw: Callable[..., str | None],
        controls: dict[str, W.ValueWidget],
        *,
        nrows: int = 1,
        ncols: int = 1,
        width: float = 9.0,
        height: float = 3.6,
        buttons: dict[str, Callable[[LivePlot], Any]] | None = None,
        live: dict[str, Callable[[LivePlot], Any]] | None = None,
        ahead: bool = True,
        state: Callable[[], Any] | None = None,
        note: Callable[[dict[str, Any], dict[str, Any]], str] | None = None,
    ) -> None:
        if not callable(draw):
            raise LabError("LivePlot needs a draw(fig, **values) function as its first argument.")
        nudge_if_unlocked()
        self._draw = draw
        self.controls = dict(controls)
        self._shape = (nrows, ncols, width, height)
        self.fig = charts.new_figure(nrows, ncols, width=width, height=height, layout=None)
        self.image = ChartImage(format="png", layout=W.Layout(max_width="100%", height="auto"))
        self.caption = W.HTML()
        # role=status: screen readers announce "updating…" and "running…" politely.
        self.status = W.HTML("<span role='status'></span>", layout=W.Layout(min_width="7em"))
        self.numbers_toggle = W.ToggleButton(
            description="Show the numbers", value=False, layout=W.Layout(width="max-content"),
            tooltip="Show the chart's data as a table",
        )
        self.numbers = W.HTML()
        self.alt_text = ""
        self.redraws = 0
        self.draw_seconds: list[float] = []
        self.last_values: dict[str, Any] | None = None
        self._positions: tuple[tuple[int, bool], list[Any]] | None = None
        self.last_result: Any = None
        self.live_results: dict[str, Any] = {}
        self._redraw_lock = threading.RLock()
        self._pending = threading.Condition()
        self._dirty = False
        self._worker: threading.Thread | None = None
        self._running: set[str] = set()
        self.ahead = ahead
        self._state = state
        self._note = note
        self._frames: OrderedDict[tuple, _Frame] = OrderedDict()
        self._frames_lock = threading.Lock()
        self._inflight: dict[tuple, threading.Event] = {}
        self._generation = 0
        self._moved: tuple[str, Any] | None = None  # the control moved last, and its old value
        self._buttons = [self._action_button(label, action) for label, action in (buttons or {}).items()]
        self.live_buttons = {label: self._live_button(label, run) for label, run in (live or {}).items()}
        for w in self.controls.values():
            w.observe(self._on_change, names="value")
        self.numbers_toggle.observe(lambda _c: self._show_numbers(), names="value")
        boxes = [*self.controls.values(), *self._buttons, *self.live_buttons.values(), self.status]
        self.widget = W.VBox([
            W.HBox(boxes, layout=W.Layout(flex_flow="row wrap", align_items="center")),
            self.image, self.caption, self.numbers_toggle, self.numbers,
        ])
        self.redraw()

    @property
    def values(self) -> dict[str, Any]:
        return {name: w.value for name, w in self.controls.items()}

    @property
    def busy(self) -> bool:
        """True while a redraw or a live run is pending or running."""
        return self._dirty or self._worker is not None or bool(self._running)

    # --- controls ---------------------------------------------------------------

    def _action_button(self, label: str, action: Callable[[LivePlot], Any]) -> W.Button:
        b = button(label)
        b.on_click(lambda _b: (action(self), self.redraw(force=True)))
        return b

    def _live_button(self, label: str, run: Callable[[LivePlot], Any]) -> W.Button:
        b = button(label, icon="play", button_style="warning", tooltip=f"{label}: runs the real experiment")
        b.on_click(lambda _b: self.run_live(label, run, b))
        return b

    def _on_change(self, change: dict[str, Any]) -> None:
        if change.get("old") == change.get("new"):
            return
        owner = change.get("owner")
        # A change from the browser arrives while ipywidgets holds the property lock;
        # draw it off the message loop so the next key press is read at once.
        if owner is not None and "value" in getattr(owner, "_property_lock", {}):
            self._schedule()
        else:
            self.redraw()

    def _set_status(self, text: str) -> None:
        self.status.value = f"<span role='status'>{text}</span>"

    def _schedule(self) -> None:
        """Redraw in the background; changes that arrive meanwhile coalesce into one redraw."""
        with self._pending:
            self._dirty = True
            self._set_status("updating…")
            if self._worker is None:
                self._worker = threading.Thread(target=self._drain, name="labkit-redraw", daemon=True)
                self._worker.start()

    def _drain(self) -> None:
        while True:
            with self._pending:
                if not self._dirty:
                    self._worker = None
                    if not self._running:
                        self._set_status("")
                    self._pending.notify_all()
                    return
                self._dirty = False
            self._guarded(self.redraw)

    def _guarded(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # shown in the caption: never a traceback from a thread
            self.caption.value = f"<b>⚠️ The chart could not update: {type(exc).__name__}: {exc}</b>"
            return None

    def run_live(self, label: str, run: Callable[[LivePlot], Any], b: W.Button | None = None, *,
                 forget: bool = True) -> None:
        """Run ``run(self)`` in a background thread, then redraw; the button says "running…" meanwhile.

        ``forget=False``: the run only completes the chart shown (kept frames stay true)."""
        with self._pending:
            if label in self._running:
                return
            self._running.add(label)
        if b is not None:
            b.description, b.disabled = "running…", True
        self._set_status("running…")

        def work() -> None:
            try:
                result = self._guarded(lambda: run(self))
                self.live_results[label] = result
                drafts = [] if forget else self._draft_values()
                self._guarded(lambda: self.redraw(force=True, forget=forget))
                for values in drafts:  # complete the other drafts now: the learner may come back
                    self._guarded(lambda values=values: self.draw_ahead(values))
            finally:
                with self._pending:
                    self._running.discard(label)
                    if b is not None:
                        b.description, b.disabled = label, False
                    if not self.busy:
                        self._set_status("")
                    self._pending.notify_all()

        threading.Thread(target=work, name=f"labkit-live-{label}", daemon=True).start()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no redraw or live run is pending (tests and benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._pending:
            while self.busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pending.wait(min(left, 0.05))
        return True

    # --- drawing ----------------------------------------------------------------

    def redraw(self, force: bool = False, *, forget: bool = True) -> None:
        """Show the chart for the controls' values.

        ``force`` draws it again and forgets every kept frame (the state behind them
        changed); with ``forget=False`` only drafts are drawn again (what they waited
        for is done).
        """
        with self._redraw_lock:
            drawing_ahead.run_quietly(lambda: self._redraw(force, forget))

    def _redraw(self, force: bool, forget: bool = True) -> None:
        values = self.values
        if not force and values == self.last_values:
            return
        start = time.perf_counter()
        if force and forget:
            self.forget_frames()
        elif force:  # what completed the drafts is done: draw them complete when next shown
            self._forget_drafts()
        try:
            frame = self._frame(values)
        except LabError as exc:
            self.caption.value = f"<b>⚠️ {exc}</b>"
            self.last_values = values
            return
        before = self.last_values
        self._note_move(values)
        self.fig = frame.fig
        self.alt_text = frame.alt_text
        with self.image.hold_sync():
            self.image.tooltip = frame.alt_text
            self.image.value = frame.png
        result = frame.result
        if self._note is not None and before is not None:
            note = self._note(before, values)
            result = note + (result or "") if note else result
        self.last_result = result
        self.caption.value = "" if result is None else f"<div style='max-width:60em'>{result}</div>"
        self.last_values = values
        self.redraws += 1
        self._show_numbers()
        self.draw_seconds.append(time.perf_counter() - start)
        self._want_ahead()

    # --- frames: kept, and drawn ahead ------------------------------------------------

    MAX_FRAMES = 12  # per plot at least: where the controls are and every step from there

    @property
    def _max_frames(self) -> int:
        return max(self.MAX_FRAMES, 2 * len(self.controls) + 2)

    def _key(self, values: dict[str, Any]) -> tuple:
        return (self._generation, charts.is_presentation(), None if self._state is None else self._state(),
                tuple((name, _key_value(v)) for name, v in values.items()))

    def forget_frames(self) -> None:
        """Forget kept frames (the state behind the chart changed)."""
        with self._frames_lock:
            self._generation += 1
            self._frames.clear()
        drawing_ahead.worker().forget(self)

    @property
    def results(self) -> dict[str, Any]:
        """What the shown chart's draw left in ``fig.results`` (empty if nothing)."""
        return getattr(self.fig, "results", {})

    @property
    def frames_kept(self) -> int:
        return len(self._frames)

    def _frame(self, values: dict[str, Any]) -> _Frame:
        """The frame for these values: kept, being drawn ahead (waits for it), or drawn now."""
        key = self._key(values)
        with self._frames_lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
                return frame
            pending = self._inflight.get(key)
        if pending is not None:
            pending.wait(30.0)
            with self._frames_lock:
                frame = self._frames.get(key)
            if frame is not None:
                return frame
        return self._draw_frame(key, values)

    def _draw_frame(self, key: tuple, values: dict[str, Any]) -> _Frame:
        done = threading.Event()
        with self._frames_lock:
            self._inflight[key] = done
        try:
            drawing_ahead.take_draft_flag()
            nrows, ncols, width, height = self._shape
            # A fresh figure each time: clearing one keeps its layout engine, and any
            # engine makes savefig draw the chart twice.
            with charts.style():
                fig = charts.new_figure(nrows, ncols, width=width, height=height, layout=None)
                result = self._draw(fig, **values)
                reused = self._reuse_layout(fig)
                png = charts.to_png(fig)
            if not reused:
                self._positions = (self._layout_key(fig), [ax.get_position().frozen() for ax in fig.axes])
            fig.canvas.__dict__.pop("renderer", None)  # the pixels are in the PNG; keep memory small
            frame = _Frame(png=png, alt_text=charts.describe(fig), result=result, fig=fig, values=dict(values),
                           draft=drawing_ahead.take_draft_flag())
            with self._frames_lock:
                if self.ahead and key[0] == self._generation:
                    self._frames[key] = frame
                    while len(self._frames) > self._max_frames:
                        self._frames.popitem(last=False)
            return frame
        finally:
            with self._frames_lock:
                self._inflight.pop(key, None)
            done.set()

    def draw_ahead(self, values: dict[str, Any]) -> bool:
        """Draw and keep the frame for ``values`` unless it is kept already; True if drawn."""
        key = self._key(values)
        with self._frames_lock:
            kept = self._frames.get(key)
            if (kept is not None and not kept.draft) or key in self._inflight:
                return False
        self._draw_frame(key, values)
        return True

    def _draft_values(self) -> list[dict[str, Any]]:
        with self._frames_lock:
            return [f.values for f in reversed(self._frames.values()) if f.draft]

    def _forget_drafts(self) -> None:
        with self._frames_lock:
            for key in [k for k, f in self._frames.items() if f.draft]:
                del self._frames[key]

    def _note_move(self, values: dict[str, Any]) -> None:
        if self.last_values is None:
            return
        moved = [name for name in values if values[name] != self.last_values.get(name)]
        if len(moved) == 1:
            self._moved = (moved[0], self.last_values[moved[0]])

    def _want_ahead(self) -> None:
        """Ask for this chart at each control's next steps: the control moved last first,
        in the direction it moved."""
        if not self.ahead or not drawing_ahead.enabled():
            return
        values = self.values
        # Sliders first: arrow keys step them; a menu or a checkbox is a bigger jump.
        names = sorted(self.controls, key=lambda name: not hasattr(self.controls[name], "step"))
        urgent = self._moved is not None
        if urgent:
            names.remove(self._moved[0])
            names.insert(0, self._moved[0])
        wishes = []
        for name in names:
            steps = drawing_ahead.control_neighbours(self.controls[name])
            if urgent and name == self._moved[0] and len(steps) == 2 \
                    and _key_value(steps[1]) != _key_value(self._moved[1]):
                steps.reverse()  # keep going the way the learner is going
            wishes += [{**values, name: v} for v in steps]
        with self._frames_lock:
            kept = [self._key(w) for w in wishes if self._key(w) in self._frames]
            for key in [*kept, self._key(values)]:  # the neighbourhood is kept longest
                if key in self._frames:
                    self._frames.move_to_end(key)
            wishes = [w for w in wishes if self._key(w) not in self._frames or self._frames[self._key(w)].draft]
        drawing_ahead.worker().want(self, wishes, urgent=urgent)

    def _show_numbers(self) -> None:
        # Built only while shown: most learners never open it.
        self.numbers.value = charts.numbers_html(self.fig) if self.numbers_toggle.value else ""

    @staticmethod
    def _layout_key(fig: Any) -> tuple[int, bool]:
        return (len(fig.axes), charts.is_presentation())

    def _reuse_layout(self, fig: Any) -> bool:
        """Place the axes where the first draw's layout put them; False if that is not possible.

        Matplotlib's constrained layout costs about as much as drawing the chart, and
        the axes barely move between redraws, so it runs on the first draw (and when
        the figure's shape changes); later redraws reuse its positions.
        """
        if self._positions is None or self._positions[0] != self._layout_key(fig):
            # Padding leaves room for wider tick labels on later redraws.
            fig.set_layout_engine("constrained", w_pad=0.12, h_pad=0.06)
            return False
        for ax, pos in zip(fig.axes, self._positions[1], strict=True):
            ax.set_position(pos)
        return True

    def set(self, **values: Any) -> None:
        """Move controls from code (the tests and benchmarks drive a plot this way); redraws at once."""
        for name, value in values.items():
            if name not in self.controls:
                raise LabError(f"No control named {name!r}; this plot has {', '.join(self.controls)}.")
            self.controls[name].value = value

    @property
    def axes(self) -> list[Any]:
        return list(self.fig.axes)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        name_controls()


def predict(question: str, options: Sequence[str], *, notebook: str = "", name: str = "") -> W.VBox:
    """Ask for a prediction before an experiment; the choice is locked in, not graded.

    Arrow keys choose, Enter or Space on the button locks in.  Until it is locked,
    the next experiment prints a one-line nudge (and runs anyway).  With a room set
    (``LABKIT_ROOM``) the locked choice is also sent to the facilitator's poll.
    """
    from . import progress
    from .room import publisher as room

    if notebook and name:
        room.reached(notebook, f"prediction {name}")
    record = _Prediction(question)
    _predictions.append(record)
    prompt = W.HTML(f"<b>Predict:</b> {question}")
    radio = W.RadioButtons(options=list(options), value=None, layout=W.Layout(width="max-content"),
                           tooltip=f"Your prediction: {question}")
    lock = button("Lock in my prediction", button_style="info")
    said = W.HTML()

    def on_lock(_b: Any) -> None:
        if radio.value is None:
            said.value = "Pick one first - a guess is fine; the point is to commit before you look."
            return
        radio.disabled = lock.disabled = True
        record.locked = True
        said.value = f"Locked in: <b>{radio.value}</b>. Now run the experiment below and compare."
        if notebook and name:
            progress.record_prediction(notebook, name, str(radio.value))
            room.prediction_locked(notebook, name, str(radio.value))

    lock.on_click(on_lock)
    name_controls()  # arrow keys choose (the notebook's own shortcuts would take them)
    box = W.VBox([prompt, radio, lock, said])
    box.prediction = record  # type: ignore[attr-defined]
    box.lock = lock  # type: ignore[attr-defined]
    box.choices = radio  # type: ignore[attr-defined]
    return box
