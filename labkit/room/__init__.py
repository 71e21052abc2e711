"""A workshop room: every learner's predictions and exercises, live, for the facilitator.

Opt-in: nothing is sent unless the host sets ``LABKIT_ROOM=<name>`` (on a hub, in the
spawner's environment).  Then each learner's kernel publishes, to the room's Redis
(``LABKIT_ROOM_URL``, else ``REDIS_URL``) under ``labkit-room:<name>:`` with a TTL:
where they are, each exercise check (passed or not, attempts, the failing replay's
name - never code) and each locked prediction.  A learner turns it off with
:func:`leave`; a host removes one learner's records with :func:`remove`.

The host reads the room with :func:`view` (a grid that redraws itself) or
:func:`snapshot` (the same data as rows, for scripts and tests); :func:`rehearse`
fills a practice room with simulated learners.

=================  ===============================================================
``publisher``      the learner side: opt-in, a queue and one daemon thread
``records``        key layout, reading a room (:class:`Room`, :class:`Snapshot`)
``dashboard``      the grid, the stuck list, the poll, CSV; :class:`RoomView`
``answers``        the measured answer to a prediction, revealed beside the poll (00-05)
``answers_later``  the same for notebooks 06-11
``measure``        the registry both write into (``@measured``) and its lookup
``rehearsal``      simulated learners in a practice room
=================  ===============================================================
"""

from __future__ import annotations

from typing import Any

from .publisher import leave, rejoin, room_name, status_line
from .records import RECORD_TTL_SECONDS, Room, Snapshot, own_progress_snapshot, room_url

__all__ = ["describe", "snapshot", "view", "remove", "export_csv", "leave", "rejoin", "room_name", "status_line",
           "rehearse", "Room", "Snapshot", "RECORD_TTL_SECONDS"]


def _room(name: str | None) -> Room | None:
    chosen = name if name is not None else room_name()
    return Room(chosen, url=room_url()) if chosen else None


def describe() -> str:
    """One line: which room this kernel reads and reports to, and on which Redis."""
    from ..connection import safe_url

    name = room_name()
    if name is None:
        return ("No room is set here (LABKIT_ROOM), so nothing is reported and the view shows "
                "your own progress; a rehearsal room of simulated learners is further down.")
    where = safe_url(room_url() or "") or "the built-in fakeredis (this kernel only)"
    return f"Room {name!r} on {where}; records expire {RECORD_TTL_SECONDS // 3600} hours after a learner's last one."


def snapshot(name: str | None = None) -> Snapshot:
    """The room's records as rows: ``.exercises`` (learner, notebook, exercise, passed,
    attempts, failing), ``.predictions`` (learner, notebook, question, answer) and
    ``.learners`` (learner, notebook, section, seen).  With no room named or set, this
    machine's own progress."""
    room = _room(name)
    return room.read() if room is not None else own_progress_snapshot()


def view(name: str | None = None, *, every_seconds: float = 3.0) -> Any:
    """The facilitator's live view of room ``name`` (default ``$LABKIT_ROOM``)."""
    from .dashboard import RoomView

    room = _room(name)
    if room is not None:
        room.read()  # a learner's kernel is refused here, with one sentence
    return RoomView(room.read if room is not None else own_progress_snapshot, every_seconds=every_seconds)


def remove(learner: str, name: str | None = None) -> bool:
    """Delete one learner's records from the room (a host's call); True if there were any."""
    room = _room(name)
    if room is None:
        from ..errors import LabError

        raise LabError("No room is set: name one, labkit.room.remove('alice', 'workshop-dec'), or set LABKIT_ROOM.")
    return room.remove(learner)


def export_csv(path: str, name: str | None = None) -> Any:
    """The room's grid (learner, notebook, exercise, status, attempts, failing) as a CSV file."""
    from .dashboard import export_csv as write

    return write(snapshot(name), path)


def rehearse(learners: int = 12, *, seed: int = 7, steps: int = 8) -> Any:
    """A practice room of simulated learners (see :mod:`labkit.room.rehearsal`)."""
    from .rehearsal import rehearse as start

    return start(learners, seed=seed, steps=steps)
