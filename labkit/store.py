"""The lab's cache store: one small contract on three backends.

* :class:`MemoryStore` - in-process, on any clock (virtual for fast sweeps).
* :class:`RedisStore` over fakeredis - the default, in-process, no server needed.
* :class:`RedisStore` over a real Redis - when ``REDIS_URL`` (or ``url=``) names one.

Every key the lab writes lives under ``labkit:<learner>:<namespace>:`` (the learner
id comes from :func:`labkit.progress.learner_id`, so learners sharing one Redis never
see each other's keys or messages).  :meth:`Store.reset` deletes only those keys
(SCAN + DEL); nothing here ever flushes a database or changes a server's
configuration, so a learner's own data is safe.

Version-guarded writes (:meth:`Store.set_if_newer`) store ``"<version>|<payload>"``;
:func:`versioned` and :func:`unversioned` build and read that form.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable
from queue import Empty, SimpleQueue
from typing import Any

from .clock import Clock, wall_clock
from .counters import Counters
from .errors import LabError, check_integer_amount, check_non_negative, check_ttl, check_value

__all__ = [
    "Store",
    "StoreStats",
    "MemoryStore",
    "RedisStore",
    "Subscription",
    "ROOT_PREFIX",
    "versioned",
    "unversioned",
    "unexpired",
]

ROOT_PREFIX = "labkit"
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_VERSIONED_RE = re.compile(r"^(\d+)\|")


def check_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, numbers.Integral) or version < 0:
        raise LabError(f"version must be a whole number >= 0, such as a row's version (got {version!r}).")
    return int(version)


def versioned(payload: str, version: int) -> str:
    """The stored form of a version-guarded value: ``"<version>|<payload>"``."""
    return f"{check_version(version)}|{check_value(payload, 'payload')}"


def unversioned(text: str) -> tuple[int | None, str]:
    """``(version, payload)`` from a stored value; ``(None, text)`` if it carries no version
    (a lease placeholder, a plain value), which :meth:`Store.set_if_newer` treats as older
    than any version."""
    match = _VERSIONED_RE.match(text)
    if match is None:
        return None, text
    return int(match.group(1)), text[match.end() :]


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE_RE.match(namespace):
        raise LabError(
            f"namespace must be 1-64 letters, digits, '_', '.' or '-' (got {namespace!r})."
        )
    return namespace


def unexpired(entries: dict[str, tuple[str, float]], key: str, now: float) -> tuple[str, float] | None:
    """``entries[key]``, a ``(value, deadline)``, if its deadline is still ahead; an
    expired entry is deleted as it is found (lazy expiry, as Redis does on access)."""
    entry = entries.get(key)
    if entry is None:
        return None
    if entry[1] <= now:
        del entries[key]
        return None
    return entry


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise LabError(f"A cache key must be a non-empty string (got {key!r}).")
    return key


class StoreStats(Counters):
    """What the store has been asked to do since the last reset."""

    hits: int
    misses: int
    sets: int
    deletes: int
    commands: int

    def lookup(self, hit: bool) -> None:
        """One GET, a hit or a miss (the hottest path: no keyword unpacking)."""
        with self._lock:
            self.commands += 1
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    @property
    def hit_ratio(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**super().as_dict(), "hit_ratio": self.hit_ratio}


class Subscription(ABC):
    """Messages published on one channel, read with :meth:`get_message`."""

    @abstractmethod
    def get_message(self, timeout_seconds: float = 0.0) -> str | None:
        """The next message, or None if none arrives within the timeout."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store(ABC):
    """The contract every backend honours.  Values are strings."""

    backend: str = "abstract"
    clock: Clock

    def __init__(self, namespace: str = "lab", *, learner: str | None = None) -> None:
        from .progress import check_learner, learner_id

        self.namespace = check_namespace(namespace)
        self.learner = learner_id() if learner is None else check_learner(learner)
        self.prefix = f"{ROOT_PREFIX}:{self.learner}:{namespace}:"
        self.stats = StoreStats()

    # -- the contract -------------------------------------------------------------
    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @abstractmethod
    def set(
        self, key: str, value: str, ttl_seconds: float | None = None, *, nx: bool = False
    ) -> bool:
        """Store ``value``; with ``nx=True`` only if the key is absent.  True if stored."""

    @abstractmethod
    def delete(self, *keys: str) -> int: ...

    @abstractmethod
    def compare_and_delete(self, key: str, expected: str) -> bool:
        """Delete ``key`` only if it still holds ``expected`` (atomically)."""

    @abstractmethod
    def compare_and_set(
        self, key: str, expected: str | None, value: str, ttl_seconds: float | None = None
    ) -> bool:
        """Set ``key`` only if it holds ``expected`` (None: only if absent), atomically."""

    @abstractmethod
    def set_if_newer(self, key: str, value: str, version: int, ttl_seconds: float | None = None) -> bool:
        """Store ``versioned(value, version)`` only if the key holds no newer or equal
        version (atomically).  A value without a version (absent, a lease placeholder)
        counts as older than any version.  True if stored."""

    @abstractmethod
    def incr(self, key: str, amount: int = 1) -> int:
        """Add a whole number to an integer value (absent counts as 0); the new value."""

    @abstractmethod
    def expire(self, key: str, ttl_seconds: float) -> bool: ...

    @abstractmethod
    def ttl_seconds(self, key: str) -> float | None:
        """Seconds left; ``math.inf`` for a key with no expiry; None if absent."""

    @abstractmethod
    def scan_keys(self, pattern: str = "*") -> list[str]:
        """The lab's keys matching a glob ``pattern`` (without the prefix)."""

    @abstractmethod
    def publish(self, channel: str, message: str) -> int: ...

    @abstractmethod
    def subscribe(self, channel: str) -> Subscription: ...

    # -- shared behaviour ----------------------------------------------------------
    def exists(self, key: str) -> bool:
        return self.ttl_seconds(key) is not None

    def get_many(self, keys: Iterable[str]) -> list[str | None]:
        return [self.get(k) for k in keys]

    def reset(self) -> int:
        """Delete every key under this store's prefix (and only those); reset stats."""
        keys = self.scan_keys("*")
        removed = 0
        for i in range(0, len(keys), 500):
            removed += self._raw_delete(keys[i : i + 500])
        self.stats = StoreStats()
        return removed

    def reset_stats(self) -> None:
        self.stats = StoreStats()

    def describe(self) -> str:
        """One line for a learner: which backend, and how to switch."""
        return f"{self.backend} store"

    def _raw_delete(self, keys: list[str]) -> int:
        return self.delete(*keys) if keys else 0

    def k(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backend={self.backend} prefix={self.prefix!r}>"


# ---------------------------------------------------------------------------------
# In-process store on any clock
# ---------------------------------------------------------------------------------


class _MemorySubscription(Subscription):
    def __init__(self, hub: _MemoryHub, channel: str) -> None:
        self._hub, self._channel = hub, channel
        self._queue: SimpleQueue[str] = SimpleQueue()
        self.closed = False
        hub.add(channel, self)

    def deliver(self, message: str) -> None:
        self._queue.put(message)

    def get_message(self, timeout_seconds: float = 0.0) -> str | None:
        if self.closed:
            raise LabError("This subscription is closed; subscribe again to receive messages.")
        try:
            if timeout_seconds <= 0:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout_seconds)
        except Empty:
            return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub.remove(self._channel, self)


class _MemoryHub:
    def __init__(self) -> None:
        self._subs: dict[str, list[_MemorySubscription]] = defaultdict(list)
        self._lock = threading.Lock()

    def add(self, channel: str, sub: _MemorySubscription) -> None:
        with self._lock:
            self._subs[channel].append(sub)

    def remove(self, channel: str, sub: _MemorySubscription) -> None:
        with self._lock:
            if sub in self._subs[channel]:
                self._subs[channel].remove(sub)

    def publish(self, channel: str, message: str) -> int:
        with self._lock:
            subs = list(self._subs[channel])
        for sub in subs:
            sub.deliver(message)
        return len(subs)


class MemoryStore(Store):
    """A thread-safe in-process store whose expiry follows ``clock``.

    ``latency_seconds`` is charged on the clock for every command, so a virtual
    run reports cache round trips in its latencies like a networked cache would.
    """

    backend = "memory"

    def __init__(
        self,
        clock: Clock = wall_clock,
        *,
        namespace: str = "lab",
        latency_seconds: float = 0.0,
        learner: str | None = None,
    ) -> None:
        super().__init__(namespace, learner=learner)
        self.clock = clock
        self.latency_seconds = check_non_negative("latency_seconds", latency_seconds, "s")
        self._data: dict[str, tuple[str, float]] = {}
        self._lock = threading.RLock()
        self._hub = _MemoryHub()

    def _tick(self) -> None:
        self.stats.add(commands=1)
        if self.latency_seconds:
            self.clock.sleep(self.latency_seconds)

    def _live(self, full_key: str) -> tuple[str, float] | None:
        return unexpired(self._data, full_key, self.clock.now())

    @staticmethod
    def _deadline(now: float, ttl_seconds: float | None) -> float:
        ttl = check_ttl(ttl_seconds)
        return math.inf if ttl is None else now + ttl

    def get(self, key: str) -> str | None:
        full = self.k(key)
        if self.latency_seconds:
            self.clock.sleep(self.latency_seconds)
        with self._lock:
            item = self._live(full)
        self.stats.lookup(item is not None)
        return None if item is None else item[0]

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        full = self.k(key)
        text = check_value(value)
        deadline_ttl = check_ttl(ttl_seconds)
        self._tick()
        with self._lock:
            if nx and self._live(full) is not None:
                return False
            self._data[full] = (text, self._deadline(self.clock.now(), deadline_ttl))
        self.stats.add(sets=1)
        return True

    def delete(self, *keys: str) -> int:
        fulls = [self.k(k) for k in keys]
        self._tick()
        removed = 0
        with self._lock:
            for full in fulls:
                if self._live(full) is not None:
                    del self._data[full]
                    removed += 1
        self.stats.add(deletes=removed)
        return removed

    def compare_and_delete(self, key: str, expected: str) -> bool:
        full = self.k(key)
        self._tick()
        with self._lock:
            item = self._live(full)
            if item is None or item[0] != expected:
                return False
            del self._data[full]
        self.stats.add(deletes=1)
        return True

    def _set_if(self, key: str, text: str, ttl_seconds: Any, accept: Any) -> bool:
        """Store ``text`` if ``accept(current value or None)``, under the lock (atomic)."""
        full = self.k(key)
        ttl = check_ttl(ttl_seconds)
        self._tick()
        with self._lock:
            item = self._live(full)
            if not accept(None if item is None else item[0]):
                return False
            self._data[full] = (text, self._deadline(self.clock.now(), ttl))
        self.stats.add(sets=1)
        return True

    def compare_and_set(self, key, expected, value, ttl_seconds=None):
        return self._set_if(key, check_value(value), ttl_seconds, lambda current: current == expected)

    def set_if_newer(self, key, value, version, ttl_seconds=None):
        def older(current: str | None) -> bool:
            held = None if current is None else unversioned(current)[0]
            return held is None or held < version

        return self._set_if(key, versioned(value, version), ttl_seconds, older)

    def incr(self, key: str, amount: int = 1) -> int:
        full = self.k(key)
        amount = check_integer_amount(amount)
        self._tick()
        with self._lock:
            item = self._live(full)
            try:
                value = int(item[0]) + amount if item else amount
            except ValueError:
                raise LabError(f"Key {key!r} does not hold an integer, so it cannot be incremented.") from None
            self._data[full] = (str(value), item[1] if item else math.inf)
        return value

    def expire(self, key: str, ttl_seconds: float) -> bool:
        full = self.k(key)
        ttl = check_ttl(ttl_seconds)
        if ttl is None:
            raise LabError("expire() needs ttl_seconds > 0; to keep a key forever, set it again without a TTL.")
        self._tick()
        with self._lock:
            item = self._live(full)
            if item is None:
                return False
            self._data[full] = (item[0], self.clock.now() + ttl)
        return True

    def ttl_seconds(self, key: str) -> float | None:
        full = self.k(key)
        self._tick()
        with self._lock:
            item = self._live(full)
        if item is None:
            return None
        return item[1] - self.clock.now() if item[1] != math.inf else math.inf

    def scan_keys(self, pattern: str = "*") -> list[str]:
        import fnmatch

        self._tick()
        n = len(self.prefix)
        with self._lock:
            return [
                full[n:]
                for full in list(self._data)
                if full.startswith(self.prefix)
                and self._live(full) is not None
                and fnmatch.fnmatchcase(full[n:], pattern)
            ]

    def _raw_delete(self, keys: list[str]) -> int:
        with self._lock:
            n = 0
            for key in keys:
                n += self._data.pop(self.k(key), None) is not None
            return n

    def publish(self, channel: str, message: str) -> int:
        text = check_value(message, "message")
        self._tick()
        return self._hub.publish(self.k(channel), text)

    def subscribe(self, channel: str) -> Subscription:
        return _MemorySubscription(self._hub, self.k(channel))

    def describe(self) -> str:
        return f"in-process MemoryStore on {self.clock!r}"


# ---------------------------------------------------------------------------------
# Redis (real or fakeredis) through redis-py
# ---------------------------------------------------------------------------------

# Lua runs atomically on the server: the check and the change cannot be split by
# another client, which is what makes a lock release or a lease check safe.
_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# The last step of both conditional writes: SET, with PX when the TTL in
# milliseconds is above 0 (0: no expiry).
_SET_KEY = """
local function set_key(value, px)
  if tonumber(px) > 0 then
    redis.call('SET', KEYS[1], value, 'PX', px)
  else
    redis.call('SET', KEYS[1], value)
  end
  return 1
end
"""
# ARGV: '1' if the key must be absent, expected text, new text, PX milliseconds.
_COMPARE_AND_SET = _SET_KEY + """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
return set_key(ARGV[3], ARGV[4])
"""
# ARGV: version, stored text, PX milliseconds.  A current value whose text does not
# start with "<digits>|" (a lease placeholder) is older than any version.
_SET_IF_NEWER = _SET_KEY + """
local current = redis.call('GET', KEYS[1])
if current then
  local held = string.match(current, '^(%d+)|')
  if held and tonumber(held) >= tonumber(ARGV[1]) then return 0 end
end
return set_key(ARGV[2], ARGV[3])
"""


class _RedisSubscription(Subscription):
    def __init__(self, client: Any, channel: str) -> None:
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel)
        self.closed = False
        # Wait for the subscription to be confirmed so no early message is lost.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            self._pubsub.get_message(timeout=0.01)
            if self._pubsub.subscribed:
                break
        self._pending: list[str] = []

    def get_message(self, timeout_seconds: float = 0.0) -> str | None:
        if self.closed:
            raise LabError("This subscription is closed; subscribe again to receive messages.")
        deadline = time.monotonic() + max(0.0, timeout_seconds)
        while True:
            remaining = deadline - time.monotonic()
            msg = self._pubsub.get_message(timeout=max(0.0, remaining))
            if msg is not None and msg.get("type") == "message":
                return msg["data"]
            if remaining <= 0:
                return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            # Closing a dead connection is not the learner's problem.
            with contextlib.suppress(Exception):
                self._pubsub.close()


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, int(round(ttl * 1000)))


class RedisStore(Store):
    """The contract on a redis-py client: a real server or fakeredis.

    Expiry follows the server's clock (wall time), so ``clock`` is the wall clock.
    """

    def __init__(
        self, client: Any, *, backend: str, namespace: str = "lab", url: str = "", learner: str | None = None
    ) -> None:
        super().__init__(namespace, learner=learner)
        self.client = client
        self.backend = backend
        self.url = url
        self.clock = wall_clock
        self._cad = client.register_script(_COMPARE_AND_DELETE)
        self._cas = client.register_script(_COMPARE_AND_SET)
        self._newer = client.register_script(_SET_IF_NEWER)

    def _tick(self, n: int = 1) -> None:
        self.stats.add(commands=n)

    def get(self, key: str) -> str | None:
        value = self.client.get(self.k(key))
        self.stats.lookup(value is not None)
        return value

    def get_many(self, keys: Iterable[str]) -> list[str | None]:
        fulls = [self.k(k) for k in keys]
        if not fulls:
            return []
        self._tick()
        values = self.client.mget(fulls)
        hits = sum(v is not None for v in values)
        self.stats.add(hits=hits, misses=len(values) - hits)
        return values

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        full = self.k(key)
        text = check_value(value)
        ttl = check_ttl(ttl_seconds)
        self._tick()
        ok = self.client.set(full, text, px=_ms(ttl), nx=nx)
        if ok:
            self.stats.add(sets=1)
        return bool(ok)

    def delete(self, *keys: str) -> int:
        fulls = [self.k(k) for k in keys]
        if not fulls:
            return 0
        self._tick()
        removed = int(self.client.delete(*fulls))
        self.stats.add(deletes=removed)
        return removed

    def compare_and_delete(self, key: str, expected: str) -> bool:
        full = self.k(key)
        self._tick()
        removed = int(self._cad(keys=[full], args=[expected]))
        self.stats.add(deletes=removed)
        return bool(removed)

    def _script_set(self, script: Any, key: str, args: list[Any]) -> bool:
        self._tick()
        ok = bool(int(script(keys=[self.k(key)], args=args)))
        if ok:
            self.stats.add(sets=1)
        return ok

    def compare_and_set(self, key, expected, value, ttl_seconds=None):
        text, px = check_value(value), _ms(check_ttl(ttl_seconds)) or 0
        return self._script_set(self._cas, key, ["1" if expected is None else "0", expected or "", text, px])

    def set_if_newer(self, key, value, version, ttl_seconds=None):
        text, px = versioned(value, version), _ms(check_ttl(ttl_seconds)) or 0
        return self._script_set(self._newer, key, [int(version), text, px])

    def incr(self, key: str, amount: int = 1) -> int:
        import redis

        amount = check_integer_amount(amount)
        self._tick()
        try:
            return int(self.client.incrby(self.k(key), amount))
        except redis.ResponseError:
            raise LabError(f"Key {key!r} does not hold an integer, so it cannot be incremented.") from None

    def expire(self, key: str, ttl_seconds: float) -> bool:
        ttl = check_ttl(ttl_seconds)
        if ttl is None:
            raise LabError("expire() needs ttl_seconds > 0; to keep a key forever, set it again without a TTL.")
        self._tick()
        return bool(self.client.pexpire(self.k(key), _ms(ttl)))

    def ttl_seconds(self, key: str) -> float | None:
        self._tick()
        pttl = int(self.client.pttl(self.k(key)))
        if pttl == -2:
            return None
        if pttl == -1:
            return math.inf
        return pttl / 1000.0

    def scan_keys(self, pattern: str = "*") -> list[str]:
        n = len(self.prefix)
        keys = []
        # SCAN walks the keyspace in small steps and never blocks the server the way KEYS can.
        for full in self.client.scan_iter(match=self.prefix + pattern, count=1000):
            self._tick()
            keys.append(full[n:])
        return keys

    def _raw_delete(self, keys: list[str]) -> int:
        return int(self.client.delete(*[self.k(k) for k in keys])) if keys else 0

    def publish(self, channel: str, message: str) -> int:
        text = check_value(message, "message")
        self._tick()
        return int(self.client.publish(self.k(channel), text))

    def subscribe(self, channel: str) -> Subscription:
        return _RedisSubscription(self.client, self.k(channel))

    def describe(self) -> str:
        if self.backend == "fakeredis":
            return "fakeredis (in-process Redis); set REDIS_URL to use a real Redis server"
        return f"real Redis at {self.url}"

    def __repr__(self) -> str:
        where = f" url={self.url}" if self.url else " (in-process)"
        return f"<RedisStore backend={self.backend}{where} prefix={self.prefix!r}>"
