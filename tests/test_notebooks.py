"""The notebooks: clean in git, shaped like lessons, and runnable on fakeredis and a real Redis.

Every notebook runs once on the default backend, fakeredis, in the reading-copy build
(tools/build_site.py, run once per test session by the ``reading_copy`` fixture in
conftest.py, which keeps the notebooks it executed): every cell must run, and the
per-notebook output test reads that notebook's executed copy for figure text,
tracebacks and stray values; tests/test_site.py checks the pages built from the same
run.  Here each notebook also runs once with REDIS_URL pointing at a real
redis-server, next to a learner's own key that must survive.

nbval is no longer part of the default run (pyproject.toml's testpaths is ``tests``),
but it still works by hand: ``python -m pytest --nbval-lax notebooks/`` runs every
notebook under nbval on fakeredis (one notebook: name its .ipynb file).
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


# A code line longer than this runs past the right edge of a cell in a laptop-sized window
# (JupyterLab with its file browser open, or Notebook 7), where it scrolls out of sight.
CODE_WIDTH = 79


def test_the_first_notebooks_code_fits_the_cell():
    path = ROOT / "notebooks" / "00_start_here.ipynb"
    wide = [line for cell in _cells(path) if cell["cell_type"] == "code"
            for line in "".join(cell["source"]).splitlines() if len(line) > CODE_WIDTH]
    assert not wide, f"{path.name}: code lines over {CODE_WIDTH} characters: {wide}"


def test_the_notebooks_folder_holds_only_what_a_learner_opens():
    others = sorted(p.name for p in (ROOT / "notebooks").iterdir()
                    if not (p.suffix == ".ipynb" or p.name == ".ipynb_checkpoints"))
    assert not others, f"notebooks/ holds {others}: a learner sees them next to the notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name} carries outputs; edit tools/notebooks and run tools/build_notebooks.py"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_follows_the_lesson_shape(path):
    md, code = _text(path, "markdown"), _text(path, "code")
    nn = path.name[:2]
    for heading in ("What you'll learn", "Time", "What to notice", "Key takeaways", "Further reading"):
        assert heading.lower() in md.lower(), f"{path.name}: no '{heading}' section"
    assert re.search(r"\b\d+\s+minutes\b", md), f"{path.name}: say how long it takes, in minutes"
    assert f'labkit.start("{nn}"' in code, f'{path.name}: set up with labkit.start("{nn}")'
    predictions = code.count("predict(")
    assert predictions >= 3, f"{path.name}: {predictions} predictions; ask for at least three before experiments"
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


# What a notebook may leave as a cell's value: rich displays (widgets, HTML, images).
_RICH_OUTPUTS = ("application/vnd.jupyter.widget-view+json", "text/html", "image/png", "image/svg+xml",
                 "text/markdown")


def output_problems(nb, name: str) -> list[str]:
    """Everything a learner should never see, named by notebook and cell: a figure's
    repr as text, a traceback, or a stray return value (``True``, ``8``, a dict,
    ``<... object at 0x...>``) shown as the cell's result."""
    problems = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        where = f"{name} cell {number} ({cell.source.strip().splitlines()[0][:50] if cell.source.strip() else ''!r})"
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = out.get("text", "") + data.get("text/plain", "") + "\n".join(out.get("traceback", []))
            if "<Figure size" in text:
                problems.append(f"{where}: shows a figure as text ({text.strip()[:60]!r}); display it as a chart")
            elif "Traceback (most recent call last)" in text or out.get("output_type") == "error":
                problems.append(f"{where}: shows an error: {out.get('ename', '')} {out.get('evalue', '')}".rstrip())
            elif out.get("output_type") == "execute_result" and not any(kind in data for kind in _RICH_OUTPUTS):
                problems.append(f"{where}: shows a stray return value {data.get('text/plain', '')[:60]!r} "
                                "(end the line with ';' or assign it)")
    return problems


def _execute(path: Path, tmp_path: Path, *, audit_charts: bool):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    if audit_charts:
        nb.cells.insert(0, nbformat.v4.new_code_cell(_RECORD_FIGURES))
        nb.cells.append(nbformat.v4.new_code_cell(_AUDIT_FIGURES))
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"], allow_errors=True,
    ).execute()
    if audit_charts:  # the two audit cells are the test's own, not the notebook's
        nb.cells = nb.cells[1:-1] + [nb.cells[-1]]
    return nb


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the first test to ask for the reading copy waits for its build
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_shows_no_figure_text_traceback_or_stray_value_on_fakeredis(path, reading_copy):
    """Reads the copy of this notebook that the reading-copy build executed on fakeredis
    (every notebook runs there once, not once per test; as the reader, with matplotlib's
    Agg backend - the lab renders its charts itself): every cell ran to the end, and no
    output is a figure's text, a traceback or a stray value."""
    import nbformat

    executed = reading_copy.executed / path.name
    if not executed.exists():
        pytest.fail(f"tools/build_site.py kept no executed copy of {path.name} (it builds only the notebooks "
                    "labkit/course.py lists, and keeps none if it crashed); what it printed:\n" + reading_copy.output)
    problems = output_problems(nbformat.read(executed, as_version=4), path.name)
    if not reading_copy.ran(path.stem):
        problems.append(f"{path.name} did not run to the end in tools/build_site.py: "
                        f"{reading_copy.line_for(path.stem) or reading_copy.output}")
    assert problems == [], "\n".join(problems)


@pytest.mark.redis_server
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_on_real_redis_and_spares_other_keys(path, redis_url, monkeypatch, tmp_path):
    """Also audits every chart the notebook draws (titles, axis labels, not colour alone)
    and every output (no figure text, no traceback, no stray return value)."""
    import redis

    learner = redis.Redis.from_url(redis_url, decode_responses=True)
    learner.set("my-app:session:1", "precious")
    learner_id = f"nbtest-{path.name[:2]}"
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CACHE_LAB_HOME", str(tmp_path))
    monkeypatch.setenv("LABKIT_LEARNER", learner_id)
    nb = _execute(path, tmp_path, audit_charts=True)
    outputs = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    problems = output_problems(nb, path.name)
    assert problems == [], "\n".join(problems)
    audit = json.loads(outputs.split("CHART-AUDIT ", 1)[1].splitlines()[0])
    assert audit["charts"] >= 1, f"{path.name} drew no chart"
    assert audit["problems"] == [], f"{path.name}: " + "; ".join(audit["problems"])
    assert "falls back to the built-in fakeredis" not in outputs, f"{path.name} did not reach the real server"
    assert "real Redis at" in outputs, f"{path.name} should say it uses the real server"
    assert f"keys under 'labkit:{learner_id}:{path.name[:2]}:'" in outputs, "the first line shows the prefix"
    assert learner.get("my-app:session:1") == "precious", "a learner's own key was touched"
    left = [k for k in learner.scan_iter(match=f"labkit:{learner_id}:*")]
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


def test_the_output_check_can_fail():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell(src) for src in ("fig", "boom()", "ex.check(3)", "plot", "x = 1")]
    cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="<Figure size 800x340 with 1 Axes>\n")]
    cells[1].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="name 'boom' is not defined",
                                               traceback=["Traceback (most recent call last):", "NameError"])]
    cells[2].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "False"}, execution_count=3)]
    cells[3].outputs = [nbformat.v4.new_output(
        "execute_result", execution_count=4,
        data={"text/plain": "LivePlot(...)", "application/vnd.jupyter.widget-view+json": {"model_id": "x"}})]
    nb.cells = cells
    problems = output_problems(nb, "99_demo.ipynb")
    assert len(problems) == 3
    assert problems[0].startswith("99_demo.ipynb cell 1 ('fig'): shows a figure as text")
    assert problems[1].startswith("99_demo.ipynb cell 2 ('boom()'): shows an error: NameError")
    assert problems[2] == ("99_demo.ipynb cell 3 ('ex.check(3)'): shows a stray return value 'False' "
                           "(end the line with ';' or assign it)")


def test_a_pre_commit_hook_keeps_outputs_out_of_commits():
    yaml = pytest.importorskip("yaml")

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks["nbstripout"]["files"] == r"^notebooks/.*\.ipynb$"
    assert hooks["notebooks-match-sources"]["entry"] == "python tools/build_notebooks.py --check"
    guide = (ROOT / "docs" / "authoring-notebooks.md").read_text()
    assert "pre-commit install" in guide and "nbstripout" in guide


@pytest.mark.slow
@pytest.mark.parametrize("bad_url", ["not a url at all", "redis://127.0.0.1:1/0"])
def test_a_bad_redis_url_falls_back_and_the_notebook_runs_to_the_end(bad_url, tmp_path, monkeypatch):
    """Run All with a malformed or unreachable REDIS_URL: one wrapped sentence in the
    first cell's output, fakeredis from then on, no error anywhere."""
    path = ROOT / "notebooks" / "00_start_here.ipynb"
    monkeypatch.setenv("REDIS_URL", bad_url)
    monkeypatch.setenv("CACHE_LAB_HOME", str(tmp_path))
    nb = _execute(path, tmp_path, audit_charts=False)
    assert output_problems(nb, path.name) == []
    texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    (warning,) = [t for t in texts if "falls back to the built-in fakeredis" in t]
    lines = warning.split("Cache Lab ready")[0].rstrip("\n").split("\n")
    assert lines[0].startswith("⚠️") and all(len(line) <= 88 for line in lines)
    assert "kernel restart" in " ".join(line.strip() for line in lines)
    assert "Cache Lab ready - cache: fakeredis" in "".join(texts)  # the lab went on, on fakeredis


def test_notebook_kernels_under_nbval_never_touch_the_testers_home(tmp_path):
    """pytest under nbval in a fresh HOME, as ``python -m pytest --nbval-lax notebooks/``
    still runs the notebooks by hand: a notebook kernel that records progress writes
    into the run's isolated folder, never ~/.cache-lab (the root conftest sets
    CACHE_LAB_HOME before any kernel starts)."""
    import os
    import shutil
    import uuid

    import nbformat

    probe_dir = ROOT / "build" / f"isolation-probe-{uuid.uuid4().hex[:8]}"  # build/ is git-ignored
    probe_dir.mkdir(parents=True)
    try:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(
            "from labkit import progress\nprogress.record('zz', 'isolation', True)\nprogress.learner_id();")]
        nbformat.write(nb, probe_dir / "probe.ipynb")
        home = tmp_path / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "CACHE_LAB_HOME"}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe_dir / "probe.ipynb")],
            cwd=ROOT, env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=300,
        )
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not (home / ".cache-lab").exists(), "a notebook kernel wrote into the tester's ~/.cache-lab"
