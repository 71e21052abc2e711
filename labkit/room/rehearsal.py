"""A practice room: simulated learners working through notebooks 00 and 01.

Each simulated learner publishes through its own :class:`Publisher`, exactly as a
learner's kernel does, to a room of its own on the room's Redis (fakeredis when no
Redis is set), so a host can rehearse the view - and watch it refresh - before the
day.  The learners' choices are seeded: the same rehearsal every run.
"""

from __future__ import annotations

import random
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from .publisher import Publisher
from .records import Room, Snapshot, room_client, room_url

__all__ = ["PREDICTIONS", "EXERCISES", "Rehearsal", "rehearse"]

# Notebook 00's predictions, with the options the notebook offers (a test keeps them in step).
PREDICTIONS: dict[str, tuple[str, ...]] = {
    "copy": ("the new value: the cache follows the database", "the old value, until its 30 s run out",
             "nothing: the change removed the copy"),
    "speedup": ("about 1.5x", "about 4x", "about 50x"),
    "long-ttl": ("none: the database is the same", "about one in a hundred", "about one in seven", "about half"),
}
# A plausible room: how often each option is chosen.
_LEANINGS = {"copy": (2, 6, 2), "speedup": (3, 6, 1), "long-ttl": (1, 5, 3, 1)}
# (notebook, exercise, the replays that can fail it); value exercises have none.
EXERCISES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("00", "mean-latency", ()),
    ("00", "best-speedup", ()),
    ("00", "ttl-budget", ()),
    ("01", "choose-a-pattern", ()),
    ("01", "write-cache-aside", ("hits after a fill", "the TTL backstop", "the write path",
                                 "the stale-set race", "a database failure mid-write")),
    ("01", "clean-shutdown", ()),
)
_NAMES = ("ada", "alan", "barbara", "edsger", "frances", "grace", "john", "ken", "leslie", "margaret",
          "niklaus", "radia", "tony", "dennis", "donald", "shafi", "sophie", "tim", "vint", "whitfield")


@dataclass
class _Learner:
    name: str
    out: Publisher
    plan: list[tuple[str, Any]]


class Rehearsal:
    """Simulated learners in a practice room; :meth:`step` moves each one on."""

    def __init__(self, learners: int = 12, *, seed: int = 7, room: str | None = None, client: Any = None) -> None:
        self.room = room or f"rehearsal-{secrets.token_hex(3)}"
        url = room_url()
        self.client = client if client is not None else room_client(url, timeout_seconds=2.0)
        rng = random.Random(seed)
        names = [_NAMES[i] if i < len(_NAMES) else f"learner-{i + 1:03d}" for i in range(learners)]
        self.learners = [_Learner(n, Publisher(self.room, n, lambda: self.client), self._plan(rng)) for n in names]
        self._rng = rng
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _plan(rng: random.Random) -> list[tuple[str, Any]]:
        steps: list[tuple[str, Any]] = [("at", ("00", "start"))]
        for question, options in PREDICTIONS.items():
            steps.append(("pred", (question, rng.choices(options, weights=_LEANINGS[question])[0])))
        for notebook, exercise, replays in EXERCISES:
            if notebook == "01" and steps[-1][1][0] == "00":
                steps.append(("at", ("01", "start")))
            for attempt in range(1, rng.choice((1, 1, 2, 3, 4)) + 1):
                steps.append(("ex", (notebook, exercise, attempt, replays)))
        return steps

    def step(self, times: int = 1) -> None:
        """Each learner does its next ``times`` actions (faster learners more), then waits for the room."""
        for _ in range(times):
            for learner in self.learners:
                for _ in range(self._rng.choice((0, 1, 1, 2))):
                    if learner.plan:
                        self._act(learner, learner.plan.pop(0))
        for learner in self.learners:
            learner.out.flush()

    def _act(self, learner: _Learner, action: tuple[str, Any]) -> None:
        kind, what = action
        if kind == "at":
            learner.out.publish("at", {"notebook": what[0], "section": what[1]})
        elif kind == "pred":
            learner.out.publish(f"pred:00/{what[0]}", {"answer": what[1]})
            learner.out.publish("at", {"notebook": "00", "section": f"prediction {what[0]}"})
        else:
            notebook, exercise, attempt, replays = what
            last = not learner.plan or learner.plan[0][1][:2] != (notebook, exercise)
            passed = last and self._rng.random() < 0.8
            failing = None if passed or not replays else self._rng.choice(replays[:3])
            record = {"passed": passed, "attempts": attempt, "failing": failing}
            learner.out.publish(f"ex:{notebook}/{exercise}", record)
            learner.out.publish("at", {"notebook": notebook, "section": f"exercise {exercise}"})

    def play(self, every_seconds: float = 2.0) -> Rehearsal:
        """Keep the learners working in the background until :meth:`stop`."""
        if self._thread is None:
            def loop() -> None:
                while not self._stop.wait(every_seconds) and any(learner.plan for learner in self.learners):
                    self.step()

            self._thread = threading.Thread(target=loop, name="labkit-room-rehearsal", daemon=True)
            self._thread.start()
        return self

    def read(self) -> Snapshot:
        return Room(self.room, self.client).read()

    def view(self, every_seconds: float = 3.0) -> Any:
        from .dashboard import RoomView

        return RoomView(self.read, every_seconds=every_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def close(self) -> None:
        """Stop the learners and delete the practice room's records."""
        self.stop()
        Room(self.room, self.client).clear()


def rehearse(learners: int = 12, *, seed: int = 7, steps: int = 8) -> Rehearsal:
    """A practice room with ``learners`` simulated learners who have already taken
    ``steps`` steps; ``.play()`` keeps them going, ``.view()`` shows the room."""
    practice = Rehearsal(learners, seed=seed)
    practice.step(steps)
    return practice
