"""One small table for the whole lab: HTML in a notebook, aligned text elsewhere.

Lessons show results as tables (the scorecard, a replay's timeline, the evidence
under a failed exercise).  :class:`Table` takes rows as dicts (the keys are the
columns) or as lists with ``columns=``; its HTML has a caption and column headers
a screen reader announces, and its text form lines the columns up.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Table"]


class Table:
    """``Table(rows, caption="", *, columns=None, note="", max_rows=None)``."""

    def __init__(self, rows: Sequence[Mapping[str, Any] | Sequence[Any]], caption: str = "", *,
                 columns: Sequence[str] | None = None, note: str = "", max_rows: int | None = None) -> None:
        if columns is None:
            columns = []
            for row in rows:
                columns.extend(c for c in row if c not in columns)  # type: ignore[union-attr]
            rows = [[row.get(c, "") for c in columns] for row in rows]  # type: ignore[union-attr]
        self.columns = [str(c) for c in columns]
        shown = list(rows) if max_rows is None else list(rows)[:max_rows]
        self.left_out = len(rows) - len(shown)
        self.cells = [[str(v) for v in row] for row in shown]
        self.caption, self.note = caption, note

    @property
    def rows(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.cells]

    def _repr_html_(self) -> str:
        esc = html.escape
        caption = f"<caption style='text-align:left'><b>{esc(self.caption)}</b></caption>" if self.caption else ""
        head = "".join(f"<th scope='col' style='text-align:left'>{esc(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{esc(v)}</td>" for v in row) + "</tr>"
                       for row in self.cells)
        more = f"<p>... and {self.left_out} more rows.</p>" if self.left_out else ""
        note = f"<p>{self.note}</p>" if self.note else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}{note}"

    def __str__(self) -> str:
        grid = [self.columns, *self.cells]
        widths = [max(len(row[i]) for row in grid) for i in range(len(self.columns))]
        lines = [self.caption] if self.caption else []
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in grid]
        if self.left_out:
            lines.append(f"... and {self.left_out} more rows.")
        if self.note:
            lines.append(html.unescape(self.note))
        return "\n".join(lines)

    __repr__ = __str__
