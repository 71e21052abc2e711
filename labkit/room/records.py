"""A room's records on the shared Redis: where they live, what they hold, who reads them.

One hash per learner, ``labkit-room:<room>:learner:<learner>``, and the set of the
room's learners, ``labkit-room:<room>:learners`` (so reading a room never scans the
shared keyspace), each with a TTL (:data:`RECORD_TTL_SECONDS`, renewed on every
write), so a room cleans itself up after the day.  A hash's fields, each a small JSON
object:

=========================  =============================================================
``at``                     ``{"notebook", "section", "t"}``: where the learner is
``ex:<notebook>/<name>``   ``{"passed", "attempts", "failing", "t"}``: an exercise's checks
                           (``failing`` is the name of the replay that failed last, never code)
``pred:<notebook>/<name>`` ``{"answer", "t"}``: a locked prediction
=========================  =============================================================

:class:`Room` reads every learner's hash into a :class:`Snapshot` (what the view and
:func:`labkit.room.snapshot` show) and removes one learner's records.  Only a host
reads a room: see :func:`check_host`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import LabError
from ..progress import REHEARSAL, check_learner, check_room, learner_id  # noqa: F401 - the room's names

__all__ = ["RECORD_TTL_SECONDS", "Room", "Snapshot", "learner_key", "members_key", "forget", "room_client",
           "check_host", "check_room"]

RECORD_TTL_SECONDS = 12 * 3600  # a workshop day; every write renews it
PREFIX = "labkit-room"
HOSTS_VAR = "LABKIT_ROOM_HOSTS"


def learner_key(room: str, learner: str) -> str:
    return f"{PREFIX}:{room}:learner:{learner}"


def members_key(room: str) -> str:
    return f"{PREFIX}:{room}:learners"


def room_url() -> str | None:
    """The room's Redis: ``$LABKIT_ROOM_URL``, else ``$REDIS_URL``, else None (fakeredis)."""
    for var in ("LABKIT_ROOM_URL", "REDIS_URL"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return None


def room_client(url: str | None, *, timeout_seconds: float) -> Any:
    """A client for the room's Redis that fails fast: no retries, short socket timeouts."""
    if url is None or url == "fakeredis://":
        import fakeredis

        from ..connection import _shared_fake_server

        return fakeredis.FakeRedis(server=_shared_fake_server(), decode_responses=True)
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, decode_responses=True, protocol=2, retry=Retry(NoBackoff(), 0),
                                socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds)


def check_host(room: str) -> None:
    """Refuse to read a room from a learner's kernel on a hub.

    On a hub every server has ``JUPYTERHUB_USER``; only the users the host lists in
    ``$LABKIT_ROOM_HOSTS`` (comma-separated, set in the hub's spawner environment) read
    the room.  Off a hub (a laptop) whoever runs the kernel is the host, and a practice
    room of simulated learners (``rehearsal-*``, never a real room) is anyone's to read.
    """
    user = os.environ.get("JUPYTERHUB_USER", "").strip()
    if not user or room.startswith(REHEARSAL):
        return
    hosts = {h.strip() for h in os.environ.get(HOSTS_VAR, "").split(",") if h.strip()}
    if user not in hosts:
        raise LabError(f"Only the room's hosts ({HOSTS_VAR}) read the room, and {user!r} is not one of "
                       "them; your own progress is labkit.progress.show().")


@dataclass
class Snapshot:
    """Everything a room's records say, as rows (lists of dicts) for scripts and the view.

    ``exercises``: learner, notebook, exercise, passed, attempts, failing.
    ``predictions``: learner, notebook, question, answer.
    ``learners``: learner, notebook, section, seen (seconds since the epoch).
    """

    room: str
    exercises: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    learners: list[dict[str, Any]] = field(default_factory=list)
    read_at: float = 0.0

    def distribution(self, notebook: str, question: str) -> dict[str, int]:
        """How many learners locked in each answer to one prediction, most chosen first."""
        counts: dict[str, int] = {}
        for row in self.predictions:
            if (row["notebook"], row["question"]) == (notebook, question):
                counts[row["answer"]] = counts.get(row["answer"], 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _parse(learner: str, fields: dict[str, str], snap: Snapshot) -> None:
    seen, where = 0.0, {"notebook": "", "section": ""}
    for name, text in sorted(fields.items()):
        try:
            value = json.loads(text)
        except ValueError:
            continue  # a record this version cannot read is skipped, not fatal
        if not isinstance(value, dict):
            continue
        seen = max(seen, float(value.get("t", 0) or 0))
        kind, _, rest = name.partition(":")
        notebook, _, item = rest.partition("/")
        if kind == "at":
            where = {"notebook": str(value.get("notebook", "")), "section": str(value.get("section", ""))}
        elif kind == "ex" and item:
            snap.exercises.append({"learner": learner, "notebook": notebook, "exercise": item,
                                   "passed": bool(value.get("passed")), "attempts": int(value.get("attempts", 0)),
                                   "failing": value.get("failing") or None})
        elif kind == "pred" and item:
            snap.predictions.append({"learner": learner, "notebook": notebook, "question": item,
                                     "answer": str(value.get("answer", ""))})
    snap.learners.append({"learner": learner, **where, "seen": seen})


class Room:
    """A room's records on its Redis, read as a host: ``Room("ws").read()``."""

    def __init__(self, name: str, client: Any = None, *, url: str | None = None) -> None:
        self.name = check_room(name)
        self.client = client if client is not None else room_client(url or room_url(), timeout_seconds=2.0)

    def learners(self) -> list[str]:
        return sorted(self.client.smembers(members_key(self.name)))

    def read(self) -> Snapshot:
        """Every learner's records: the room's set of learners, then one pipeline of HGETALLs."""
        check_host(self.name)
        try:
            learners = self.learners()
            pipe = self.client.pipeline(transaction=False)
            for learner in learners:
                pipe.hgetall(learner_key(self.name, learner))
            found = pipe.execute()
        except Exception as exc:  # redis-py's errors, said in one sentence
            raise LabError(f"Cannot read room {self.name!r} from its Redis ({type(exc).__name__}: "
                           f"{' '.join(str(exc).split())}); check LABKIT_ROOM_URL or REDIS_URL.") from None
        snap = Snapshot(self.name, read_at=time.time())
        for learner, fields in zip(learners, found, strict=True):
            if fields:  # none: the learner's records expired or were removed
                _parse(learner, fields, snap)
        return snap

    def remove(self, learner: str) -> bool:
        """Delete one learner's records from the room; True if there were any."""
        check_host(self.name)
        return forget(self.client, self.name, check_learner(learner))

    def clear(self) -> int:
        """Delete every learner's records in this room (a rehearsal's, after it)."""
        keys = [learner_key(self.name, learner) for learner in self.learners()]
        return int(self.client.delete(*keys, members_key(self.name))) - 1 if keys else 0


def forget(client: Any, room: str, learner: str) -> bool:
    """Delete one learner's records and their place in the room; True if there were any."""
    pipe = client.pipeline(transaction=False)
    pipe.delete(learner_key(room, learner))
    pipe.srem(members_key(room), learner)
    return bool(pipe.execute()[0])


def own_progress_snapshot() -> Snapshot:
    """This machine's progress file as a one-learner snapshot (no room set)."""
    from .. import progress

    data = progress.load()
    snap = Snapshot("(no room: your own progress)", read_at=time.time())
    me = learner_id()
    for row in progress.summary():
        snap.exercises.append({"learner": me, "notebook": row["notebook"], "exercise": row["exercise"],
                               "passed": bool(row.get("passed")), "attempts": int(row.get("attempts", 0)),
                               "failing": None})
    for key, answer in sorted(data["predictions"].items()):
        notebook, _, question = key.partition("/")
        snap.predictions.append({"learner": me, "notebook": notebook, "question": question, "answer": str(answer)})
    snap.learners.append({"learner": me, "notebook": "", "section": "", "seen": 0.0})
    return snap
