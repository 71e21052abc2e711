"""Claims: every number a notebook's prose states is computed, filled in at build, and holds.

Each claim carries its teaching fact as a predicate (a range or an inequality), so
this file asserts every claim of every notebook without copying a single number.
The "built notebooks match their sources" test (test_notebooks.py) then fails
whenever code changes a number the prose shows, until the notebooks are rebuilt.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labkit import claims, course
from labkit.errors import LabError

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {p.name[:2]: p for p in sorted((ROOT / "tools" / "notebooks").glob("[0-9][0-9]_*.py"))}
ALL = claims.all_claims()


@pytest.mark.parametrize("claim", ALL, ids=[f"{c.notebook}-{c.name}" for c in ALL])
def test_every_claim_holds(claim):
    ok, said = claim.check()
    assert ok, said


@pytest.mark.parametrize("number", [n for n in SOURCES if n != "00"])
def test_notebooks_state_their_numbers_through_claims(number):
    text = SOURCES[number].read_text()
    used = set(claims.PLACEHOLDER.findall(text))
    assert len(used) >= 2, f"notebook {number} states fewer than two measured numbers as {{claim:...}}"
    known = claims.claims_for(number)
    unknown = sorted(name for name, _ in used if name not in known)
    assert not unknown, f"notebook {number} uses undefined claims: {unknown}"


def test_fill_formats_and_refuses_unknown_names():
    @claims.claim("demo_share", notebook="99", fact="a share between 0 and 1", holds=lambda v: 0 <= v <= 1)
    def demo_share() -> float:
        return 0.1234

    @claims.claim("demo_count", notebook="99", fact="a count", holds=lambda v: v > 0)
    def demo_count() -> int:
        return 12345

    try:
        original = course._BY_NUMBER.get("99")
        course._BY_NUMBER["99"] = course.Lesson("99", "99_demo", "Demo", "nowhere", 1, "")
        text = "{claim:demo_share:.0%} of reads, {claim:demo_count} requests, {claim:demo_share:.3f}"
        assert claims.fill(text, "99") == "12% of reads, 12,345 requests, 0.123"
        with pytest.raises(LabError, match="no such claim"):
            claims.fill("{claim:missing}", "99")
    finally:
        course._BY_NUMBER.pop("99", None)
        if original is not None:
            course._BY_NUMBER["99"] = original
        claims._REGISTRY.pop("99", None)


def test_a_claim_that_no_longer_holds_fails():
    broken = claims.Claim("x", "99", "at most one query per expiry", lambda: 3, lambda v: v <= 1)
    ok, said = broken.check()
    assert not ok and "FAILS" in said and "at most one query" in said


def test_course_map_matches_the_notebooks():
    stems = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for lesson in course.NOTEBOOKS:
        if lesson.slug in stems:
            src = SOURCES[lesson.number].read_text()
            stated = re.search(r"(\d+)\s+minutes", src)
            assert stated and int(stated.group(1)) == lesson.minutes, (
                f"{lesson.slug} states {stated and stated.group(1)} minutes, the course map {lesson.minutes}"
            )
    slugs = {lesson.slug for lesson in course.NOTEBOOKS}
    assert stems <= slugs, f"notebooks missing from labkit.course: {sorted(stems - slugs)}"
