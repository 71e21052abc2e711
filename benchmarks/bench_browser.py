"""Key press to new chart painted, in JupyterLab in headless Chromium, against the stack's floor.

    python benchmarks/bench_browser.py            # the floor, then every slider of every notebook
    python benchmarks/bench_browser.py 03 04      # the floor, then some notebooks
    python benchmarks/bench_browser.py 03 --raw   # ... and every press's time

The floor is a bare notebook: one ``ipywidgets.IntSlider`` redrawing one small
matplotlib line chart as PNG through an ``Image`` widget.  Every slider is timed
inside the page: ``performance.now()`` at the keydown (a capture listener on the
slider's handle), then a MutationObserver sees the chart's ``src`` change, the new
image is decoded and the next animation frame is painted.  Median of 4 presses
per slider (alternating directions, so each slider ends where it started).
Target (#14): every slider's median at most 2x the floor, in one run.  Machines
differ, so compare ratios, not milliseconds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_browser import (  # noqa: E402 - the browser driver the tests use
    _CHART_OF,
    _DIRECTION,
    NOTEBOOKS,
    jupyter_server,
    open_and_run,
    shutdown_kernels,
    slider_handles,
    slider_name,
)

PRESSES = 4
TARGET_RATIO = 2.0

FLOOR_CELLS = [
    "import io\nimport ipywidgets as W\nimport numpy as np\nfrom matplotlib.figure import Figure",
    """x = np.linspace(0, 10, 60)
image = W.Image(format="png")
slider = W.IntSlider(description="n", min=1, max=50, value=10, continuous_update=False)

def draw(n):
    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    ax.plot(x, np.sin(x * n / 10))
    ax.set_title(f"n = {n}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    image.value = buf.getvalue()

slider.observe(lambda change: draw(change["new"]), names="value")
draw(slider.value)
W.VBox([slider, image])""",
]

# Arms a one-shot timer on a slider handle; the result lands in window.__labkitPaint.
_ARM = """([handle, img]) => {
  window.__labkitPaint = null;
  const before = img.getAttribute('src');
  let t0 = null;
  handle.addEventListener('keydown', () => { t0 = performance.now(); }, {once: true, capture: true});
  const observer = new MutationObserver(() => {
    if (img.getAttribute('src') === before || t0 === null) return;
    observer.disconnect();
    const painted = () => requestAnimationFrame(() => { window.__labkitPaint = performance.now() - t0; });
    img.decode().then(painted, painted);
  });
  observer.observe(img, {attributes: true, attributeFilter: ['src']});
  window.__labkitDisarm = () => observer.disconnect();
}"""


def floor_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in FLOOR_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def time_slider(page, handle, presses: int = PRESSES) -> list[float | None]:
    """Milliseconds from each key press to the new chart painted (None: no new chart within 15 s)."""
    handle.scroll_into_view_if_needed()
    image = handle.evaluate_handle(_CHART_OF)
    if image.evaluate("(img) => img === null"):
        return [None]
    first = handle.evaluate(_DIRECTION)
    other = "ArrowLeft" if first == "ArrowRight" else "ArrowRight"
    times: list[float | None] = []
    for i in range(presses):
        page.evaluate(_ARM, [handle.element_handle(), image])
        handle.focus()
        page.keyboard.press(first if i % 2 == 0 else other)
        try:
            page.wait_for_function("() => window.__labkitPaint !== null", timeout=15_000, polling="raf")
            times.append(page.evaluate("() => window.__labkitPaint"))
        except Exception:
            page.evaluate("() => window.__labkitDisarm && window.__labkitDisarm()")
            times.append(None)
        page.wait_for_timeout(250)  # let the kernel settle before the next press
    return times


def _show(times: list[float | None]) -> list[float | None]:
    if "--raw" in sys.argv:
        print("   presses (ms):", ", ".join("-" if t is None else f"{t:.0f}" for t in times), flush=True)
    return times


def median(times: list[float | None]) -> float | None:
    done = [t for t in times if t is not None]
    return statistics.median(done) if len(done) == len(times) and done else None


def measure(lab, notebook: str) -> list[tuple[str, float | None]]:
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_and_run(lab, page, notebook, "lab")
        handles = slider_handles(page)
        return [(slider_name(handles.nth(i)), median(_show(time_slider(page, handles.nth(i)))))
                for i in range(handles.count())]
    finally:
        page.close()
        shutdown_kernels(lab)


def main(argv: list[str]) -> int:
    argv = [a for a in argv if not a.startswith("--")]
    chosen = [nb for nb in NOTEBOOKS if not argv or any(nb.startswith(a) for a in argv)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        floor_path = work / "floor.ipynb"
        floor_notebook(floor_path)
        notebooks = {nb: ROOT / "notebooks" / nb for nb in chosen}
        with jupyter_server(work, notebooks) as lab:
            page = lab["browser"].new_page(viewport={"width": 1400, "height": 1000})
            try:
                open_and_run(lab, page, "floor.ipynb", "lab")
                floor = median(time_slider(page, slider_handles(page).first, presses=8))
            finally:
                page.close()
                shutdown_kernels(lab)
            if floor is None:
                print("The floor notebook did not redraw; no ratios.")
                return 1
            rows = []
            for nb in chosen:
                try:
                    rows += [(nb[:2], name, ms) for name, ms in measure(lab, nb)]
                except Exception as exc:  # one broken notebook must not hide the others' figures
                    rows.append((nb[:2], f"(could not run: {type(exc).__name__}: {str(exc)[:120]})", None))
    print(f"\nFloor (bare IntSlider -> one small PNG): median {floor:.0f} ms\n")
    print("| notebook | slider | median ms | ratio to floor |\n|---|---|---|---|")
    over = 0
    for nb, name, ms in rows:
        if ms is None:
            over += 1
            print(f"| {nb} | {name} | no new chart | - |")
            continue
        ratio = ms / floor
        over += ratio > TARGET_RATIO
        flag = "" if ratio <= TARGET_RATIO else " (over 2x)"
        print(f"| {nb} | {name} | {ms:.0f} | {ratio:.1f}x{flag} |")
    print(f"\n{len(rows) - over} of {len(rows)} sliders within {TARGET_RATIO:g}x the floor.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

