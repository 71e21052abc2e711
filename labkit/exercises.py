"""Exercises with automatic checks, hints, hidden solutions - and code the learner writes.

Two kinds, one interface (``check``, ``hint``, ``solution``, ``reference``, ``mistakes``):

* :class:`Exercise` grades an answer - a number, a choice, a small plan::

      ex = Exercise("03", "longest-ttl", check=lambda ttl: (ttl <= 40, "..."),
                    hint="...", solution="my_ttl = 40", reference=lambda: 40,
                    mistakes={"over the staleness budget": 300})

* :class:`Implement` grades code: the learner fills in a function or a small class,
  and the check runs it through the lab's own adversarial replays (:class:`Scenario`),
  in order.  The first scenario that breaks it is named, with the interleaving or
  timeline that did (a small table or chart), never a traceback.

``check(answer)`` prints one verdict, records progress (and, when a host set
``LABKIT_ROOM``, tells the room passed or not and the failing replay's name - never
the answer) and never raises.  An answer
left as ``...`` - or a function or class whose bodies are still only ``...`` - is
not an attempt: it records nothing.  It returns a :class:`Checked`, which is truthy
when the answer passed and shows nothing in a notebook (the verdict is printed).

Every lesson's ``exercises(store=None)`` returns an :class:`ExerciseSet`, and
:func:`catalogue` lists every exercise of every notebook, so the tests can prove
that each reference answer passes and each listed mistake is refused by name.
"""

from __future__ import annotations

import dis
import importlib
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import progress
from .errors import LabError
from .room import publisher as room

__all__ = [
    "Exercise",
    "Implement",
    "Scenario",
    "Verdict",
    "Checked",
    "Args",
    "ExerciseSet",
    "NOT_DONE",
    "catalogue",
    "is_unanswered",
]

NOT_DONE = ...
_MAX_EVIDENCE_ROWS = 24


class Args(tuple):
    """A reference answer made of several arguments: ``check(Args((acquire, release)))``
    is ``check(acquire, release)``."""


_STUB_OPS = {"RESUME", "NOP", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST", "POP_TOP"}


def _is_stub_function(obj: Any) -> bool:
    """A body of only a docstring, ``...`` or ``pass``: it loads constants and returns None."""
    code = getattr(obj, "__code__", None)
    if code is None:
        return False
    ops = list(dis.get_instructions(code))
    constants_only = all(op.argval is None or op.argval is Ellipsis
                         for op in ops if op.opname in ("LOAD_CONST", "RETURN_CONST"))
    return constants_only and all(op.opname in _STUB_OPS for op in ops)


def is_unanswered(answer: Any) -> bool:
    """True for ``...``, a container holding ``...``, or code whose bodies are only stubs."""
    if answer is NOT_DONE:
        return True
    if isinstance(answer, dict):
        return any(v is NOT_DONE for v in answer.values())
    if isinstance(answer, (list, tuple)) and not isinstance(answer, Args):
        return any(v is NOT_DONE for v in answer)
    if inspect.isclass(answer):
        methods = [v for v in vars(answer).values() if inspect.isfunction(v)]
        return bool(methods) and all(_is_stub_function(m) for m in methods)
    if inspect.isfunction(answer):
        return _is_stub_function(answer)
    return False


@dataclass
class Verdict:
    """What one scenario found: passed or not, one sentence, and the evidence."""

    passed: bool
    message: str
    evidence: Any = None  # list of dict rows (a table), or a matplotlib Figure
    scenario: str | None = None  # the name of the replay that failed (told to a room)


@dataclass
class Scenario:
    """One replay an implementation must survive: ``run(answer) -> Verdict``."""

    name: str
    run: Callable[[Any], Verdict]


class Checked:
    """The result of ``check()``: truthy if the answer passed, invisible in a notebook."""

    __slots__ = ("passed", "feedback")

    def __init__(self, passed: bool, feedback: str) -> None:
        self.passed, self.feedback = bool(passed), feedback

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (bool, Checked)):
            return self.passed == bool(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.passed)

    def _ipython_display_(self) -> None:
        """The verdict is already printed; show no ``True``/``False`` under it."""

    def __repr__(self) -> str:
        return f"<Checked: {'passed' if self.passed else 'not passed'}>"


class Exercise:
    """An answer checked by ``check(answer) -> bool`` or ``-> (bool, message)``."""

    kind = "value"

    def __init__(
        self,
        notebook: str,
        name: str,
        check: Callable[..., bool | tuple[bool, str]],
        *,
        hint: str,
        solution: str,
        kind: str | None = None,
        reference: Callable[[], Any] | None = None,
        mistakes: Mapping[str, Any] | None = None,
    ) -> None:
        self.notebook, self.name = notebook, name
        self._grade, self._hint, self._solution = check, hint, solution
        if kind is not None:
            self.kind = kind
        self._reference = reference
        self._mistakes = dict(mistakes or {})
        self.passed: bool | None = None
        self.last_feedback = ""

    # -- what a learner calls ---------------------------------------------------------
    def check(self, *answer: Any) -> Checked:
        """Grade ``answer``, print one verdict, record the attempt; never raises."""
        if len(answer) == 1 and isinstance(answer[0], Args):
            answer = tuple(answer[0])
        if not answer or any(is_unanswered(a) for a in answer):
            self.last_feedback = (f"✏️  Exercise {self.name}: replace the ... with your answer, "
                                  "then run this cell again.")
            print(self.last_feedback)
            return Checked(False, self.last_feedback)
        passed, message, evidence, scenario = self._run(answer)
        self.passed = bool(passed)
        entry = progress.record(self.notebook, self.name, self.passed)
        room.exercise_checked(self.notebook, self.name, passed=bool(entry.get("passed", passed)),
                              attempts=int(entry.get("attempts", 1)), failing=scenario)
        mark = "✅ Correct" if passed else "❌ Not yet"
        self.last_feedback = f"{mark} - {message}" if message else mark
        print(self.last_feedback)
        if not passed:
            if evidence is not None:
                _show_evidence(evidence)
            print("   Stuck? Run  .hint()  on this exercise, or  .solution()  to see one answer.")
        return Checked(self.passed, self.last_feedback)

    def hint(self) -> None:
        print(f"💡 {self._hint}")

    def solution(self) -> None:
        print(f"One solution:\n\n{self.solution_text()}")

    # -- what the tests and the catalogue use -------------------------------------------
    def solution_text(self) -> str:
        return self._solution

    def reference(self) -> Any:
        """The reference answer (the one the solution shows)."""
        if self._reference is None:
            raise LabError(f"Exercise {self.notebook}/{self.name} has no reference answer.")
        return _resolve(self._reference)

    def mistakes(self) -> dict[str, Any]:
        """Common mistakes by short name -> an answer that makes that mistake."""
        return {name: _resolve(make) for name, make in self._mistakes.items()}

    def _run(self, answer: tuple[Any, ...]) -> tuple[bool, str, Any, str | None]:
        """(passed, message, evidence, the failing scenario's name or None)."""
        try:
            verdict = self._grade(*answer)
        except LabError as exc:
            return False, str(exc), None, None
        except Exception as exc:  # the learner's answer broke the check: one line
            return False, f"your answer raised {type(exc).__name__}: {exc}", None, None
        if isinstance(verdict, Verdict):
            return verdict.passed, verdict.message, verdict.evidence, verdict.scenario
        if isinstance(verdict, tuple):
            return bool(verdict[0]), str(verdict[1]), verdict[2] if len(verdict) > 2 else None, None
        return bool(verdict), "", None, None

    def __repr__(self) -> str:
        state = {None: "not attempted", True: "passed", False: "not passed yet"}[self.passed]
        return f"<{type(self).__name__} {self.notebook}/{self.name} ({self.kind}): {state}>"


def _resolve(obj: Any) -> Any:
    """A reference or mistake is the answer itself, or a zero-argument lambda making it
    (so an answer can be built lazily, or be a value computed on demand)."""
    if inspect.isfunction(obj) and obj.__name__ == "<lambda>" and not inspect.signature(obj).parameters:
        return obj()
    return obj


class Implement(Exercise):
    """The learner writes code; the lab's replays grade it, first failure named and shown.

    ``reference`` and each mistake are the answer object (a function, a class, or
    :class:`Args` of several), or a zero-argument lambda that makes it.
    ``skeleton`` is the cell the learner starts from (signature, docstring, ``...``).
    ``equivalent_mutants`` lists the mutants of the reference that no replay can refuse
    because they behave identically, with the reason (see ``tools/mutation_report.py``).
    ``alternatives`` are correct answers written differently from the reference (name ->
    answer, like ``mistakes``): the grader must accept each of them.
    """

    kind = "implement"

    def __init__(
        self,
        notebook: str,
        name: str,
        scenarios: list[Scenario],
        *,
        hint: str,
        reference: Callable[[], Any],
        mistakes: Mapping[str, Any],
        skeleton: str = "",
        solution: str | None = None,
        equivalent_mutants: Mapping[str, str] | None = None,
        alternatives: Mapping[str, Any] | None = None,
    ) -> None:
        if not scenarios:
            raise LabError(f"Implement exercise {notebook}/{name} needs at least one scenario.")
        super().__init__(notebook, name, self._grade_all, hint=hint, solution=solution or "",
                         reference=reference, mistakes=mistakes)
        self.scenarios = list(scenarios)
        self.skeleton = skeleton
        # Mutants of the reference that behave identically, each with the reason
        # (``tools/mutation_report.py`` reads them; a key is "<function>: <line> => <mutated line>").
        self.equivalent_mutants = dict(equivalent_mutants or {})
        self._alternatives = dict(alternatives or {})

    def alternatives(self) -> dict[str, Any]:
        """Correct answers written another way than the reference, by short name."""
        return {name: _resolve(make) for name, make in self._alternatives.items()}

    def solution_text(self) -> str:
        if self._solution:
            return self._solution
        ref = self.reference()
        parts = ref if isinstance(ref, Args) else (ref,)
        try:
            return "\n\n".join(textwrap.dedent(inspect.getsource(p)).rstrip() for p in parts)
        except (OSError, TypeError):
            return repr(ref)

    def _grade_all(self, *answer: Any) -> Verdict:
        subject = answer[0] if len(answer) == 1 else Args(answer)
        for i, scenario in enumerate(self.scenarios, start=1):
            try:
                verdict = scenario.run(subject)
            except LabError as exc:
                verdict = Verdict(False, str(exc))
            except Exception as exc:  # the learner's code raised inside the replay
                verdict = Verdict(False, f"your code raised {type(exc).__name__}: {exc}")
            if not verdict.passed:
                where = f"scenario {i} of {len(self.scenarios)}, '{scenario.name}'"
                return Verdict(False, f"{where}: {verdict.message}", verdict.evidence, scenario=scenario.name)
        names = ", ".join(f"'{s.name}'" for s in self.scenarios)
        return Verdict(True, f"your code passed every replay ({names}).")


def _show_evidence(evidence: Any) -> None:
    """A small table (list of dict rows) or a chart, under the verdict."""
    if isinstance(evidence, list) and evidence and isinstance(evidence[0], Mapping):
        from .tables import Table

        table = Table(evidence, "What happened in the replay that failed", max_rows=_MAX_EVIDENCE_ROWS)
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # plain Python: a text table
            get_ipython = None  # type: ignore[assignment]
        if get_ipython is not None and get_ipython() is not None:
            display(table)
        else:
            print(textwrap.indent(str(table), "   "))
        return
    if hasattr(evidence, "savefig"):
        from . import charts

        show = getattr(charts, "show", None)
        if show is not None:
            show(evidence)
        else:
            from IPython.display import display

            display(evidence)
        return
    print(f"   {evidence}")


class ExerciseSet(Mapping[str, Exercise]):
    """A notebook's exercises by slot name: ``ex["fix-the-lock"]`` or ``ex.fix_the_lock``."""

    def __init__(self, exercises: Mapping[str, Exercise]) -> None:
        self._items = dict(exercises)

    def __getitem__(self, key: str) -> Exercise:
        if key in self._items:
            return self._items[key]
        raise KeyError(f"No exercise {key!r}; this notebook has {', '.join(self._items)}.")

    def __getattr__(self, name: str) -> Exercise:
        items = self.__dict__.get("_items", {})
        for key in (name, name.replace("_", "-")):
            if key in items:
                return items[key]
        raise AttributeError(f"No exercise {name!r}; this notebook has {', '.join(items)}.")

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<ExerciseSet {', '.join(self._items)}>"

    def _ipython_display_(self) -> None:
        print("Exercises: " + ", ".join(self._items))


def as_exercise_set(value: Any) -> ExerciseSet:
    """An ExerciseSet from what a lesson's ``exercises()`` returns."""
    if isinstance(value, ExerciseSet):
        return value
    if isinstance(value, Mapping):
        return ExerciseSet(value)
    return ExerciseSet({k: v for k, v in vars(value).items() if isinstance(v, Exercise)})


def catalogue() -> list[Exercise]:
    """Every exercise of every notebook, built on the default backend (fakeredis).

    Opens no network connection and writes no progress until an exercise is checked.
    """
    from .connection import connect
    from .course import NOTEBOOKS

    found: list[Exercise] = []
    for lesson in NOTEBOOKS:
        make = _exercises_function(lesson.lesson_module, lesson.package)
        if make is None:
            continue
        if inspect.signature(make).parameters:
            value = make(connect("fakeredis://", namespace=f"catalogue-{lesson.number}"))
        else:
            value = make()
        found.extend(as_exercise_set(value).values())
    return found


def _exercises_function(lesson_module: str, package: str) -> Callable[..., Any] | None:
    for module in (lesson_module, f"labkit.{package}"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module.startswith(exc.name):
                continue
            raise
        make = getattr(mod, "exercises", None)
        if callable(make):
            return make
    return None
