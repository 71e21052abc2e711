"""The README's promises: two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPEN_LAB = "pip install -r requirements.txt && jupyter lab notebooks/00_start_here.ipynb"
RUN_TESTS = "pip install -r requirements-dev.txt && python -m pytest"


def test_readme_has_exactly_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", section, re.S)
    assert commands == [OPEN_LAB, RUN_TESTS]


def test_ci_runs_the_readme_test_command():
    assert RUN_TESTS in (ROOT / ".ci" / "run").read_text()


def test_ci_runs_it_with_a_fresh_home_and_no_cache_lab_home():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    line = next(line for line in ci.splitlines() if "env -u CACHE_LAB_HOME" in line)
    assert 'HOME="$fresh_home"' in line and 'fresh_home="$(mktemp -d)"' in ci
    assert ci.index("env -u CACHE_LAB_HOME") < ci.index(RUN_TESTS), "the README command must run in that env"
    assert '"$fresh_home/.cache-lab"' in ci, "CI must fail if the tests wrote into ~/.cache-lab"


def test_readme_maps_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{nb.name}" in readme, f"README's notebook map lacks {nb.name}"


def test_readme_minutes_agree_with_the_course_map():
    from labkit.course import NOTEBOOKS

    readme = (ROOT / "README.md").read_text()
    for lesson in NOTEBOOKS:
        row = re.search(rf"^\| {lesson.number} \| .*\| (\d+) \|$", readme, re.M)
        assert row and int(row.group(1)) == lesson.minutes, (
            f"README says {row and row.group(1)} minutes for {lesson.number}; the notebook says {lesson.minutes}"
        )


def test_requirements_install_labkit_and_keep_test_tools_out():
    lab = (ROOT / "requirements.txt").read_text()
    assert "-e ." in lab.splitlines()
    for tool in ("libcachesim", "playwright", "pytest==", "ruff"):
        assert tool not in lab, f"{tool} is a test tool: it belongs in requirements-dev.txt"
