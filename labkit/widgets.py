"""Live controls bound to a chart, and the predict-then-run widget.

:class:`LivePlot` owns one figure and one image.  Moving a control calls your
``draw(fig, **values)`` once, renders the figure to PNG and swaps the image's
bytes: no flicker, no stacked figures, nothing redrawn when nothing changed.
Sliders only report when released, so a drag stays smooth.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from . import charts
from .errors import LabError

__all__ = ["LivePlot", "slider", "int_slider", "log_slider", "choice", "toggle", "button", "predict"]

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
    """A slider over powers of ten: ``min``/``max`` are the real values, not exponents."""
    import math

    return W.FloatLogSlider(
        description=description, base=10, min=math.log10(min), max=math.log10(max),
        step=0.05, value=value, continuous_update=False, style=_LABEL_STYLE, layout=_WIDE,
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
    return W.Button(description=description, **kw)


class LivePlot:
    """Controls above a chart that redraws when any control changes.

    ``draw(fig, **values)`` draws into a cleared figure and may return a short
    string, shown under the chart (the "what to notice" that follows the numbers).

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
    ) -> None:
        if not callable(draw):
            raise LabError("LivePlot needs a draw(fig, **values) function as its first argument.")
        self._draw = draw
        self.controls = dict(controls)
        self._shape = (nrows, ncols, width, height)
        self.fig = charts.new_figure(nrows, ncols, width=width, height=height, layout=None)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", height="auto"))
        self.caption = W.HTML()
        self.redraws = 0
        self.draw_seconds: list[float] = []
        self.last_values: dict[str, Any] | None = None
        self._positions: tuple[tuple[int, bool], list[Any]] | None = None
        self.last_result: Any = None
        extra = []
        for label, action in (buttons or {}).items():
            b = button(label)
            b.on_click(lambda _b, action=action: (action(self), self.redraw(force=True)))
            extra.append(b)
        self._buttons = extra
        for w in self.controls.values():
            w.observe(self._on_change, names="value")
        boxes = list(self.controls.values()) + extra
        self.widget = W.VBox([W.HBox(boxes, layout=W.Layout(flex_flow="row wrap")), self.image, self.caption])
        self.redraw()

    @property
    def values(self) -> dict[str, Any]:
        return {name: w.value for name, w in self.controls.items()}

    def _on_change(self, change: dict[str, Any]) -> None:
        if change.get("old") != change.get("new"):
            self.redraw()

    def redraw(self, force: bool = False) -> None:
        values = self.values
        if not force and values == self.last_values:
            return
        start = time.perf_counter()
        nrows, ncols, width, height = self._shape
        # A fresh figure each time: clearing one keeps its layout engine, and any
        # engine makes savefig draw the chart twice.
        with charts.style():
            fig = charts.new_figure(nrows, ncols, width=width, height=height, layout=None)
            try:
                result = self._draw(fig, **values)
            except LabError as exc:
                self.caption.value = f"<b>⚠️ {exc}</b>"
                self.last_values = values
                return
            reused = self._reuse_layout(fig)
            png = charts.to_png(fig)
        if not reused:
            self._positions = (self._layout_key(fig), [ax.get_position().frozen() for ax in fig.axes])
        self.fig = fig
        self.image.value = png
        self.last_result = result
        self.caption.value = "" if result is None else f"<div style='max-width:60em'>{result}</div>"
        self.last_values = values
        self.redraws += 1
        self.draw_seconds.append(time.perf_counter() - start)

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
        """Move controls from code (the tests and benchmarks drive a plot this way)."""
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


def predict(question: str, options: Sequence[str], *, notebook: str = "", name: str = "") -> W.VBox:
    """Ask for a prediction before an experiment; the choice is locked in, not graded."""
    from . import progress

    radio = W.RadioButtons(options=list(options), value=None, layout=W.Layout(width="max-content"))
    lock = W.Button(description="Lock in my prediction", button_style="info")
    said = W.HTML()

    def on_lock(_b: Any) -> None:
        if radio.value is None:
            said.value = "Pick one first - a guess is fine; the point is to commit before you look."
            return
        radio.disabled = lock.disabled = True
        said.value = f"Locked in: <b>{radio.value}</b>. Now run the experiment below and compare."
        if notebook and name:
            progress.record_prediction(notebook, name, str(radio.value))

    lock.on_click(on_lock)
    return W.VBox([W.HTML(f"<b>Predict:</b> {question}"), radio, lock, said])
