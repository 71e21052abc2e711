"""Shared fixtures: every store-facing test runs on three backends.

``store`` is parametrized over the in-process MemoryStore, fakeredis and a real
redis-server that the test run starts on a free loopback port (skipped, with the
reason, only where no redis-server binary is installed).

``reading_copy`` builds the reading copy (``tools/build_site.py``) once per session,
keeping the notebooks it executed: the one run of every notebook on fakeredis, read
by both the site test and the per-notebook output test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import labkit
from labkit.redis_server import LocalRedis, redis_server_binary
from labkit.store import MemoryStore

NO_REDIS = "no redis-server binary on this machine (apt-get install redis-server)"
ROOT = Path(__file__).resolve().parent.parent
# Executing every notebook, two kernels at a time: a few minutes on a laptop.
BUILD_SITE_TIMEOUT_SECONDS = 1100


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server for the whole test session, on a free loopback port."""
    if redis_server_binary() is None:
        pytest.skip(NO_REDIS)
    server = LocalRedis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server):
    return redis_server.url


@pytest.fixture(autouse=True)
def _isolated_progress(tmp_path, monkeypatch):
    """Exercise progress goes to a temp folder, never the tester's home; no room is
    reported to unless a test sets one."""
    monkeypatch.setenv("CACHE_LAB_HOME", str(tmp_path / "cache-lab-home"))
    for var in ("REDIS_URL", "LABKIT_ROOM", "LABKIT_ROOM_URL", "LABKIT_ROOM_HOSTS"):
        monkeypatch.delenv(var, raising=False)


def _namespace() -> str:
    return "test-" + uuid.uuid4().hex[:10]


@pytest.fixture(params=["memory", "fakeredis", "redis"])
def store(request):
    """The cache store contract's three backends, each in its own namespace."""
    kind = request.param
    if kind == "memory":
        s = MemoryStore(namespace=_namespace())
    elif kind == "fakeredis":
        s = labkit.connect("fakeredis://", namespace=_namespace())
    else:
        url = request.getfixturevalue("redis_url")
        s = labkit.connect(url, namespace=_namespace(), fallback=False)
    yield s
    s.reset()


@pytest.fixture(params=["fakeredis", "redis"])
def redis_store(request):
    """fakeredis and a real server only (for lessons that need Redis itself)."""
    if request.param == "fakeredis":
        s = labkit.connect("fakeredis://", namespace=_namespace())
    else:
        s = labkit.connect(request.getfixturevalue("redis_url"), namespace=_namespace(), fallback=False)
    yield s
    s.reset()


@dataclass(frozen=True)
class ReadingCopy:
    """One run of ``tools/build_site.py --out site --keep-executed executed``."""

    returncode: int | None  # None: stopped after BUILD_SITE_TIMEOUT_SECONDS
    stdout: str
    stderr: str
    site: Path
    executed: Path

    @property
    def output(self) -> str:
        """The end of what the build printed, for an assertion's message."""
        return self.stdout[-3000:] + self.stderr[-3000:]

    def line_for(self, slug: str) -> str:
        """The build's own line about one notebook (``  <slug>: ran in 12 s`` or
        ``  <slug>: failed after 12 s: <error>``), or "" if it printed none."""
        return next((line.strip() for line in self.stdout.splitlines() if line.strip().startswith(f"{slug}: ")), "")

    def ran(self, slug: str) -> bool:
        return self.line_for(slug).startswith(f"{slug}: ran in ")


def _notebooks_wanted(session: pytest.Session) -> list[str]:
    """The notebook numbers this run's tests read from the reading copy: all of them
    ([]) when a test asks for the whole site, else those of the per-notebook tests
    selected (``-k 03_`` builds notebook 03 alone)."""
    numbers = set()
    for item in session.items:
        if "reading_copy" not in getattr(item, "fixturenames", ()):
            continue
        path = getattr(item, "callspec", None) and item.callspec.params.get("path")
        if not isinstance(path, Path):
            return []
        numbers.add(path.name[:2])
    return sorted(numbers)


@pytest.fixture(scope="session")
def reading_copy(request, tmp_path_factory) -> ReadingCopy:
    """The reading copy, built once per session into a temp folder as CI builds it, with
    every notebook it executed (on fakeredis, as the reader) kept next to it. Only the
    slow tests use it; a build that fails still returns, and each test says what failed."""
    folder = tmp_path_factory.mktemp("reading-copy")
    site, executed = folder / "site", folder / "executed"
    command = [sys.executable, str(ROOT / "tools" / "build_site.py"),
               "--out", str(site), "--keep-executed", str(executed), *_notebooks_wanted(request.session)]
    # Its own process group, so a build that overruns is stopped with its worker processes
    # (their kernels exit with them).
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as build:
        try:
            stdout, stderr = build.communicate(timeout=BUILD_SITE_TIMEOUT_SECONDS)
            returncode: int | None = build.returncode
        except subprocess.TimeoutExpired:
            os.killpg(build.pid, signal.SIGKILL)
            stdout, stderr = build.communicate()
            stderr += f"\ntools/build_site.py was stopped after {BUILD_SITE_TIMEOUT_SECONDS} s"
            returncode = None
    return ReadingCopy(returncode, stdout, stderr, site, executed)


def pytest_report_header(config):
    where = redis_server_binary() or "not installed: real-Redis tests will be skipped"
    return [f"redis-server: {where}", f"REDIS_URL in environment: {os.environ.get('REDIS_URL', '(unset)')}"]
