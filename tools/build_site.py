#!/usr/bin/env python3
"""Build the lab's static reading copy: ``site/index.html`` and one page per notebook.

Every notebook the course map lists (``labkit.course.NOTEBOOKS``, those that exist)
is executed top to bottom on the built-in fakeredis, as a learner's *Run All* would,
and exported to ``site/<slug>.html`` (``site/00_start_here.html`` ...).  The index is
the course map, written as a one-cell notebook and exported the same way.

    python tools/build_site.py                 # all notebooks into site/
    python tools/build_site.py 00 04           # only these (the index lists those built)
    python tools/build_site.py --out /tmp/site --jobs 1
    python tools/build_site.py --keep-executed /tmp/executed   # also keep the executed notebooks

``--keep-executed DIR`` also writes each executed notebook to ``DIR/<slug>.ipynb``, with
its outputs and saved widget state: useful to inspect a cell's outputs as nbformat JSON
(or open it in JupyterLab), and what ``tests/test_notebooks.py`` reads to check every
notebook's outputs without running it a second time.  A notebook that stopped with an
error is written too, up to and including the failing cell, so its traceback is there
to read.

Why nbconvert (and not Jupyter Book 2 / MyST): nbconvert is already installed with
JupyterLab at the pinned versions (no new dependency, no Node build step), executes
through nbclient with ``store_widget_state=True`` so each page carries the saved
state of its sliders and charts, and its HTML exporter renders widget views from
that state.  Jupyter Book would add a second toolchain to pin and keep working for a
few pages that need no cross-references, search or theming.

How widgets appear on a page: nbconvert embeds the widget state and loads the
ipywidgets HTML manager from a CDN, which draws the controls at their saved values.
Offline (a USB stick in a room without network) that script cannot load, so each
widget view also carries a static rendering of the same state, made here: the chart
images with their text alternatives, and every control's saved value as text.  CSS
hides it once the manager has drawn the live view, so a reader sees one or the other.

Determinism: ``REDIS_URL`` and ``JUPYTERHUB_USER`` unset (fakeredis), a fixed
learner id (``LABKIT_LEARNER=reader``, so the printed key prefix is the same every
run), a fixed ``PYTHONHASHSEED``, and a temporary ``CACHE_LAB_HOME``, so the build
writes no exercise progress.  The notebooks seed their own workloads, so two builds
differ only where a live demo reads the wall clock (a real store's remaining TTL, by
milliseconds) or times real threads and servers.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from labkit.course import NOTEBOOKS, Lesson  # noqa: E402 - needs ROOT on the path first

NOTEBOOK_DIR = ROOT / "notebooks"
# The README's command that opens the lab, up to the notebook's path (tests/test_readme.py
# checks that the README says the same).
OPEN_LAB_PREFIX = "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt && jupyter lab "
DEFAULT_OUT = ROOT / "site"
# The README's Binder badge: replace with your fork (and a tag for a workshop).
DEFAULT_BINDER_REPO = "cache-lab/cache-lab"
DEFAULT_BINDER_REF = "HEAD"
READER_ID = "reader"
CELL_TIMEOUT_SECONDS = 180
STATE_MIME = "application/vnd.jupyter.widget-state+json"
# ipywidgets 8 (controls 2.0) is drawn by @jupyter-widgets/html-manager 1.x.
HTML_MANAGER_RANGE = "^1.0"

_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}
{%- block extra_css -%}
<style type="text/css">
/* The static copy of a widget view shows only until the widget manager draws the view. */
.jupyter-widgets .widget-subarea ~ .labkit-static { display: none; }
.labkit-static { margin: 0.25em 0 0.75em; font-family: var(--jp-ui-font-family, sans-serif); font-size: 0.9em; }
.labkit-static img { max-width: 100%; height: auto; display: block; }
.labkit-row { display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; align-items: center; }
.labkit-control b { font-weight: 600; }
.labkit-reading-note { max-width: 60em; margin: 1em auto; padding: 0.6em 1em; border-left: 4px solid #0072B2;
  background: #eef5fb; font-family: var(--jp-ui-font-family, sans-serif); font-size: 0.95em; line-height: 1.45; }
.labkit-reading-note nav { margin-top: 0.4em; }
</style>
{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
<aside class="labkit-reading-note" role="note" aria-label="About this reading copy">
{{ resources.labkit_note }}
</aside>
{%- endblock body_header -%}
{%- block data_widget_view scoped %}
{% set div_id = uuid4() %}
{% set datatype_list = output.data | filter_data_type %}
{% set datatype = datatype_list[0] %}
<div id="{{ div_id }}" class="jupyter-widgets jp-OutputArea-output {{ extra_class }}">
<script type="text/javascript">
var element = document.getElementById('{{ div_id }}');
</script>
<script type="{{ datatype }}">
{{ output.data[datatype] | json_dumps | escape_html_script }}
</script>
{{ output.data[datatype] | static_widget(nb.metadata.get('widgets', {})) }}
</div>
{%- endblock data_widget_view -%}
"""


# --- the static copy of a widget view ------------------------------------------------

_BOXES = {"VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel", "AccordionModel", "TabModel"}
_CHOICES = {"DropdownModel", "RadioButtonsModel", "ToggleButtonsModel", "SelectModel", "SelectionSliderModel"}


def _model(ref: Any) -> str | None:
    return ref[len("IPY_MODEL_"):] if isinstance(ref, str) and ref.startswith("IPY_MODEL_") else None


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return " - ".join(_value_text(v) for v in value)
    return str(value)


def _control(description: str, value: str) -> str:
    label = f"<b>{html.escape(description)}</b> " if description else ""
    return f"<span class='labkit-control'>{label}{html.escape(value)}</span>"


def _output_html(output: Mapping[str, Any]) -> str:
    """An Output widget's captured output, as text or an image."""
    if output.get("output_type") == "stream":
        return f"<pre>{html.escape(''.join(output.get('text', '')))}</pre>"
    data = output.get("data", {})
    if "text/html" in data:
        return "".join(data["text/html"])
    if "image/png" in data:  # a bare figure carries no text alternative: the site test flags it
        return f"<img src='data:image/png;base64,{data['image/png']}' alt=''/>"
    if "text/plain" in data and "application/vnd.jupyter.widget-view+json" not in data:
        return f"<pre>{html.escape(''.join(data['text/plain']))}</pre>"
    return ""


def _render(model_id: str, state: Mapping[str, Any], seen: set[str]) -> str:
    entry = state.get(model_id)
    if entry is None or model_id in seen:
        return ""
    seen.add(model_id)
    name, s = entry.get("model_name", ""), entry.get("state", {})
    if s.get("layout") and _hidden(state.get(_model(s["layout"]) or "", {})):
        return ""
    description = str(s.get("description", "") or "")
    if name in _BOXES:
        parts = [_render(child, state, seen) for child in map(_model, s.get("children", [])) if child]
        row = name == "HBoxModel"
        return f"<div class='{'labkit-row' if row else 'labkit-column'}'>{''.join(parts)}</div>"
    if name == "ImageModel":
        buffers = {tuple(b["path"]): b["data"] for b in entry.get("buffers", [])}
        data = buffers.get(("value",)) or s.get("value")
        if not isinstance(data, str) or not data:
            return ""
        alt = s.get("tooltip") or description or "chart"
        fmt = html.escape(str(s.get("format", "png")))
        return f"<img src='data:image/{fmt};base64,{data}' alt='{html.escape(alt, quote=True)}'/>"
    if name in {"HTMLModel", "HTMLMathModel"}:
        return f"<div>{s.get('value', '')}</div>"
    if name == "LabelModel":
        return _control(description, str(s.get("value", "")))
    if name in _CHOICES:
        labels, index = s.get("_options_labels", []), s.get("index")
        chosen = labels[index] if isinstance(index, int) and 0 <= index < len(labels) else "(none)"
        return _control(description, chosen)
    if name in {"ButtonModel", "ToggleButtonModel"}:
        return f"<button type='button' disabled>{html.escape(description)}</button>"
    if name == "OutputModel":
        return "".join(_output_html(o) for o in s.get("outputs", []))
    if "value" in s and name.endswith("Model") and "Style" not in name and name != "LayoutModel":
        return _control(description, _value_text(s["value"]))
    return ""


def _hidden(layout: Mapping[str, Any]) -> bool:
    s = layout.get("state", {})
    return s.get("display") == "none" or s.get("visibility") == "hidden"


def static_widget(view: Mapping[str, Any], widgets: Mapping[str, Any]) -> str:
    """A widget view drawn from its saved state without JavaScript (images and values)."""
    state = widgets.get(STATE_MIME, {}).get("state", {})
    body = _render(str(view.get("model_id", "")), state, set())
    return f"<div class='labkit-static'>{body}</div>" if body else ""


# --- executing the notebooks -----------------------------------------------------------


def reader_environment(cache_lab_home: str) -> dict[str, str]:
    """The kernels' environment: fakeredis, a fixed learner id, progress kept nowhere."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "JUPYTERHUB_USER", "REDIS_CLUSTER_URL"}}
    env.update(LABKIT_LEARNER=READER_ID, CACHE_LAB_HOME=cache_lab_home, PYTHONHASHSEED="0", MPLBACKEND="Agg")
    return env


def _execute(path: str, cache_lab_home: str) -> tuple[str, str, float]:
    """Run one notebook (in a worker process): (the error's last line, or "" if it ran cleanly;
    the executed JSON, up to the failing cell if one failed; seconds)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    env = reader_environment(cache_lab_home)  # read before clearing: it starts from os.environ
    os.environ.clear()
    os.environ.update(env)
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    error = ""
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        lines = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
        error = lines[-1] if lines else type(exc).__name__
    return error, nbformat.writes(nb), time.perf_counter() - started


def execute_all(lessons: list[Lesson], jobs: int, keep: Path | None = None) -> dict[str, str]:
    """Execute the notebooks, ``jobs`` kernels at a time; {slug: executed notebook JSON}.

    With ``keep``, each executed notebook is also written there as ``<slug>.ipynb``
    (one that failed, up to its failing cell) before any failure stops the build."""
    executed: dict[str, str] = {}
    failures: list[str] = []
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cache-lab-reader-") as home, \
            ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = {lesson.slug: pool.submit(_execute, str(NOTEBOOK_DIR / lesson.notebook_file), home)
                for lesson in lessons}
        for name, run in runs.items():
            error, result, seconds = run.result()
            if keep is not None:
                (keep / f"{name}.ipynb").write_text(result, encoding="utf-8")
            if not error:
                executed[name] = result
                print(f"  {name}: ran in {seconds:.0f} s", flush=True)
            else:
                failures.append(f"{name}: {error}")
                print(f"  {name}: failed after {seconds:.0f} s: {error}", flush=True)
    if failures:
        raise SystemExit("These notebooks stopped with an error, so no site was written:\n  " + "\n  ".join(failures))
    return executed


# --- the pages -----------------------------------------------------------------------


def binder_url(lesson: Lesson | None, repo: str, ref: str) -> str:
    target = f"notebooks/{lesson.notebook_file}" if lesson else "notebooks/00_start_here.ipynb"
    return f"https://mybinder.org/v2/gh/{repo}/{ref}?urlpath=lab/tree/{target}"


def page_name(lesson: Lesson) -> str:
    return f"{lesson.slug}.html"


def reading_note(lesson: Lesson | None, built: list[Lesson], repo: str, ref: str) -> str:
    run = (f"<a href='{html.escape(binder_url(lesson, repo, ref))}'>launch it on Binder</a>, or run it on your "
           "machine: <code>" + html.escape(OPEN_LAB_PREFIX) + "notebooks/"
           f"{lesson.notebook_file if lesson else '00_start_here.ipynb'}</code>")
    note = ("<strong>This is a reading copy.</strong> Every notebook here was run once, top to bottom, on the "
            "lab's built-in fakeredis; the charts and numbers are that run's. The sliders, buttons and "
            f"predictions show their saved values: live controls need a running kernel. To move them, {run}.")
    links = ["<a href='index.html'>The lab's map</a>"]
    if lesson is not None:
        position = built.index(lesson)
        if position > 0:
            before = built[position - 1]
            links.append(f"<a href='{page_name(before)}'>previous: {before.number} {html.escape(before.title)}</a>")
        if position + 1 < len(built):
            after = built[position + 1]
            links.append(f"<a href='{page_name(after)}'>next: {after.number} {html.escape(after.title)}</a>")
    return f"{note}<nav aria-label='Notebooks'>{' · '.join(links)}</nav>"


def index_notebook(built: list[Lesson], commit: str) -> Any:
    """The lab's map as a one-cell notebook, exported like the lessons."""
    import nbformat

    rows = "\n".join(
        f"| {lesson.number} | [{lesson.title}]({page_name(lesson)}) | {lesson.summary} | {lesson.minutes} |"
        for lesson in built
    )
    total = sum(lesson.minutes for lesson in built)
    source = f"""# Cache Lab: the reading copy

**Feel the trade-offs of caching by running them.** Each notebook takes one caching idea and
turns it into an experiment: a real cache (Redis), a real database (SQLite, slowed down on
purpose), real threads, and charts that say what just happened.

| # | notebook | what you run | minutes (self-paced, with exercises) |
|---|---|---|---|
{rows}

About {total} minutes in all. Start with notebook 00; each later notebook stands on its own.

Built from commit `{commit}`."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(source)]
    nb.metadata["title"] = "Cache Lab: the reading copy"
    return nb


def exporter() -> Any:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    ex = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"reading.html.j2": _TEMPLATE})])
    ex.template_file = "reading.html.j2"
    ex.html_manager_semver_range = HTML_MANAGER_RANGE
    ex.register_filter("static_widget", static_widget)
    return ex


def export(nb: Any, name: str, note: str, out: Path) -> Path:
    body, _ = exporter().from_notebook_node(nb, resources={"labkit_note": note, "metadata": {"name": name}})
    target = out / f"{name}.html"
    target.write_text(body, encoding="utf-8")
    return target


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build(out: Path, wanted: Iterable[str] = (), jobs: int = 2,
          repo: str = DEFAULT_BINDER_REPO, ref: str = DEFAULT_BINDER_REF, keep: Path | None = None) -> list[Path]:
    """Execute the notebooks and write the site into ``out``; returns the pages written.

    With ``keep``, the executed notebooks are also written there (see ``--keep-executed``)."""
    import nbformat

    chosen = {w.zfill(2) for w in wanted}
    built = [lesson for lesson in NOTEBOOKS
             if (NOTEBOOK_DIR / lesson.notebook_file).exists() and (not chosen or lesson.number in chosen)]
    if not built:
        raise SystemExit(f"No notebook to build: the course has {', '.join(n.number for n in NOTEBOOKS)}.")
    print(f"Executing {len(built)} notebooks on fakeredis, {jobs} at a time ...", flush=True)
    executed = execute_all(built, jobs, keep)
    out.mkdir(parents=True, exist_ok=True)
    (out / ".nojekyll").write_text("")  # GitHub Pages serves the files as they are
    pages = []
    for lesson in built:
        nb = nbformat.reads(executed[lesson.slug], as_version=4)
        nb.metadata["title"] = f"{lesson.number} {lesson.title} - Cache Lab (reading copy)"
        pages.append(export(nb, lesson.slug, reading_note(lesson, built, repo, ref), out))
    pages.insert(0, export(index_notebook(built, _commit()), "index", reading_note(None, built, repo, ref), out))
    return pages


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook numbers (default: every notebook)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: site/)")
    parser.add_argument("--jobs", type=int, default=2, help="kernels run at once (default: 2)")
    parser.add_argument("--binder-repo", default=DEFAULT_BINDER_REPO, help="owner/name for the Binder links")
    parser.add_argument("--binder-ref", default=DEFAULT_BINDER_REF, help="branch or tag for the Binder links")
    parser.add_argument("--keep-executed", type=Path, metavar="DIR",
                        help="also write each executed notebook to DIR/<slug>.ipynb, outputs and widget state "
                             "included, to inspect its outputs (one that failed: up to the failing cell)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pages = build(args.out, args.notebooks, args.jobs, args.binder_repo, args.binder_ref, args.keep_executed)
    print(f"Wrote {len(pages)} pages to {args.out} in {time.perf_counter() - started:.0f} s; "
          f"open {args.out / 'index.html'}")
    if args.keep_executed is not None:
        print(f"The executed notebooks are in {args.keep_executed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
