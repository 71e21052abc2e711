"""Wrappers over the store contract: change or watch a store without touching its client.

* :class:`StoreWrapper` - the whole :class:`~labkit.store.Store` contract by
  delegation.  Subclass it and override the few commands a lesson changes (a slow
  network, a dropped message); everything else reaches the inner store unchanged,
  with the same prefix, namespace, stats and clock.
* :class:`RecordingStore` - the command log: every command, its key, a summary of
  its arguments and its result, as rows a notebook shows as a table.

Wrappers work on every backend (memory, fakeredis, real Redis), because they only
call the contract.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .store import Store, StoreStats, Subscription

__all__ = ["StoreWrapper", "RecordingStore", "Command"]


def _read_through(name: str) -> Any:
    """A read-only attribute whose value is the inner store's."""
    return property(lambda self: getattr(self.inner, name), doc=f"The inner store's ``{name}``.")


class StoreWrapper(Store):
    """A store that forwards every command to ``inner``.

    It shares the inner store's prefix, learner, namespace, clock and stats, so
    counting and expiry are the inner store's own; ``reset()`` resets the inner store.
    """

    def __init__(self, inner: Store) -> None:  # no super().__init__: the state is inner's
        if not isinstance(inner, Store):
            raise TypeError(f"StoreWrapper wraps a labkit Store (got {type(inner).__name__}).")
        self.inner = inner

    # State lives on the inner store (stats are replaced by reset(), so always read through).
    backend = _read_through("backend")  # type: ignore[assignment]
    clock = _read_through("clock")  # type: ignore[assignment]
    namespace = _read_through("namespace")
    learner = _read_through("learner")
    prefix = _read_through("prefix")

    @property
    def stats(self) -> StoreStats:
        return self.inner.stats

    @stats.setter
    def stats(self, value: StoreStats) -> None:
        self.inner.stats = value

    def __getattr__(self, name: str) -> Any:
        # Backend extras (url, client, lab_owned_server) read through to the inner store.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # -- the contract, forwarded ------------------------------------------------------
    def get(self, key: str) -> str | None:
        return self.inner.get(key)

    def get_many(self, keys: Iterable[str]) -> list[str | None]:
        return self.inner.get_many(keys)

    def set(self, key: str, value: str, ttl_seconds: float | None = None, *, nx: bool = False) -> bool:
        return self.inner.set(key, value, ttl_seconds, nx=nx)

    def delete(self, *keys: str) -> int:
        return self.inner.delete(*keys)

    def compare_and_delete(self, key: str, expected: str) -> bool:
        return self.inner.compare_and_delete(key, expected)

    def compare_and_set(
        self, key: str, expected: str | None, value: str, ttl_seconds: float | None = None
    ) -> bool:
        return self.inner.compare_and_set(key, expected, value, ttl_seconds)

    def set_if_newer(self, key: str, value: str, version: int, ttl_seconds: float | None = None) -> bool:
        return self.inner.set_if_newer(key, value, version, ttl_seconds)

    def incr(self, key: str, amount: int = 1) -> int:
        return self.inner.incr(key, amount)

    def expire(self, key: str, ttl_seconds: float) -> bool:
        return self.inner.expire(key, ttl_seconds)

    def ttl_seconds(self, key: str) -> float | None:
        return self.inner.ttl_seconds(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def scan_keys(self, pattern: str = "*") -> list[str]:
        return self.inner.scan_keys(pattern)

    def publish(self, channel: str, message: str) -> int:
        return self.inner.publish(channel, message)

    def subscribe(self, channel: str) -> Subscription:
        return self.inner.subscribe(channel)

    def reset(self) -> int:
        return self.inner.reset()

    def reset_stats(self) -> None:
        self.inner.reset_stats()

    def describe(self) -> str:
        return self.inner.describe()

    def k(self, key: str) -> str:
        return self.inner.k(key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} over {self.inner!r}>"


@dataclass(frozen=True)
class Command:
    """One logged command: when (on the store's clock), what, which key, with what, result."""

    time: float
    command: str
    key: str
    args: str
    result: str

    def as_row(self) -> dict[str, Any]:
        return {"time": self.time, "command": self.command, "key": self.key, "args": self.args, "result": self.result}


def _summary(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RecordingStore(StoreWrapper):
    """A :class:`StoreWrapper` that logs every command it forwards.

    ``log`` is the list of rows (dicts: time, command, key, args, result), oldest
    first; ``commands("set")`` filters by command name; ``clear()`` empties the log.
    Keys are shown without the prefix, as the lesson names them.
    """

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self._entries: list[Command] = []
        self._log_lock = threading.Lock()

    @property
    def log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [c.as_row() for c in self._entries]

    def commands(self, name: str | None = None) -> list[dict[str, Any]]:
        """The logged rows, only those of command ``name`` if given."""
        return [row for row in self.log if name is None or row["command"] == name]

    def clear(self) -> None:
        with self._log_lock:
            self._entries.clear()

    def _record(self, command: str, key: str, args: Any, result: Any) -> Any:
        entry = Command(self.clock.now(), command, key, _summary(args) if args != () else "", _summary(result))
        with self._log_lock:
            self._entries.append(entry)
        return result

    def get(self, key):
        return self._record("get", key, (), super().get(key))

    def get_many(self, keys):
        keys = list(keys)
        return self._record("get_many", ",".join(keys), (), super().get_many(keys))

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        args = {"value": value, **({"ttl_seconds": ttl_seconds} if ttl_seconds is not None else {})}
        if nx:
            args["nx"] = True
        return self._record("set", key, _kwargs(args), super().set(key, value, ttl_seconds, nx=nx))

    def delete(self, *keys):
        return self._record("delete", ",".join(keys), (), super().delete(*keys))

    def compare_and_delete(self, key, expected):
        result = super().compare_and_delete(key, expected)
        return self._record("compare_and_delete", key, f"expected={expected}", result)

    def compare_and_set(self, key, expected, value, ttl_seconds=None):
        result = super().compare_and_set(key, expected, value, ttl_seconds)
        return self._record("compare_and_set", key, f"expected={expected} value={value}", result)

    def set_if_newer(self, key, value, version, ttl_seconds=None):
        result = super().set_if_newer(key, value, version, ttl_seconds)
        return self._record("set_if_newer", key, f"version={version} value={value}", result)

    def incr(self, key, amount=1):
        return self._record("incr", key, f"amount={amount}", super().incr(key, amount))

    def expire(self, key, ttl_seconds):
        return self._record("expire", key, f"ttl_seconds={ttl_seconds}", super().expire(key, ttl_seconds))

    def ttl_seconds(self, key):
        return self._record("ttl_seconds", key, (), super().ttl_seconds(key))

    def exists(self, key):
        return self._record("exists", key, (), super().exists(key))

    def scan_keys(self, pattern="*"):
        return self._record("scan_keys", pattern, (), super().scan_keys(pattern))

    def publish(self, channel, message):
        return self._record("publish", channel, f"message={message}", super().publish(channel, message))

    def subscribe(self, channel):
        return self._record("subscribe", channel, (), super().subscribe(channel))


def _kwargs(args: dict[str, Any]) -> str:
    return " ".join(f"{name}={value}" for name, value in args.items())
