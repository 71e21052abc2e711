"""Start a throwaway redis-server on a free loopback port.

Used by the tests, the benchmarks and the eviction lesson: a server the lab owns
may be reconfigured (maxmemory, policies) without risk to anyone's data.  It
binds 127.0.0.1 only, keeps nothing on disk and is stopped on exit.

Ownership is tied to the server, not to a flag: :attr:`LocalRedis.run_id` is the
started server's own ``run_id``, and :meth:`LocalRedis.environment` gives the
variables (``REDIS_URL`` and ``LABKIT_OWNS_REDIS_RUN_ID``) under which
``labkit.connect()`` treats exactly that server as the lab's own.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .errors import LabError

__all__ = ["LocalRedis", "redis_server_binary", "free_port"]


def redis_server_binary() -> str | None:
    """Path of the ``redis-server`` program, or None if it is not installed."""
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        self._dir = tempfile.mkdtemp(prefix="labkit-redis-")
        self.log_path = Path(self._dir) / "redis.log"
        self._proc = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self._dir,
                "--logfile", str(self.log_path),
                "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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
        raise LabError(f"redis-server did not start on port {self.port}; see {self.log_path}.")

    def environment(self) -> dict[str, str]:
        """``REDIS_URL`` and the ownership marker for this server (for a child process)."""
        from .connection import OWNED_RUN_ID_VAR

        return {"REDIS_URL": self.url, OWNED_RUN_ID_VAR: self.run_id}

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
