"""Learners sharing one Redis: each one's keys and messages stay their own.

Keys live under ``labkit:<learner>:<notebook>:`` where the learner is
``$JUPYTERHUB_USER`` (else ``$LABKIT_LEARNER``, else a random id kept in
``~/.cache-lab``).  Here alice and bob use one real redis-server, first from this
process, then by running notebooks at the same time in two kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

import labkit

pytestmark = pytest.mark.redis_server

ROOT = Path(__file__).resolve().parent.parent


def _as(monkeypatch, learner: str) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", learner)


def test_two_learners_get_distinct_prefixes_with_their_ids(redis_url, monkeypatch):
    _as(monkeypatch, "alice")
    alice = labkit.start("02", url=redis_url, quiet=True)
    _as(monkeypatch, "bob")
    bob = labkit.start("02", url=redis_url, quiet=True)
    assert alice.prefix == "labkit:alice:02:" and bob.prefix == "labkit:bob:02:"
    alice.set("user:1", "alice's")
    bob.set("user:1", "bob's")
    assert alice.get("user:1") == "alice's" and bob.get("user:1") == "bob's"
    assert alice.scan_keys() == ["user:1"] and bob.scan_keys() == ["user:1"]
    alice.reset(), bob.reset()


def test_start_shows_the_learners_prefix_in_its_first_line(redis_url, monkeypatch, capsys):
    _as(monkeypatch, "alice")
    labkit.start("02", url=redis_url).reset()
    first_line = capsys.readouterr().out.splitlines()[0]
    assert first_line.startswith("Cache Lab ready") and "'labkit:alice:02:'" in first_line


def test_bobs_start_leaves_alices_keys(redis_url, monkeypatch, capsys):
    _as(monkeypatch, "alice")
    alice = labkit.start("02", url=redis_url)
    for i in range(1500):  # more than one SCAN batch
        alice.set(f"row:{i}", "x")
    alice.set("lock:row:7", "alice-token", ttl_seconds=30)
    alice.set("lease:row:8", "lease:alice", ttl_seconds=30)
    _as(monkeypatch, "bob")
    bob = labkit.start("02", url=redis_url)
    bob.set("row:1", "bob")
    assert bob.reset() == 1
    assert len(alice.scan_keys()) == 1502
    assert alice.get("lock:row:7") == "alice-token" and alice.get("row:1") == "x"
    assert not bob.compare_and_delete("lock:row:7", "alice-token")   # bob's lock key is another key
    assert alice.get("lock:row:7") == "alice-token"
    alice.reset()


def test_alice_never_receives_bobs_messages(redis_url, monkeypatch):
    _as(monkeypatch, "alice")
    alice = labkit.connect(redis_url, namespace="02", fallback=False)
    _as(monkeypatch, "bob")
    bob = labkit.connect(redis_url, namespace="02", fallback=False)
    with alice.subscribe("invalidate") as alices, bob.subscribe("invalidate") as bobs:
        assert bob.publish("invalidate", "user:42") == 1         # only bob's own subscriber
        assert bobs.get_message(timeout_seconds=2) == "user:42"
        assert alices.get_message(timeout_seconds=0.3) is None
        assert alice.publish("invalidate", "user:7") == 1
        assert alices.get_message(timeout_seconds=2) == "user:7"
        assert bobs.get_message(timeout_seconds=0.3) is None


# Runs one notebook to the end in a fresh kernel; prints the outputs' text.
_RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}},
               extra_arguments=["--IPKernelApp.log_level=ERROR"]).execute()
print("\\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])))
"""


@pytest.mark.slow
def test_two_learners_run_notebooks_at_once_on_one_server(redis_url, tmp_path):
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    # Each learner has a key under the notebook the *other* one runs: a reset that
    # crossed learners would delete it.
    server.set("labkit:alice:04:sentinel", "alice's")
    server.set("labkit:bob:02:sentinel", "bob's")
    runs = {}
    for learner, notebook in (("alice", "02_invalidation"), ("bob", "04_stampede")):
        home = tmp_path / learner
        home.mkdir()
        env = {**os.environ, "JUPYTERHUB_USER": learner, "REDIS_URL": redis_url, "CACHE_LAB_HOME": str(home)}
        runs[learner] = subprocess.Popen(
            [sys.executable, "-c", _RUN_NOTEBOOK, str(ROOT / "notebooks" / f"{notebook}.ipynb"), str(home)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    outputs = {}
    for learner, run in runs.items():
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, f"{learner}'s notebook failed: {err[-3000:]}"
        outputs[learner] = out
    assert "keys under 'labkit:alice:02:'" in outputs["alice"] and "real Redis at" in outputs["alice"]
    assert "keys under 'labkit:bob:04:'" in outputs["bob"] and "real Redis at" in outputs["bob"]
    assert server.get("labkit:alice:04:sentinel") == "alice's", "bob's run deleted one of alice's keys"
    assert server.get("labkit:bob:02:sentinel") == "bob's", "alice's run deleted one of bob's keys"
    strays = [k for k in server.scan_iter(match="labkit:*", count=1000)
              if not k.startswith(("labkit:alice:", "labkit:bob:"))]
    assert strays == [], f"keys outside both learners' prefixes: {strays[:5]}"
    server.delete("labkit:alice:04:sentinel", "labkit:bob:02:sentinel")
