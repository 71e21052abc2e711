"""A throwaway Redis Cluster on this machine, started from the ``redis-server`` binary.

``with LocalCluster(masters=3, replicas=1) as cluster:`` starts one process per node
(cluster mode, loopback only, free ports, no data on disk; each node's ``nodes.conf``
and log in one temporary folder), forms
the cluster with the same commands ``redis-cli --cluster create`` sends (ADDSLOTSRANGE,
MEET, REPLICATE), waits for ``cluster_state:ok`` and hands out a redis-py
``RedisCluster`` as ``.client``.  Leaving the block, or the interpreter exiting,
stops every process it started and deletes the folder; if the interpreter is killed
instead, the nodes die with it and the lab's watchdog deletes the folder
(:mod:`labkit.redis_server`).
"""

from __future__ import annotations

import atexit
import contextlib
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..redis_server import forget_process, lab_folder, redis_server_binary, remove_folder, start_process
from .slots import slot_ranges

__all__ = ["LocalCluster", "ClusterNode"]

# Short node timeout, so a failover in the lesson takes seconds, not the default
# fifteen; not shorter, or a busy laptop makes healthy nodes look dead.
NODE_TIMEOUT_MS = 1500


@dataclass
class ClusterNode:
    """One redis-server process of a :class:`LocalCluster`."""

    port: int
    role: str  # "master" or "replica"
    node_id: str = ""
    process: subprocess.Popen | None = None
    folder: Path | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def name(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connect(self, **kwargs: Any):
        import redis

        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("socket_timeout", 2.0)
        return redis.Redis(host="127.0.0.1", port=self.port, protocol=2, **kwargs)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ClusterNode {self.role} :{self.port} {state}>"


def _free_port_pair() -> int:
    """A free port whose cluster-bus twin (port + 10000) is free too, below 55536."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 45535)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise LabError("No free pair of loopback ports (port and port + 10000) was found for a cluster node.")


def _wait(condition: Callable[[], bool], timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # a node still starting refuses connections: keep waiting
            pass
        time.sleep(0.02)
    raise LabError(f"The local Redis Cluster did not get ready in {timeout_seconds:g} s ({what}).")


class LocalCluster:
    """``masters`` primaries with ``replicas`` replicas each, on 127.0.0.1.

    >>> with LocalCluster(3, 1) as cluster:          # doctest: +SKIP
    ...     cluster.client.set("{user:42}:name", "Ada")
    """

    simulated = False

    def __init__(self, masters: int = 3, replicas: int = 1, *, spares: int = 0,
                 startup_timeout_seconds: float = 15.0) -> None:
        if not isinstance(masters, int) or not 1 <= masters <= 16:
            raise LabError(f"masters must be a whole number from 1 to 16 (got {masters!r}).")
        if not isinstance(replicas, int) or not 0 <= replicas <= 3:
            raise LabError(f"replicas must be a whole number from 0 to 3 per master (got {replicas!r}).")
        self._binary = redis_server_binary()
        if self._binary is None:
            raise LabError(
                "redis-server is not installed, so no local cluster can start; install it "
                "(apt-get install redis-server) or use labkit.cluster.SimulatedCluster."
            )
        self._timeout = startup_timeout_seconds
        self._dir = lab_folder("labkit-cluster-")
        self.nodes: list[ClusterNode] = []
        self._client: Any = None
        self._closed = False
        atexit.register(self.stop)
        try:
            self._start(masters, replicas, spares)
        except BaseException:
            self.stop()
            raise

    # -- starting -------------------------------------------------------------------
    def _spawn(self, role: str) -> ClusterNode:
        port = _free_port_pair()
        node = ClusterNode(port=port, role=role, folder=self._dir / str(port))
        node.folder.mkdir()
        self._launch(node)
        self.nodes.append(node)
        return node

    def _launch(self, node: ClusterNode) -> None:
        assert node.folder is not None
        node.process = start_process(
            [
                self._binary, "--port", str(node.port), "--bind", "127.0.0.1",
                "--protected-mode", "yes", "--save", "", "--appendonly", "no",
                "--dir", str(node.folder), "--logfile", str(node.folder / "redis.log"),
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                # A replica whose master died is promoted however long ago it last synced.
                "--cluster-replica-validity-factor", "0",
                "--cluster-require-full-coverage", "yes",
                # Replicas sync at once (the default waits 5 s for more replicas to join).
                "--repl-diskless-sync-delay", "0",
            ],
        )

    def _start(self, masters: int, replicas: int, spares: int) -> None:
        primaries = [self._spawn("master") for _ in range(masters)]
        followers = [self._spawn("replica") for _ in range(masters * replicas)]
        # A spare is started now but joins later (add_master): a new master refuses
        # writes for its first 2 s, and a spare has served that time already.
        self._spares = [self._spawn("spare") for _ in range(spares)]
        for node in self.nodes:
            _wait(lambda n=node: n.connect().ping(), self._timeout, f"node :{node.port} answering")
            node.node_id = node.connect().execute_command("CLUSTER", "MYID")
        for node, (first, last) in zip(primaries, slot_ranges(masters), strict=True):
            node.connect().execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        self._meet_all([n for n in self.nodes[1:] if n.role != "spare"])
        for i, replica in enumerate(followers):
            master = primaries[i % masters]
            _wait(
                lambda r=replica, m=master: m.node_id in r.connect().execute_command("CLUSTER", "NODES"),
                self._timeout, "replicas learning their masters",
            )
            replica.connect().execute_command("CLUSTER", "REPLICATE", master.node_id)
        self.wait_ok()
        for replica in followers:
            _wait(lambda r=replica: r.connect().info("replication").get("master_link_status") == "up",
                  self._timeout, "replicas in sync")

    def _meet_all(self, nodes: list[ClusterNode] | None = None) -> None:
        first = self.nodes[0]
        for node in nodes or self.nodes[1:]:
            node.connect().execute_command("CLUSTER", "MEET", "127.0.0.1", first.port)

    def wait_ok(self, timeout_seconds: float | None = None) -> None:
        """Block until every running node reports ``cluster_state:ok`` and agrees on the slots."""

        def ok() -> bool:
            members = [n for n in self.nodes if n.role != "spare"]
            for node in members:
                if not node.running:
                    continue
                info = node.connect().execute_command("CLUSTER", "INFO")
                if "cluster_state:ok" not in info or f"cluster_known_nodes:{len(members)}" not in info:
                    return False
            return True

        _wait(ok, timeout_seconds or self._timeout, "cluster_state:ok on every node")

    # -- what the lessons use -------------------------------------------------------
    @property
    def client(self):
        """A redis-py ``RedisCluster`` on this cluster (strings, RESP2)."""
        if self._client is None:
            from redis.cluster import ClusterNode as StartupNode
            from redis.cluster import RedisCluster

            running = [StartupNode("127.0.0.1", n.port) for n in self.nodes if n.running]
            self._client = RedisCluster(
                startup_nodes=running, decode_responses=True, protocol=2,
                socket_timeout=0.5, socket_connect_timeout=0.5,
            )
        return self._client

    @property
    def masters(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.role == "master"]

    @property
    def replicas(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.role == "replica"]

    def node(self, port: int) -> ClusterNode:
        for node in self.nodes:
            if node.port == port:
                return node
        raise LabError(f"No node of this cluster listens on port {port}; ports: {[n.port for n in self.nodes]}.")

    def refresh_roles(self) -> None:
        """Read each running node's role from the cluster (after a failover)."""
        for node in self.nodes:
            if node.running:
                node.role = "master" if node.connect().info("replication")["role"] == "master" else "replica"

    def replica_of(self, master: ClusterNode) -> ClusterNode | None:
        for node in self.nodes:
            if node.running and node.role == "replica":
                info = node.connect().info("replication")
                if int(info.get("master_port", -1)) == master.port:
                    return node
        return None

    def stop_node(self, node: ClusterNode, *, crash: bool = True) -> None:
        """Stop one node: ``crash=True`` kills it at once (no goodbye to its replicas)."""
        if node.running:
            assert node.process is not None
            node.process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
            node.process.wait(timeout=10)
            forget_process(node.process)

    def start_node(self, node: ClusterNode) -> None:
        """Start a stopped node again; it rejoins from its nodes.conf (as a replica if it lost its slots)."""
        if not node.running:
            self._launch(node)
            _wait(lambda: node.connect().ping(), self._timeout, f"node :{node.port} restarting")

    def add_master(self) -> ClusterNode:
        """Start one more (empty) primary and introduce it to the cluster; it owns no slot yet."""
        if self._spares:
            node = self._spares.pop(0)
        else:
            node = self._spawn("master")
            _wait(lambda: node.connect().ping(), self._timeout, f"node :{node.port} answering")
            node.node_id = node.connect().execute_command("CLUSTER", "MYID")
        node.role = "master"
        self._meet_all([node])
        self.wait_ok()
        return node

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.masters[0].port}"

    # -- stopping -------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process this cluster started and delete its folder (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing connections to dead nodes is not the learner's problem
                self._client.close()
        alive = [n.process for n in self.nodes if n.running and n.process is not None]
        for process in alive:
            process.terminate()
        # One deadline for all of them (they shut down in parallel), then SIGKILL stragglers.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(p.poll() is None for p in alive):
            time.sleep(0.01)
        for process in alive:
            if process.poll() is None:
                process.kill()
            process.wait()  # reaped: no zombie left behind
            forget_process(process)
        remove_folder(self._dir)
        atexit.unregister(self.stop)

    def pids(self) -> list[int]:
        return [n.process.pid for n in self.nodes if n.process is not None]

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        ports = [n.port for n in self.nodes]
        return f"<LocalCluster {len(self.masters)} masters, {len(self.replicas)} replicas, ports {ports}>"
