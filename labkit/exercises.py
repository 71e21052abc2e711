"""Exercises with automatic checks, hints and a solution shown only on request.

In a notebook::

    ex = Exercise("03", "longest-ttl", check=lambda ttl: (ttl <= 40, "..."),
                  hint="...", solution="my_ttl = 40")
    ex.check(my_ttl)     # prints a verdict, records progress, never raises
    ex.hint()
    ex.solution()

A check function returns ``True``/``False`` or ``(passed, message)``.  Leaving the
answer as ``...`` (Ellipsis) means "not attempted yet".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import progress
from .errors import LabError

__all__ = ["Exercise", "NOT_DONE"]

NOT_DONE = ...


class Exercise:
    def __init__(
        self,
        notebook: str,
        name: str,
        check: Callable[..., bool | tuple[bool, str]],
        *,
        hint: str,
        solution: str,
    ) -> None:
        self.notebook, self.name = notebook, name
        self._check, self._hint, self._solution = check, hint, solution
        self.passed: bool | None = None

    def check(self, *answer: Any) -> bool:
        """Grade ``answer``, print one verdict line, record the attempt."""
        if not answer or any(a is NOT_DONE for a in answer):
            print(f"✏️  Exercise {self.name}: replace the ... with your answer, then run this cell again.")
            return False
        try:
            verdict = self._check(*answer)
        except LabError as exc:
            verdict = (False, str(exc))
        except Exception as exc:  # the learner's code broke: say so in one line
            verdict = (False, f"your code raised {type(exc).__name__}: {exc}")
        passed, message = verdict if isinstance(verdict, tuple) else (bool(verdict), "")
        self.passed = bool(passed)
        progress.record(self.notebook, self.name, self.passed)
        mark = "✅ Correct" if passed else "❌ Not yet"
        print(f"{mark} - {message}" if message else mark)
        if not passed:
            print("   Stuck? Run  .hint()  on this exercise, or  .solution()  to see one answer.")
        return self.passed

    def hint(self) -> None:
        print(f"💡 {self._hint}")

    def solution(self) -> None:
        print(f"One solution:\n\n{self._solution}")

    def __repr__(self) -> str:
        state = {None: "not attempted", True: "passed", False: "not passed yet"}[self.passed]
        return f"<Exercise {self.notebook}/{self.name}: {state}>"
