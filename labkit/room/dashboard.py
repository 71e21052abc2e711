"""The facilitator's view: who has passed what, where everyone is, what the room predicted.

Pure functions turn a :class:`Snapshot` into rows (:func:`grid_rows`, :func:`stuck`)
and HTML (:func:`grid_html`, :func:`stuck_html`, :func:`poll_html`); :class:`RoomView`
puts them in ipywidgets and redraws them from a daemon thread every few seconds, so
the host never re-runs a cell.  Statuses are words and symbols, not colours alone.
"""

from __future__ import annotations

import csv
import html
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .answers import measured_answer
from .records import Snapshot

__all__ = ["grid_rows", "stuck", "grid_html", "stuck_html", "poll_html", "export_csv", "RoomView"]

PASSED, TRYING, NOT_STARTED = "passed", "trying", "not started"
_MARK = {PASSED: "✅ passed", TRYING: "✏️ trying", NOT_STARTED: "· not started"}
BAR, TRUTH = "#0072B2", "#009E73"  # Okabe-Ito blue and bluish green


def _exercises(snap: Snapshot) -> list[tuple[str, str]]:
    return sorted({(r["notebook"], r["exercise"]) for r in snap.exercises})


def grid_rows(snap: Snapshot) -> list[dict[str, Any]]:
    """One row per learner and exercise seen in the room: status, attempts, failing replay."""
    done = {(r["learner"], r["notebook"], r["exercise"]): r for r in snap.exercises}
    rows = []
    for learner in sorted(r["learner"] for r in snap.learners):
        for notebook, exercise in _exercises(snap):
            r = done.get((learner, notebook, exercise))
            status = NOT_STARTED if r is None else PASSED if r["passed"] else TRYING
            rows.append({"learner": learner, "notebook": notebook, "exercise": exercise, "status": status,
                         "attempts": r["attempts"] if r else 0, "failing": (r or {}).get("failing") or ""})
    return rows


def stuck(snap: Snapshot) -> list[dict[str, Any]]:
    """Exercises with learners trying and not passing, most stuck first, each with the
    replay that fails most often."""
    rows = []
    for notebook, exercise in _exercises(snap):
        mine = [r for r in snap.exercises if (r["notebook"], r["exercise"]) == (notebook, exercise)]
        trying = [r for r in mine if not r["passed"]]
        if not trying:
            continue
        failing = Counter(r["failing"] for r in trying if r.get("failing"))
        common, count = failing.most_common(1)[0] if failing else ("", 0)
        rows.append({"notebook": notebook, "exercise": exercise, "trying": len(trying),
                     "passed": len(mine) - len(trying), "most_common_failing": common, "failing_count": count})
    return sorted(rows, key=lambda r: (-r["trying"], r["passed"], r["notebook"], r["exercise"]))


def _ago(seconds: float) -> str:
    return "just now" if seconds < 60 else f"{seconds / 60:.0f} min ago"


def grid_html(snap: Snapshot) -> str:
    columns = _exercises(snap)
    cells = {(r["learner"], r["notebook"], r["exercise"]): r for r in grid_rows(snap)}
    head = "".join(f'<th scope="col">{html.escape(nb)}<br>{html.escape(ex)}</th>' for nb, ex in columns)
    body = []
    for who in sorted(snap.learners, key=lambda r: r["learner"]):
        learner = who["learner"]
        where = f"{who['notebook']} · {who['section']}" if who["notebook"] else "-"
        if who["seen"]:
            where += f" ({_ago(max(0.0, snap.read_at - who['seen']))})"
        row = []
        for nb, ex in columns:
            r = cells[(learner, nb, ex)]
            text = _MARK[r["status"]] + (f" ({r['attempts']})" if r["status"] == TRYING else "")
            row.append(f'<td title="{html.escape(r["failing"])}">{text}</td>')
        body.append(f'<tr><th scope="row">{html.escape(learner)}</th><td>{html.escape(where)}</td>{"".join(row)}</tr>')
    passed = sum(r["passed"] for r in snap.exercises)
    caption = (f"{len(snap.learners)} learners, {passed} exercises passed "
               "(✏️ trying: checked, not passed yet, with the attempts so far)")
    return ('<div style="overflow-x:auto"><table style="font-size:90%">'
            f"<caption>{caption}</caption><tr><th scope=\"col\">learner</th><th scope=\"col\">where</th>{head}</tr>"
            f"{''.join(body)}</table></div>")


def stuck_html(snap: Snapshot) -> str:
    rows = stuck(snap)[:5]
    if not rows:
        return "<p>Nobody is stuck: every exercise checked so far has passed.</p>"

    def failing(r: dict[str, Any]) -> str:
        name = html.escape(r["most_common_failing"] or "-")
        return f"{name} ({r['failing_count']} of {r['trying']})" if r["failing_count"] else name

    body = "".join(f"<tr><td>{r['notebook']} {html.escape(r['exercise'])}</td><td>{r['trying']}</td>"
                   f"<td>{r['passed']}</td><td>{failing(r)}</td></tr>" for r in rows)
    return ("<table><caption>Where the room is stuck: exercises checked and not passed, most learners first"
            "</caption><tr><th scope=\"col\">exercise</th><th scope=\"col\">trying</th><th scope=\"col\">passed</th>"
            f"<th scope=\"col\">most common failing replay</th></tr>{body}</table>")


def poll_html(snap: Snapshot, notebook: str, question: str, *, reveal: bool = False) -> str:
    """The room's answers to one prediction as labelled bars; with ``reveal``, the measured one marked."""
    counts = snap.distribution(notebook, question)
    total = sum(counts.values())
    truth = measured_answer(notebook, question) if reveal else None
    if truth is not None and truth not in counts:
        counts[truth] = 0
    if not total:
        return f"<p>Nobody has locked in an answer to {notebook} {html.escape(question)} yet.</p>"
    top, top_count = next(iter(counts.items()))
    title = f"{top_count} of {total} chose '{top}'"
    if reveal:
        title += (f"; the experiment shows '{truth}' ({counts[truth]} of {total} predicted it)" if truth else
                  "; this one is revealed by the notebook's own experiment")
    rows = []
    for answer, count in counts.items():
        share = count / total
        colour, mark = (TRUTH, " ◀ measured") if answer == truth else (BAR, "")
        bar = f'<div style="background:{colour};height:1em;width:{share * 100:.0f}%;min-width:2px"></div>'
        rows.append(f"<tr><td>{html.escape(answer)}{mark}</td><td style=\"width:40%\">{bar}</td>"
                    f"<td>{count} ({share:.0%})</td></tr>")
    return (f"<table style=\"width:100%\"><caption><b>{html.escape(title, quote=False)}</b></caption>"
            "<tr><th scope=\"col\">answer</th><th scope=\"col\">share of the room</th>"
            f"<th scope=\"col\">learners</th></tr>{''.join(rows)}</table>")


def export_csv(snap: Snapshot, path: str | Path) -> Path:
    """The grid (one row per learner and exercise) as a CSV file."""
    path = Path(path)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["learner", "notebook", "exercise", "status", "attempts", "failing"])
        writer.writeheader()
        writer.writerows(grid_rows(snap))
    return path


class RoomView:
    """The live view: redraws itself from a daemon thread every ``every_seconds``."""

    def __init__(self, read: Callable[[], Snapshot], *, every_seconds: float = 3.0, start: bool = True) -> None:
        import ipywidgets as W

        self._read, self.every_seconds = read, every_seconds
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread: threading.Thread | None = None
        self.snapshot = Snapshot("")
        self.redraws, self.last_redraw_seconds, self.error = 0, 0.0, ""
        self.header, self.grid, self.stuck, self.poll, self.saved = (W.HTML() for _ in range(5))
        self.question = W.Dropdown(description="Prediction", options=[], layout=W.Layout(width="max-content"))
        wide = W.Layout(width="max-content")  # a button's whole label, never "Reveal the meas..."
        self.reveal = W.ToggleButton(description="Reveal the measured answer", layout=wide,
                                     tooltip="Show the experiment's answer")
        self.pause = W.ToggleButton(description="Pause updates", layout=wide,
                                    tooltip="Stop redrawing every few seconds")
        self.export = W.Button(description="Export the grid as CSV", layout=wide,
                               tooltip="Save the grid next to this notebook")
        self.question.observe(lambda _change: self._draw_poll(), names="value")
        self.reveal.observe(lambda _change: self._draw_poll(), names="value")
        self.export.on_click(lambda _button: self._export())
        self.widget = W.VBox([self.header, W.HBox([self.pause, self.export]), self.saved, self.grid,
                              W.HTML("<h4>Stuck</h4>"), self.stuck, W.HTML("<h4>The room's predictions</h4>"),
                              W.HBox([self.question, self.reveal]), self.poll])
        self.refresh()
        if start:
            self.start()

    def refresh(self) -> float:
        """Read the room and redraw everything; returns the seconds it took."""
        began = time.perf_counter()
        with self._lock:
            try:
                self.snapshot, self.error = self._read(), ""
            except Exception as exc:  # the room's Redis is away: say so, keep the last picture
                self.error = f" - could not read the room ({type(exc).__name__}); trying again"
            self._draw()
        self.redraws += 1
        self.last_redraw_seconds = time.perf_counter() - began
        return self.last_redraw_seconds

    def _draw(self) -> None:
        snap = self.snapshot
        state = "paused" if self.pause.value else f"every {self.every_seconds:g} s"
        count = f"{len(snap.learners)} learner{'' if len(snap.learners) == 1 else 's'}"
        self.header.value = (f"<b>Room {html.escape(snap.room)}</b>: {count} - updated "
                             f"{time.strftime('%H:%M:%S', time.localtime(snap.read_at or time.time()))} "
                             f"({state}){html.escape(self.error)}")
        self.grid.value = grid_html(snap)
        self.stuck.value = stuck_html(snap)
        questions = sorted({(r["notebook"], r["question"]) for r in snap.predictions})
        options = [(f"{nb} · {q}", (nb, q)) for nb, q in questions]
        if options != [tuple(o) for o in self.question.options]:
            current = self.question.value
            self.question.options = options
            if current in questions:
                self.question.value = current
            elif questions:  # the prediction most of the room has answered
                answered = Counter((r["notebook"], r["question"]) for r in snap.predictions)
                self.question.value = answered.most_common(1)[0][0]
        self._draw_poll()

    def _draw_poll(self) -> None:
        chosen = self.question.value
        self.poll.value = (poll_html(self.snapshot, *chosen, reveal=self.reveal.value) if chosen else
                           "<p>No prediction has been locked in yet.</p>")

    def _export(self) -> None:
        room = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.snapshot.room).strip("_") or "own"
        name = f"room-{room}-{time.strftime('%H%M%S')}.csv"
        path = export_csv(self.snapshot, name)
        link = f'<a href="{html.escape(name)}" download>{html.escape(path.name)}</a>'
        self.saved.value = f"Saved {link} next to this notebook."

    def to_csv(self, path: str | Path) -> Path:
        return export_csv(self.snapshot, path)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="labkit-room-view", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_seconds):
            if not self.pause.value:
                self.refresh()

    def stop(self) -> None:
        """Stop redrawing (the last picture stays)."""
        self._stop.set()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from ..widgets import name_controls

        display(self.widget)
        name_controls()
