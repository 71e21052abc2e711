"""A real JupyterHub: three learners on one shared Redis run a notebook, stay isolated,
and report to the facilitator's room, whose live view a host reads at the same time.

The test starts JupyterHub itself (``jupyterhub`` from PyPI, ``configurable-http-proxy``
from npm), with the dummy authenticator (one shared password) and the simple
local-process spawner, on loopback and free ports, everything in a temp folder: the
hub's sqlite database, its cookie secret and the users' home folders.  alice, bob,
carol and the host log in over HTTP, start their servers through the hub's REST API,
and each learner's kernel runs every code cell of notebook 02 against one real
``redis-server`` (the hub passes ``REDIS_URL``, ``LABKIT_ROOM`` and
``LABKIT_ROOM_HOSTS``; it sets ``JUPYTERHUB_USER`` itself) while the host's kernel
keeps the room's view open.  Then: every run passed, each learner's keys are under
``labkit:<learner>:``, bob starting the notebook again leaves alice's keys in place;
each learner checks an exercise and locks a prediction, and the host's view - redrawing
by itself - shows who passed, who is trying with which replay failing, and the room's
answers; a learner's labkit refuses to read the room; the records hold no code; and the
host removes one learner's records with one call.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_invalidation.ipynb"
PASSWORD = "cache-lab-" + uuid.uuid4().hex[:8]
USERS = ("alice", "bob", "carol")
HOST = "host"  # the facilitator: reads the room, does not run the lesson
ROOM = "hub-" + uuid.uuid4().hex[:6]
PROXY_INSTALL = (
    "npm install --prefix build/node configurable-http-proxy@5.3.0 (needs nodejs and npm: apt-get install nodejs npm)"
)

pytestmark = [pytest.mark.slow, pytest.mark.redis_server, pytest.mark.timeout(300)]


def _proxy_command() -> str | None:
    local = ROOT / "build" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
    return str(local) if local.exists() else shutil.which("configurable-http-proxy")


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together, so no port is handed out twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _wait(condition, what: str, timeout: float = 60.0, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Hub:
    """A JupyterHub process in ``folder``, stopped (with every server it spawned) by ``stop()``."""

    def __init__(self, folder: Path, redis_url: str, proxy: str) -> None:
        self.folder = folder
        self.port, hub_port, proxy_api = _free_ports(3)
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "ip": "127.0.0.1", "port": self.port, "hub_port": hub_port, "proxy_api": proxy_api,
            "folder": str(folder), "proxy": proxy, "python": sys.executable, "redis_url": redis_url,
            "password": PASSWORD, "users": [*USERS, HOST], "room": ROOM, "host": HOST,
        }
        (folder / "jupyterhub_config.py").write_text(_CONFIG.format(**{k: repr(v) for k, v in config.items()}))
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "LABKIT_LEARNER", "CACHE_LAB_HOME"}}
        # The proxy is a node script: make sure its interpreter is found next to it.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        self.log = open(folder / "jupyterhub.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
            cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.server_pids: list[int] = []

    def log_text(self) -> str:
        self.log.flush()
        return (self.folder / "jupyterhub.log").read_text()[-4000:]

    def up(self) -> bool:
        import requests

        if self.process.poll() is not None:
            raise AssertionError(f"JupyterHub exited with {self.process.returncode}:\n{self.log_text()}")
        try:
            return requests.get(f"{self.url}/hub/api/", timeout=2).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops its users' servers and the proxy
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # The proxy and each single-user server run in sessions of their own: if the hub
        # could not stop them (it crashed, or was killed), stop them here by their ids.
        proxy_pid_file = self.folder / "jupyterhub-proxy.pid"
        proxy = [int(proxy_pid_file.read_text())] if proxy_pid_file.exists() else []
        for pid in [*proxy, *self.server_pids]:
            if _alive(pid) and _started_here(pid, self.folder):
                os.kill(pid, signal.SIGTERM)
                _wait(lambda pid=pid: not _alive(pid), f"process {pid} to exit", timeout=20)
        self.log.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of an exited server is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _started_here(pid: int, folder: Path) -> bool:
    """True if ``pid`` is still this hub's proxy or one of its users' servers (not a reused id)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return ("configurable-http-proxy" in command or "jupyterhub.singleuser" in command) and cwd.startswith(str(folder))


_CONFIG = """
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%d" % {proxy_api}
c.ConfigurableHTTPProxy.command = [{proxy}]
c.JupyterHub.db_url = "sqlite:///" + {folder} + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = {folder} + "/jupyterhub_cookie_secret"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password}
c.Authenticator.allowed_users = set({users})
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {folder} + "/home/{{username}}"
c.Spawner.cmd = [{python}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root"]  # CI runs as root; the servers run in throwaway folders
c.Spawner.environment = {{"REDIS_URL": {redis_url}, "LABKIT_ROOM": {room}, "LABKIT_ROOM_HOSTS": {host}}}
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
"""


def _log_in(hub: Hub, user: str):
    """Log in through the hub's form, as a browser does; return a session and an API token."""
    import requests

    def xsrf(session: requests.Session) -> str:
        # After login the hub issues a new token tied to the user: take the newest.
        return [c.value for c in session.cookies if c.name == "_xsrf"][-1]

    def attempt(session: requests.Session, password: str) -> requests.Response:
        session.get(f"{hub.url}/hub/login", timeout=10).raise_for_status()
        return session.post(f"{hub.url}/hub/login?next=", timeout=30, allow_redirects=False,
                            data={"username": user, "password": password, "_xsrf": xsrf(session)})

    assert not attempt(requests.Session(), "wrong").is_redirect, "the hub let a wrong password in"
    session = requests.Session()
    reply = attempt(session, PASSWORD)
    assert reply.status_code in (302, 303), f"{user} could not log in: HTTP {reply.status_code}"
    session.get(f"{hub.url}/hub/home", timeout=10).raise_for_status()
    reply = session.post(f"{hub.url}/hub/api/users/{user}/tokens", timeout=10,
                         headers={"X-XSRFToken": xsrf(session)}, json={"note": "cache lab test", "expires_in": 600})
    assert reply.ok, f"no token for {user}: HTTP {reply.status_code} {reply.text[:200]}"
    return session, reply.json()["token"]


def _start_servers(hub: Hub, tokens: dict[str, str]) -> None:
    """Ask the hub to start every user's server at once, then wait until all are ready."""
    import requests

    def headers(user: str) -> dict[str, str]:
        return {"Authorization": f"token {tokens[user]}"}

    for user in tokens:
        reply = requests.post(f"{hub.url}/hub/api/users/{user}/server", headers=headers(user), timeout=30)
        assert reply.status_code in (201, 202), f"{user}'s server did not start: HTTP {reply.status_code} {reply.text}"

    def ready(user: str) -> bool:
        model = requests.get(f"{hub.url}/hub/api/users/{user}", headers=headers(user), timeout=10).json()
        return bool(model.get("servers", {}).get("", {}).get("ready"))

    _wait(lambda: hub.up() and all(ready(user) for user in tokens), "the users' servers", timeout=120, every=0.5)


class Kernel:
    """A kernel on a user's single-user server, driven over its REST and websocket API."""

    def __init__(self, hub: Hub, user: str, token: str) -> None:
        import requests
        import websocket

        self.base = f"{hub.url}/user/{user}/api"
        self.headers = {"Authorization": f"token {token}"}
        reply = requests.post(f"{self.base}/kernels", headers=self.headers, json={"name": "python3"}, timeout=60)
        assert reply.status_code == 201, f"no kernel for {user}: HTTP {reply.status_code} {reply.text[:200]}"
        self.id = reply.json()["id"]
        ws_url = f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{self.id}/channels"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=120)
        self.session = uuid.uuid4().hex

    def run(self, code: str) -> tuple[str, str | None]:
        """Execute ``code``; return (its printed output, the error's last line or None)."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": self.session, "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        printed, error, replied, idle = [], None, False, False
        while not (replied and idle):
            msg = _decode(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "execute_reply":
                replied = True
                if content.get("status") == "error" and error is None:
                    error = f"{content.get('ename')}: {content.get('evalue')}"
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
        return "".join(printed), error

    def close(self) -> None:
        import requests

        self.ws.close()
        requests.delete(f"{self.base}/kernels/{self.id}", headers=self.headers, timeout=30)


def _decode(frame: str | bytes) -> dict:
    """A kernel message from a websocket frame: text is JSON; a binary frame (a message with
    buffers, such as a chart image's update) is the count of parts, their offsets, then the
    JSON message as the first part."""
    if isinstance(frame, str):
        return json.loads(frame)
    parts = int.from_bytes(frame[:4], "big")
    offsets = [int.from_bytes(frame[4 + 4 * i: 8 + 4 * i], "big") for i in range(parts)]
    end = offsets[1] if parts > 1 else len(frame)
    return json.loads(frame[offsets[0]:end].decode("utf-8"))


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _run_notebook(kernel: Kernel, results: dict, user: str) -> None:
    outputs, failure = [], None
    try:
        for number, code in enumerate(_code_cells(NOTEBOOK)):
            printed, error = kernel.run(code)
            outputs.append(printed)
            if error:
                failure = f"cell {number}: {error}"
                break
    except Exception as exc:  # reported by the test, with the user's name
        failure = f"{type(exc).__name__}: {exc}"
    results[user] = (outputs, failure)


@pytest.fixture
def hub(tmp_path, redis_url):
    proxy = _proxy_command()
    if proxy is None:
        pytest.skip(f"configurable-http-proxy is not installed: {PROXY_INSTALL}")
    pytest.importorskip("jupyterhub", reason="jupyterhub is not installed: pip install -r requirements-dev.txt")
    pytest.importorskip("websocket", reason="websocket-client is not installed: pip install -r requirements-dev.txt")
    started = time.monotonic()
    running = Hub(tmp_path, redis_url, proxy)
    try:
        _wait(running.up, "JupyterHub to answer", timeout=60)
        print(f"JupyterHub answered in {time.monotonic() - started:.0f} s")
        yield running
    finally:
        stopping = time.monotonic()
        running.stop()
        print(f"hub and servers stopped in {time.monotonic() - stopping:.0f} s")


def _keys(redis_url: str, pattern: str) -> set[str]:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return set(client.scan_iter(match=pattern, count=1000))


# What each learner does once notebook 02 has run: a prediction and an exercise's checks.
CHOICES = {"alice": "just under 30 s", "bob": "a few seconds", "carol": "just under 30 s"}
_PREDICT = """
box = labkit.widgets.predict(
    "With a 30 s TTL and no invalidation at all, how old is the oldest value a reader sees?",
    ["a few seconds", "just under 30 s", "well over 30 s: copies pile up"], notebook="02", name="ttl-window")
box.choices.value = {choice!r}
box.lock.click()
"""
_WRONG = "ex.tenant.check(next(iter(ex.tenant.mistakes().values())));"  # a realistic wrong answer
_RIGHT = "ex.tenant.check(ex.tenant.reference());"
ACTIONS = {"alice": [_RIGHT], "bob": [_WRONG, _RIGHT], "carol": [_WRONG]}
_VIEWED = """
import json
from labkit.room.dashboard import grid_rows
print(json.dumps({"redraws": view.redraws, "grid": view.grid.value, "poll": view.poll.value,
                  "rows": [r for r in grid_rows(view.snapshot) if r["exercise"] == "invalidate-tenant"],
                  "answers": view.snapshot.distribution("02", "ttl-window")}))
"""


def _room_values(redis_url: str) -> dict[str, dict[str, str]]:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return {key: client.hgetall(key) for key in client.scan_iter(match=f"labkit-room:{ROOM}:learner:*")}


def test_three_learners_report_to_the_room_and_stay_isolated_on_one_hub(hub, redis_url):
    kernels = {}
    started = time.monotonic()
    try:
        tokens = {user: _log_in(hub, user)[1] for user in (*USERS, HOST)}
        _start_servers(hub, tokens)
        for user in (*USERS, HOST):
            kernels[user] = Kernel(hub, user, tokens[user])
            hub.server_pids.append(int(kernels[user].run("import os; print(os.getppid())")[0]))
        printed, error = kernels[HOST].run("import labkit\nfrom labkit import room\nview = room.view(every_seconds=1)")
        assert error is None and printed == "", (printed, error)

        print(f"hub up, four servers and kernels ready in {time.monotonic() - started:.0f} s")
        results: dict = {}
        runs = [threading.Thread(target=_run_notebook, args=(kernels[u], results, u)) for u in USERS]
        for run in runs:
            run.start()
        for run in runs:
            run.join(timeout=240)
        print(f"three notebooks ran by {time.monotonic() - started:.0f} s")
        for user in USERS:
            outputs, failure = results[user]
            assert failure is None, f"{user}'s notebook 02 failed on the hub: {failure}"
            # The first line names the shared server (the hub passed REDIS_URL) and the learner's prefix,
            # and the next says the room sees their progress.
            assert f"real Redis at {redis_url}" in outputs[0], outputs[0]
            assert f"'labkit:{user}:02:'" in outputs[0], outputs[0]
            assert f"Room {ROOM!r}: your facilitator sees" in outputs[0], outputs[0]

        # Each learner writes through the notebook's own store; the keys land in their prefix.
        for user in USERS:
            printed, error = kernels[user].run(f'store.set("isolation-check", "{user}"); print(store.prefix)')
            assert error is None and printed.strip() == f"labkit:{user}:02:", (printed, error)
        alice_keys = _keys(redis_url, "labkit:alice:*")
        assert "labkit:alice:02:isolation-check" in alice_keys
        assert "labkit:bob:02:isolation-check" in _keys(redis_url, "labkit:bob:*")
        assert not _keys(redis_url, "labkit:02:*"), "keys written without a learner in the prefix"

        # bob starts the notebook again: his reset clears his prefix and nothing else.
        printed, error = kernels["bob"].run('store = labkit.start("02")')
        assert error is None, error
        assert alice_keys <= _keys(redis_url, "labkit:alice:*"), "bob's reset removed alice's keys"
        assert "labkit:bob:02:isolation-check" not in _keys(redis_url, "labkit:bob:*"), "bob's reset missed his key"
        printed, error = kernels["alice"].run('print(store.get("isolation-check"))')
        assert (printed.strip(), error) == ("alice", None), "alice no longer reads her own key"

        _the_room_sees_what_the_learners_did(kernels, redis_url)
    finally:
        for kernel in kernels.values():
            kernel.close()


def _the_room_sees_what_the_learners_did(kernels: dict, redis_url: str) -> None:
    failed_replay = ""
    for user in USERS:
        printed, error = kernels[user].run(_PREDICT.format(choice=CHOICES[user]))
        assert error is None, error
        for code in ACTIONS[user]:
            printed, error = kernels[user].run(code)
            assert error is None, error
            if user == "carol":
                failed_replay = printed.split("'")[1]  # "❌ Not yet - scenario 1 of 5, '<name>': ..."
    acted = time.monotonic()

    def viewed() -> dict | None:
        printed, error = kernels[HOST].run(_VIEWED)
        assert error is None, error
        seen = json.loads(printed)
        statuses = {r["learner"]: (r["status"], r["attempts"], r["failing"]) for r in seen["rows"]}
        ready = statuses == {"alice": ("passed", 1, ""), "bob": ("passed", 2, ""),
                             "carol": ("trying", 1, failed_replay)}
        return seen if ready and seen["answers"] == {"just under 30 s": 2, "a few seconds": 1} else None

    redraws_before = json.loads(kernels[HOST].run(_VIEWED)[0])["redraws"]
    seen = _wait(viewed, "the host's view to show every learner's check and prediction", timeout=60, every=0.5)
    print(f"the host's view showed all three learners' actions {time.monotonic() - acted:.1f} s after the last one")
    assert seen["redraws"] > redraws_before, "the view did not redraw by itself"
    assert all(user in seen["grid"] for user in USERS) and "2 of 3 chose 'just under 30 s'" in seen["poll"]

    # A learner's labkit does not read the room; the host's does.
    printed, error = kernels["alice"].run("labkit.room.snapshot()")
    assert "Only the room's hosts" in printed + str(error), (printed, error)

    # The records hold where each learner is, their checks and their choices: never code.
    allowed = {"at": {"notebook", "section", "t"}, "ex": {"passed", "attempts", "failing", "t"},
               "pred": {"answer", "t"}}
    records = _room_values(redis_url)
    assert set(records) == {f"labkit-room:{ROOM}:learner:{user}" for user in USERS}
    for fields in records.values():
        for name, text in fields.items():
            assert set(json.loads(text)) == allowed[name.partition(":")[0]], (name, text)
            assert "def " not in text and "return" not in text, (name, text)

    printed, error = kernels[HOST].run('print(room.remove("carol")); view.stop()')
    assert (printed.strip(), error) == ("True", None)
    assert set(_room_values(redis_url)) == {f"labkit-room:{ROOM}:learner:{user}" for user in ("alice", "bob")}
    printed, error = kernels[HOST].run('print(sorted(r["learner"] for r in room.snapshot().learners))')
    assert (printed.strip(), error) == ("['alice', 'bob']", None)
