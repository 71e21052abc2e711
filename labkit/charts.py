"""One chart style for the whole lab.

Okabe-Ito colours (safe for the common forms of colour blindness), darkened
where needed so every line and bar keeps a 3:1 contrast on white (WCAG 2.1,
1.4.11), and a marker and line style per series so a chart still reads in
greyscale or on a washed-out projector.  :func:`finish` insists on a title that
states the finding and on axis labels with units.  :func:`presentation` enlarges
everything for a room.

Every chart also has a text alternative: :func:`describe` turns a figure into a
sentence per panel (its title, the finding, plus the key numbers read from the
same lines and bars the chart draws) and :func:`numbers` gives the data as rows
for a "show the numbers" table.  :func:`show` displays a static chart as an
``<img>`` carrying that text.
"""

from __future__ import annotations

import io
import math
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
    "describe",
    "numbers",
    "numbers_html",
    "show",
    "image_html",
    "contrast_on_white",
    "TEXT_COLORS",
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
# The same hues darkened (lightness only) until each has at least 3:1 contrast on
# white, the WCAG minimum for lines and bars; yellow, sky, orange and purple fail it
# as published (yellow #F0E442 has 1.3:1).  Series use these.
ON_WHITE = {
    "blue": "#0072B2",
    "orange": "#C28600",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#1D99E0",
    "purple": "#CB77A6",
    "yellow": "#9E940D",
    "black": "#000000",
}
COLORS = list(ON_WHITE.values())
# Darker still, for text drawn in a series' colour (4.5:1, WCAG AA for text).
TEXT_COLORS = ["#0072B2", "#9C6C00", "#008460", "#BE5400", "#177AB2", "#BB4D8A", "#80770A", "#000000"]
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
        # Titles sit at the top of their axes: automatic placement looks for tick labels
        # above the axes, which no lab chart has.
        "axes.titley": 1.0,
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


def contrast_on_white(color: Any) -> float:
    """WCAG contrast ratio of ``color`` against white (1 to 21; lines need 3, text 4.5)."""
    from matplotlib.colors import to_rgb

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in to_rgb(color))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


# ---------------------------------------------------------------------------
# Text alternatives: the same data the chart draws, as a sentence and as a table.

_MAX_PHRASES = 6  # per panel: enough for the finding, short enough to listen to
_MAX_ROWS = 12  # points per series in the numbers table


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}".removesuffix(".0")
    return "0" if a == 0 else f"{v:.3g}"


def _axis_value(axis: Any, v: float) -> str:
    """A value as the axis shows it: a category's name, or the axis' own percent/custom format."""
    from matplotlib import category, ticker

    units = axis.get_units()
    if isinstance(units, category.UnitData):
        names = {i: name for name, i in units._mapping.items()}
        if abs(v - round(v)) < 1e-9 and round(v) in names:
            return str(names[round(v)])
    fmt = axis.get_major_formatter()
    if isinstance(fmt, ticker.PercentFormatter | ticker.FuncFormatter | ticker.StrMethodFormatter
                  | ticker.FormatStrFormatter):
        try:
            text = str(fmt(v)).replace("$", "").strip()
            if text:
                return text
        except Exception:  # a formatter that needs a position or a drawn axis
            pass
    return _fmt(v)


def _short(label: str) -> str:
    return " ".join(label.replace("\n", " ").split())


def _visible_label(artist: Any) -> str | None:
    label = artist.get_label()
    return None if not label or label.startswith("_") else _short(label)


def _tick_name(ax: Any, x: float, width: float) -> str:
    """The tick label under a bar (grouped bars sit beside their tick)."""
    best, best_d = None, max(abs(width), 0.5)
    for loc, label in zip(ax.get_xticks(), ax.get_xticklabels(), strict=False):
        d = abs(loc - x)
        if d <= best_d and label.get_text():
            best, best_d = label.get_text(), d
    return _short(best) if best else _axis_value(ax.xaxis, x)


def _series(ax: Any) -> list[tuple[str, list[tuple[str, str, float]], str]]:
    """(series name, [(x text, y text, y)], kind) for each line, bar group and labelled scatter."""
    import numpy as np
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer

    out: list[tuple[str, list[tuple[str, str, float]], str]] = []
    lines = [ln for ln in ax.get_lines() if ln.get_visible()]
    named = [ln for ln in lines if _visible_label(ln)]
    for i, line in enumerate(named or lines):
        name = _visible_label(line) or (f"line {i + 1}" if len(lines) > 1 else "the line")
        transform = line.get_transform()
        # orig=False: after unit conversion, so category names come back as positions
        xdata, ydata = line.get_xdata(orig=False), line.get_ydata(orig=False)
        x = np.asarray(xdata, dtype=float) if _numeric(xdata) else None
        y = np.asarray(ydata, dtype=float) if _numeric(ydata) else None
        if transform == ax.get_yaxis_transform() and y is not None and len(y):  # axhline
            out.append((name, [("", _axis_value(ax.yaxis, float(y[0])), float(y[0]))], "level"))
            continue
        if transform == ax.get_xaxis_transform() and x is not None and len(x):  # axvline
            out.append((name, [(_axis_value(ax.xaxis, float(x[0])), "", float(x[0]))], "mark"))
            continue
        if x is None or y is None:
            continue
        ok = np.isfinite(x) & np.isfinite(y)
        points = [(_axis_value(ax.xaxis, float(a)), _axis_value(ax.yaxis, float(b)), float(b))
                  for a, b in zip(x[ok], y[ok], strict=True)]
        if points:
            out.append((name, points, "line"))
    for container in ax.containers:
        if not isinstance(container, BarContainer) or not container.patches:
            continue
        horizontal = getattr(container, "orientation", "vertical") == "horizontal"
        points = []
        for patch in container.patches:
            if horizontal:
                value, where = patch.get_width(), patch.get_y() + patch.get_height() / 2
                name = _axis_value(ax.yaxis, where) if not ax.get_yticklabels() else _ytick_name(ax, where)
                points.append((name, _axis_value(ax.xaxis, value), float(value)))
            else:
                value, where = patch.get_height(), patch.get_x() + patch.get_width() / 2
                points.append((_tick_name(ax, where, patch.get_width()), _axis_value(ax.yaxis, value), float(value)))
        out.append((_visible_label(container) or "bars", points, "bars"))
    for coll in ax.collections:
        label = _visible_label(coll)
        if isinstance(coll, PathCollection) and label and len(coll.get_offsets()):
            offsets = np.asarray(coll.get_offsets(), dtype=float)
            points = [(_axis_value(ax.xaxis, a), _axis_value(ax.yaxis, b), float(b)) for a, b in offsets]
            out.append((label, points, "points"))
    return out


def _ytick_name(ax: Any, y: float) -> str:
    best, best_d = None, 0.5
    for loc, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=False):
        if abs(loc - y) <= best_d and label.get_text():
            best, best_d = label.get_text(), abs(loc - y)
    return _short(best) if best else _axis_value(ax.yaxis, y)


def _numeric(data: Any) -> bool:
    import numpy as np

    try:
        np.asarray(data, dtype=float)
        return True
    except (TypeError, ValueError):
        return False


def _phrase(name: str, points: list[tuple[str, str, float]], kind: str) -> str:
    if kind == "level":
        return f"{name} at {points[0][1]}"
    if kind == "mark":
        return f"{name} at {points[0][0]}"
    if kind == "bars":
        if len(points) <= 8:
            shown = ", ".join(f"{x} {y}" for x, y, _ in points)
        else:
            lo, hi = min(points, key=lambda p: p[2]), max(points, key=lambda p: p[2])
            shown = f"{len(points)} bars from {lo[1]} ({lo[0]}) to {hi[1]} ({hi[0]})"
        return shown if name == "bars" else f"{name}: {shown}"
    last = points[-1]
    peak = max(points, key=lambda p: p[2])
    if kind == "points":
        return f"{name}: {len(points)} points, highest {peak[1]} at {peak[0]}"
    text = f"{name} {last[1]} at {last[0]}"
    if len(points) > 2 and peak[2] > last[2] and peak[1] != last[1]:
        text += f" (highest {peak[1]} at {peak[0]})"
    return text


def _title(ax: Any) -> str:
    for loc in ("center", "left", "right"):
        title = _short(ax.get_title(loc=loc))
        if title:
            return title
    return ""


def _panels(fig: Figure) -> list[Any]:
    return [ax for ax in fig.axes if ax.get_visible() and (_title(ax) or ax.has_data())]


def describe(fig: Figure) -> str:
    """A text alternative for ``fig``: per panel, its title (the finding) and key numbers.

    Read from the lines, bars and labelled points the chart draws, so it always says
    what the picture shows: for a line, its last value (and its highest, when that is
    elsewhere); for bars, each bar's value with its label.
    """
    sentences = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        sentences.append(_sentence(_short(suptitle.get_text())))
    for ax in _panels(fig):
        title = _title(ax) or "Chart"
        phrases = [_phrase(*s) for s in _series(ax)]
        if len(phrases) > _MAX_PHRASES:
            phrases = phrases[:_MAX_PHRASES] + [f"and {len(phrases) - _MAX_PHRASES} more series"]
        text = _sentence(title)
        if phrases:
            ylabel, xlabel = _short(ax.get_ylabel()), _short(ax.get_xlabel())
            axes = f"{ylabel} by {xlabel}" if ylabel and xlabel else (ylabel or xlabel or "values")
            text += f" {axes[:1].upper()}{axes[1:]}: " + "; ".join(phrases) + "."
        sentences.append(text)
    return " ".join(sentences) or "An empty chart."


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", ":")) else text + "."


def _thin(points: list[Any]) -> list[Any]:
    """At most _MAX_ROWS points, evenly spread, keeping the first, the last and the highest."""
    if len(points) <= _MAX_ROWS:
        return points
    keep = {round(i * (len(points) - 1) / (_MAX_ROWS - 2)) for i in range(_MAX_ROWS - 1)}
    keep.add(max(range(len(points)), key=lambda i: points[i][2]))
    return [points[i] for i in sorted(keep)]


def numbers(fig: Figure) -> list[dict[str, str]]:
    """The chart's data as rows (chart, series, x, y, and the axis labels), for a table."""
    rows = []
    for ax in _panels(fig):
        title, xlabel, ylabel = _title(ax) or "Chart", _short(ax.get_xlabel()), _short(ax.get_ylabel())
        for name, points, _kind in _series(ax):
            for x, y, _ in _thin(points):
                rows.append({"chart": title, "series": name, "x": x, "y": y, "xlabel": xlabel, "ylabel": ylabel})
    return rows


def numbers_html(fig_or_rows: Figure | list[dict[str, str]]) -> str:
    """The numbers as HTML: one table per panel, captioned with the panel's title."""
    import html

    rows = numbers(fig_or_rows) if isinstance(fig_or_rows, Figure) else fig_or_rows
    tables, current, body = [], None, []

    def close() -> None:
        if current is not None:
            title, xlabel, ylabel = current
            head = "".join(f"<th scope='col'>{html.escape(h or '-')}</th>" for h in ("series", xlabel, ylabel))
            tables.append(f"<table class='labkit-numbers'><caption>{html.escape(title)}</caption>"
                          f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    for row in rows:
        key = (row["chart"], row["xlabel"], row["ylabel"])
        if key != current:
            close()
            current, body = key, []
        body.append("<tr>" + "".join(f"<td>{html.escape(row[c])}</td>" for c in ("series", "x", "y")) + "</tr>")
    close()
    return "".join(tables) or "<p>This chart has no numbers to show.</p>"


def image_html(fig: Figure, alt: str | None = None) -> str:
    """The chart as an ``<img>`` with its text alternative, then its numbers behind a disclosure.

    For objects that show a chart from ``_repr_html_``; in a cell, use :func:`show`.
    """
    import base64
    import html

    png = base64.b64encode(to_png(fig)).decode()
    text = alt if alt and alt.strip() else describe(fig)
    return (f"<img src='data:image/png;base64,{png}' alt='{html.escape(text, quote=True)}' style='max-width:100%'/>"
            f"<details><summary>Show the numbers</summary>{numbers_html(fig)}</details>")


def show(fig: Figure, alt: str | None = None) -> None:
    """Display a static chart as an image with its text alternative, and its numbers on demand.

    Use this for charts that are not in a :class:`~labkit.widgets.LivePlot`; it shows
    nothing as a return value (no ``<Figure size ...>`` text under the cell).
    """
    from IPython.display import HTML, display

    from .predictions import nudge_if_unlocked

    nudge_if_unlocked()
    display(HTML(image_html(fig, alt)))
