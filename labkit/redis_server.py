"""Start a throwaway redis-server on a free loopback port, tied to this process's life.

Used by the tests, the benchmarks and the eviction, failure and cluster lessons: a
server the lab owns may be reconfigured (maxmemory, policies), paused or killed
without risk to anyone's data.  It binds 127.0.0.1 only and keeps its few files
(log, a cluster's ``nodes.conf``) in one temporary folder.

**Nothing outlives the lab, however it ends.**  ``stop()`` and ``atexit`` cover a
normal exit; neither runs when the kernel is killed (SIGKILL, a closed terminal),
so two more guards do:

* each server is started with Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG,
  SIGKILL)``, set in the child before ``exec``): the kernel kills it when the thread
  that started it dies.  Servers are therefore started from a thread that lives as
  long as the process (the main thread, or one kept for this);
* one small **watchdog** process per Python process (its own session, so a signal to
  the kernel's process group spares it) holds the read end of a pipe.  When this
  process dies, for any reason, the pipe closes; the watchdog then kills the servers
  still listed and deletes their folders.

Ownership is tied to the server, not to a flag: :attr:`LocalRedis.run_id` is the
started server's own ``run_id``, and :meth:`LocalRedis.environment` gives the
variables (``REDIS_URL`` and ``LABKIT_OWNS_REDIS_RUN_ID``) under which
``labkit.connect()`` treats exactly that server as the lab's own.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .errors import LabError

__all__ = ["LocalRedis", "redis_server_binary", "free_port", "start_process", "lab_folder", "remove_folder",
           "forget_process"]


def redis_server_binary() -> str | None:
    """Path of the ``redis-server`` program, or None if it is not installed."""
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the watchdog ------------------------------------------------------------------------
# It reads "pid N" / "dir PATH" lines (and "-pid", "-dir" to forget one) until the pipe
# closes, then kills what is listed (only if it still runs redis-server) and deletes the folders.
_WATCHDOG = r"""
import os, shutil, signal, sys, time
pids, dirs = set(), set()
for line in sys.stdin:
    kind, _, value = line.rstrip("\n").partition(" ")
    if kind in ("pid", "-pid"):
        (pids.add if kind == "pid" else pids.discard)(int(value))
    elif kind in ("dir", "-dir"):
        (dirs.add if kind == "dir" else dirs.discard)(value)
def ours(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"redis-server" in f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
for pid in pids:
    if ours(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
deadline = time.monotonic() + 5
while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}/cwd") for p in pids):
    time.sleep(0.02)
for path in dirs:
    shutil.rmtree(path, ignore_errors=True)
"""

_watchdog: subprocess.Popen | None = None
_watchdog_owner = 0  # the pid that started it: a forked child needs its own
_watchdog_lock = threading.Lock()


def _tell_watchdog(line: str = "") -> None:
    """Send the watchdog one line (starting it first if this process has none yet)."""
    global _watchdog, _watchdog_owner
    with _watchdog_lock:
        if _watchdog is None or _watchdog_owner != os.getpid() or _watchdog.poll() is not None:
            _watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG], stdin=subprocess.PIPE, cwd="/",
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, text=True,
            )
            _watchdog_owner = os.getpid()
        assert _watchdog.stdin is not None
        if line:
            try:
                _watchdog.stdin.write(line + "\n")
                _watchdog.stdin.flush()
            except OSError:  # someone killed the watchdog: the parent-death signal still holds
                pass


def lab_folder(prefix: str) -> Path:
    """A new temporary folder that the watchdog deletes if this process dies."""
    _tell_watchdog()  # the watchdog runs before the folder exists: no moment without it
    path = tempfile.mkdtemp(prefix=prefix)
    _tell_watchdog(f"dir {path}")
    return Path(path)


def remove_folder(path: Path | str) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _tell_watchdog(f"-dir {path}")


def forget_process(process: subprocess.Popen) -> None:
    """``process`` has exited and was reaped: its pid may be reused, so the watchdog drops it."""
    _tell_watchdog(f"-pid {process.pid}")


# -- starting a server from a thread that lives as long as the process ---------------------
def _die_with(parent: int):
    """``preexec_fn``: SIGKILL this child when the thread that forked it dies (Linux)."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def set_in_child() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above: too late for the signal
            os._exit(1)

    return set_in_child


_spawner: queue.Queue | None = None


def _in_lasting_thread(start):
    """Run ``start()`` in the main thread, or in one thread kept alive for it: a worker
    thread that ends would take its children with it (the parent-death signal)."""
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return start()
    with _watchdog_lock:
        if _spawner is None:
            _spawner = queue.Queue()

            def serve(jobs: queue.Queue) -> None:
                while True:
                    job, answer = jobs.get()
                    try:
                        answer.put((True, job()))
                    except BaseException as exc:  # handed back to the caller's thread
                        answer.put((False, exc))

            threading.Thread(target=serve, args=(_spawner,), name="labkit-server-starter", daemon=True).start()
    answer: queue.Queue = queue.Queue()
    _spawner.put((start, answer))
    ok, value = answer.get()
    if not ok:
        raise value
    return value


def start_process(args: list[str]) -> subprocess.Popen:
    """Start ``args`` (a redis-server) so that it dies with this process, however this process dies."""
    preexec = _die_with(os.getpid()) if sys.platform.startswith("linux") else None

    def start() -> subprocess.Popen:
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=preexec)

    process = _in_lasting_thread(start)
    _tell_watchdog(f"pid {process.pid}")
    return process


class LocalRedis:
    """A redis-server child process: ``with LocalRedis() as server: server.url``."""

    def __init__(self, port: int | None = None, *, startup_timeout_seconds: float = 10.0) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise LabError(
                "redis-server is not installed; install it (apt-get install redis-server) "
                "or keep using the built-in fakeredis."
            )
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = lab_folder("labkit-redis-")
        self.log_path = self._dir / "redis.log"
        self._proc = start_process([
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._dir),
            "--logfile", str(self.log_path),
            "--protected-mode", "yes",
        ])
        atexit.register(self.stop)
        self._wait_ready(startup_timeout_seconds)

    def _wait_ready(self, timeout_seconds: float) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2, decode_responses=True)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                info = client.info("server")
                client.close()
            except redis.RedisError:
                time.sleep(0.05)
                continue
            # Whatever answers the port must be the process started here (not a
            # server someone else runs there), or the lab would claim it as its own.
            if int(info.get("process_id", -1)) == self._proc.pid:
                self.run_id: str = str(info["run_id"])
                return
            break
        self.stop()
        raise LabError(f"redis-server did not start on port {self.port}; its log was {self.log_path}.")

    def environment(self) -> dict[str, str]:
        """``REDIS_URL`` and the ownership marker for this server (for a child process)."""
        from .connection import OWNED_RUN_ID_VAR

        return {"REDIS_URL": self.url, OWNED_RUN_ID_VAR: self.run_id}

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        if self._proc.returncode is None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            forget_process(self._proc)
        remove_folder(self._dir)
        atexit.unregister(self.stop)

    def __enter__(self) -> LocalRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
