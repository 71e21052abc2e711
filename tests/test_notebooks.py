"""The notebooks: clean in git, shaped like lessons, and runnable on a real Redis.

nbval (configured in pyproject.toml) runs every notebook on the default backend,
fakeredis.  Here each notebook runs once more with REDIS_URL pointing at a real
redis-server, next to a learner's own key that must survive.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(path: Path, kind: str) -> str:
    return "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == kind)


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:1] == ["00"], "notebooks/00_start_here.ipynb is missing"


def test_notebooks_match_their_sources():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_notebooks.py"), "--check"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name} carries outputs; edit notebooks/src and run tools/build_notebooks.py"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_follows_the_lesson_shape(path):
    md, code = _text(path, "markdown"), _text(path, "code")
    nn = path.name[:2]
    for heading in ("What you'll learn", "Time", "What to notice", "Key takeaways", "Further reading"):
        assert heading.lower() in md.lower(), f"{path.name}: no '{heading}' section"
    assert re.search(r"\b\d+\s+minutes\b", md), f"{path.name}: say how long it takes, in minutes"
    assert f'labkit.start("{nn}"' in code, f'{path.name}: set up with labkit.start("{nn}")'
    assert "predict(" in code, f"{path.name}: ask the learner to predict before an experiment"
    checks = len(re.findall(r"\.check\(", code))
    assert 2 <= checks <= 4, f"{path.name}: {checks} exercise checks; the bar is 2-4"
    assert md.count("<details>") >= checks, f"{path.name}: every exercise needs a hidden solution"
    assert not re.search(r"\.(flushall|flushdb)\s*\(", code, re.I)


@pytest.mark.redis_server
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_on_real_redis_and_spares_other_keys(path, redis_url, monkeypatch, tmp_path):
    import nbformat
    import redis
    from nbclient import NotebookClient

    learner = redis.Redis.from_url(redis_url, decode_responses=True)
    learner.set("my-app:session:1", "precious")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CACHE_LAB_HOME", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "Falling back to fakeredis" not in outputs, f"{path.name} did not reach the real server"
    assert "real Redis at" in outputs, f"{path.name} should say it uses the real server"
    assert learner.get("my-app:session:1") == "precious", "a learner's own key was touched"
    left = [k for k in learner.scan_iter(match=f"labkit:{path.name[:2]}:*")]
    assert left == [], f"{path.name} left keys behind on the server: {left[:5]}"
