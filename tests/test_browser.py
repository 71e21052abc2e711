"""Every notebook in a real browser: JupyterLab and Notebook 7 in headless Chromium.

One Jupyter server serves both front ends (JupyterLab at ``/lab``, Notebook 7 at
``/notebooks``).  For each notebook and front end: open it, run all cells, and fail
on a widget that could not render ("Error displaying widget", "Could not create a
model"), on a Python traceback, on ``<Figure size ...>`` text, or when moving
**any** slider does not paint a new chart (each slider is scrolled into view and
moved with the keyboard).  In JupyterLab, axe-core (from npm) then checks the
notebook's outputs: no critical violation, every chart image has a text
alternative of a sentence or more.  One more test drives notebook 00 with the
keyboard only.  The notebooks run from a temporary copy, so the committed files
never gain outputs.  No timing assertions: speed is ``benchmarks/bench_browser.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
BAD_TEXT = ("Error displaying widget", "Could not create a model", "Traceback (most recent call last)", "<Figure size")
# Screenshots of each notebook, for a person to look at after a run (build/ is ignored by git).
ARTIFACTS = Path(os.environ.get("CACHE_LAB_ARTIFACTS", Path(__file__).resolve().parents[1] / "build" / "browser"))
AXE_VERSION = "4.14.1"
AXE_INSTALL = f"npm install --prefix build/node axe-core@{AXE_VERSION}"
AXE_PATHS = [
    Path(os.environ.get("AXE_CORE_JS", "/nonexistent")),
    ROOT / "build" / "node" / "node_modules" / "axe-core" / "axe.min.js",
]
NOTEBOOK7_INSTALL = "pip install -r requirements.txt (it pins notebook 7)"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def need_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -r requirements-dev.txt)")


def has_notebook7() -> bool:
    try:
        import notebook  # noqa: F401
    except ImportError:
        return False
    return True


def axe_source() -> str | None:
    for path in AXE_PATHS:
        if path.is_file():
            return path.read_text()
    return None


# ---------------------------------------------------------------------------
# The server and the browser (also used by benchmarks/bench_browser.py)


@contextlib.contextmanager
def jupyter_server(work: Path, notebooks: dict[str, Path]) -> Iterator[dict[str, Any]]:
    """A Jupyter server on a free loopback port serving copies of ``notebooks`` from ``work``, and Chromium."""
    for name, source in notebooks.items():
        shutil.copy(source, work / name)
    settings = work / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Notebook 7 renders only the cells near the viewport (windowing); with it off every
    # output is in the page to be checked.  Each slider is still scrolled into view.
    tracker = work / ".settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), uuid.uuid4().hex
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(work / ".settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / ".workspaces"),
        CACHE_LAB_HOME=str(work / ".cache-lab"),
    )
    log_path = work / "jupyter.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            "--ServerApp.disable_check_xsrf=True", "--allow-root",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError("Jupyter exited at start: " + log_path.read_text()[-2000:]) from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Jupyter did not start within 60 s; see {log_path}") from None
                time.sleep(0.3)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield {"base": base, "token": token, "browser": browser, "dir": work}
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def shutdown_kernels(lab: dict[str, Any]) -> None:
    req = urllib.request.Request(f"{lab['base']}/api/sessions?token={lab['token']}")
    for session in json.load(urllib.request.urlopen(req, timeout=5)):
        urllib.request.urlopen(
            urllib.request.Request(
                f"{lab['base']}/api/sessions/{session['id']}?token={lab['token']}", method="DELETE"
            ),
            timeout=10,
        )


# "done" when every code cell has run; the error's text when Run All stopped at a failing cell.
_RUN_STATE = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
  if (prompts.length === 0) return false;
  if (prompts.every(p => /\\[\\d+\\]/.test(p.textContent))) return 'done';
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  const failed = [...document.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .find(o => /Traceback|\\w+Error\\b/.test(o.textContent));
  if (failed && kernel && kernel.status === 'idle') return 'error: ' + failed.textContent.slice(-800);
  return false;
}"""

_KERNEL_IDLE = """(name) => { const app = window.jupyterapp; if (!app) return false;
  const w = app.shell.currentWidget;
  return !!(w && w.context && w.context.path.endsWith(name) && w.sessionContext &&
            w.sessionContext.session && w.sessionContext.session.kernel &&
            w.sessionContext.session.kernel.status === 'idle'); }"""


def open_and_run(lab: dict[str, Any], page: Any, notebook: str, frontend: str = "lab") -> None:
    """Open ``notebook`` in JupyterLab (``lab``) or Notebook 7 (``notebook7``), run all, wait for the last cell."""
    if frontend == "lab":
        # A workspace of its own, reset, so no tab from an earlier notebook is restored.
        workspace = Path(notebook).stem.replace("_", "-")
        url = f"{lab['base']}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={lab['token']}"
    else:
        url = f"{lab['base']}/notebooks/{notebook}?token={lab['token']}"
    page.goto(url, timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
    page.wait_for_function(_KERNEL_IDLE, arg=notebook, timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + 180
    while True:
        left_ms = max(1000, int((deadline - time.monotonic()) * 1000))
        state = page.wait_for_function(_RUN_STATE, timeout=left_ms, polling=500).json_value()
        if state == "done":
            break
        page.wait_for_timeout(3000)  # an error on stderr: still stopped 3 s later means Run All stopped there
        if page.evaluate(_RUN_STATE) == state:
            raise AssertionError(f"Run All stopped at a failing cell: {state}")
    page.wait_for_timeout(800)  # let widget views finish rendering


def check_rendered(page: Any, notebook: str) -> None:
    text = page.inner_text(".jp-Notebook")
    for bad in BAD_TEXT:
        assert bad not in text, f"{notebook}: found {bad!r} in the rendered notebook"


# The chart a slider drives: the first widget image in the nearest enclosing box
# that has one (a LivePlot's VBox holds its controls, then its image).
_CHART_OF = """(handle) => {
  let el = handle.closest('.widget-slider');
  while (el && !el.querySelector('img.widget-image')) el = el.parentElement;
  return el ? el.querySelector('img.widget-image') : null;
}"""

# Which way a key press can move the slider (a slider at its maximum moves left).
_DIRECTION = """(h) => Number(h.getAttribute('aria-valuenow')) < Number(h.getAttribute('aria-valuemax'))
                       ? 'ArrowRight' : 'ArrowLeft'"""


def slider_handles(page: Any) -> Any:
    return page.locator(".jp-OutputArea-output .widget-slider .noUi-handle")


def slider_name(handle: Any) -> str:
    return handle.evaluate(
        "(h) => { const b = h.closest('.widget-slider'); const l = b && b.querySelector('label.widget-label');"
        " return l ? l.textContent.trim() : '(unlabelled)'; }"
    )


def move_every_slider(page: Any, notebook: str, frontend: str) -> list[str]:
    """Press an arrow key on every slider; return the sliders whose chart painted no new image."""
    stuck = []
    handles = slider_handles(page)
    count = handles.count()
    assert count > 0, f"{notebook}: no slider found"
    for i in range(count):
        handle = handles.nth(i)
        handle.scroll_into_view_if_needed()  # Notebook 7 leaves earlier cells off-screen after Run All
        image = handle.evaluate_handle(_CHART_OF)
        name = slider_name(handle)
        if image.evaluate("(img) => img === null"):
            stuck.append(f"{name!r} (no chart beside it)")
            continue
        before = image.evaluate("(img) => img.getAttribute('src')")
        handle.focus()
        page.keyboard.press(handle.evaluate(_DIRECTION))
        try:
            page.wait_for_function(
                "([img, before]) => img.getAttribute('src') !== before && img.complete",
                arg=[image, before], timeout=30_000,
            )
        except Exception:
            stuck.append(f"{name!r} (slider {i + 1} of {count}, {frontend})")
    return stuck


# ---------------------------------------------------------------------------
# axe-core

_AXE_RUN = """async () => {
  const result = await axe.run({include: [['.jp-Notebook .jp-OutputArea-output']]},
                               {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n')[1])}));
}"""

# Each chart image's text alternative (its alt) and its tooltip (its title, which should be
# short or absent: a sentence on every hover gets in the way).
_IMAGE_TEXTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img')].map(img =>
  ({alt: (img.getAttribute('alt') || '').trim(), title: (img.getAttribute('title') || '').trim()}))"""
SHORT_TOOLTIP_WORDS = 6


def is_sentence(text: str) -> bool:
    """A sentence or more: at least four words and a full stop (a title alone is not enough)."""
    return len(text.split()) >= 4 and text.rstrip().endswith((".", "!", "?"))


def run_axe(page: Any, source: str) -> dict[str, Any]:
    page.add_script_tag(content=source)
    violations = page.evaluate(_AXE_RUN)
    return {"violations": violations, "images": page.evaluate(_IMAGE_TEXTS)}


AXE_RESULTS: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    need_browser()
    work = tmp_path_factory.mktemp("lab")
    try:
        with jupyter_server(work, {nb: ROOT / "notebooks" / nb for nb in NOTEBOOKS}) as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _drive(lab: dict[str, Any], notebook: str, frontend: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = ARTIFACTS / f"{Path(notebook).stem}-{frontend}"
    step = "open the notebook and run all cells"
    try:
        open_and_run(lab, page, notebook, frontend)
        step = "render without widget errors, tracebacks or <Figure size> text"
        check_rendered(page, notebook)
        source = axe_source()
        if frontend == "lab" and source:
            step = "run axe-core on the outputs"
            AXE_RESULTS[notebook] = run_axe(page, source)
        step = "move every slider and see its chart redraw"
        stuck = move_every_slider(page, notebook, frontend)
        assert not stuck, f"{notebook}: no new chart painted after moving " + ", ".join(stuck)
        step = "keep each redrawn chart's text in alt, not in a tooltip"
        images = page.evaluate(_IMAGE_TEXTS)
        tooltips = [i["title"] for i in images if len(i["title"].split()) > SHORT_TOOLTIP_WORDS]
        assert not tooltips and all(i["alt"] for i in images), images
        page.screenshot(path=f"{shot}.png", full_page=False)
        widget_errors = [e for e in errors if "widget" in e.lower() or "typeerror" in e.lower()]
        assert not widget_errors, widget_errors
    except Exception as exc:
        page.screenshot(path=f"{shot}-FAILED.png", full_page=False)
        raise AssertionError(f"{notebook} in {frontend}: failed to {step}: {type(exc).__name__}: "
                             f"{str(exc)[:600]}") from None
    finally:
        page.close()
        shutdown_kernels(lab)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_in_jupyterlab(lab, notebook):
    _drive(lab, notebook, "lab")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_in_notebook7(lab, notebook):
    if not has_notebook7():
        pytest.skip(f"Jupyter Notebook 7 is not installed ({NOTEBOOK7_INSTALL})")
    _drive(lab, notebook, "notebook7")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_outputs_pass_axe(lab, notebook):
    """After Run All in JupyterLab: no critical axe violation; every image has a sentence of text."""
    source = axe_source()
    if source is None:
        pytest.skip(f"axe-core is not installed ({AXE_INSTALL})")
    if notebook not in AXE_RESULTS:  # run on its own (the JupyterLab test above normally collects it)
        page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
        try:
            open_and_run(lab, page, notebook, "lab")
            AXE_RESULTS[notebook] = run_axe(page, source)
        finally:
            page.close()
            shutdown_kernels(lab)
    result = AXE_RESULTS[notebook]
    serious = [v for v in result["violations"] if v["impact"] == "serious"]
    for v in serious:
        print(f"{notebook} serious: {v['id']} ({v['help']}): {v['nodes']}")
    critical = [v for v in result["violations"] if v["impact"] == "critical"]
    assert not critical, f"{notebook}: critical accessibility violations: {json.dumps(critical, indent=1)}"
    unnamed = [image["alt"] or "(none)" for image in result["images"] if not is_sentence(image["alt"])]
    assert not unnamed, f"{notebook}: chart images without a one-sentence alt text: {unnamed}"
    long_tooltips = [image["title"] for image in result["images"]
                     if len(image["title"].split()) > SHORT_TOOLTIP_WORDS]
    assert not long_tooltips, f"{notebook}: chart images with a long tooltip (title): {long_tooltips}"
    assert result["images"], f"{notebook}: no chart image found in the outputs"


def _focused(page: Any) -> str:
    return page.evaluate(
        """() => { const a = document.activeElement; if (!a) return '';
           if (a.classList.contains('noUi-handle')) return 'slider';
           if (a.matches('.widget-radio-box input[type=radio]')) return 'radio';
           if (a.matches('button.jupyter-button')) return 'button:' + a.textContent.trim();
           return a.tagName; }"""
    )


def _tab_to(page: Any, kind: str, limit: int = 400) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page).startswith(kind):
            return
    raise AssertionError(f"Tab never reached a {kind}")


def test_keyboard_only_notebook_00(lab):
    """Tab to the prediction, choose with arrows, lock in with Enter; Tab to a slider, arrows redraw the chart."""
    notebook = next(nb for nb in NOTEBOOKS if nb.startswith("00_"))
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_and_run(lab, page, notebook, "lab")
        page.keyboard.press("Escape")  # command mode: Tab moves focus instead of indenting
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        _tab_to(page, "radio")
        page.keyboard.press("Space")
        page.keyboard.press("ArrowDown")
        chosen = page.evaluate("() => document.activeElement.checked")
        assert chosen, "the arrow key did not choose a prediction"
        _tab_to(page, "button:Lock in my prediction", limit=5)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.widget-html')].some(e => e.textContent.includes('Locked in:'))",
            timeout=15_000,
        )
        _tab_to(page, "slider")
        image = page.evaluate_handle(f"() => ({_CHART_OF})(document.activeElement)")
        before = image.evaluate("(img) => img.getAttribute('src')")
        page.keyboard.press(page.evaluate(f"() => ({_DIRECTION})(document.activeElement)"))
        page.wait_for_function(
            "([img, before]) => img.getAttribute('src') !== before", arg=[image, before], timeout=30_000
        )
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "keyboard-FAILED.png"), full_page=False)
        raise
    finally:
        page.close()
        shutdown_kernels(lab)


def test_the_facilitators_view_redraws_itself_in_jupyterlab(lab):
    """notebooks/facilitator.ipynb without its last cell (which stops the views): after Run
    All, with no cell running, the practice room's view shows new passes and a new time."""
    import re

    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "facilitator.ipynb", as_version=4)
    last_code = max(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells = nb.cells[:last_code]
    nbformat.write(nb, lab["dir"] / "facilitator_live.ipynb")
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    pattern = re.compile(r"Room rehearsal-\w+: 12 learners - updated (\d\d:\d\d:\d\d)")

    def seen() -> tuple[str, int]:
        text = page.inner_text(".jp-Notebook")
        passed = [int(n) for n in re.findall(r"12 learners, (\d+) exercises passed", text)]
        return (pattern.search(text).group(1) if pattern.search(text) else "", max(passed, default=-1))

    try:
        open_and_run(lab, page, "facilitator_live.ipynb", "lab")
        check_rendered(page, "facilitator_live.ipynb")
        first_time, first_passed = seen()
        assert first_time and first_passed >= 0, "the practice room's view did not render"
        deadline = time.monotonic() + 60
        while seen()[0] == first_time or seen()[1] <= first_passed:
            assert time.monotonic() < deadline, f"the view never redrew by itself: {seen()} after {first_time}"
            page.wait_for_timeout(1000)
        source = axe_source()
        if source:
            critical = [v for v in run_axe(page, source)["violations"] if v["impact"] == "critical"]
            assert not critical, json.dumps(critical, indent=1)
        assert not [e for e in errors if "widget" in e.lower()], errors
    finally:
        page.screenshot(path=str(ARTIFACTS / "facilitator-lab.png"), full_page=False)
        page.close()
        shutdown_kernels(lab)
