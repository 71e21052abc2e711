"""The notebooks: clean in git, shaped like lessons, and runnable on a real Redis.

nbval (configured in pyproject.toml) runs every notebook on the default backend,
fakeredis.  Here each notebook runs once more with REDIS_URL pointing at a real
redis-server, next to a learner's own key that must survive.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(path: Path, kind: str) -> str:
    return "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == kind)


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:1] == ["00"], "notebooks/00_start_here.ipynb is missing"


def test_notebooks_match_their_sources():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_notebooks.py"), "--check"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name} carries outputs; edit notebooks/src and run tools/build_notebooks.py"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_follows_the_lesson_shape(path):
    md, code = _text(path, "markdown"), _text(path, "code")
    nn = path.name[:2]
    for heading in ("What you'll learn", "Time", "What to notice", "Key takeaways", "Further reading"):
        assert heading.lower() in md.lower(), f"{path.name}: no '{heading}' section"
    assert re.search(r"\b\d+\s+minutes\b", md), f"{path.name}: say how long it takes, in minutes"
    assert f'labkit.start("{nn}"' in code, f'{path.name}: set up with labkit.start("{nn}")'
    assert "predict(" in code, f"{path.name}: ask the learner to predict before an experiment"
    checks = len(re.findall(r"\.check\(", code))
    assert 2 <= checks <= 4, f"{path.name}: {checks} exercise checks; the bar is 2-4"
    assert md.count("<details>") >= checks, f"{path.name}: every exercise needs a hidden solution"
    assert not re.search(r"\.(flushall|flushdb)\s*\(", code, re.I)


# Run first in the kernel: remember every figure the lab draws.
_RECORD_FIGURES = """
import labkit.charts as _charts
_drawn_figures, _new_figure = [], _charts.new_figure
def _recording_new_figure(*args, **kwargs):
    fig = _new_figure(*args, **kwargs)
    _drawn_figures.append(fig)
    return fig
_charts.new_figure = _recording_new_figure
"""

# Run last: every chart that shows data has a title and labelled axes, and no two
# labelled lines in one chart differ by colour alone.
_AUDIT_FIGURES = """
import json as _json
_problems, _charts_seen = [], 0
for _fig in _drawn_figures:
    for _ax in _fig.axes:
        if not _ax.axison or not (_ax.lines or _ax.patches or _ax.collections or _ax.images):
            continue
        _charts_seen += 1
        _name = repr(_ax.get_title()[:60])
        # A panel that blanks its y tick labels reads its categories off its neighbour.
        _y_shared = bool(_ax.get_yticklabels()) and all(not t.get_text() for t in _ax.get_yticklabels())
        for _part, _text in (("title", _ax.get_title()), ("x label", _ax.get_xlabel()), ("y label", _ax.get_ylabel())):
            if not _text.strip() and not (_part == "y label" and _y_shared):
                _problems.append(f"chart {_name} has no {_part}")
        _looks = {}
        for _line in _ax.lines:
            _label = _line.get_label()
            if _label.startswith("_") or len(_line.get_xdata()) < 2:
                continue
            _look = (_line.get_marker(), str(_line.get_linestyle()), round(_line.get_linewidth(), 1))
            if _look in _looks and _looks[_look][1] != _line.get_color():
                _problems.append(f"chart {_name}: {_looks[_look][0]!r} and {_label!r} differ by colour alone")
            _looks.setdefault(_look, (_label, _line.get_color()))
print("CHART-AUDIT " + _json.dumps({"charts": _charts_seen, "problems": sorted(set(_problems))}))
"""


@pytest.mark.redis_server
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_on_real_redis_and_spares_other_keys(path, redis_url, monkeypatch, tmp_path):
    """Also audits every chart the notebook draws (titles, axis labels, not colour alone)."""
    import nbformat
    import redis
    from nbclient import NotebookClient

    learner = redis.Redis.from_url(redis_url, decode_responses=True)
    learner.set("my-app:session:1", "precious")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CACHE_LAB_HOME", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_RECORD_FIGURES))
    nb.cells.append(nbformat.v4.new_code_cell(_AUDIT_FIGURES))
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    ).execute()
    outputs = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    audit = json.loads(outputs.split("CHART-AUDIT ", 1)[1].splitlines()[0])
    assert audit["charts"] >= 1, f"{path.name} drew no chart"
    assert audit["problems"] == [], f"{path.name}: " + "; ".join(audit["problems"])
    assert "Falling back to fakeredis" not in outputs, f"{path.name} did not reach the real server"
    assert "real Redis at" in outputs, f"{path.name} should say it uses the real server"
    assert learner.get("my-app:session:1") == "precious", "a learner's own key was touched"
    left = [k for k in learner.scan_iter(match=f"labkit:{path.name[:2]}:*")]
    assert left == [], f"{path.name} left keys behind on the server: {left[:5]}"


def test_the_chart_audit_can_fail():
    from labkit import charts

    fig = charts.new_figure(1, 2)
    left, right = fig.axes
    left.plot([0, 1], [0, 1], color="#0072B2", label="LRU")
    left.plot([0, 1], [1, 0], color="#E69F00", label="LFU")       # same look, other colour
    charts.finish(left, title="Colour alone", xlabel="x (s)", ylabel="y (%)")
    right.plot([0, 1], [0, 1], **charts.series_style(0), label="ok")
    right.set_title("No axis labels")
    namespace = {"_drawn_figures": [fig]}
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(_AUDIT_FIGURES, namespace)
    audit = json.loads(out.getvalue().split("CHART-AUDIT ", 1)[1])
    assert audit["charts"] == 2
    assert "chart 'Colour alone': 'LRU' and 'LFU' differ by colour alone" in audit["problems"]
    assert "chart 'No axis labels' has no x label" in audit["problems"]
