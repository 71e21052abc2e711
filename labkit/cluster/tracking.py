"""A near cache kept correct by the server: Redis ``CLIENT TRACKING``.

The app keeps hot values in its own memory, so the hottest key stops costing its
shard a command per read.  To stay correct, each node *remembers which keys this
client read* and sends an invalidation message when one of them changes
(server-assisted client-side caching, Redis 6+).  redis-py's built-in client-side
cache needs a 7.4+ server, so this is a small tracking client of its own: per
node, one connection subscribed to ``__redis__:invalidate`` and one data
connection with ``CLIENT TRACKING ON REDIRECT <id>`` (RESP2, which works on 7.0).
On simulated shards the node calls :meth:`NearCache.invalidate` itself.

The copy is only as good as the invalidation connection: a message sent while it is
down is lost for good.  So when a listener's connection breaks, the near cache drops
everything it holds and starts tracking afresh (notebook 02's rule for any
invalidation channel: flush on reconnect).
"""

from __future__ import annotations

import contextlib
import select
from typing import Any

__all__ = ["NearCache"]


def _connection_errors() -> tuple[type[Exception], ...]:
    import redis

    return (redis.ConnectionError, redis.TimeoutError)


class _NodeTracker:
    """Two connections to one real node: tracked reads, and the invalidations for them."""

    CHANNEL = "__redis__:invalidate"

    def __init__(self, host: str, port: int) -> None:
        import redis

        self.listener = redis.Connection(host=host, port=port, decode_responses=True, protocol=2,
                                         socket_timeout=2.0)
        self.listener.connect()
        self.listener.send_command("CLIENT", "ID")
        self.listener_id = listener_id = int(self.listener.read_response())
        self.listener.send_command("SUBSCRIBE", self.CHANNEL)
        self.listener.read_response()  # the subscribe confirmation
        self.data = redis.Redis(host=host, port=port, decode_responses=True, protocol=2,
                                single_connection_client=True, socket_timeout=2.0)
        self.data.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", listener_id)

    def invalidated(self) -> list[str | None]:
        """Keys the node said changed since the last call (None: drop everything)."""
        keys: list[str | None] = []
        while self.listener.can_read(timeout=0):
            message = self.listener.read_response()
            if isinstance(message, list) and len(message) == 3 and message[0] == "message":
                keys.extend(message[2] if message[2] is not None else [None])
        return keys

    def close(self) -> None:
        for closer in (self.listener.disconnect, self.data.close):
            with contextlib.suppress(Exception):  # closing a dead node's socket is not the learner's problem
                closer()


class NearCache:
    """An in-process copy of what this client read, dropped when the server says it changed.

    ``hits`` are reads served from memory (no command reached any node); ``misses``
    went to the key's node; ``invalidations`` counts the keys the nodes told us to drop.
    """

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self._values: dict[str, str | None] = {}
        self._trackers: dict[int, _NodeTracker] = {}
        self.hits = self.misses = self.invalidations = self.reconnects = 0

    def _drain(self, *, every_node: bool = False) -> None:
        trackers = list(self._trackers.values())
        # One select() over every listener asks "did any node say anything?" in one
        # system call per read; only a node that did is read from.
        sockets = {t.listener._sock: t for t in trackers if getattr(t.listener, "_sock", None) is not None}
        if not every_node and len(sockets) == len(trackers):
            ready, _, _ = select.select(list(sockets), [], [], 0)
            trackers = [sockets[sock] for sock in ready]
        broken = (OSError, *_connection_errors())
        for tracker in trackers:
            try:
                keys = tracker.invalidated()
            except broken:
                self._lost(tracker)
                continue
            for key in keys:
                self.invalidate(key)

    def _lost(self, tracker: _NodeTracker) -> None:
        """The invalidation connection broke: what changed meanwhile is unknown, so forget it all."""
        tracker.close()
        self._trackers = {port: t for port, t in self._trackers.items() if t is not tracker}
        self.invalidate(None)
        self.reconnects += 1

    def invalidate(self, key: str | None) -> None:
        """Drop ``key`` (None: drop everything), as the server asked."""
        self.invalidations += 1
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)

    def get(self, key: str) -> str | None:
        if self._trackers:
            self._drain()
        if key in self._values:
            self.hits += 1
            return self._values[key]
        self.misses += 1
        node = self.cluster.node_for(key)
        if self.cluster.simulated:
            value = node.get(key)
            node.trackers.setdefault(key, set()).add(self)  # the simulated node remembers the reader
        else:
            tracker = self._trackers.get(node.port)
            if tracker is None:
                tracker = self._trackers[node.port] = _NodeTracker(node.host, node.port)
            value = tracker.data.get(key)
        self._values[key] = value
        return value

    def wait_for_invalidations(self, timeout_seconds: float = 2.0) -> None:
        """Give the nodes' messages a moment to arrive (real cluster) and apply them."""
        if not self._trackers:
            return
        import time

        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if any(t.listener.can_read(timeout=0.01) for t in self._trackers.values()):
                break
        self._drain(every_node=True)  # can_read() may have buffered the message already

    def close(self) -> None:
        for tracker in self._trackers.values():
            tracker.close()
        self._trackers.clear()

    def __enter__(self) -> NearCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
