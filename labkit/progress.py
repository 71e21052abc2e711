"""Exercise progress, the learner's id and their room's name, kept in small files on this machine.

The folder is ``~/.cache-lab`` (or ``$CACHE_LAB_HOME``): ``progress.json`` holds the
exercises and predictions, ``learner`` a random id for this learner when no
``JUPYTERHUB_USER`` or ``LABKIT_LEARNER`` names one.  Nothing here opens a socket;
only when a host sets ``LABKIT_ROOM`` does :mod:`labkit.room` send a copy of the
results (never code) to the room's facilitator.

Several kernels may record at once (two notebooks open): every change is a
read-merge-write under an OS file lock, so no kernel loses another's records.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import LabError

__all__ = [
    "cache_lab_home",
    "progress_path",
    "learner_id",
    "record",
    "record_prediction",
    "load",
    "summary",
    "clear",
    "show",
    "room_name",
]

_lock = threading.Lock()  # threads of one kernel; the file lock covers other processes
_LEARNER_RE = re.compile(r"[^A-Za-z0-9_.-]")
_told_about: set[str] = set()


def cache_lab_home() -> Path:
    """``$CACHE_LAB_HOME`` if set, else ``~/.cache-lab``."""
    home = os.environ.get("CACHE_LAB_HOME")
    return Path(home) if home else Path.home() / ".cache-lab"


def progress_path() -> Path:
    return cache_lab_home() / "progress.json"


# -- the learner ---------------------------------------------------------------------


def check_learner(learner: Any) -> str:
    """A learner id made safe for a key prefix: letters, digits, '_', '.', '-' (at most 64)."""
    cleaned = _LEARNER_RE.sub("_", str(learner).strip())[:64] if isinstance(learner, str) else ""
    if not cleaned.strip("_"):
        raise LabError(f"A learner id needs at least one letter or digit (got {learner!r}).")
    return cleaned


def learner_id() -> str:
    """Who is running the lab: ``$JUPYTERHUB_USER``, else ``$LABKIT_LEARNER``, else a
    random id kept in ``cache_lab_home()/learner`` (made on first use)."""
    environ = os.environ
    sources = tuple(environ.get(var, "") for var in ("JUPYTERHUB_USER", "LABKIT_LEARNER", "CACHE_LAB_HOME", "HOME"))
    known = _known_learners.get(sources)
    if known is None:  # once per setting: stores are made often (one per simulated run)
        hub_user, learner, _, _ = (value.strip() for value in sources)
        if hub_user or learner:
            known = check_learner(hub_user or learner)
        else:
            with _lock:
                known = _read_or_make_learner(cache_lab_home() / "learner")
        _known_learners[sources] = known
    return known


_known_learners: dict[tuple[str, ...], str] = {}


ROOM_VAR = "LABKIT_ROOM"
REHEARSAL = "rehearsal-"  # practice rooms: simulated learners only


def check_room(name: Any) -> str:
    """A room name made safe for a key prefix (the same rule as a learner id)."""
    try:
        return check_learner(name)
    except LabError:
        raise LabError(f"A room name needs at least one letter or digit (got {name!r}), "
                       "for example LABKIT_ROOM=workshop-dec.") from None


def _room_switch_file() -> Path:
    return cache_lab_home() / "room-off"


def room_name() -> str | None:
    """The room this kernel reports to (:mod:`labkit.room`), or None: ``$LABKIT_ROOM`` unless
    the learner switched it off."""
    name = os.environ.get(ROOM_VAR, "").strip()
    if not name or name.startswith(REHEARSAL) or _room_switch_file().exists():
        return None
    try:
        return check_room(name)
    except Exception:  # a malformed room name publishes nothing rather than break a lesson
        return None


def _read_or_make_learner(path: Path) -> str:
    with contextlib.suppress(OSError, LabError):
        return check_learner(path.read_text().strip())
    new = "learner-" + secrets.token_hex(4)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(path.parent):
            with contextlib.suppress(OSError, LabError):  # another kernel was first
                return check_learner(path.read_text().strip())
            path.write_text(new + "\n")
    except OSError:
        pass  # a read-only home: this kernel keeps its own id
    return new


# -- the progress file -------------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder/progress.lock`` across processes (fcntl.flock);
    where that is unavailable, only this process's threads are serialised."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    try:
        handle = open(folder / "progress.lock", "a")  # noqa: SIM115 - closed below
    except OSError:
        yield
        return
    with handle:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _empty() -> dict[str, Any]:
    return {"exercises": {}, "predictions": {}}


def _tell_once(message: str) -> None:
    if message not in _told_about:
        _told_about.add(message)
        print(f"⚠️  {message}")


def _read(path: Path, *, keep_corrupt: bool) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError:
        return _empty()
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        for part in ("exercises", "predictions"):
            if not isinstance(data.setdefault(part, {}), dict):
                raise ValueError(part)
        return data
    except ValueError:
        if keep_corrupt:
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            with contextlib.suppress(OSError):
                os.replace(path, aside)
                _tell_once(
                    f"Your progress file {path} could not be read, so it was kept aside as "
                    f"{aside.name} and a new one started."
                )
        return _empty()


def load() -> dict[str, Any]:
    return _read(progress_path(), keep_corrupt=False)


@contextlib.contextmanager
def _updating() -> Iterator[dict[str, Any]]:
    """Read, let the caller change, write back: all under the file lock."""
    path = progress_path()
    with _lock:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            yield _empty()  # a read-only home must not break a lesson
            return
        with _file_lock(path.parent):
            data = _read(path, keep_corrupt=True)
            yield data
            _write(path, data)


def _write(path: Path, data: dict[str, Any]) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)  # atomic: a crash never leaves half a file
    except OSError:
        pass


def record(notebook: str, exercise: str, passed: bool | None) -> dict[str, Any]:
    """Remember an attempt; a pass is kept even if a later attempt fails.  Returns the
    exercise's entry (``passed`` ever, ``attempts``).

    ``passed=None`` means the exercise was not attempted (its answer is still ``...``):
    nothing is recorded, so Run All never counts untouched exercises as failures.
    """
    if passed is None:
        return {}
    with _updating() as data:
        entry = data["exercises"].get(f"{notebook}/{exercise}")
        if not isinstance(entry, dict):
            entry = data["exercises"][f"{notebook}/{exercise}"] = {}
        attempts = entry.get("attempts")
        entry["attempts"] = (attempts if isinstance(attempts, int) else 0) + 1
        entry["passed"] = bool(entry.get("passed") is True or passed is True)
        entry["last_attempt"] = time.strftime("%Y-%m-%d %H:%M")
    return dict(entry)


def record_prediction(notebook: str, name: str, choice: str) -> None:
    with _updating() as data:
        data["predictions"][f"{notebook}/{name}"] = str(choice)


def summary() -> list[dict[str, Any]]:
    """One row per exercise attempted: notebook, exercise, passed, attempts."""
    rows = []
    for key, entry in sorted(load()["exercises"].items()):
        if not isinstance(entry, dict):
            continue
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
        f"<td>{'✅ passed' if r.get('passed') else '… not yet'}</td><td>{r.get('attempts', 0)}</td></tr>"
        for r in rows
    )
    done = sum(bool(r.get("passed")) for r in rows)
    room = room_name()
    shared = f"results, never code, also shown to room {room!r}" if room else "never sent anywhere"
    return HTML(
        f"<p><b>{done} of {len(rows)}</b> attempted exercises passed "
        f"(saved in <code>{progress_path()}</code>, {shared}).</p>"
        "<table><tr><th>notebook</th><th>exercise</th><th>status</th><th>attempts</th></tr>"
        f"{body}</table>"
    )
