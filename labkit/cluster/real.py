"""The lessons' cluster interface on a real Redis Cluster (see :mod:`.shards` for the simulation).

Wraps a :class:`~.local.LocalCluster` the lab started (which it may pause, crash and
reshard), or an existing cluster named by ``REDIS_CLUSTER_URL``, on which it only
reads and writes keys under the lab's prefix and never changes anything else.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ..clock import wall_clock
from ..errors import LabError
from .local import ClusterNode, LocalCluster, _wait
from .shards import ClusterUnavailable, Redirect, crossslot_message
from .slots import SLOTS, key_slot

__all__ = ["RealNode", "RealCluster", "migrate_slots"]

# INFO commandstats names of the commands the lessons count.
_COUNTED = ("cmdstat_get", "cmdstat_set", "cmdstat_mget", "cmdstat_del")


def _slot_count(spec: str) -> int:
    if spec.startswith("["):  # a slot being migrated or imported, not owned
        return 0
    first, _, last = spec.partition("-")
    return int(last or first) - int(first) + 1


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.RedisError, OSError)


class RealNode:
    """One node of a real cluster, reached directly (no redirects followed)."""

    def __init__(self, port: int, role: str, node_id: str, process_node: ClusterNode | None = None,
                 host: str = "127.0.0.1") -> None:
        self.host, self.port, self.role, self.node_id = host, port, role, node_id
        self.process_node = process_node
        self._conn: Any = None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process_node.running if self.process_node is not None else True

    @property
    def conn(self):
        if self._conn is None:
            import redis

            self._conn = redis.Redis(host=self.host, port=self.port, decode_responses=True, protocol=2,
                                     single_connection_client=True, socket_timeout=2.0,
                                     socket_connect_timeout=0.5)
            if self.role == "replica":
                self._conn.execute_command("READONLY")  # serve reads of the master's slots
        return self._conn

    def _call(self, *args: Any) -> Any:
        try:
            return self.conn.execute_command(*args)
        except _redis_errors() as exc:
            import redis

            if isinstance(exc, redis.ResponseError) and not isinstance(exc, (redis.exceptions.MovedError,)):
                raise LabError(str(exc)) from None
            raise ClusterUnavailable(f"Node {self.name} did not answer ({exc}).") from None

    def get(self, key: str) -> str | None:
        return self._call("GET", key)

    def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        self._call("SET", key, value, *(("EX", ttl_seconds) if ttl_seconds else ()))

    def ttl(self, key: str) -> int:
        """Seconds left (as the TTL command answers: -1 no expiry, -2 no key)."""
        return int(self._call("TTL", key))

    def delete(self, *keys: str) -> int:
        return int(self._call("DEL", *keys)) if keys else 0

    def wait(self, replicas: int, timeout_seconds: float) -> int:
        return int(self._call("WAIT", replicas, max(1, int(timeout_seconds * 1000))))

    def keys(self, pattern: str) -> list[str]:
        return list(self.conn.scan_iter(match=pattern, count=1000))

    @property
    def commands(self) -> int:
        stats = self.conn.info("commandstats")
        return sum(int(stats.get(name, {}).get("calls", 0)) for name in _COUNTED)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # a dead node's socket: nothing to close cleanly
                self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"<RealNode {self.role} :{self.port}>"


class RealCluster:
    """The lessons' cluster interface over redis-py's ``RedisCluster``."""

    simulated = False

    def __init__(self, local: LocalCluster | None = None, *, url: str | None = None) -> None:
        from redis.cluster import RedisCluster

        self.clock = wall_clock
        self.local = local
        if local is not None:
            self.client = local.client
        elif url:
            self.client = RedisCluster.from_url(url, decode_responses=True, protocol=2,
                                                socket_timeout=0.5, socket_connect_timeout=0.5)
        else:
            raise LabError("RealCluster needs a LocalCluster or a cluster URL (REDIS_CLUSTER_URL).")
        self.nodes: list[RealNode] = []
        self._probes: dict[int, Any] = {}
        self._slot_owner: list[RealNode | None] = [None] * SLOTS
        self._load_topology()

    def _load_topology(self) -> None:
        by_port = {n.port: n for n in self.nodes}
        processes = {n.port: n for n in self.local.nodes} if self.local else {}
        first = next((n for n in self.nodes if n.running), None)
        conn = first.conn if first else self.client.get_default_node().redis_connection
        nodes = self.nodes
        for line in conn.execute_command("CLUSTER", "NODES").splitlines():
            parts = line.split()
            node_id, address, flags = parts[0], parts[1], parts[2]
            host, _, port_text = address.split("@")[0].rpartition(":")
            port = int(port_text)
            role = "master" if "master" in flags else "replica"
            node = by_port.get(port)
            if node is None:
                node = RealNode(port, role, node_id, processes.get(port), host or "127.0.0.1")
                nodes.append(node)
            node.role = role
            if role == "master":
                for spec in parts[8:]:
                    if spec.startswith("["):
                        continue
                    first_slot, _, last_slot = spec.partition("-")
                    for slot in range(int(first_slot), int(last_slot or first_slot) + 1):
                        self._slot_owner[slot] = node
        self.nodes.sort(key=lambda n: (n.role != "master", n.port))

    def _require_owned(self, what: str) -> LocalCluster:
        if self.local is None:
            raise LabError(f"{what} changes the cluster, and the lab only changes a cluster it started itself; "
                           "unset REDIS_CLUSTER_URL to run this on a local or simulated cluster.")
        return self.local

    # -- the shape of the cluster ----------------------------------------------------------
    @property
    def masters(self) -> list[RealNode]:
        return [n for n in self.nodes if n.role == "master" and n.running]

    def replica_of(self, master: RealNode) -> RealNode | None:
        for node in self.nodes:
            if node.role == "replica" and node.running:
                info = node.conn.info("replication")
                if int(info.get("master_port", -1)) == master.port:
                    return node
        return None

    def owner(self, slot: int) -> RealNode:
        node = self._slot_owner[slot]
        assert node is not None
        return node

    def slot_ports(self) -> tuple[int, ...]:
        """The slot map as the owners' ports (as last loaded; -1 for a slot nobody serves)."""
        return tuple(n.port if n is not None else -1 for n in self._slot_owner)

    def slots_of(self, master: RealNode) -> list[int]:
        return [s for s in range(SLOTS) if self._slot_owner[s] is master]

    def node_at(self, port: int) -> RealNode:
        for node in self.nodes:
            if node.port == port:
                return node
        self._load_topology()
        return next(n for n in self.nodes if n.port == port)

    # -- through RedisCluster (which follows MOVED and ASK by itself) --------------------------
    def node_for(self, key: str) -> RealNode:
        return self.owner(key_slot(key))

    def get(self, key: str) -> str | None:
        try:
            return self.client.get(key)
        except _redis_errors() as exc:
            raise ClusterUnavailable(f"The cluster did not answer for {key!r} ({type(exc).__name__}).") from None

    def set(self, key: str, value: str) -> None:
        try:
            self.client.set(key, value)
        except _redis_errors() as exc:
            raise ClusterUnavailable(f"The cluster did not take the write of {key!r} ({type(exc).__name__}).") from None

    def _by_node(self, keys: list[str]) -> dict[RealNode, list[int]]:
        groups: dict[RealNode, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(self.owner(key_slot(key)), []).append(i)
        return groups

    def _pipelined(self, keys: list[str], add: Any) -> list[Any]:
        """``add(pipe, key)`` for every key, one pipeline per node; the results in key order."""
        results: list[Any] = [None] * len(keys)
        for node, positions in self._by_node(keys).items():
            try:
                pipe = node.conn.pipeline(transaction=False)
                for i in positions:
                    add(pipe, keys[i])
                answers = pipe.execute()
            except _redis_errors() as exc:
                raise ClusterUnavailable(f"Node {node.name} did not answer ({type(exc).__name__}).") from None
            for i, answer in zip(positions, answers, strict=True):
                results[i] = answer
        return results

    def get_all(self, keys: list[str]) -> list[str | None]:
        """One GET per key, pipelined per node (what RedisCluster's pipeline does, with less Python)."""
        return self._pipelined(keys, lambda pipe, key: pipe.get(key))

    def set_all(self, mapping: dict[str, str]) -> None:
        self._pipelined(list(mapping), lambda pipe, key: pipe.set(key, mapping[key]))

    def mget_one_node(self, keys: list[str]) -> list[str | None]:
        """MGET sent straight to the node of the first key: the server checks the slots."""
        node = self.node_for(keys[0])
        try:
            return node.conn.execute_command("MGET", *keys)
        except _redis_errors() as exc:
            message = str(exc)
            raise LabError(message if "CROSSSLOT" in message else crossslot_message()) from None

    def command_counts(self) -> dict[str, int]:
        return {m.name: m.commands for m in self.masters}

    # -- one node, one command: MOVED and ASK as the server sends them ----------------------------
    def ask_node(self, node: RealNode, key: str, *, asking: bool = False) -> str | None:
        import redis

        try:
            if asking:
                node.conn.execute_command("ASKING")
            return node.conn.execute_command("GET", key)
        except redis.exceptions.MovedError as exc:  # before AskError: MovedError subclasses it
            raise Redirect("MOVED", exc.slot_id, int(exc.port)) from None
        except redis.exceptions.AskError as exc:
            raise Redirect("ASK", exc.slot_id, int(exc.port)) from None

    def probe(self, key: str, via: RealNode) -> str:
        """What a client asking ``via`` for ``key`` gets (following MOVED): "ok",
        "CLUSTERDOWN", or "no answer" (a refused connection or a timeout)."""
        import redis

        port = via.port
        for _ in range(3):
            conn = self._probes.get(port)
            if conn is None:  # plain connections, no READONLY, no retries: what one request sees
                conn = self._probes[port] = redis.Redis(
                    host=via.host, port=port, protocol=2, socket_timeout=0.3, socket_connect_timeout=0.3,
                    retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
            try:
                conn.execute_command("GET", key)
                return "ok"
            except redis.exceptions.MovedError as exc:
                port = int(exc.port)
            except redis.exceptions.ClusterDownError:
                return "CLUSTERDOWN"
            except (redis.RedisError, OSError):
                conn.close()
                return "no answer"
        return "no answer"

    # -- resharding (a cluster the lab started only) ----------------------------------------------
    def add_master(self) -> RealNode:
        local = self._require_owned("Adding a node")
        process = local.add_master()
        node = RealNode(process.port, "master", process.node_id, process)
        self.nodes.append(node)
        return node

    def begin_migration(self, slots: list[int], target: RealNode) -> None:
        self._require_owned("Moving slots")
        self._migrating = {s: target for s in slots}
        by_source: dict[int, list[int]] = {}
        for slot in slots:
            by_source.setdefault(self.owner(slot).port, []).append(slot)
        # Only slots holding keys go through IMPORTING/MIGRATING (each such change is
        # written to disk by every node); an empty slot is simply handed over at the end.
        busy: list[int] = []
        for port, owned in by_source.items():
            pipe = self.node_at(port).conn.pipeline(transaction=False)
            for slot in owned:
                pipe.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)
            busy.extend(slot for slot, n in zip(owned, pipe.execute(), strict=True) if int(n))
        importing = target.conn.pipeline(transaction=False)
        migrating: dict[int, Any] = {}
        for slot in busy:
            source = self.owner(slot)
            importing.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.node_id)
            pipe = migrating.setdefault(source.port, source.conn.pipeline(transaction=False))
            pipe.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.node_id)
        importing.execute()
        for pipe in migrating.values():
            pipe.execute()

    def keys_in_slot(self, slot: int, pattern: str) -> list[str]:
        import fnmatch

        keys = self.owner(slot).conn.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10000)
        return [k for k in keys if fnmatch.fnmatchcase(k, pattern)]

    def migrate_keys(self, slot: int, keys: list[str]) -> None:
        if keys:
            target = self._migrating[slot]
            self.owner(slot).conn.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000,
                                                  "KEYS", *keys)

    def finish_migration(self, slots: list[int]) -> None:
        # The new owner learns first, then the old one (as redis-cli does); the new
        # owner's raised config epoch then carries the change to every other node.
        self._require_owned("Moving slots")
        targets = {s: self._migrating.pop(s) for s in slots}
        sources = {s: self.owner(s) for s in slots}
        for node in list(dict.fromkeys([*targets.values(), *sources.values()])):
            pipe = node.conn.pipeline(transaction=False)
            for slot, target in targets.items():
                if node is target or node is sources[slot]:
                    pipe.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target.node_id)
            pipe.execute()
        for target in set(targets.values()):
            # A new epoch makes every other node prefer the new owner's claim to the old one's.
            target.conn.execute_command("CLUSTER", "BUMPEPOCH")
        for slot, target in targets.items():
            self._slot_owner[slot] = target
        expected = {t.node_id: sum(1 for o in self._slot_owner if o is t) for t in set(targets.values())}

        def agreed() -> bool:
            for node in self.masters:
                counts: dict[str, int] = {}
                for line in node.conn.execute_command("CLUSTER", "NODES").splitlines():
                    parts = line.split()
                    counts[parts[0]] = sum(_slot_count(spec) for spec in parts[8:])
                if any(counts.get(i, 0) != n for i, n in expected.items()):
                    return False
            return True

        _wait(agreed, 15.0, "every node learning the new slot owners")
        self.client.nodes_manager.initialize()  # the library's slot map, read afresh

    # -- failures (a cluster the lab started only) --------------------------------------------------
    def pause_replication(self, replica: RealNode, seconds: float) -> None:
        """CLIENT PAUSE WRITE on the replica: it still answers reads but applies no
        replicated write until the pause ends - a replica that lags by ``seconds``."""
        self._require_owned("Pausing a replica")
        replica.conn.execute_command("CLIENT", "PAUSE", max(1, int(seconds * 1000)), "WRITE")

    def resume_replication(self, replica: RealNode) -> None:
        self._require_owned("Resuming a replica")
        replica.conn.execute_command("CLIENT", "UNPAUSE")

    def crash(self, master: RealNode) -> None:
        local = self._require_owned("Stopping a node")
        assert master.process_node is not None
        local.stop_node(master.process_node, crash=True)
        master.close()

    def refresh(self) -> None:
        """Re-read roles and slot owners from the cluster (after a failover), waiting until
        the node asked no longer lists a stopped master as the owner of any slot."""

        def settled() -> bool:
            self._slot_owner = [None] * SLOTS
            self._load_topology()
            return all(owner is not None and owner.running for owner in self._slot_owner)

        _wait(settled, 15.0, "every slot served by a running master")
        self.client.nodes_manager.initialize()
        for node in self.nodes:
            if node.role == "master" and node._conn is not None:
                node.close()  # a promoted replica's connection still says READONLY

    # -- housekeeping -----------------------------------------------------------------------------
    def delete_prefix(self, prefix: str) -> int:
        removed = 0
        for node in self.masters:
            keys = node.keys(prefix + "*")
            for i in range(0, len(keys), 500):
                # Keys of different slots cannot share one DEL in a cluster: one per slot.
                for key in keys[i : i + 500]:
                    removed += node.delete(key)
        return removed

    def stop(self) -> None:
        for node in self.nodes:
            node.close()
        for conn in self._probes.values():
            with contextlib.suppress(Exception):  # a dead node's socket: nothing to close cleanly
                conn.close()
        if self.local is not None:
            self.local.stop()
        else:
            self.client.close()

    def __repr__(self) -> str:
        return f"<RealCluster {len(self.masters)} masters, {len(self.nodes) - len(self.masters)} replicas>"


def migrate_slots(local: LocalCluster, slots: list[int], target: ClusterNode) -> int:
    """Move ``slots`` and their keys to master ``target`` of ``local`` (MIGRATING/IMPORTING,
    MIGRATE, SETSLOT NODE, as ``redis-cli --cluster reshard`` does); returns the keys moved."""
    local.refresh_roles()  # a failover may have made the target a replica
    if target.role != "master":
        raise LabError(f":{target.port} is a replica now (a failover promoted its partner); move slots to "
                       "one of local.masters.")
    view = RealCluster(local)
    destination = view.node_at(target.port)
    if any(view.owner(slot) is destination for slot in slots):
        raise LabError(f"Some of these slots already live on :{target.port}; pass only slots it does not own.")
    view.begin_migration(slots, destination)
    moved = 0
    for slot in slots:
        keys = view.keys_in_slot(slot, "*")
        view.migrate_keys(slot, keys)
        moved += len(keys)
    view.finish_migration(slots)
    return moved
