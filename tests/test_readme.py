"""The README's promises: two commands that work on a stock Python, and CI runs the second verbatim."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE_VENV = "python3 -m venv .venv"
ACTIVATE = (". .venv/bin/activate", "source .venv/bin/activate")


def readme_commands() -> list[str]:
    """The commands in the README's "Two commands" section, as a reader copies them."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, re.S)


def steps(command: str) -> list[str]:
    return [step.strip() for step in command.split("&&")]


def venv_problems(command: str) -> list[str]:
    """Why ``command`` would stop on a Python that refuses ``pip install`` outside a
    virtual environment (PEP 668: Debian, Ubuntu, Homebrew), one sentence each."""
    parts = steps(command)
    problems = []
    if "\n" in command:
        problems.append("it is more than one line: a reader copies one line")
    if not parts or parts[0] != MAKE_VENV:
        problems.append(f"it does not start by making the virtual environment ({MAKE_VENV!r})")
    if len(parts) < 2 or parts[1] not in ACTIVATE:
        problems.append("it does not activate the virtual environment right after making it")
    for i, step in enumerate(parts):
        words = step.split()
        if "pip" in " ".join(words) and i < 2 and step != MAKE_VENV:
            problems.append(f"{step!r} runs pip before the virtual environment is active")
        if words[:1] == ["sudo"] or any(w in ("--break-system-packages", "--user") for w in words):
            problems.append(f"{step!r} installs into the system's Python")
        if words and words[0].startswith("/usr/"):
            problems.append(f"{step!r} names the system's interpreter instead of the environment's")
    return problems


def test_readme_has_the_two_commands_open_the_lab_and_run_the_tests():
    commands = readme_commands()
    assert len(commands) == 2, f"the README's 'Two commands' section shows {len(commands)} commands"
    open_lab, run_tests = (steps(c)[2:] for c in commands)
    assert open_lab == ["pip install -r requirements.txt", "jupyter lab notebooks/00_start_here.ipynb"]
    assert run_tests == ["pip install -r requirements-dev.txt", "python -m pytest"]


@pytest.mark.parametrize("which", [0, 1], ids=["open-the-lab", "run-the-tests"])
def test_each_command_makes_a_venv_before_pip_ever_runs(which):
    assert venv_problems(readme_commands()[which]) == []


@pytest.mark.parametrize("command", [
    "pip install -r requirements.txt && jupyter lab notebooks/00_start_here.ipynb",
    "python3 -m pip install -r requirements-dev.txt && python -m pytest",
    "python3 -m venv .venv && pip install -r requirements.txt && jupyter lab notebooks/00_start_here.ipynb",
    "python3 -m venv .venv && . .venv/bin/activate && pip install --break-system-packages -r requirements.txt",
    "python3 -m venv .venv && . .venv/bin/activate && /usr/bin/python3 -m pip install -r requirements.txt",
    "python -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt",
])
def test_the_shape_check_refuses_commands_that_stop_on_a_stock_python(command):
    assert venv_problems(command), f"{command!r} would pass the README's shape check"


@pytest.mark.slow
def test_the_venv_steps_run_verbatim_with_the_system_python3_and_pip_is_then_the_venvs(tmp_path):
    """The README's steps before ``pip install``, verbatim, with the system's ``python3``
    first on PATH and an empty HOME: afterwards ``pip`` and ``python`` are the venv's."""
    system_python = Path("/usr/bin/python3") if Path("/usr/bin/python3").exists() else None
    system_python = system_python or (Path(shutil.which("python3")) if shutil.which("python3") else None)
    if system_python is None:
        pytest.skip("no python3 on this machine")
    before_pip = " && ".join(steps(readme_commands()[1])[:2])
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")}
    env.update(HOME=str(home), PATH=f"{system_python.parent}{os.pathsep}{env.get('PATH', '')}")
    script = f"{before_pip} && command -v pip && python -c 'import sys; print(sys.prefix)'"
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=240)
    if "ensurepip is not available" in result.stdout + result.stderr:
        pytest.skip("this python3 has no venv module (apt-get install python3-venv)")
    assert result.returncode == 0, result.stderr
    pip, prefix = result.stdout.split()
    assert Path(pip) == tmp_path / ".venv" / "bin" / "pip"
    assert Path(prefix).resolve() == (tmp_path / ".venv").resolve()


def test_the_reading_copy_and_the_facilitator_guide_quote_the_readme_command():
    open_lab = readme_commands()[0]
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    build_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_site)
    assert open_lab == build_site.OPEN_LAB_PREFIX + "notebooks/00_start_here.ipynb"
    assert open_lab in (ROOT / "docs" / "facilitator-guide.md").read_text()


def test_ci_runs_the_readme_test_command():
    assert readme_commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_ci_runs_it_with_a_fresh_home_and_no_cache_lab_home():
    ci = (ROOT / ".ci" / "run").read_text()
    run_tests = readme_commands()[1]
    assert "set -euo pipefail" in ci
    line = next(line for line in ci.splitlines() if "env -u CACHE_LAB_HOME" in line)
    assert 'HOME="$fresh_home"' in line and 'fresh_home="$(mktemp -d)"' in ci
    assert ci.index("env -u CACHE_LAB_HOME") < ci.index(run_tests), "the README command must run in that env"
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
