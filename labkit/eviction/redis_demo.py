"""Real evictions on a real redis-server, next to the simulator's prediction.

The experiment: write ``hot_keys`` values and read each of them many times, then
write a stream of cold values that only ever get written once, into a server
whose ``maxmemory`` leaves room for about a thousand values.  Which policy keeps
the hot keys?

Safety rules, in order:

1. If a ``redis-server`` program is installed, start a throwaway one
   (:class:`~labkit.redis_server.LocalRedis`): the lab owns it outright.
2. Otherwise use the notebook's own server only if the lab started it
   (``store.lab_owned_server``: its ``run_id`` is the one ``binder/start`` recorded).
3. Otherwise - a learner's own server, or fakeredis, which accepts
   ``CONFIG SET maxmemory`` but never evicts - run nothing and say why.

Whatever runs, ``maxmemory`` and ``maxmemory-policy`` are put back afterwards
and only this demo's keys are deleted (never FLUSHDB).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import LabError, check_choice
from .simulator import make_policy

__all__ = [
    "DEMO_POLICIES",
    "DemoSizes",
    "DEMO_SIZES",
    "RedisRun",
    "RedisDemo",
    "redis_config",
    "run_policy",
    "real_eviction_demo",
    "demo_server",
]

# What a Redis policy is closest to in the simulator (None: nothing to predict).
REDIS_TO_SIMULATOR = {
    "allkeys-lru": "redis-lru",
    "allkeys-lfu": "redis-lfu",
    "allkeys-random": "random",
    "noeviction": None,
}
DEMO_POLICIES = tuple(REDIS_TO_SIMULATOR)
_PREFIX = "labkit:05:evict-demo:"  # on a throwaway server; else under the learner's prefix


@dataclass(frozen=True)
class DemoSizes:
    """What the demo writes, and how much memory it leaves room for."""

    hot_keys: int = 200             # written first, then read reads_per_hot_key times each
    reads_per_hot_key: int = 20
    cold_keys: int = 2_000          # written once each, after the hot keys' reads
    value_bytes: int = 1_024
    budget_bytes: int = 1_000_000   # maxmemory: what the server uses already, plus this

    def trace(self) -> list[int]:
        """The demo's requests as simulator keys: hot keys 0.., then the cold ones."""
        hot = list(range(self.hot_keys))
        return hot * (self.reads_per_hot_key + 1) + list(range(self.hot_keys, self.hot_keys + self.cold_keys))


DEMO_SIZES = DemoSizes()


@dataclass(frozen=True)
class RedisRun:
    """One policy on the real server, and what the simulator predicted."""

    policy: str
    hot_keys: int
    hot_kept: int
    keys_kept: int
    evicted_keys: int
    oom_errors: int
    predicted_hot_kept: int | None

    def __str__(self) -> str:
        predicted = "" if self.predicted_hot_kept is None else f" (simulator: {self.predicted_hot_kept})"
        return (
            f"{self.policy:15s} hot keys kept {self.hot_kept:4d}/{self.hot_keys}{predicted}, "
            f"evicted {self.evicted_keys:5d}, OOM errors {self.oom_errors:5d}"
        )


@dataclass
class RedisDemo:
    """The outcome: runs per policy, or the reason nothing ran."""

    where: str
    runs: list[RedisRun] = field(default_factory=list)
    skipped_reason: str = ""

    def by_policy(self) -> dict[str, RedisRun]:
        return {run.policy: run for run in self.runs}

    def __str__(self) -> str:
        if self.skipped_reason:
            return f"Real-Redis demo skipped: {self.skipped_reason}"
        return "\n".join([f"Real evictions on {self.where}:"] + [f"  {run}" for run in self.runs])


@contextlib.contextmanager
def redis_config(client: Any, **settings: str) -> Iterator[dict[str, str]]:
    """Apply CONFIG SET settings (``maxmemory_policy="allkeys-lru"``), restoring the
    previous values on exit even if the body fails.  Yields the saved values."""
    names = [name.replace("_", "-") for name in settings]
    saved = {name: client.config_get(name)[name] for name in names}
    try:
        for name, value in zip(names, settings.values(), strict=True):
            client.config_set(name, value)
        yield saved
    finally:
        for name, value in saved.items():
            client.config_set(name, value)


def _delete_demo_keys(client: Any, prefix: str = _PREFIX) -> None:
    batch = []
    for key in client.scan_iter(match=prefix + "*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch = []
    if batch:
        client.delete(*batch)


def _is_oom(result: Any) -> bool:
    # redis-py turns "OOM command not allowed ..." into OutOfMemoryError and
    # drops the "OOM" prefix from the message.
    return isinstance(result, Exception) and (
        type(result).__name__ == "OutOfMemoryError" or "maxmemory" in str(result)
    )


def _evicted_total(client: Any) -> int:
    return int(client.info("stats")["evicted_keys"])


def _predict_hot_kept(policy: str, capacity: int, sizes: DemoSizes) -> int | None:
    """Replay the same requests through the simulator at the measured capacity."""
    sim = REDIS_TO_SIMULATOR[policy]
    if sim is None:
        return None
    trace = sizes.trace()
    # Redis's LFU counters decay per minute; the demo takes well under a second.
    params = {"decay_period_requests": 10**12} if sim == "redis-lfu" else {}
    cache = make_policy(sim, max(1, capacity), **params)
    cache.prepare(trace)
    cache.run(trace)
    return sum(1 for key in cache.cached_keys() if key < sizes.hot_keys)


def run_policy(
    client: Any,
    policy: str,
    sizes: DemoSizes = DEMO_SIZES,
    *,
    lru_pause_seconds: float = 1.1,
    prefix: str = _PREFIX,
) -> RedisRun:
    """Fill a real server under ``policy`` and count what survived (keys under ``prefix``).

    ``maxmemory`` is set to what the server already uses plus ``sizes.budget_bytes``,
    so the experiment behaves the same on an empty or a busy server.

    Redis's LRU clock ticks once a second, so keys touched within the same second
    look equally idle; under ``allkeys-lru`` the run pauses ``lru_pause_seconds``
    between reading the hot keys and writing the cold ones, as real traffic would.
    """
    check_choice("maxmemory-policy", policy, DEMO_POLICIES)
    hot_keys, cold_keys = sizes.hot_keys, sizes.cold_keys
    value = "x" * sizes.value_bytes
    hot = [f"{prefix}hot:{i}" for i in range(hot_keys)]
    cold = [f"{prefix}cold:{i}" for i in range(cold_keys)]
    _delete_demo_keys(client, prefix)
    limit = int(client.info("memory")["used_memory"]) + sizes.budget_bytes
    with redis_config(client, maxmemory=str(limit), maxmemory_policy=policy):
        evicted_before = _evicted_total(client)
        pipe = client.pipeline(transaction=False)
        for key in hot:
            pipe.set(key, value)
        pipe.execute()
        # Reads in small batches: replies wait in the server's output buffer, and
        # that memory counts against maxmemory too (a big batch would evict keys).
        for _ in range(sizes.reads_per_hot_key):
            for start in range(0, hot_keys, 100):
                pipe = client.pipeline(transaction=False)
                for key in hot[start : start + 100]:
                    pipe.get(key)
                pipe.execute()
        if policy == "allkeys-lru" and lru_pause_seconds > 0:
            time.sleep(lru_pause_seconds)
        oom_errors = 0
        for start in range(0, cold_keys, 250):
            pipe = client.pipeline(transaction=False)
            for key in cold[start : start + 250]:
                pipe.set(key, value)
            results = pipe.execute(raise_on_error=False)
            oom_errors += sum(1 for r in results if _is_oom(r))
        evicted = _evicted_total(client) - evicted_before
        hot_kept = sum(client.exists(*hot[i : i + 500]) for i in range(0, hot_keys, 500))
        cold_kept = sum(client.exists(*cold[i : i + 500]) for i in range(0, cold_keys, 500))
    _delete_demo_keys(client, prefix)
    capacity = hot_kept + cold_kept
    return RedisRun(
        policy=policy,
        hot_keys=hot_keys,
        hot_kept=int(hot_kept),
        keys_kept=int(capacity),
        evicted_keys=evicted,
        oom_errors=oom_errors,
        predicted_hot_kept=_predict_hot_kept(policy, capacity, sizes),
    )


@contextlib.contextmanager
def demo_server(store: Any = None) -> Iterator[tuple[Any, str] | str]:
    """Yield ``(client, description)`` for a server the lab may reconfigure, or a
    string saying why there is none.  Stops any server it started."""
    from ..redis_server import LocalRedis, redis_server_binary

    if redis_server_binary() is not None:
        import redis

        server = LocalRedis()
        client = redis.Redis.from_url(server.url, decode_responses=True, protocol=2)
        try:
            yield client, f"a throwaway redis-server on port {server.port}"
        finally:
            client.close()
            server.stop()
        return
    backend = getattr(store, "backend", None)
    if backend == "redis" and getattr(store, "lab_owned_server", False):
        yield store.client, f"the lab's own server {store.url}"
    elif backend == "redis":
        yield (
            "no redis-server program here, and your REDIS_URL server is yours: the lab never "
            "changes its maxmemory; install redis-server and the lab starts a throwaway one."
        )
    else:
        yield (
            "fakeredis accepts CONFIG SET maxmemory but never evicts, and no redis-server "
            "program is installed to start a real one; the simulator above shows the same effect."
        )


def real_eviction_demo(
    store: Any = None, *, policies: Sequence[str] = DEMO_POLICIES, sizes: DemoSizes = DEMO_SIZES
) -> RedisDemo:
    """Run :func:`run_policy` for each policy on a server the lab owns (see module doc)."""
    for policy in policies:
        check_choice("maxmemory-policy", policy, DEMO_POLICIES)
    with demo_server(store) as found:
        if isinstance(found, str):
            return RedisDemo(where="", skipped_reason=found)
        client, where = found
        try:
            client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure becomes one sentence
            raise LabError(f"The demo's Redis server did not answer ({exc}); re-run the cell.") from None
        demo = RedisDemo(where=where)
        # On a server shared with the notebook (Binder's), stay under the learner's prefix.
        prefix = _PREFIX if store is None or where.startswith("a throwaway") else store.prefix + "evict-demo:"
        for policy in policies:
            demo.runs.append(run_policy(client, policy, sizes, prefix=prefix))
        return demo
