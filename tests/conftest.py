"""Shared fixtures: every store-facing test runs on three backends.

``store`` is parametrized over the in-process MemoryStore, fakeredis and a real
redis-server that the test run starts on a free loopback port (skipped, with the
reason, only where no redis-server binary is installed).
"""

from __future__ import annotations

import os
import uuid

import pytest

import labkit
from labkit.redis_server import LocalRedis, redis_server_binary
from labkit.store import MemoryStore

NO_REDIS = "no redis-server binary on this machine (apt-get install redis-server)"


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
    """Exercise progress goes to a temp folder, never the tester's home."""
    monkeypatch.setenv("CACHE_LAB_HOME", str(tmp_path / "cache-lab-home"))
    monkeypatch.delenv("REDIS_URL", raising=False)


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


def pytest_report_header(config):
    where = redis_server_binary() or "not installed: real-Redis tests will be skipped"
    return [f"redis-server: {where}", f"REDIS_URL in environment: {os.environ.get('REDIS_URL', '(unset)')}"]
