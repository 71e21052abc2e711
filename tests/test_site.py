"""The static reading copy (tools/build_site.py): every notebook executed and exported.

The fast tests check the pieces on made-up data: a widget view drawn from its saved
state without JavaScript (the chart with its text alternative, each control's value),
the note that live controls need a kernel, and the index built from the course map.
The slow test reads every page of the whole site, built into a temp folder as CI
builds it (once per test session, by the ``reading_copy`` fixture in conftest.py,
whose executed notebooks tests/test_notebooks.py checks cell by cell): its charts are
there as images with text alternatives, its widget views have saved state, and nothing
went wrong in any cell.
"""

from __future__ import annotations

import importlib.util
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from labkit.course import NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
build_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_site)

BUILT = [lesson for lesson in NOTEBOOKS if (ROOT / "notebooks" / lesson.notebook_file).exists()]
STATE = build_site.STATE_MIME
VIEW_MIME = "application/vnd.jupyter.widget-view+json"


class _Page(HTMLParser):
    """The images, links and widget views of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.views: list[str] = []
        self.state: dict = {}
        self._script: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "script" and attrs.get("type") in (VIEW_MIME, STATE):
            self._script = attrs["type"]

    def handle_data(self, data):
        if self._script == VIEW_MIME:
            self.views.append(json.loads(data)["model_id"])
        elif self._script == STATE:
            self.state = json.loads(data)["state"]
        self._script = None


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _ref(model_id: str) -> str:
    return f"IPY_MODEL_{model_id}"


def _saved_state() -> dict:
    """A LivePlot-shaped view: a row of controls above a chart and its caption."""
    state = {
        "ttl": {"model_name": "FloatSliderModel", "state": {"description": "TTL (s)", "value": 300.0}},
        "policy": {"model_name": "DropdownModel",
                   "state": {"description": "policy", "_options_labels": ["LRU", "SIEVE"], "index": 1}},
        "run": {"model_name": "ButtonModel", "state": {"description": "Run live"}},
        "gone": {"model_name": "HTMLModel", "state": {"value": "never shown", "layout": _ref("hidden")}},
        "hidden": {"model_name": "LayoutModel", "state": {"display": "none"}},
        "row": {"model_name": "HBoxModel",
                "state": {"children": [_ref("ttl"), _ref("policy"), _ref("run"), _ref("gone")]}},
        "chart": {"model_name": "ImageModel", "state": {"format": "png", "tooltip": "SIEVE keeps 54% of reads"},
                  "buffers": [{"path": ["value"], "data": "iVBORw0KGgo=", "encoding": "base64"}]},
        "caption": {"model_name": "HTMLModel", "state": {"value": "<b>What to notice:</b> the scan"}},
        "log": {"model_name": "OutputModel",
                "state": {"outputs": [{"output_type": "stream", "name": "stdout", "text": "3 writes lost\n"}]}},
        "plot": {"model_name": "VBoxModel",
                 "state": {"children": [_ref("row"), _ref("chart"), _ref("caption"), _ref("log"), _ref("missing")]}},
    }
    return {STATE: {"state": state, "version_major": 2, "version_minor": 0}}


def test_a_widget_view_is_drawn_from_its_saved_state_without_javascript():
    html = build_site.static_widget({"model_id": "plot"}, _saved_state())
    page = _parse(html)
    assert [img["alt"] for img in page.images] == ["SIEVE keeps 54% of reads"]
    assert "title" not in page.images[0], "the text alternative is the alt, not a tooltip"
    assert page.images[0]["src"] == "data:image/png;base64,iVBORw0KGgo="
    # Every control shows its saved value; a hidden one and a missing model show nothing.
    assert re.search(r"TTL \(s\)</b> 300<", html) and re.search(r"policy</b> SIEVE<", html)
    assert "Run live" in html and "disabled" in html
    assert "What to notice" in html and "<pre>3 writes lost\n</pre>" in html and "never shown" not in html
    assert html.startswith("<div class='labkit-static'>")


def test_a_view_without_saved_state_draws_nothing():
    assert build_site.static_widget({"model_id": "nowhere"}, _saved_state()) == ""
    assert build_site.static_widget({"model_id": "plot"}, {}) == ""


def test_every_page_says_live_controls_need_a_kernel_and_links_binder():
    lesson = BUILT[1]
    note = build_site.reading_note(lesson, BUILT, "someone/cache-lab", "workshop-1")
    assert "need a running kernel" in note
    assert f"mybinder.org/v2/gh/someone/cache-lab/workshop-1?urlpath=lab/tree/notebooks/{lesson.notebook_file}" in note
    links = _parse(note).links
    assert links[1:] == ["index.html", build_site.page_name(BUILT[0]), build_site.page_name(BUILT[2])]


def test_the_index_is_the_course_map():
    nb = build_site.index_notebook(BUILT, "abc1234")
    text = nb.cells[0].source
    for lesson in BUILT:
        assert f"[{lesson.title}]({lesson.slug}.html)" in text
        assert f"| {lesson.minutes} |" in text
    assert "abc1234" in text


def _problems(text: str) -> list[str]:
    found = []
    for needle, what in (
        ("Traceback (most recent call last)", "a traceback"),
        ('data-mime-type="application/vnd.jupyter.stderr"', "error or stderr output"),
        ("&lt;Figure size", "a figure's repr instead of the chart"),
        ("<Figure size", "a figure's repr instead of the chart"),
        ("Error displaying widget", "a widget that failed"),
    ):
        if needle in text:
            found.append(what)
    if re.search(r"(VBox|HBox|LivePlot|Output)\(children=|<labkit\.", text):
        found.append("a widget or object repr shown as text")
    return found


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the first test to ask for the reading copy waits for its build
def test_the_reading_copy_builds_with_every_chart_and_no_error(reading_copy):
    out = reading_copy.site
    assert reading_copy.returncode == 0, reading_copy.output

    index = _parse((out / "index.html").read_text())
    for lesson in BUILT:
        assert f"{lesson.slug}.html" in index.links, f"the index does not link {lesson.slug}"

    for lesson in BUILT:
        page_file = out / f"{lesson.slug}.html"
        assert page_file.exists(), f"no page for {lesson.slug}"
        text = page_file.read_text()
        page = _parse(text)
        assert not _problems(text), f"{page_file.name}: {', '.join(_problems(text))}"
        assert "need a running kernel" in text and "mybinder.org" in text, f"{page_file.name}: no reading note"
        # Run on fakeredis as the fixed reader, so the prefix is the same every build.
        assert f"labkit:reader:{lesson.number}:" in text, f"{page_file.name}: not run as the reader"
        assert page.images, f"{page_file.name} has no charts"
        no_alt = [img["src"][:40] for img in page.images if not (img.get("alt") or "").strip()]
        assert not no_alt, f"{page_file.name}: {len(no_alt)} images without a text alternative"
        tooltips = [img["title"] for img in page.images if len((img.get("title") or "").split()) > 6]
        assert not tooltips, f"{page_file.name}: images with a long tooltip (title): {tooltips[:2]}"
        missing = [view for view in page.views if view not in page.state]
        assert page.views and not missing, f"{page_file.name}: widget views without saved state: {missing}"
