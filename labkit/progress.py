"""Exercise progress, kept in one small JSON file on this machine.

The file is ``~/.cache-lab/progress.json`` (or ``$CACHE_LAB_HOME/progress.json``).
Nothing here opens a socket: progress never leaves the machine.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["progress_path", "record", "record_prediction", "load", "summary", "clear", "show"]

_lock = threading.Lock()


def progress_path() -> Path:
    home = os.environ.get("CACHE_LAB_HOME")
    base = Path(home) if home else Path.home() / ".cache-lab"
    return base / "progress.json"


def load() -> dict[str, Any]:
    path = progress_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"exercises": {}, "predictions": {}}
    data.setdefault("exercises", {})
    data.setdefault("predictions", {})
    return data


def _save(data: dict[str, Any]) -> None:
    path = progress_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)  # atomic: a crash never leaves half a file
    except OSError:
        pass  # a read-only home must not break a lesson


def record(notebook: str, exercise: str, passed: bool) -> None:
    """Remember an attempt; a pass is kept even if a later attempt fails."""
    with _lock:
        data = load()
        entry = data["exercises"].setdefault(f"{notebook}/{exercise}", {"passed": False, "attempts": 0})
        entry["attempts"] += 1
        entry["passed"] = bool(entry["passed"] or passed)
        entry["last_attempt"] = time.strftime("%Y-%m-%d %H:%M")
        _save(data)


def record_prediction(notebook: str, name: str, choice: str) -> None:
    with _lock:
        data = load()
        data["predictions"][f"{notebook}/{name}"] = choice
        _save(data)


def summary() -> list[dict[str, Any]]:
    """One row per exercise attempted: notebook, exercise, passed, attempts."""
    rows = []
    for key, entry in sorted(load()["exercises"].items()):
        notebook, _, exercise = key.partition("/")
        rows.append({"notebook": notebook, "exercise": exercise, **entry})
    return rows


def clear() -> None:
    """Forget all progress (asks nothing: call it on purpose)."""
    with _lock:
        progress_path().unlink(missing_ok=True)


def show() -> Any:
    """An HTML table of exercise progress, for notebook 00."""
    from IPython.display import HTML

    rows = summary()
    if not rows:
        return HTML("<p>No exercises attempted yet. Each notebook's checks will fill this table.</p>")
    body = "".join(
        f"<tr><td>{r['notebook']}</td><td>{r['exercise']}</td>"
        f"<td>{'✅ passed' if r['passed'] else '… not yet'}</td><td>{r['attempts']}</td></tr>"
        for r in rows
    )
    done = sum(r["passed"] for r in rows)
    return HTML(
        f"<p><b>{done} of {len(rows)}</b> attempted exercises passed "
        f"(saved in <code>{progress_path()}</code>, never sent anywhere).</p>"
        "<table><tr><th>notebook</th><th>exercise</th><th>status</th><th>attempts</th></tr>"
        f"{body}</table>"
    )
