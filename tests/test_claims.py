"""Claims: every number a notebook's prose states is computed, filled in at build, and holds.

Each claim carries its teaching fact as a predicate (a range or an inequality), so
this file asserts every claim of every notebook without copying a single number.
The "built notebooks match their sources" test (test_notebooks.py) then fails
whenever code changes a number the prose shows, until the notebooks are rebuilt.
"""

from __future__ import annotations

import importlib.util
import re
import sys
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


# --- no claim is a literal (tools/claim_check.py, run by build_notebooks.py --check) ---------

_spec = importlib.util.spec_from_file_location("claim_check", ROOT / "tools" / "claim_check.py")
claim_check = sys.modules.setdefault("claim_check", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(claim_check)

_HEADER = '''
from ..claims import claim
from ..memo import memo
from ..clock import VirtualClock
from . import shards
from .shards import FAILOVER_SECONDS, OUTAGE, DATA_SETS, simulate
_S = OUTAGE.start_seconds
'''


def _offenders(tmp_path, body: str) -> list[str]:
    path = tmp_path / "claims.py"
    path.write_text(_HEADER + body)
    return [o.claim for o in claim_check.offenders_in(path, "99", "cluster")]


@pytest.mark.parametrize("body", [
    "@claim('x', notebook='99', fact='f', holds=lambda v: v == 0.25)\ndef x():\n    return 0.25\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x() -> float:\n    return FAILOVER_SECONDS\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    return float(shards.FAILOVER_SECONDS)\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    return _S * 2\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    return OUTAGE.start_seconds\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    run = simulate()\n    return 8\n",
    "def _eight():\n    return 8\n\n@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    return _eight()\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    from redis import _defaults as d\n"
    "    return round((d.DEFAULT_RETRY_COUNT + 1) * d.DEFAULT_SOCKET_TIMEOUT)\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    return VirtualClock().now() * 0 + 3\n",
    "claim('x', notebook='99', fact='f', holds=bool)(lambda: 3)\n",
], ids=["number", "imported-constant", "module-constant", "module-arithmetic", "setting-field",
        "engine-run-ignored", "helper-literal", "third-party-default", "clock-only", "lambda"])
def test_a_claim_whose_value_is_a_literal_is_refused(tmp_path, body):
    assert _offenders(tmp_path, body) == ["x"]


@pytest.mark.parametrize("body", [
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    return simulate().seconds\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n"
    "    stock = next(d for d in DATA_SETS if d.name == 's')\n    return stock.longest_ttl()\n",
    "@memo(maxsize=1)\ndef _run():\n    return shards.run(VirtualClock())\n\n"
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    return _run().moved / _S\n",
    "for _n in ('a', 'b'):\n    claim(_n, notebook='99', fact='f', holds=bool)(lambda n=_n: simulate(n).seconds)\n",
    "@claim('x', notebook='99', fact='f', holds=bool)\ndef x():\n    from ..connection import connect\n\n"
    "    server = connect('fakeredis://')\n    return server.memory_usage('k')\n",
], ids=["engine-result", "engine-derived-local", "memoised-helper", "registered-in-a-loop", "measured-on-a-server"])
def test_a_claim_computed_by_an_engine_passes(tmp_path, body):
    assert _offenders(tmp_path, body) == []


def test_no_claim_is_a_literal_beyond_the_known_list():
    offenders = claim_check.all_offenders()
    assert claim_check.problems(offenders) == [], "see tools/claim_check.py"
    # every known offender is named by notebook and claim, and really is a claim there
    for notebook, name in claim_check.KNOWN_LITERALS:
        assert name in claims.claims_for(notebook), f"KNOWN_LITERALS names {notebook}/{name}, which is no claim"


def test_the_known_list_neither_hides_a_new_offender_nor_outlives_a_fix():
    offender = claim_check.Offender("99", "fair_share", 3, "returns a literal")
    assert claim_check.problems([offender], known=frozenset())[0].startswith("claim 99/fair_share (line 3)")
    assert claim_check.problems([offender], known=frozenset({("99", "fair_share")})) == []
    stale = claim_check.problems([], known=frozenset({("99", "fair_share")}))
    assert stale and "no longer returns a literal" in stale[0]
