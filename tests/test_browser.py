"""Every notebook in a real browser: JupyterLab + headless Chromium.

For each notebook: open it, run all cells, and fail on a widget that could not
render ("Error displaying widget", "Could not create a model"), on a Python
traceback, or when moving the notebook's first slider does not redraw its chart.
The notebooks run from a temporary copy, so the committed files never gain outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

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
BAD_TEXT = ("Error displaying widget", "Could not create a model", "Traceback (most recent call last)")
ARTIFACTS = Path(os.environ.get("CACHE_LAB_ARTIFACTS", "/tmp/cache-lab-browser"))

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _need_browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -r requirements-dev.txt)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port, serving a copy of notebooks/."""
    _need_browser()
    work = tmp_path_factory.mktemp("lab")
    for nb in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / nb, work / nb)
    settings = work / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = free_port(), uuid.uuid4().hex
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(work / ".settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / ".workspaces"),
        CACHE_LAB_HOME=str(work / ".cache-lab"),
    )
    log = open(work / "jupyter.log", "w")  # noqa: SIM115 - closed in the teardown
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.disable_check_xsrf=True", "--allow-root",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
            break
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.3)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start within 60 s; see " + str(work / "jupyter.log"))
    if server.poll() is not None:
        pytest.fail("JupyterLab exited at start: " + (work / "jupyter.log").read_text()[-2000:])

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield {"base": base, "token": token, "browser": browser, "dir": work}
        browser.close()
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def _shutdown_kernels(lab):
    req = urllib.request.Request(f"{lab['base']}/api/sessions?token={lab['token']}")
    for session in json.load(urllib.request.urlopen(req, timeout=5)):
        urllib.request.urlopen(
            urllib.request.Request(
                f"{lab['base']}/api/sessions/{session['id']}?token={lab['token']}", method="DELETE"
            ),
            timeout=10,
        )


_ALL_DONE = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
  if (prompts.length === 0) return false;
  return prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_in_browser(lab, notebook):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    step = "open the notebook"
    try:
        # A workspace of its own, reset, so no tab from an earlier notebook is restored.
        workspace = Path(notebook).stem.replace("_", "-")
        page.goto(
            f"{lab['base']}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={lab['token']}", timeout=60_000
        )
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
        page.wait_for_function(
            "() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=30_000
        )
        step = "wait for an idle kernel"
        page.wait_for_function(
            """(name) => { const w = window.jupyterapp.shell.currentWidget;
                       return w && w.context && w.context.path.endsWith(name) &&
                              w.sessionContext && w.sessionContext.session &&
                              w.sessionContext.session.kernel &&
                              w.sessionContext.session.kernel.status === 'idle'; }""",
            arg=notebook,
            timeout=60_000,
        )
        step = "run all cells"
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(_ALL_DONE, timeout=180_000, polling=500)
        page.wait_for_timeout(800)  # let widget views finish rendering
        step = "render without widget errors or tracebacks"
        text = page.inner_text(".jp-Notebook")
        for bad in BAD_TEXT:
            assert bad not in text, f"{notebook}: found {bad!r} in the rendered notebook"

        step = "find the first slider and its chart"
        slider = page.locator(".jp-OutputArea-output .widget-slider").first
        assert slider.count() == 1, f"{notebook}: no slider found"
        output = page.locator(".jp-OutputArea-output", has=page.locator(".widget-slider")).first
        output.scroll_into_view_if_needed()
        image = output.locator("img").first
        image.wait_for(timeout=20_000)
        before = image.get_attribute("src")
        step = "move the slider and wait for the chart to redraw"
        handle = slider.locator(".noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "([img, before]) => img.getAttribute('src') !== before",
            arg=[image.element_handle(), before],
            timeout=30_000,
        )
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}.png"), full_page=False)
        assert not [e for e in errors if "widget" in e.lower()], errors
    except Exception as exc:
        page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}-FAILED.png"), full_page=False)
        raise AssertionError(f"{notebook}: failed to {step}: {type(exc).__name__}: {str(exc)[:300]}") from None
    finally:
        page.close()
        _shutdown_kernels(lab)
