"""The cache lock: one reader refreshes an expired value while the others wait.

The common recipe takes the lock with ``SET NX`` and a TTL and frees it with a plain
``DEL``.  That ``DEL`` frees *whoever holds the lock now*: when the lock expired
while its holder's query still ran, a newer holder's lock goes with it.  The
correct lock stores a token only its holder knows and deletes the lock only while
it still holds that token, in one atomic command; a :class:`Lease` renews it while
the work runs, so a slow query never outlives it.

>>> from labkit.clock import VirtualClock
>>> from labkit.store import MemoryStore
>>> store = MemoryStore(VirtualClock())
>>> mine = acquire_lock(store, "lock:item:7", ttl_seconds=1.0)
>>> acquire_lock(store, "lock:item:7", ttl_seconds=1.0) is None   # taken: wait or serve stale
True
>>> release_lock(store, "lock:item:7", "someone-else's-token")    # never frees another's lock
False
>>> release_lock(store, "lock:item:7", mine)
True
"""

from __future__ import annotations

import uuid
from typing import Any

from ..store import Store

__all__ = ["acquire_lock", "release_lock", "naive_acquire", "naive_release", "Lease"]


def acquire_lock(store: Store, lock_key: str, ttl_seconds: float) -> str | None:
    """SET NX PX with a token only this caller knows; the token, or None if taken."""
    token = uuid.uuid4().hex
    return token if store.set(lock_key, token, ttl_seconds=ttl_seconds, nx=True) else None


def release_lock(store: Store, lock_key: str, token: str) -> bool:
    """Delete the lock only if it still holds our token (atomic compare-and-delete)."""
    return store.compare_and_delete(lock_key, token)


def naive_acquire(store: Store, lock_key: str, ttl_seconds: float) -> str | None:
    """The common recipe's acquireLock: SET NX with a TTL.

    It stores a token only so the lab can see whose lock a release removed; the
    naive release below never looks at it.
    """
    token = uuid.uuid4().hex
    return token if store.set(lock_key, token, ttl_seconds=ttl_seconds, nx=True) else None


def naive_release(store: Store, lock_key: str, token: str) -> None:
    """The common recipe's releaseLock: an unconditional DEL - it frees whoever holds the lock now."""
    store.delete(lock_key)


class Lease:
    """Hold a lock while work runs: renew it every third of its TTL, release it after.

    Renewal is a compare-and-set of our own token, so a lease that was lost (the
    process paused longer than the TTL and someone else took the lock) is never
    renewed over the new holder.  The TTL then only bounds how long a *crashed*
    holder blocks others, not how long a slow refresh may take.  The renewals run
    on a thread from the store's clock (a real one live, a virtual one in a preview).
    """

    def __init__(self, store: Store, lock_key: str, token: str, ttl_seconds: float) -> None:
        self.store, self.lock_key, self.token = store, lock_key, token
        self.ttl_seconds = ttl_seconds
        self.lost = False
        self._done = store.clock.event()
        self._thread: Any = None

    def _renew(self) -> None:
        while not self._done.wait(self.ttl_seconds / 3):
            if not self.store.compare_and_set(self.lock_key, self.token, self.token, self.ttl_seconds):
                self.lost = True
                return

    def __enter__(self) -> Lease:
        self._thread = self.store.clock.start(self._renew)
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        release_lock(self.store, self.lock_key, self.token)
