"""One chart style for the whole lab.

Okabe-Ito colours (safe for the common forms of colour blindness), and a marker
and line style per series so a chart still reads in greyscale or on a washed-out
projector.  :func:`finish` insists on a title that states the finding and on axis
labels with units.  :func:`presentation` enlarges everything for a room.
"""

from __future__ import annotations

import io
from itertools import cycle
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from .errors import LabError

__all__ = [
    "OKABE_ITO",
    "COLORS",
    "series_style",
    "new_figure",
    "finish",
    "presentation",
    "is_presentation",
    "to_png",
    "LIMIT_STYLE",
    "style",
]

# Okabe & Ito (2008), ordered so that neighbours differ in lightness too.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
COLORS = list(OKABE_ITO.values())
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
_LINES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1)), "-"]
# A physical or theoretical limit (OPT, "one query per expiry") is always drawn this way.
LIMIT_STYLE: dict[str, Any] = {"color": "#000000", "linestyle": "--", "linewidth": 1.5}

_state = {"presentation": False}


def presentation(on: bool = True) -> None:
    """Bigger fonts and figures for a projector; call with False to go back."""
    _state["presentation"] = bool(on)


def is_presentation() -> bool:
    return _state["presentation"]


def series_style(i: int) -> dict[str, Any]:
    """Colour, marker and line style for the i-th series (distinct without colour)."""
    return {
        "color": COLORS[i % len(COLORS)],
        "marker": _MARKERS[i % len(_MARKERS)],
        "linestyle": _LINES[i % len(_LINES)],
    }


def style_cycle():
    return cycle(series_style(i) for i in range(len(COLORS)))


def _rc() -> dict[str, Any]:
    scale = 1.45 if _state["presentation"] else 1.0
    return {
        "font.size": 10 * scale,
        "axes.titlesize": 11 * scale,
        "axes.labelsize": 10 * scale,
        "legend.fontsize": 9 * scale,
        "xtick.labelsize": 9 * scale,
        "ytick.labelsize": 9 * scale,
        "lines.linewidth": 2.0 * (1.2 if _state["presentation"] else 1.0),
        "lines.markersize": 5 * scale,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    }


def style():
    """A context in which new figures, axes and lines take the lab's style."""
    return matplotlib.rc_context(_rc())


def new_figure(
    nrows: int = 1, ncols: int = 1, *, width: float = 9.0, height: float = 3.6, layout: str | None = "constrained"
) -> Figure:
    """A detached figure (never shown twice by the inline backend) in the lab style."""
    scale = 1.25 if _state["presentation"] else 1.0
    with style():
        fig = Figure(figsize=(width * scale, height * scale), layout=layout)
        fig.subplots(nrows, ncols)
    return fig


def apply_style(fig: Figure) -> None:
    """Re-apply the current style to a figure's fonts (after toggling presentation)."""
    rc = _rc()
    for ax in fig.axes:
        ax.title.set_fontsize(rc["axes.titlesize"])
        ax.xaxis.label.set_fontsize(rc["axes.labelsize"])
        ax.yaxis.label.set_fontsize(rc["axes.labelsize"])
        ax.tick_params(labelsize=rc["xtick.labelsize"])
        ax.grid(True, alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        leg = ax.get_legend()
        if leg is not None:
            for text in leg.get_texts():
                text.set_fontsize(rc["legend.fontsize"])


def finish(ax: Any, *, title: str, xlabel: str, ylabel: str, legend: bool | None = None) -> Any:
    """Label a chart.  The title should state the finding, not the variables."""
    for name, text in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        if not isinstance(text, str) or not text.strip():
            raise LabError(f"Every chart needs a {name}; pass {name}='...' to finish().")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    handles, _ = ax.get_legend_handles_labels()
    if legend or (legend is None and handles):
        ax.legend(frameon=False)
    return ax


def to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes (what the live widgets display)."""
    apply_style(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
