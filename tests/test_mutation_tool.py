"""tools/mutation_report.py: mutants of a reference, graded by the exercise's own check.

The full report runs by hand (minutes); here a toy exercise shows the tool can tell a
weak grader from a strict one, and honours a listed equivalent mutant.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from labkit.exercises import Implement, Scenario, Verdict

_TOOL = Path(__file__).resolve().parents[1] / "tools" / "mutation_report.py"
_spec = importlib.util.spec_from_file_location("mutation_report", _TOOL)
mutation_report = importlib.util.module_from_spec(_spec)
sys.modules["mutation_report"] = mutation_report  # its dataclasses look their module up
_spec.loader.exec_module(mutation_report)


def clamp(value, low, high):
    """The reference: value held between low and high."""
    if value < low:
        return low
    if value > high:
        return high
    return value


def _exercise(cases, equivalent=None) -> Implement:
    def run(answer):
        for args, expected in cases:
            got = answer(*args)
            if got != expected:
                return Verdict(False, f"clamp{args} gave {got!r}, expected {expected!r}")
        return Verdict(True, "")

    return Implement("99", "clamp", [Scenario("cases", run)], hint="-", reference=lambda: clamp,
                     mistakes={}, equivalent_mutants=equivalent)


def test_a_grader_that_never_goes_out_of_range_lets_mutants_survive():
    weak = mutation_report.analyse(_exercise([((5, 0, 10), 5)]))
    assert weak.count("survived") >= 4 and weak.score < 0.9
    # Statement deletion is among the operators: dropping a clamp's return survives the weak grader.
    assert any(m.key.endswith("=> pass") for m in weak.mutants if m.outcome == "survived")


def test_a_grader_that_tests_both_edges_refuses_every_mutant_but_the_equivalent_one():
    cases = [((5, 0, 10), 5), ((-1, 0, 10), 0), ((11, 0, 10), 10), ((0, 0, 10), 0), ((10, 0, 10), 10)]
    first = mutation_report.analyse(_exercise(cases))
    survivors = [m.key for m in first.mutants if m.outcome == "survived"]
    # `value < low` -> `value <= low` returns low when value == low: the same number.
    assert survivors and all("<=" in k or ">=" in k for k in survivors), survivors
    listed = {k: "equal at the edge" for k in survivors}
    strict = mutation_report.analyse(_exercise(cases, listed))
    assert strict.count("survived") == 0 and strict.count("equivalent") == len(listed)
    assert strict.score == 1.0 and strict.stale_equivalents == []
    assert "| 99/clamp |" in mutation_report.render([strict])
