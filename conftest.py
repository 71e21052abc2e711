"""Isolation for the whole test run, notebooks included.

Runs before any test is collected, so every process the tests start - nbval's
notebook kernels among them - inherits it: exercise progress and the learner id go
to a fresh temporary folder (never the tester's ``~/.cache-lab``), and no
``REDIS_URL`` or server-ownership marker from the tester's shell leaks in (the tests
that need a real Redis start their own).
"""

from __future__ import annotations

import os
import shutil
import tempfile

_ISOLATED_VARS = ("REDIS_URL", "LABKIT_OWNS_REDIS_RUN_ID", "LABKIT_OWNS_REDIS", "JUPYTERHUB_USER", "LABKIT_LEARNER")
_home: str | None = None


def pytest_configure(config):
    global _home
    _home = tempfile.mkdtemp(prefix="cache-lab-test-home-")
    os.environ["CACHE_LAB_HOME"] = _home
    for name in _ISOLATED_VARS:
        os.environ.pop(name, None)


def pytest_unconfigure(config):
    if _home:
        shutil.rmtree(_home, ignore_errors=True)
