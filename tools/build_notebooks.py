#!/usr/bin/env python3
"""Build notebooks/NN_*.ipynb from their readable sources in tools/notebooks/NN_*.py.

A source uses the "percent" format: ``# %% [markdown]`` starts a markdown cell
(every line of it commented with ``# ``), ``# %%`` starts a code cell.  The built
notebooks carry no outputs or execution counts, so a diff shows only what a
person wrote.  ``--check`` exits 1 if any notebook differs from its source.

Where the prose states a measured number it writes ``{claim:NAME}`` (or
``{claim:NAME:.0%}``); the build fills in the value of that claim from the
notebook's ``labkit/<concept>/claims.py`` (see ``labkit.claims``).  So when code
changes a number the prose shows, ``--check`` fails until the notebook is rebuilt.
``--check`` also refuses a claim whose value is a literal or computes from no engine
(``tools/claim_check.py``).

    python tools/build_notebooks.py          # rebuild all
    python tools/build_notebooks.py 04 05    # rebuild notebooks 04 and 05
    python tools/build_notebooks.py --check  # verify (the tests run this)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from claim_check import all_offenders, problems  # noqa: E402 - needs tools/ on the path first

from labkit.claims import fill  # noqa: E402 - needs ROOT on the path first
from labkit.errors import LabError  # noqa: E402

SRC = ROOT / "tools" / "notebooks"
OUT = ROOT / "notebooks"


def _cell(kind: str, lines: list[str], notebook: str) -> dict | None:
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None
    if kind == "markdown":
        text = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        source = fill("\n".join(text), notebook)
        return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(keepends=True)}
    source = "\n".join(lines)
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def build(src: Path) -> str:
    notebook = src.stem[:2]
    cells, kind, lines = [], None, []
    for line in src.read_text().splitlines():
        if line.startswith("# %%"):
            if kind is not None and (c := _cell(kind, lines, notebook)):
                cells.append(c)
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        elif kind is not None:
            lines.append(line)
    if kind is not None and (c := _cell(kind, lines, notebook)):
        cells.append(c)
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, cell in enumerate(cells):
        cell["id"] = f"{src.stem[:2]}-{i:03d}"
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    wanted = {a.zfill(2) for a in argv if a.isdigit()}
    stale = []
    for src in sorted(SRC.glob("[0-9][0-9]_*.py")):
        if wanted and src.stem[:2] not in wanted:
            continue
        out = OUT / (src.stem + ".ipynb")
        try:
            text = build(src)
        except LabError as exc:  # an unknown claim: one sentence, not a traceback
            print(f"{src.name}: {exc}")
            return 2
        if check:
            if not out.exists() or out.read_text() != text:
                stale.append(out.name)
        else:
            out.write_text(text)
    if stale:
        print("Out of date with tools/notebooks (run python tools/build_notebooks.py): " + ", ".join(stale))
        return 1
    if check and (literal := problems(all_offenders())):
        print("\n".join(literal))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
