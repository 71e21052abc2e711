"""Unit tests for labkit's core: clocks, database, workloads, metrics, connection."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

import labkit
from labkit import connection, workloads
from labkit.clock import VirtualClock, WallClock
from labkit.connection import FALLBACK_NOTE, OWNED_RUN_ID_VAR, connect, resolve_url, safe_url
from labkit.database import Database, DatabaseError, DatabaseTimeout, Row
from labkit.errors import LabError, RedisUnavailable, install_notebook_handler
from labkit.metrics import StalenessMeter, percentile
from labkit.redis_server import LocalRedis
from labkit.store import MemoryStore

# -- clocks --------------------------------------------------------------------------


def test_virtual_clock_moves_only_when_told():
    clock = VirtualClock()
    start = time.perf_counter()
    clock.sleep(3600)
    assert clock.now() == 3600
    assert time.perf_counter() - start < 1.0  # not an hour: nothing slept
    with pytest.raises(LabError, match="cannot run backwards"):
        clock.advance(-1)
    with pytest.raises(LabError, match="Cannot move a VirtualClock back"):
        clock.set(10)


def test_wall_clock_really_waits():
    start = time.perf_counter()
    WallClock().sleep(0.05)
    assert time.perf_counter() - start >= 0.045


def test_memory_store_expiry_follows_a_virtual_clock():
    clock = VirtualClock()
    store = MemoryStore(clock, latency_seconds=0.001)
    store.set("k", "v", ttl_seconds=60)
    assert clock.now() == pytest.approx(0.001)  # the round trip was charged on the clock
    clock.advance(59.9)
    assert store.get("k") == "v"
    clock.advance(0.2)
    assert store.get("k") is None


# -- database ------------------------------------------------------------------------


def test_database_counts_every_query_and_charges_latency():
    clock = VirtualClock()
    db = Database(clock, rows=10, latency_seconds=0.005)
    row = db.read(3)
    assert row == Row(3, "item 3 v1", 1, 0.0)
    assert clock.now() == pytest.approx(0.005)
    db.write(3, "new")
    assert (db.stats.reads, db.stats.writes, db.stats.queries) == (1, 1, 2)
    assert db.read(3).value == "new" and db.read(3).version == 2
    assert db.read(999) is None


def test_a_batch_write_is_one_query():
    db = Database(VirtualClock(), rows=10)
    rows = db.write_many([(1, "a"), (2, "b"), (1, "c")])
    assert db.stats.queries == 1 and db.stats.writes == 3
    assert [r.version for r in rows] == [2, 2, 3]
    assert db.read(1).value == "c"


def test_load_model_latency_grows_with_concurrency():
    db = Database(rows=1, latency_seconds=0.01, parallel_queries=4)
    assert db.latency_for(1) == db.latency_for(4) == 0.01
    assert db.latency_for(40) == pytest.approx(0.1)


def test_a_herd_of_threads_piles_up_in_flight_queries():
    db = Database(rows=1, latency_seconds=0.02, parallel_queries=2)
    # The stalled database holds every query until the whole herd is inside, so the
    # count does not depend on how fast a busy machine starts threads.
    db.stall()
    threads = [threading.Thread(target=db.read, args=(0,), kwargs={"timeout_seconds": 60}) for _ in range(20)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while db.in_flight < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    db.resume()
    for t in threads:
        t.join()
    assert db.stats.queries == 20 and db.stats.timeouts == 0
    assert db.stats.peak_in_flight == 20
    assert max(n for _, n in db.timeline) == db.stats.peak_in_flight
    assert db.timeline[-1][1] == 0


def test_stalled_database_times_out_and_recovers():
    db = Database(rows=1, latency_seconds=0.001)
    db.stall()
    start = time.perf_counter()
    with pytest.raises(DatabaseTimeout):
        db.read(0, timeout_seconds=0.1)
    assert time.perf_counter() - start >= 0.09  # waited its timeout (a busy machine may take longer)
    db.resume()
    assert db.read(0, timeout_seconds=0.1).version == 1
    assert db.stats.timeouts == 1


def test_stalled_database_on_a_virtual_clock_refuses_to_hang():
    db = Database(VirtualClock(), rows=1)
    db.stall()
    with pytest.raises(LabError, match="would never return"):
        db.read(0)


def test_injected_write_failure_changes_nothing():
    db = Database(VirtualClock(), rows=2)
    db.fail_next_writes(1)
    with pytest.raises(DatabaseError):
        db.write(1, "lost")
    assert db.read(1).version == 1 and db.current_version(1) == 1
    assert db.write(1, "kept").version == 2


def test_stale_age_counts_from_when_the_version_was_replaced():
    clock = VirtualClock()
    db = Database(clock, rows=1, latency_seconds=0)
    clock.set(10)
    db.write(0, "v2")
    clock.set(25)
    assert db.stale_age(0, 1) == 15
    assert db.stale_age(0, 2) == 0


@pytest.mark.parametrize("bad", [-1, "3", 1.5, True])
def test_bad_row_id(bad):
    with pytest.raises(LabError, match="Row ids are integers"):
        Database(VirtualClock(), rows=1).read(bad)


def test_database_is_real_sqlite_with_versions():
    db = Database(VirtualClock(), rows=3)
    db.write(2, "x")
    got = db._conn.execute("SELECT id, value, version FROM items ORDER BY id").fetchall()
    assert got == [(0, "item 0 v1", 1), (1, "item 1 v1", 1), (2, "x", 2)]


# -- staleness meter & metrics ----------------------------------------------------------


def test_staleness_meter_counts_reads_older_than_the_database():
    clock = VirtualClock()
    db = Database(clock, rows=2, latency_seconds=0)
    meter = StalenessMeter(db)
    cached = db.read(0)
    assert meter.observe(0, cached.version) == 0
    clock.set(5)
    db.write(0, "new")
    clock.set(8)
    assert meter.observe(0, cached.version) == 3  # 3 s behind the database
    assert meter.observe(1, 1) == 0
    assert (meter.reads, meter.stale_reads) == (3, 1)
    assert meter.stale_share == pytest.approx(1 / 3)
    assert meter.max_stale_age_seconds == 3


def test_percentiles():
    assert percentile([i / 1000 for i in range(100)], 50) * 1000 == pytest.approx(49.5)
    assert percentile([], 99) == 0.0


# -- workloads ------------------------------------------------------------------------


def test_same_seed_same_trace_and_zipf_is_skewed():
    a = workloads.zipf(50_000, 1000, 1.0, seed=3)
    b = workloads.zipf(50_000, 1000, 1.0, seed=3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, workloads.zipf(50_000, 1000, 1.0, seed=4))
    counts = np.bincount(a, minlength=1000)
    p = workloads.zipf_probabilities(1000, 1.0)
    assert counts[0] / len(a) == pytest.approx(p[0], abs=0.01)
    assert counts[0] > 50 * counts[500:].mean()


def test_trace_shapes():
    assert workloads.loop(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    hot = workloads.hotspot(100_000, 1000, hot_fraction=0.1, hot_share=0.9)
    assert (hot < 100).mean() == pytest.approx(0.9, abs=0.01)
    shifted = workloads.shifting(40_000, 1000, 1.0, phases=4)
    first, last = np.bincount(shifted[:10_000]).argmax(), np.bincount(shifted[-10_000:]).argmax()
    assert first != last  # the hot key moved
    mixed = workloads.mix(workloads.loop(100, 10), workloads.scan(100, 50))
    assert len(mixed) == 200 and mixed.max() < 60
    assert workloads.read_write_mix(10_000, 0.1).mean() == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: workloads.make_trace("zipfian", 10, 10), "Unknown workload 'zipfian'. Choose one of: zipf"),
        (lambda: workloads.zipf(10, 10, alpha=0), "alpha must be a number > 0"),
        (lambda: workloads.zipf(0, 10), "n_requests must be a whole number > 0"),
        (lambda: workloads.uniform(10, -5), "n_keys must be a whole number > 0"),
        (lambda: workloads.read_write_mix(10, 1.5), "write_ratio must be between 0 and 1"),
        (lambda: workloads.mix(np.array([], dtype=int)), "empty trace"),
    ],
)
def test_bad_workload_input_is_one_sentence(call, message):
    with pytest.raises(LabError) as err:
        call()
    assert message in str(err.value) and "\n" not in str(err.value)


# -- connection -------------------------------------------------------------------------


def test_default_is_fakeredis_and_stores_share_one_server():
    a = connect(namespace="share-test")
    b = connect(namespace="share-test")
    assert a.backend == "fakeredis" and "fakeredis" in repr(a)
    a.set("x", "1")
    assert b.get("x") == "1"  # like two clients of one server
    a.reset()


def test_redis_url_from_environment(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert resolve_url() == "redis://127.0.0.1:6379/0"
    assert resolve_url("fakeredis://") == "fakeredis://"


@pytest.mark.parametrize("url", ["http://localhost:6379", "localhost:6379", "redis://", "redis://host:notaport"])
def test_malformed_url_is_one_sentence(url):
    with pytest.raises(LabError) as err:
        connect(url)
    msg = str(err.value)
    assert "is not a Redis URL" in msg and "redis://127.0.0.1:6379/0" in msg and "\n" not in msg


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_url_names_it_and_the_fix():
    url = f"redis://:hunter2@127.0.0.1:{_closed_port()}/0"
    with pytest.raises(RedisUnavailable) as err:
        connect(url, fallback=False, timeout_seconds=0.3)
    msg = str(err.value)
    assert "Cannot reach Redis at redis://:***@127.0.0.1" in msg
    assert "unset REDIS_URL" in msg and "hunter2" not in msg


def _assert_one_wrapped_sentence(out: str, *must_say: str) -> None:
    lines = out.rstrip("\n").split("\n")
    assert all(len(line) <= 88 for line in lines), lines
    flat = " ".join(line.strip() for line in lines)
    assert flat.count(". ") == 0 and flat.endswith("."), f"not one sentence: {flat}"
    for phrase in must_say:
        assert phrase in flat, f"{phrase!r} not in {flat!r}"  # a phrase split mid-word would be missing


def test_unreachable_url_falls_back_visibly_when_asked(capsys):
    store = connect(f"redis://127.0.0.1:{_closed_port()}/0", fallback=True, timeout_seconds=0.3)
    assert store.backend == "fakeredis"
    _assert_one_wrapped_sentence(capsys.readouterr().out, "Cannot reach Redis at redis://127.0.0.1:",
                                 FALLBACK_NOTE, "kernel restart", "a shell where it is set")


@pytest.mark.parametrize("url", ["not a url at all", "http://localhost:6379", "redis://host:notaport"])
def test_malformed_url_in_a_notebook_falls_back_like_an_unreachable_one(url, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setattr(connection, "_in_notebook", lambda: True)
    store = labkit.start("zx")
    assert store.backend == "fakeredis"
    first, *_ = capsys.readouterr().out.split("Cache Lab ready")
    _assert_one_wrapped_sentence(first, f"REDIS_URL {url!r} is not a Redis URL", "redis://127.0.0.1:6379/0",
                                 FALLBACK_NOTE, "kernel restart")
    monkeypatch.setattr(connection, "_in_notebook", lambda: False)
    with pytest.raises(LabError, match="is not a Redis URL"):  # outside a notebook: the error itself
        labkit.start("zx")


def test_a_lab_error_in_a_notebook_prints_one_wrapped_line(monkeypatch, capsys):
    import IPython

    handlers = {}

    class FakeShell:
        def set_custom_exc(self, types, handler):
            handlers[types] = handler

    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell())
    assert install_notebook_handler()
    long = LabError("ttl_seconds must be > 0 seconds (got -5). Use None for no expiry; see "
                    "https://redis.io/docs/latest/commands/set/#options-for-a-very-long-read for the options.")
    handlers[(LabError,)](None, LabError, long, None)
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    assert lines[0].startswith("⚠️") and all(len(line) <= 88 or " " not in line.strip() for line in lines)
    assert "https://redis.io/docs/latest/commands/set/#options-for-a-very-long-read" in "".join(lines)
    assert " ".join(line.strip() for line in lines) == "⚠️ " + str(long)


def test_safe_url_hides_passwords():
    assert safe_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert safe_url("redis://h:1/0") == "redis://h:1/0"


@pytest.mark.redis_server
def test_connect_to_a_real_server(redis_url):
    store = connect(redis_url, namespace="core-test", fallback=False)
    assert store.backend == "redis" and redis_url in repr(store)
    assert store.lab_owned_server is False  # only the run_id of a server the lab started grants that
    assert "real Redis at" in store.describe()


@pytest.mark.redis_server
def test_only_the_server_the_lab_started_is_its_own(redis_server, monkeypatch):
    # Someone else's server (here: the session's) with every marker a learner could set.
    monkeypatch.setenv("LABKIT_OWNS_REDIS", "1")
    monkeypatch.setenv(OWNED_RUN_ID_VAR, "0123456789abcdef0123456789abcdef01234567")
    assert connect(redis_server.url, fallback=False).lab_owned_server is False
    with LocalRedis() as started:
        monkeypatch.setenv(OWNED_RUN_ID_VAR, started.run_id)
        assert started.environment() == {"REDIS_URL": started.url, OWNED_RUN_ID_VAR: started.run_id}
        assert connect(started.url, fallback=False).lab_owned_server is True
        # The marker names one server: the session's server stays the learner's.
        assert connect(redis_server.url, fallback=False).lab_owned_server is False


@pytest.mark.redis_server
def test_local_redis_refuses_a_port_someone_else_serves(redis_server):
    with pytest.raises(LabError, match="did not start on port"):
        LocalRedis(redis_server.port, startup_timeout_seconds=3)


def test_start_resets_only_its_namespace(capsys):
    other = connect(namespace="zz")
    other.set("keep", "1")
    first = labkit.start("zy")
    first.set("old", "1")
    again = labkit.start("zy")
    assert again.get("old") is None and other.get("keep") == "1"
    assert "Cache Lab ready" in capsys.readouterr().out
    other.reset()


def test_import_labkit_is_lazy():
    import subprocess
    import sys

    heavy = "('matplotlib', 'fakeredis', 'ipywidgets')"
    code = f"import sys, labkit; print(any(m.startswith({heavy}) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
    assert out == "False"


def test_bad_ttl_message():
    with pytest.raises(LabError, match=r"ttl_seconds must be > 0 seconds \(got -5\). Use None for no expiry."):
        MemoryStore().set("k", "v", ttl_seconds=-5)


# -- progress and the learner id ------------------------------------------------------------

_RECORD_MANY = """
import os, sys, time
from pathlib import Path
from labkit import progress
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
for i in range(50):
    progress.record("zz", f"{sys.argv[1]}-{i}", i % 2 == 0)
"""


def test_two_kernels_recording_at_once_keep_every_record(tmp_path):
    import os
    import subprocess
    import sys

    go = tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", _RECORD_MANY, name, str(go)], env={**os.environ},
                         stderr=subprocess.PIPE, text=True)
        for name in ("alice", "bob")
    ]
    time.sleep(0.5)  # both are waiting at the start line
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=120) == 0, writer.stderr.read()
    from labkit import progress

    kept = {row["exercise"] for row in progress.summary()}
    assert kept == {f"{name}-{i}" for name in ("alice", "bob") for i in range(50)}


def test_a_corrupt_progress_file_is_kept_aside_and_reported(capsys):
    from labkit import progress

    path = progress.progress_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"exercises": {"00/mean-latency": {"passed": tr')
    assert progress.summary() == []                 # reading alone changes nothing
    assert path.exists()
    progress.record("00", "ttl-budget", True)
    aside = list(path.parent.glob("progress.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text().startswith('{"exercises": {"00/mean-latency"')
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "could not be read" in out and aside[0].name in out
    progress.record("00", "ttl-budget", False)
    assert capsys.readouterr().out == ""            # told once
    assert [(r["exercise"], r["passed"], r["attempts"]) for r in progress.summary()] == [("ttl-budget", True, 2)]


def test_an_unanswered_exercise_is_not_an_attempt():
    from labkit import progress

    progress.record("00", "mean-latency", None)
    assert progress.summary() == [] and not progress.progress_path().exists()


def test_learner_id_comes_from_the_hub_then_the_variable_then_a_kept_random_id(monkeypatch):
    from labkit import progress

    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delenv("LABKIT_LEARNER", raising=False)
    first = progress.learner_id()
    assert first.startswith("learner-") and progress.learner_id() == first       # kept
    assert (progress.cache_lab_home() / "learner").read_text().strip() == first
    monkeypatch.setenv("LABKIT_LEARNER", "sam")
    assert progress.learner_id() == "sam"
    monkeypatch.setenv("JUPYTERHUB_USER", "alice@example.com/x y")
    assert progress.learner_id() == "alice_example.com_x_y"                      # sanitised
    assert MemoryStore(namespace="02").prefix == "labkit:alice_example.com_x_y:02:"
    with pytest.raises(LabError, match="needs at least one letter or digit"):
        MemoryStore(learner="***")
