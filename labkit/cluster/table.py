"""A small result table for notebook 09: HTML in a notebook, aligned text elsewhere."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["Table"]


class Table:
    """Rows of a small result table: HTML in a notebook, aligned text elsewhere."""

    def __init__(self, rows: list[dict[str, Any]], caption: str = "") -> None:
        self.rows, self.caption = rows, caption

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        columns = list(self.rows[0]) if self.rows else []
        return columns, [[str(row.get(c, "")) for c in columns] for row in self.rows]

    def _repr_html_(self) -> str:
        columns, cells = self._cells()
        esc = html.escape
        head = "".join(f"<th scope='col'>{esc(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in cells)
        caption = f"<caption>{esc(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __str__(self) -> str:
        columns, cells = self._cells()
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [columns, *cells]]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    __repr__ = __str__
