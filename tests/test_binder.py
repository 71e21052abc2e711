"""The binder/ folder, read the way repo2docker reads it (nothing is built remotely)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[a-z0-9,]+\])?==([0-9][A-Za-z0-9.]*)$")


def _requirements(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith(("-r", "-e")):
            m = PIN.match(line)
            if m:
                pins[m.group(1).lower()] = m.group(3)
            else:
                pins[line] = ""
    return pins


def test_repo2docker_files_are_present():
    for name in ("requirements.txt", "runtime.txt", "apt.txt", "postBuild", "start"):
        assert (BINDER / name).is_file(), f"binder/{name} is missing"
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    assert "redis-server" in (BINDER / "apt.txt").read_text().split()


def test_binder_requirements_are_pinned_and_agree_with_the_lab():
    binder = _requirements(BINDER / "requirements.txt")
    unpinned = [name for name, version in binder.items() if not version]
    assert not unpinned, f"binder/requirements.txt must pin every package: {unpinned}"
    lab = _requirements(ROOT / "requirements.txt")
    for name, version in lab.items():
        if name == "nbval":  # a test tool; Binder does not need it
            continue
        assert binder.get(name) == version, f"{name}: binder pins {binder.get(name)}, requirements.txt {version}"


def test_scripts_are_executable_and_safe():
    start = (BINDER / "start").read_text()
    post = (BINDER / "postBuild").read_text()
    assert os.access(BINDER / "start", os.X_OK) and os.access(BINDER / "postBuild", os.X_OK)
    assert start.startswith("#!") and post.startswith("#!")
    assert start.rstrip().splitlines()[-1] == 'exec "$@"', "binder/start must end by handing over to Jupyter"
    assert "set -e" not in start, "binder/start must never fail the launch"
    assert "--bind 127.0.0.1" in start and '--save ""' in start
    assert "set -e" in post and "--no-deps" in post


def test_labkit_is_importable_after_postbuild_install(tmp_path):
    """What postBuild does (pip install --no-deps .), into a scratch folder."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(ROOT)],
        check=True, capture_output=True,
    )
    assert (target / "labkit" / "py.typed").exists()
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "labkit").rglob("*.py")
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import importlib, labkit; [importlib.import_module(m) for m in {modules!r}]; "
         "print(labkit.__file__)"],
        env={**os.environ, "PYTHONPATH": str(target)}, cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0, "a labkit module fails to import when installed: " + result.stderr[-1500:]
    assert str(target) in result.stdout


@pytest.mark.redis_server
def test_binder_start_rehearsal_serves_redis_on_loopback():
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("no redis-server/redis-cli on this machine (apt-get install redis-server)")
    # The interpreter running the tests, not whichever `python3` is first on PATH.
    result = subprocess.run(["bash", str(ROOT / "tools" / "rehearse_binder.sh")], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: REDIS_URL=redis://127.0.0.1:" in result.stdout
    assert "bound to 127.0.0.1" in result.stdout and "lab_owned_server=True" in result.stdout


@pytest.mark.redis_server
def test_binder_start_claims_no_server_it_did_not_start(redis_server):
    """Another server already answers the port: binder/start's own redis-server cannot
    bind, so it must export neither REDIS_URL nor the ownership marker for it."""
    if shutil.which("redis-cli") is None:
        pytest.skip("no redis-cli on this machine (apt-get install redis-server)")
    show = "import os; print(repr(os.environ.get('REDIS_URL')), repr(os.environ.get('LABKIT_OWNS_REDIS_RUN_ID')))"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LABKIT_OWNS_REDIS_RUN_ID")}
    result = subprocess.run(
        ["bash", str(BINDER / "start"), sys.executable, "-c", show],
        env={**env, "CACHE_LAB_REDIS_PORT": str(redis_server.port), "CACHE_LAB_REDIS_LOG": os.devnull},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None None"
    import redis

    assert redis.Redis.from_url(redis_server.url).ping()  # the other server was left alone


def test_binder_start_keeps_a_hub_s_shared_redis_url():
    """A hub that sets REDIS_URL (one Redis for the room) keeps it: no private server, nothing owned."""
    show = "import os; print(os.environ.get('REDIS_URL'), repr(os.environ.get('LABKIT_OWNS_REDIS_RUN_ID')))"
    env = {k: v for k, v in os.environ.items() if k != "LABKIT_OWNS_REDIS_RUN_ID"}
    shared = "redis://redis.hub.internal:6379/0"
    result = subprocess.run(["bash", str(BINDER / "start"), sys.executable, "-c", show],
                            env={**env, "REDIS_URL": shared, "CACHE_LAB_REDIS_PORT": "1"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [shared, "None"]


def test_binder_pins_exist_on_the_index():
    """Every pinned release is on the package index for this Python (a dry run, nothing
    installed).  That they also resolve together follows from the pins agreeing with
    requirements.txt, which CI installs in full."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
         "--disable-pip-version-check", "-r", str(BINDER / "requirements.txt")],
        capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0 and re.search(r"(?i)network|connection|resolve host|timed out", result.stderr):
        pytest.skip("the package index is unreachable from here: " + result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stderr[-2000:]
