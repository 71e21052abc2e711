"""The facilitator's room: opt-in publishing, what is (never) sent, who reads it, the view.

Records go to the process's shared fakeredis unless a test points ``LABKIT_ROOM_URL``
elsewhere; every test uses a room of its own, so tests never see each other's records.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

import labkit
import labkit.room as room
from labkit import progress, widgets
from labkit.connection import _shared_fake_server
from labkit.errors import LabError
from labkit.exercises import Exercise, Implement, Scenario, Verdict
from labkit.room import publisher as pub
from labkit.room.dashboard import RoomView, export_csv, grid_rows, stuck
from labkit.room.records import PREFIX, RECORD_TTL_SECONDS, Room, learner_key, members_key

ROOT = Path(__file__).resolve().parent.parent


def _fake():
    import fakeredis

    return fakeredis.FakeRedis(server=_shared_fake_server(), decode_responses=True)


def _wait_for(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


def _flush() -> None:
    out = pub.publisher()
    assert out is not None and out.flush(20), "the room's records were not written"


@pytest.fixture
def room_name(monkeypatch):
    name = "test-" + uuid.uuid4().hex[:8]
    monkeypatch.setenv("LABKIT_ROOM", name)
    monkeypatch.setenv("LABKIT_LEARNER", "alice")
    yield name
    Room(name, _fake()).clear()


def _as(monkeypatch, learner: str) -> None:
    """Become another learner: their id and their own progress folder, as on a hub."""
    monkeypatch.setenv("LABKIT_LEARNER", learner)
    monkeypatch.setenv("CACHE_LAB_HOME", str(Path(os.environ["CACHE_LAB_HOME"]).parent / f"home-{learner}"))


def _lock(notebook: str, question: str, answer: str, options=("a", "b", "c")) -> None:
    box = widgets.predict("?", list(dict.fromkeys([*options, answer])), notebook=notebook, name=question)
    box.choices.value = answer
    box.lock.click()


SECRET = "learner-code-" + uuid.uuid4().hex[:6]


def _replays() -> Implement:
    def doubles(fn):
        return Verdict(fn(2) == 4, "doubles 2")

    def handles_zero(fn):
        return Verdict(fn(0) == 0, "keeps 0")

    return Implement("zz", "double", [Scenario("doubles", doubles), Scenario("zero stays zero", handles_zero)],
                     hint="x", reference=lambda: (lambda x: 2 * x), mistakes={})


def _wrong(x):
    marker = "learner-code-in-a-body"  # noqa: F841 - code that must never leave the kernel
    return 2 * x if x else 1


# -- opt-in ----------------------------------------------------------------------------------


def test_nothing_is_published_without_a_room(monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_LEARNER", "nobody-" + uuid.uuid4().hex[:6])
    before = set(_fake().scan_iter(match=f"{PREFIX}:*"))
    labkit.start("zz")
    _replays().check(_wrong)
    _lock("zz", "q", "a")
    assert pub.publisher() is None
    assert set(_fake().scan_iter(match=f"{PREFIX}:*")) == before, "a record was sent with no LABKIT_ROOM"
    assert "Room" not in capsys.readouterr().out


def test_the_first_line_says_the_room_sees_progress_and_how_to_stop_it(room_name, capsys, monkeypatch):
    labkit.start("zz")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Cache Lab ready")
    assert "no shared Redis" in out[1] and "stays in this kernel" in out[1]  # fakeredis: nobody else sees it
    monkeypatch.setenv("LABKIT_ROOM_URL", "redis://room.example:6379/0")
    assert pub.status_line() == (f"Room {room_name!r}: your facilitator sees your exercise results and locked "
                                 "predictions (never your code); labkit.room.leave() turns this off.")


# -- what is sent ----------------------------------------------------------------------------


def test_checks_send_pass_attempts_and_the_failing_replay_but_never_code(room_name, capsys):
    ex = _replays()
    value = Exercise("zz", "a-number", lambda v: (v == 7, f"you said {v}"), hint="", solution="")
    ex.check(_wrong)                      # fails 'zero stays zero'
    ex.check(lambda x: x + x)             # passes
    value.check(123456.789)               # a wrong value answer
    _flush()
    snap = room.snapshot(room_name)
    rows = {(r["exercise"]): r for r in snap.exercises}
    assert rows["double"] == {"learner": "alice", "notebook": "zz", "exercise": "double", "passed": True,
                              "attempts": 2, "failing": None}
    assert rows["a-number"]["passed"] is False and rows["a-number"]["attempts"] == 1
    fields = _fake().hgetall(learner_key(room_name, "alice"))
    everything = json.dumps(fields)
    for secret in ("learner-code-in-a-body", "return 2 * x", "x + x", "123456", "you said"):
        assert secret not in everything, f"{secret!r} reached the room"


def test_the_failing_replay_is_the_first_one_that_broke(room_name):
    ex = _replays()
    ex.check(lambda x: x + 1)  # breaks 'doubles' first
    _flush()
    (row,) = room.snapshot(room_name).exercises
    assert (row["passed"], row["failing"]) == (False, "doubles")


def test_records_live_under_the_room_prefix_with_a_ttl(room_name):
    _lock("zz", "q", "b")
    _flush()
    keys = set(_fake().scan_iter(match=f"{PREFIX}:{room_name}:*"))
    mine, everyone = f"{PREFIX}:{room_name}:learner:alice", f"{PREFIX}:{room_name}:learners"
    assert keys == {mine, everyone}
    assert all(0 < _fake().ttl(key) <= RECORD_TTL_SECONDS for key in keys)
    assert _fake().smembers(everyone) == {"alice"}
    assert json.loads(_fake().hget(mine, "at"))["section"] == "prediction q"


# -- who reads -------------------------------------------------------------------------------


def test_a_learner_on_a_hub_cannot_read_the_room_and_a_host_can(room_name, monkeypatch):
    _lock("zz", "q", "a")
    _flush()
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    monkeypatch.setenv("LABKIT_ROOM_HOSTS", "host, teacher")
    for read in (lambda: room.snapshot(room_name), lambda: room.view(room_name),
                 lambda: room.remove("alice", room_name), lambda: Room(room_name).read()):
        with pytest.raises(LabError, match="Only the room's hosts"):
            read()
    monkeypatch.setenv("JUPYTERHUB_USER", "teacher")
    assert [r["learner"] for r in room.snapshot(room_name).predictions] == ["alice"]


def test_remove_deletes_one_learners_records_only(room_name, monkeypatch):
    for learner in ("alice", "bob"):
        _as(monkeypatch, learner)
        _lock("zz", "q", "a")
        _flush()
    assert room.remove("alice", room_name) is True
    assert [r["learner"] for r in room.snapshot(room_name).learners] == ["bob"]
    assert room.remove("alice", room_name) is False


def test_leave_stops_reporting_in_later_kernels_and_deletes_what_was_sent(room_name, capsys):
    _lock("zz", "q", "a")
    _flush()
    room.leave()
    assert "off" in capsys.readouterr().out
    assert room.snapshot(room_name).learners == []
    assert pub.room_name() is None and labkit.room.status_line() is None
    _lock("zz", "q2", "a")
    time.sleep(0.1)
    assert room.snapshot(room_name).learners == [], "a record was sent after leave()"
    room.rejoin()
    _lock("zz", "q3", "b")
    _flush()
    assert [r["question"] for r in room.snapshot(room_name).predictions] == ["q3"]


# -- an unreachable room ---------------------------------------------------------------------


class SilentServer:
    """Accepts connections and never answers: the worst room Redis there is."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_a_room_that_never_answers_costs_the_learner_no_network_call(room_name, monkeypatch, capsys):
    server = SilentServer()
    monkeypatch.setenv("LABKIT_ROOM_URL", f"redis://127.0.0.1:{server.port}/0")
    calls: Counter = Counter()
    for name in ("connect", "sendall", "recv", "recv_into"):
        original = getattr(socket.socket, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            calls[(_name, threading.current_thread() is threading.main_thread())] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(socket.socket, name, counted)
    try:
        for i in range(200):
            pub.reached("zz", f"section {i}")
        _lock("zz", "q", "a")
        _replays().check(lambda x: x * 2)
        out = pub.publisher()
        _wait_for(lambda: out.failures >= 1, "the room thread to give up on the silent server")
        assert len(server.accepted) >= 1, "the room thread never tried the server"
        assert not any(on_main for (_, on_main) in calls), f"the learner's thread touched the network: {calls}"
        assert sum(calls.values()) >= 2, "the room thread's own connect and send were not counted"
        assert out.backoff_seconds >= pub.FIRST_BACKOFF_SECONDS
        with out._lock:  # every record is still waiting for the room, the newest of each field
            assert set(out._pending) == {"at", "pred:zz/q", "ex:zz/double"}
        assert "Error" not in capsys.readouterr().out
    finally:
        server.close()


def test_after_an_outage_the_records_arrive(monkeypatch):
    monkeypatch.setattr(pub, "FIRST_BACKOFF_SECONDS", 0.01)
    failing = iter([ConnectionError("down"), ConnectionError("still down")])
    name = "test-" + uuid.uuid4().hex[:8]

    def factory():
        error = next(failing, None)
        if error is not None:
            raise error
        return _fake()

    out = pub.Publisher(name, "alice", factory)
    for i in range(5):
        out.publish(f"ex:zz/e{i}", {"passed": True, "attempts": 1, "failing": None})
    assert out.flush(20)
    assert out.failures == 2
    assert len(Room(name, _fake()).read().exercises) == 5
    Room(name, _fake()).clear()


# -- what the host sees ----------------------------------------------------------------------


def test_snapshot_and_distribution_match_what_three_learners_did(room_name, monkeypatch):
    chosen = {"alice": "about 4x", "bob": "about 1.5x", "carol": "about 1.5x"}
    for learner, answer in chosen.items():
        _as(monkeypatch, learner)
        labkit.start("zz", quiet=True)
        _lock("00", "speedup", answer, options=("about 1.5x", "about 4x", "about 50x"))
        _replays().check((lambda x: x + 1) if learner == "carol" else (lambda x: 2 * x))
        _flush()
    snap = room.snapshot(room_name)
    assert snap.distribution("00", "speedup") == {"about 1.5x": 2, "about 4x": 1}
    assert sorted((r["learner"], r["passed"], r["attempts"]) for r in snap.exercises) == [
        ("alice", True, 1), ("bob", True, 1), ("carol", False, 1)]
    assert sorted((r["learner"], r["answer"]) for r in snap.predictions) == sorted(chosen.items())
    assert {r["learner"]: r["section"] for r in snap.learners} == dict.fromkeys(chosen, "exercise double")
    (top,) = stuck(snap)
    assert (top["exercise"], top["trying"], top["most_common_failing"]) == ("double", 1, "doubles")


def test_the_grid_and_its_csv_come_from_the_same_records(room_name, monkeypatch, tmp_path):
    _replays().check(lambda x: 2 * x)
    _as(monkeypatch, "bob")
    Exercise("zz", "other", lambda v: v == 1, hint="", solution="").check(2)
    _flush()
    snap = room.snapshot(room_name)
    statuses = {(r["learner"], r["exercise"]): r["status"] for r in grid_rows(snap)}
    assert statuses == {("alice", "double"): "passed", ("alice", "other"): "not started",
                        ("bob", "double"): "not started", ("bob", "other"): "trying"}
    path = export_csv(snap, tmp_path / "room.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "learner,notebook,exercise,status,attempts,failing" and len(lines) == 5
    assert "bob,zz,other,trying,1," in lines


def test_the_view_redraws_by_itself_when_a_learner_acts(room_name, monkeypatch):
    _lock("zz", "q", "a")
    _flush()
    view = RoomView(Room(room_name).read, every_seconds=0.05)
    try:
        assert "alice" in view.grid.value and "bob" not in view.grid.value
        assert "1 of 1 chose 'a'" in view.poll.value
        _as(monkeypatch, "bob")
        _lock("zz", "q", "b")
        _flush()
        _wait_for(lambda: "bob" in view.grid.value, "the view to show bob without a re-run")
        _wait_for(lambda: "1 of 2 chose" in view.poll.value, "the poll to count bob")
    finally:
        view.stop()


def test_revealing_marks_the_measured_answer(room_name):
    _lock("00", "copy", "nothing: the change removed the copy")
    _flush()
    view = RoomView(Room(room_name).read, start=False)
    assert "measured" not in view.poll.value
    view.reveal.value = True
    assert "the old value, until its 30 s run out ◀ measured" in view.poll.value
    assert "(0 of 1 predicted it)" in view.poll.value


def test_without_a_room_the_view_shows_only_my_own_progress(monkeypatch):
    monkeypatch.setenv("LABKIT_LEARNER", "me")
    _replays().check(lambda x: 2 * x)
    progress.record_prediction("zz", "q", "a")
    snap = room.snapshot()
    assert [r["learner"] for r in snap.learners] == ["me"]
    assert [(r["exercise"], r["passed"]) for r in snap.exercises] == [("double", True)]
    assert snap.distribution("zz", "q") == {"a": 1}


# -- the rehearsal and the measured answers stay true to the notebooks -------------------------


def _predictions(notebook: str) -> dict[str, list[str]]:
    """Every ``predict(question, options, notebook=, name=)`` in a built notebook: name -> options."""
    import ast

    (path,) = (ROOT / "notebooks").glob(f"{notebook}_*.ipynb")
    found = {}
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "predict":
                keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
                assert keywords["notebook"] == notebook
                found[keywords["name"]] = ast.literal_eval(node.args[1])
    return found


def _notebook_00_predictions() -> dict[str, list[str]]:
    return _predictions("00")


def test_the_rehearsal_asks_notebook_00s_questions_with_its_options():
    from labkit.room.rehearsal import PREDICTIONS

    assert {k: list(v) for k, v in PREDICTIONS.items()} == _notebook_00_predictions()


def _source_predictions() -> dict[tuple[str, str], list[str]]:
    """Every ``predict(question, options, notebook=, name=)`` in the notebook sources."""
    import ast

    found = {}
    for path in sorted((ROOT / "tools" / "notebooks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "predict":
                keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
                assert path.name.startswith(keywords["notebook"] + "_"), (path.name, keywords)
                found[(keywords["notebook"], keywords["name"])] = ast.literal_eval(node.args[1])
    return found


def test_every_prediction_of_every_notebook_has_a_measured_answer_among_its_options():
    from labkit.room.answers import known_questions, measured_answer

    asked = _source_predictions()
    assert len(asked) >= 50 and {nb for nb, _ in asked} >= {f"{n:02d}" for n in range(12)}
    assert sorted(asked) == known_questions()  # none missing, none answering a question no notebook asks
    for (notebook, question), options in asked.items():
        answer = measured_answer(notebook, question)
        assert answer in options, (notebook, question, answer, options)


def test_measured_answers_are_the_lessons_findings():
    from labkit.room.answers import known_questions, measured_answer

    found = {(notebook, question): measured_answer(notebook, question) for notebook, question in known_questions()}
    for (notebook, question), answer in found.items():
        assert answer in _predictions(notebook)[question], (notebook, question, answer)
    # What each notebook's prose teaches (its claims' facts), as the option the view reveals.
    assert found == {
        ("00", "copy"): "the old value, until its 30 s run out", ("00", "speedup"): "about 1.5x",
        ("00", "long-ttl"): "about one in seven",
        ("01", "walkthrough"): "cache-aside 2, write-through 1", ("01", "race"): "cache-aside and read-through",
        ("01", "side-by-side"): "write-behind", ("01", "crash"): "a handful (the last half second's worth)",
        ("02", "ttl-window"): "just under 30 s", ("02", "lost-message"): "until its near-cache copy expires",
        ("02", "bump-vs-scan"): "a handful more", ("02", "race"): "version 1, for up to 300 s",
        ("02", "threads"): "only naive",
        ("03", "stale-at-5-min"): "about 7%", ("03", "tail-at-10-s"): "about 20%", ("03", "break-even"): "40%",
        ("03", "jitter"): "5x or more",
        ("04", "herd"): "about 200: nearly one per reader", ("04", "expired-lock"): "2 or more",
        ("04", "which-defense"): "xfetch", ("04", "xfetch"): "almost never",
        ("05", "lru-loop-hits"): "zero", ("05", "best-on-scan"): "W-TinyLFU", ("05", "who-adapts"): "LFU",
        ("05", "redis-lru-hot-keys"): "almost none",
        ("06", "waterfall"): "the network between shopper, CDN and origin",
        ("06", "traffic"): "it rises: more shoppers reuse the same copies",
        ("06", "revalidation"): "about half the time: it skips the transfer, not the round trip",
        ("06", "staleness"): "the CDN: up to 300 s", ("06", "leak"): "nearly all of them",
        ("07", "naive"): "one or two", ("07", "shorter-ttl"): "the same spike, twelve times as often",
        ("07", "hit-ratio"): "lower on most data sets",
        ("08", "fallback"): "almost none", ("08", "slow"): "no cache at all", ("08", "cold"): "no: it stays overloaded",
        ("08", "metastable"): "not at all, while traffic stays the same", ("08", "partial"): "never",
        ("09", "same-slot"): "only by luck: the whole key is hashed", ("09", "modulo"): "about 75%",
        ("09", "spread"): "a ring with one point per node", ("09", "hot-share"): "well over a fair share",
        ("09", "replica-lag"): "all three", ("09", "clusterdown"): "errors for a moment, then normal answers",
        ("09", "lost-del"): "back, with the old price, until its TTL ends",
        ("10", "price-hit-ratio"): "far lower, under 60%", ("10", "price-key-bytes"): "about 90",
        ("10", "server-hit-ratio"): "1-3 points less", ("10", "healthy-evictions"): "thousands",
        ("10", "sample-size"): "about 400",
        ("11", "victims"): "about 600", ("11", "deception"): "Alice's settings page, API key included",
        ("11", "pickle"): "all three",
    }
    assert measured_answer("00", "nope") is None


def test_a_measured_answer_follows_the_measurement_not_a_literal(monkeypatch):
    from labkit.claims import claims_for
    from labkit.room.answers import _ANSWERS

    def measure(notebook: str, name: str, value) -> None:
        found = claims_for(notebook)[name]
        monkeypatch.setattr(found, "_value", value)
        monkeypatch.setattr(found, "_computed", True)

    measure("08", "partial_consecutive_opens", 12)
    measure("11", "victims_at_60s", 58)
    measure("06", "leaked_users", 1)
    assert _ANSWERS[("08", "partial")]() == "yes, within a second"
    assert _ANSWERS[("11", "victims")]() == "about 60"
    assert _ANSWERS[("06", "leak")]() == "one or two, by bad luck"


def test_the_rehearsal_uses_real_exercises_and_replays():
    from labkit.patterns import grader
    from labkit.room.rehearsal import EXERCISES

    known = {(e.notebook, e.name) for e in labkit.patterns.exercises().values()} | {
        (e.notebook, e.name) for e in labkit.tour.exercises().values()}
    assert {(nb, ex) for nb, ex, _ in EXERCISES} <= known
    assert dict((ex, set(r)) for _, ex, r in EXERCISES)["write-cache-aside"] == {s.name for s in grader.SCENARIOS}


def test_a_rehearsal_fills_a_practice_room_and_cleans_it_up():
    practice = room.rehearse(learners=12, steps=30)
    snap = practice.read()
    assert len(snap.learners) == 12 and len(snap.predictions) == 36
    assert {r["learner"] for r in snap.exercises} == {r["learner"] for r in snap.learners}
    practice.close()
    assert practice.read().learners == []


# -- the facilitator's notebook --------------------------------------------------------------

FACILITATOR = ROOT / "notebooks" / "facilitator.ipynb"


def test_the_facilitator_notebook_is_committed_without_outputs():
    for cell in json.loads(FACILITATOR.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def _run_facilitator(tmp_path: Path) -> tuple[str, list[str]]:
    """Every cell's text output, and every error or stray value, after a Run All."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(FACILITATOR, as_version=4)
    # The test's own last cell: what the host's view shows, as text.
    nb.cells.append(nbformat.v4.new_code_cell("print(view.header.value, view.grid.value, view.poll.value)"))
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   extra_arguments=["--IPKernelApp.log_level=ERROR"], allow_errors=True).execute()
    texts, problems = [], []
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append(out.get("text", "") + data.get("text/plain", "") + data.get("text/html", ""))
            if out.get("output_type") == "error":
                problems.append(f"cell {number}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "execute_result" and "text/html" not in data:
                problems.append(f"cell {number}: a stray value {data.get('text/plain', '')[:60]!r}")
    return "\n".join(texts), problems


def _publish_as(learner: str, name: str, client) -> None:
    out = pub.Publisher(name, learner, lambda: client)
    out.publish("pred:00/speedup", {"answer": "about 4x"})
    out.publish("ex:01/write-cache-aside", {"passed": False, "attempts": 2, "failing": "the stale-set race"})
    assert out.flush(20)


@pytest.mark.parametrize("backend", ["fakeredis", "redis"])
def test_the_facilitator_notebook_runs_and_reads_the_room(backend, monkeypatch, tmp_path, request):
    import redis

    name = "nbtest-" + uuid.uuid4().hex[:6]
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
        monkeypatch.setenv("REDIS_URL", url)
        client = redis.Redis.from_url(url, decode_responses=True)
        _publish_as("dana", name, client)  # a learner on the shared server, before the host opens the view
        monkeypatch.setenv("LABKIT_ROOM", name)
    else:
        client = None  # the kernel's own fakeredis: no room to read, the notebook shows a rehearsal
    text, problems = _run_facilitator(tmp_path)
    assert problems == [], problems
    assert "12 learners" in text and "00 speedup: {" in text, "the rehearsal did not fill its room"
    if client is not None:
        assert f"Room {name!r} on {url}" in text
        assert "dana" in text and "1 learner -" in text, "the view did not show the real room"
        assert "1 of 1 chose 'about 4x'" in text and "✏️ trying (2)" in text
        assert list(client.scan_iter(match=f"{PREFIX}:rehearsal-*")) == [], "the practice room was left behind"
        assert client.exists(learner_key(name, "dana")), "the notebook removed a real learner's records"
        Room(name, client).clear()
    else:
        assert "No room is set here" in text
    assert list(tmp_path.glob("*.csv")) == []


@pytest.mark.redis_server
def test_with_the_hosting_guides_acl_a_learner_publishes_but_cannot_read_the_room(redis_url):
    """docs/hosting.md's ACL users: a learner's kernel writes its records and cannot read
    anyone's, not even with redis-py by hand; the host's user reads the room."""
    from urllib.parse import urlsplit

    import redis

    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    secret, suffix = uuid.uuid4().hex, uuid.uuid4().hex[:6]
    learner_user, host_user = f"room-learner-{suffix}", f"room-host-{suffix}"
    admin.execute_command("ACL", "SETUSER", learner_user, "on", f">{secret}", "~labkit-room:*",
                          "+hset", "+sadd", "+expire", "+del", "+srem", "+ping")
    admin.execute_command("ACL", "SETUSER", host_user, "on", f">{secret}", "~labkit-room:*",
                          "+smembers", "+hgetall", "+del", "+srem", "+ping")
    where = urlsplit(redis_url).netloc
    learner_url, host_url = (f"redis://{user}:{secret}@{where}/0" for user in (learner_user, host_user))
    name = "acl-" + suffix
    try:
        out = pub.Publisher(name, "alice", lambda: pub.room_client(learner_url, timeout_seconds=2))
        out.publish("pred:00/speedup", {"answer": "about 4x"})
        assert out.flush(20) and out.failures == 0 and out.written == 1
        as_learner = redis.Redis.from_url(learner_url, decode_responses=True)
        for read in (lambda: as_learner.hgetall(learner_key(name, "alice")), lambda: list(as_learner.scan_iter()),
                     lambda: as_learner.smembers(members_key(name)), lambda: as_learner.get("labkit:alice:00:x")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                read()
        with pytest.raises(LabError, match="Cannot read room"):
            Room(name, url=learner_url).read()
        assert Room(name, url=host_url).read().distribution("00", "speedup") == {"about 4x": 1}
        assert Room(name, url=host_url).remove("alice") and Room(name, admin).learners() == []
    finally:
        Room(name, admin).clear()
        admin.execute_command("ACL", "DELUSER", learner_user, host_user)


def test_notebook_00_runs_clean_when_the_rooms_redis_never_answers(monkeypatch, tmp_path):
    """Every prediction, check and start reports to a room that accepts and never answers:
    the notebook runs to the end, says the room sees progress, and shows no error."""
    import nbformat
    from nbclient import NotebookClient

    server = SilentServer()
    monkeypatch.setenv("LABKIT_ROOM", "silent-room")
    monkeypatch.setenv("LABKIT_ROOM_URL", f"redis://127.0.0.1:{server.port}/0")
    try:
        nb = nbformat.read(ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                       extra_arguments=["--IPKernelApp.log_level=ERROR"], allow_errors=True).execute()
    finally:
        server.close()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert [o for o in outputs if o.get("output_type") == "error"] == []
    text = "\n".join(o.get("text", "") for o in outputs)
    assert "Room 'silent-room': your facilitator sees" in text
    assert "Traceback" not in text and "ConnectionError" not in text and "Timeout" not in text
    assert server.accepted, "the kernel never tried to reach the room"


@pytest.mark.redis_server
def test_the_views_redraws_reach_the_front_end_while_no_cell_runs(redis_url, monkeypatch, tmp_path):
    """A kernel opens the view; a learner acts afterwards; the widget's update message with
    the learner's row arrives on the kernel's iopub channel without any cell executing."""
    import redis
    from jupyter_client.manager import start_new_kernel

    name = "front-" + uuid.uuid4().hex[:6]
    monkeypatch.setenv("REDIS_URL", redis_url)
    manager, kernel = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        reply = kernel.execute_interactive(
            f"from labkit.room.dashboard import RoomView\nfrom labkit.room.records import Room\n"
            f"view = RoomView(Room({name!r}).read, every_seconds=0.2)\ndisplay(view)", timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        while kernel.iopub_channel.msg_ready():  # what the cell itself sent
            kernel.get_iopub_msg(timeout=1)
        _publish_as("erin", name, redis.Redis.from_url(redis_url, decode_responses=True))

        def update_with_erin():
            msg = kernel.get_iopub_msg(timeout=10)
            state = msg["content"].get("data", {}).get("state", {})
            return msg["msg_type"] == "comm_msg" and "erin" in str(state.get("value", ""))

        _wait_for(update_with_erin, "the view's redraw to reach the front end", timeout=30)
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)
        Room(name, redis.Redis.from_url(redis_url, decode_responses=True)).clear()


def test_a_hundred_learners_publishing_at_once_all_arrive_and_fill_the_grid():
    name = "crowd-" + uuid.uuid4().hex[:6]
    publishers = [pub.Publisher(name, f"learner-{i:03d}", _fake) for i in range(100)]
    start = threading.Barrier(len(publishers))

    def work(out: pub.Publisher, i: int) -> None:
        start.wait()
        for attempt in range(1, 4):
            out.publish("ex:00/ttl-budget", {"passed": attempt == 3 and i % 2 == 0, "attempts": attempt,
                                             "failing": None})
        out.publish("pred:00/speedup", {"answer": ("about 1.5x", "about 4x")[i % 3 == 0]})

    threads = [threading.Thread(target=work, args=(out, i)) for i, out in enumerate(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(out.flush(30) for out in publishers)
    snap = Room(name, _fake()).read()
    assert len(snap.learners) == 100 and len(grid_rows(snap)) == 100
    assert sorted({r["attempts"] for r in snap.exercises}) == [3], "a learner's last attempt did not win"
    assert sum(r["passed"] for r in snap.exercises) == 50
    assert snap.distribution("00", "speedup") == {"about 1.5x": 66, "about 4x": 34}
    Room(name, _fake()).clear()
