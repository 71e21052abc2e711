"""The exercise catalogue: every reference answer passes, every listed mistake is refused by name.

This is what makes a grader trustworthy: an implement exercise that accepts its
known mistakes, or refuses its own reference, fails here.
"""

from __future__ import annotations

import pytest

from labkit import progress
from labkit.exercises import Args, Exercise, ExerciseSet, Implement, Scenario, Verdict, catalogue, is_unanswered

CATALOGUE = catalogue()
IDS = [f"{e.notebook}-{e.name}" for e in CATALOGUE]
IMPLEMENT = [e for e in CATALOGUE if e.kind == "implement"]
WITH_REFERENCE = [e for e in CATALOGUE if e._reference is not None]


def test_the_catalogue_covers_every_notebook_with_exercises():
    notebooks = {e.notebook for e in CATALOGUE}
    assert {"00", "01", "02", "03", "04", "05", "06", "07"} <= notebooks
    assert len({(e.notebook, e.name) for e in CATALOGUE}) == len(CATALOGUE), "two exercises share a name"
    assert progress.summary() == [], "building the catalogue must not record progress"


def test_mechanism_notebooks_have_implement_exercises():
    have = {e.notebook for e in IMPLEMENT}
    missing = {"01", "02", "04", "05"} - have
    assert not missing, f"notebooks without an implement exercise: {sorted(missing)}"


@pytest.mark.parametrize("ex", WITH_REFERENCE, ids=[f"{e.notebook}-{e.name}" for e in WITH_REFERENCE])
def test_reference_passes_and_each_mistake_is_refused_by_name(ex, capsys):
    assert ex.check(ex.reference()), f"{ex.notebook}/{ex.name}: the reference answer fails: {ex.last_feedback}"
    mistakes = ex.mistakes()
    if ex.kind == "implement":
        assert len(mistakes) >= 2, f"{ex.notebook}/{ex.name}: list at least two common mistakes"
    for name, answer in mistakes.items():
        assert not ex.check(answer), f"{ex.notebook}/{ex.name}: the mistake {name!r} passes"
        if ex.kind == "implement":
            assert name.lower() in ex.last_feedback.lower(), (
                f"{ex.notebook}/{ex.name}: refusing {name!r} should name it; said: {ex.last_feedback}"
            )


@pytest.mark.parametrize("ex", IMPLEMENT, ids=[f"{e.notebook}-{e.name}" for e in IMPLEMENT])
def test_correct_answers_written_another_way_pass(ex, capsys):
    alternatives = ex.alternatives()
    assert len(alternatives) >= 2, f"{ex.notebook}/{ex.name}: carry at least two correct alternatives"
    for name, answer in alternatives.items():
        assert ex.check(answer), (
            f"{ex.notebook}/{ex.name}: the correct alternative {name!r} is refused: {ex.last_feedback}"
        )


@pytest.mark.parametrize("ex", CATALOGUE, ids=IDS)
def test_every_exercise_has_a_hint_and_a_solution(ex, capsys):
    ex.hint()
    ex.solution()
    out = capsys.readouterr().out
    assert "💡" in out and "One solution" in out and len(out) > 40


@pytest.mark.parametrize("ex", IMPLEMENT, ids=[f"{e.notebook}-{e.name}" for e in IMPLEMENT])
def test_implement_solution_is_the_reference(ex, capsys):
    ex.solution()
    shown = capsys.readouterr().out
    ref = ex.reference()
    for part in ref if isinstance(ref, Args) else (ref,):
        name = getattr(part, "__name__", None)
        assert name is None or name in shown, f"{ex.notebook}/{ex.name}: the solution does not show {name}"


@pytest.mark.parametrize("ex", IMPLEMENT, ids=[f"{e.notebook}-{e.name}" for e in IMPLEMENT])
def test_an_untouched_skeleton_is_not_an_attempt(ex, capsys):
    namespace: dict = {}
    if not ex.skeleton:
        pytest.skip("no skeleton")
    exec(ex.skeleton, namespace)
    answers = [v for k, v in namespace.items() if not k.startswith("__") and callable(v)]
    assert answers and all(is_unanswered(a) for a in answers), f"{ex.notebook}/{ex.name}: skeleton has a body"
    assert not ex.check(*answers)
    assert "replace the ..." in capsys.readouterr().out
    assert progress.summary() == []


# -- the machinery itself -----------------------------------------------------------------------


def _doubles(f) -> Verdict:
    got = f(2)
    return Verdict(got == 2, "f(2) must be 2; returning twice the input is the sign of doubling",
                   [{"call": "f(2)", "expected": 2, "got": got}])


def test_implement_names_the_failing_scenario_and_shows_evidence(capsys):
    def ok(f) -> Verdict:
        return Verdict(True, "")

    def identity(x):
        return x

    ex = Implement("99", "demo", [Scenario("warm-up", ok), Scenario("identity", _doubles)], hint="h",
                   reference=identity, mistakes={"doubling": lambda: (lambda x: 2 * x)})
    assert ex.check(identity)
    assert not ex.check(lambda x: 2 * x)
    out = capsys.readouterr().out
    assert "scenario 2 of 2, 'identity'" in out and "doubling" in out
    assert "expected" in out and "got" in out  # the evidence table, as text outside IPython
    assert not ex.check(lambda x: 1 / 0)
    assert "ZeroDivisionError" in ex.last_feedback and "'warm-up'" not in ex.last_feedback
    assert progress.summary()[0]["attempts"] == 3


def test_unanswered_is_not_an_attempt(capsys):
    ex = Exercise("99", "demo", lambda a: a == 1, hint="h", solution="1")

    def stub(row_id):
        """Fill me in."""
        ...

    class Stub:
        def read(self, row_id): ...

        def write(self, row_id, value):
            pass

    for answer in (..., stub, Stub, {"a": ..., "b": 1}):
        assert not ex.check(answer)
    assert progress.summary() == []
    assert not is_unanswered(lambda x: x) and not is_unanswered(0)


def test_check_shows_no_stray_value_and_compares_like_a_bool():
    ex = Exercise("99", "demo", lambda a: (a == 1, "ok"), hint="h", solution="1")
    result = ex.check(1)
    assert result and result == True and hasattr(result, "_ipython_display_")  # noqa: E712
    assert ex.check(2) == False  # noqa: E712


def test_exercise_set_allows_names_and_attributes():
    ex = Exercise("99", "demo", lambda a: True, hint="h", solution="1")
    s = ExerciseSet({"fix-the-lock": ex})
    assert s["fix-the-lock"] is ex and s.fix_the_lock is ex and list(s) == ["fix-the-lock"]
    with pytest.raises(AttributeError, match="fix-the-lock"):
        _ = s.missing
