"""Mutation analysis of every implement exercise: does its grader refuse a broken answer?

For each :class:`labkit.exercises.Implement` exercise, mutmut's mutation operators
change the reference answer's source one place at a time (``<`` to ``<=``, ``+`` to
``-``, a constant, a keyword argument dropped, ``and`` to ``or`` ...), and one more
classic operator mutmut lacks deletes one statement at a time (it becomes ``pass``).  Each mutant is
handed to the exercise's own ``check()``, exactly as a learner's answer would be:

* **refused**: the check said "Not yet" (or the mutant hung, and was stopped);
* **survived**: the check said "Correct" to a broken answer - a hole in the grader,
  unless the mutant is **equivalent** (behaves identically to the reference), which the
  exercise says with a reason in ``Implement(..., equivalent_mutants={key: reason})``;
* mutants that do not even define the answer (a syntax error) are not counted.

The score is ``refused / (mutants - equivalent)``; the target is at least 90 %.

    python tools/mutation_report.py                      # every exercise, writes the report
    python tools/mutation_report.py --only 04/complete-loader --survivors

The full run writes ``docs/grader-mutation-report.md``.  Every check runs in a forked
child with a time limit, so a mutant that loops forever or corrupts state cannot
spoil the next one.  Runs by hand (minutes), never in the default test run.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import inspect
import io
import os
import pickle
import signal
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from mutmut.mutation.file_mutation import create_mutations, deep_replace

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "grader-mutation-report.md"
TARGET = 0.90
SECONDS_PER_CHECK = 30.0


@dataclass
class Mutant:
    key: str  # "<function>: <line> => <mutated line>", stable while the line is unchanged
    part: str  # the name of the answer's part that was mutated (a function or class)
    diff: str
    outcome: str = ""  # "refused", "timed out", "survived", "equivalent", "invalid"
    feedback: str = ""


@dataclass
class ExerciseResult:
    exercise_id: str
    mutants: list[Mutant] = field(default_factory=list)
    stale_equivalents: list[str] = field(default_factory=list)  # listed, but no such survivor

    def count(self, *outcomes: str) -> int:
        return sum(m.outcome in outcomes for m in self.mutants)

    @property
    def counted(self) -> int:
        return self.count("refused", "timed out", "survived", "equivalent")

    @property
    def score(self) -> float:
        judged = self.counted - self.count("equivalent")
        return 1.0 if judged == 0 else self.count("refused", "timed out") / judged


# -- making mutants -----------------------------------------------------------------------------

def _enclosing_function(source: str, line: int, part_name: str) -> str:
    """The innermost ``def`` holding ``line`` (1-based), as ``Class.method`` or ``function``."""
    best = part_name
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= node.end_lineno:
            best = node.name if node.name == part_name else f"{part_name}.{node.name}"
    return best


def _key(source: str, mutated: str, part_name: str) -> tuple[str, str]:
    before, after = source.splitlines(), mutated.splitlines()
    removed, added, first_line = [], [], None
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        first_line = first_line or i1 + 1
        removed += [s.strip() for s in before[i1:i2]]
        added += [s.strip() for s in after[j1:j2]]
    where = _enclosing_function(source, first_line or 1, part_name)
    key = f"{where}: {' / '.join(removed)} => {' / '.join(added) or '(removed)'}"
    diff = "\n".join(difflib.unified_diff(before, after, lineterm="", n=1))
    return key, diff


class _Statements(cst.CSTVisitor):
    """Statement deletion, the one classic operator mutmut does not apply: each simple
    statement inside a function (not a docstring, not a lone ``...``/``pass``) becomes ``pass``."""

    def __init__(self) -> None:
        self.depth, self.found = 0, []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        only = node.body[0] if len(node.body) == 1 else None
        trivial = isinstance(only, cst.Pass) or (
            isinstance(only, cst.Expr) and isinstance(only.value, (cst.SimpleString, cst.ConcatenatedString,
                                                                    cst.Ellipsis)))
        if self.depth and not trivial:
            self.found.append(node)


def _deletions(module: cst.Module) -> list[tuple[cst.CSTNode, cst.CSTNode]]:
    visitor = _Statements()
    module.visit(visitor)
    return [(node, node.with_changes(body=[cst.Pass()])) for node in visitor.found]


def mutants_of(part) -> list[tuple[Mutant, str]]:
    """Every mutant of one part of a reference answer: (description, mutated source)."""
    source = textwrap.dedent(inspect.getsource(part))
    with contextlib.chdir(ROOT):  # mutmut reads its settings from pyproject.toml here
        module, mutations, _, _ = create_mutations(f"<{part.__qualname__}>", source)
    edits = [(m.original_node, m.mutated_node) for m in mutations] + _deletions(module)
    found, seen = [], {}
    for original, mutated_node in edits:
        code = deep_replace(module, original, mutated_node)
        mutated = code.code if isinstance(code, cst.Module) else ""
        if not mutated or mutated == source:
            continue
        key, diff = _key(source, mutated, part.__name__)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # the same edit in two places of one line
            key = f"{key} #{seen[key]}"
        found.append((Mutant(key, part.__name__, diff), mutated))
    return found


def _build(part, mutated_source: str):
    """Define the mutated part in a copy of its module's namespace, as the reference was."""
    namespace = dict(vars(sys.modules[part.__module__]))
    exec(compile(mutated_source, f"<mutant of {part.__qualname__}>", "exec"), namespace)  # noqa: S102
    return namespace[part.__name__]


# -- grading one mutant in a forked child -------------------------------------------------------

def _grade_in_child(exercise, answer_parts: tuple) -> tuple[str, str]:
    """Run ``exercise.check`` in a forked child; (outcome, feedback)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: grade, send the verdict, leave without cleanup handlers
        os.close(read_end)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                passed = bool(exercise.check(*answer_parts))
            result = ("survived" if passed else "refused", exercise.last_feedback)
        except BaseException as exc:  # noqa: BLE001 - a check that raises has refused
            result = ("refused", f"the check raised {type(exc).__name__}: {exc}")
        with os.fdopen(write_end, "wb") as out:
            pickle.dump(result, out)
        os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + SECONDS_PER_CHECK
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        return "timed out", f"the check did not finish in {SECONDS_PER_CHECK:.0f} s"
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    return pickle.loads(data) if data else ("refused", "the check ended the process")


def analyse(exercise, *, verbose: bool = False) -> ExerciseResult:
    from labkit.exercises import Args

    result = ExerciseResult(f"{exercise.notebook}/{exercise.name}")
    reference = exercise.reference()
    parts = tuple(reference) if isinstance(reference, Args) else (reference,)
    for index, part in enumerate(parts):
        for mutant, source in mutants_of(part):
            try:
                mutated_part = _build(part, source)
            except Exception as exc:  # noqa: BLE001 - not a program: not counted
                mutant.outcome, mutant.feedback = "invalid", f"{type(exc).__name__}: {exc}"
                result.mutants.append(mutant)
                continue
            answer = parts[:index] + (mutated_part,) + parts[index + 1:]
            mutant.outcome, mutant.feedback = _grade_in_child(exercise, answer)
            if mutant.outcome == "survived" and mutant.key in exercise.equivalent_mutants:
                mutant.outcome = "equivalent"
                mutant.feedback = exercise.equivalent_mutants[mutant.key]
            result.mutants.append(mutant)
            if verbose:
                print(f"  {mutant.outcome:>10}  {mutant.key}", flush=True)
    keys = {m.key for m in result.mutants if m.outcome == "equivalent"}
    result.stale_equivalents = [k for k in exercise.equivalent_mutants if k not in keys]
    return result


# -- the report ---------------------------------------------------------------------------------

def render(results: list[ExerciseResult]) -> str:
    lines = [
        "# Grader mutation report",
        "",
        "Made by `python tools/mutation_report.py` (by hand, not in the test run). mutmut's",
        "operators, and statement deletion, change each implement exercise's reference",
        "answer one place at a time;",
        "each mutant goes through the exercise's own `check()`. A mutant the check accepts",
        "has **survived**, unless it is **equivalent** (it behaves identically, for the reason",
        "given below). Score = refused / (mutants - equivalent); the target is "
        f"{TARGET:.0%} for every exercise. Mutants that are not valid Python are not counted.",
        "",
        "| exercise | mutants | refused | equivalent | survived | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.exercise_id} | {r.counted} | {r.count('refused', 'timed out')} | "
                     f"{r.count('equivalent')} | {r.count('survived')} | {r.score:.0%} |")
    for r in results:
        equivalent = [m for m in r.mutants if m.outcome == "equivalent"]
        survived = [m for m in r.mutants if m.outcome == "survived"]
        if not (equivalent or survived or r.stale_equivalents):
            continue
        lines += ["", f"## {r.exercise_id}", ""]
        for m in equivalent:
            lines.append(f"- equivalent: `{m.key}` - {m.feedback}")
        for m in survived:
            lines.append(f"- **survived**: `{m.key}`")
        for k in r.stale_equivalents:
            lines.append(f"- listed as equivalent but not a surviving mutant any more: `{k}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NN/name",
                        help="analyse only this exercise (repeatable); the report file is not written")
    parser.add_argument("--survivors", action="store_true", help="print each surviving mutant's diff")
    parser.add_argument("--verbose", action="store_true", help="print every mutant's outcome")
    args = parser.parse_args(argv)

    home = tempfile.mkdtemp(prefix="cache-lab-mutation-")
    os.environ["CACHE_LAB_HOME"] = home  # progress of the checks goes nowhere that matters
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    from labkit.exercises import catalogue

    try:
        chosen = [e for e in catalogue() if e.kind == "implement"]
        if args.only:
            missing = set(args.only) - {f"{e.notebook}/{e.name}" for e in chosen}
            if missing:
                parser.error(f"no implement exercise {', '.join(sorted(missing))}")
            chosen = [e for e in chosen if f"{e.notebook}/{e.name}" in args.only]
        results = []
        for exercise in chosen:
            started = time.monotonic()
            print(f"{exercise.notebook}/{exercise.name}: mutating the reference ...", flush=True)
            result = analyse(exercise, verbose=args.verbose)
            results.append(result)
            print(f"  {result.counted} mutants, {result.count('refused', 'timed out')} refused, "
                  f"{result.count('equivalent')} equivalent, {result.count('survived')} survived: "
                  f"score {result.score:.0%} ({time.monotonic() - started:.0f} s)", flush=True)
            if args.survivors:
                for m in result.mutants:
                    if m.outcome == "survived":
                        print(f"\n  SURVIVED {m.key!r}\n{textwrap.indent(m.diff, '    ')}")
                for k in result.stale_equivalents:
                    print(f"\n  listed as equivalent, but no such survivor: {k!r}")
        if not args.only:
            REPORT.write_text(render(results), encoding="utf-8")
            print(f"wrote {REPORT.relative_to(ROOT)}")
        return 0 if all(r.score >= TARGET for r in results) else 1
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
