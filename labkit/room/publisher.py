"""What a learner's kernel tells the room: opt-in, minimal, and never in the way.

Nothing is published unless the host set ``$LABKIT_ROOM`` (and the learner has not
run :func:`leave`).  Then three hooks send small records to the room's Redis:

* :func:`reached` - the notebook and section the learner is on;
* :func:`exercise_checked` - an exercise, passed or not, the attempt count, and the
  name of the replay that failed (never the learner's code or answer);
* :func:`prediction_locked` - a prediction's id and the option chosen.

A publish puts the record in a small dict (the latest value of each field wins) and
returns: microseconds, no socket.  One daemon thread writes the dict to Redis with
short timeouts; after a failure it waits (5 s, doubling up to a minute) and tries
again, so a room whose Redis is down costs the learner nothing and prints nothing.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

from ..progress import _room_switch_file as _switch_file
from ..progress import learner_id, room_name
from .records import RECORD_TTL_SECONDS, forget, learner_key, members_key, room_client, room_url

__all__ = ["room_name", "reached", "exercise_checked", "prediction_locked", "leave", "rejoin",
           "status_line", "Publisher", "publisher"]

SOCKET_TIMEOUT_SECONDS = 0.5
FIRST_BACKOFF_SECONDS, LAST_BACKOFF_SECONDS = 5.0, 60.0


class Publisher:
    """Records for one learner in one room, written to Redis by one daemon thread."""

    def __init__(self, room: str, learner: str, client_factory: Any, *,
                 ttl_seconds: int = RECORD_TTL_SECONDS) -> None:
        self.room, self.learner, self.key = room, learner, learner_key(room, learner)
        self._client_factory, self._client = client_factory, None
        self.ttl_seconds = ttl_seconds
        self._pending: dict[str, str] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self.written = self.failures = 0
        self.backoff_seconds = 0.0

    def publish(self, field: str, value: dict[str, Any]) -> None:
        """Queue one field for the room (the newest value of a field wins); never blocks."""
        text = json.dumps({**value, "t": round(time.time(), 3)}, separators=(",", ":"))
        with self._lock:
            self._pending[field] = text
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name=f"labkit-room-{self.room}", daemon=True)
                self._thread.start()
        self._wake.set()

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Wait until every queued record is written (tests, benchmarks); False on timeout."""
        return self._idle.wait(timeout_seconds)

    def _drain(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                batch, self._pending = self._pending, {}
                self._wake.clear()
            if not batch:
                continue
            try:
                self._write(batch)
            except Exception:  # the room is unreachable: keep the records, wait, try again
                self.failures += 1
                client, self._client = self._client, None
                with contextlib.suppress(Exception):
                    client.close()
                with self._lock:
                    self._pending = {**batch, **self._pending}
                self.backoff_seconds = min(LAST_BACKOFF_SECONDS, max(FIRST_BACKOFF_SECONDS, 2 * self.backoff_seconds))
                time.sleep(self.backoff_seconds)
                self._wake.set()
                continue
            self.backoff_seconds = 0.0
            with self._lock:
                if not self._pending:
                    self._idle.set()

    def _write(self, batch: dict[str, str]) -> None:
        if self._client is None:
            self._client = self._client_factory()
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(self.key, mapping=batch)
        pipe.expire(self.key, self.ttl_seconds)
        pipe.sadd(members_key(self.room), self.learner)
        pipe.expire(members_key(self.room), self.ttl_seconds)
        pipe.execute()
        self.written += len(batch)


_publishers: dict[tuple[str, str, str | None], Publisher] = {}
_publishers_lock = threading.Lock()


def publisher() -> Publisher | None:
    """This kernel's publisher for the configured room, or None when no room is set."""
    room = room_name()
    if room is None:
        return None
    key = (room, learner_id(), room_url())
    with _publishers_lock:
        if key not in _publishers:
            url = key[2]
            _publishers[key] = Publisher(room, key[1], lambda: room_client(url, timeout_seconds=SOCKET_TIMEOUT_SECONDS))
        return _publishers[key]


def _publish(field: str, value: dict[str, Any]) -> None:
    try:
        target = publisher()
        if target is not None:
            target.publish(field, value)
    except Exception:  # reporting to the room must never break a lesson
        pass


def reached(notebook: str, section: str) -> None:
    """The learner is at ``section`` of ``notebook`` (its start, a prediction, an exercise)."""
    _publish("at", {"notebook": str(notebook), "section": str(section)})


def exercise_checked(notebook: str, exercise: str, *, passed: bool, attempts: int, failing: str | None) -> None:
    """An exercise was checked: passed (ever), attempts so far, the replay that failed last."""
    _publish(f"ex:{notebook}/{exercise}", {"passed": bool(passed), "attempts": int(attempts),
                                           "failing": None if passed else failing})
    reached(notebook, f"exercise {exercise}")


def prediction_locked(notebook: str, question: str, answer: str) -> None:
    _publish(f"pred:{notebook}/{question}", {"answer": str(answer)})
    reached(notebook, f"prediction {question}")


def status_line() -> str | None:
    """One line for a notebook's first output when a room sees this learner's progress."""
    room = room_name()
    if room is None:
        return None
    if room_url() is None:
        return (f"Room {room!r} is set, but no shared Redis (REDIS_URL or LABKIT_ROOM_URL): your progress "
                "stays in this kernel.")
    return (f"Room {room!r}: your facilitator sees your exercise results and locked predictions "
            "(never your code); labkit.room.leave() turns this off.")


def leave() -> None:
    """Stop reporting to any room, in this kernel and every later one, and delete the
    records this learner already sent.  :func:`rejoin` undoes it."""
    room, me = room_name(), learner_id()
    path = _switch_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Cache Lab reports nothing to a room while this file exists.\n")
    if room is not None:
        try:
            forget(room_client(room_url(), timeout_seconds=SOCKET_TIMEOUT_SECONDS), room, me)
        except Exception:
            print(f"Reporting is off; your earlier records in room {room!r} expire within "
                  f"{RECORD_TTL_SECONDS // 3600} hours (the room's Redis did not answer).")
            return
    print("Reporting to the room is off (labkit.room.rejoin() turns it back on).")


def rejoin() -> None:
    _switch_file().unlink(missing_ok=True)
    line = status_line()
    print(line or "Reporting is on, but no room is set here (LABKIT_ROOM): nothing is sent.")
