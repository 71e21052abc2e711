"""Event-driven invalidation: in-process near caches behind a pub/sub bus.

A writer commits, deletes the shared copy and publishes the key on a channel
(:func:`write_and_publish`); every :class:`AppInstance` keeps a small
:class:`NearCache` and drops a key when it hears about it.  Redis pub/sub delivers
at most once: a message published while a subscriber is away is never delivered,
and a client library that reconnects on its own may not even say so.  The bus
numbers its messages (1, 2, 3, ...), so a near cache can notice a loss - a gap in
the numbers, or a reconnect - and flush itself (:class:`LossSafeNearCache`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..clock import Clock, VirtualClock
from ..database import Database, Row
from ..errors import LabError, check_positive, check_ttl
from ..metrics import StalenessMeter
from ..store import Store, Subscription, unexpired
from .race import cached_row, item_key

# In simulate_events instance C is away from (first write - 1 s) to (first write + 2 s).
DISCONNECTED_SECONDS = (-1.0, 2.0)


class NearCache:
    """A small in-process cache with a TTL on ``clock`` (oldest entry out when full).

    :meth:`on_invalidation` and :meth:`on_reconnect` are what an
    :class:`AppInstance` calls when a message arrives or its subscription comes
    back.  This plain near cache drops the named key and trusts that no message is
    ever lost; :class:`LossSafeNearCache` does not.
    """

    def __init__(self, clock: Clock, ttl_seconds: float, *, max_entries: int = 1000) -> None:
        ttl = check_ttl(ttl_seconds)
        if ttl is None:
            raise LabError("A near cache needs a TTL > 0 seconds: it is the backstop when a message is lost.")
        self.clock, self.ttl_seconds = clock, ttl
        self.max_entries = int(check_positive("max_entries", max_entries))
        self._entries: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.flushes = 0

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = unexpired(self._entries, key, self.clock.now())
            return None if entry is None else entry[0]

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (value, self.clock.now() + self.ttl_seconds)

    def drop(self, key: str) -> bool:
        with self._lock:
            return self._entries.pop(key, None) is not None

    def clear(self) -> int:
        """Forget every entry (a flush); returns how many there were."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self.flushes += 1
            return count

    def on_invalidation(self, seq: int, key: str) -> None:
        """Message number ``seq`` says ``key`` changed."""
        self.drop(key)

    def on_reconnect(self) -> None:
        """The subscription dropped and came back (this plain cache does nothing)."""

    def expires_at(self, key: str) -> float | None:
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def __len__(self) -> int:
        return len(self._entries)


class LossSafeNearCache(NearCache):
    """A near cache that stays correct when invalidations are lost.

    Messages are numbered 1, 2, 3, ...; a number that skips ahead means one or more
    were lost (or are late), and a reconnect means anything published meanwhile was
    lost.  Either way the cache cannot know which keys changed, so it flushes.
    """

    last_seq = 0  # the newest message number seen

    def on_invalidation(self, seq: int, key: str) -> None:
        if seq > self.last_seq + 1:  # numbers skipped: a message was lost
            self.clear()
        else:
            self.drop(key)
        self.last_seq = max(self.last_seq, seq)  # a late message never moves it back

    def on_reconnect(self) -> None:
        self.clear()


class InvalidationBus:
    """Publishes numbered "key changed" messages (``"<seq> <key>"``) on one pub/sub channel.

    The numbers run 1, 2, 3, ... per bus, so a subscriber can notice a gap (a lost
    message) and a demo can wait until every instance has seen everything published
    so far (:meth:`AppInstance.drain`).
    """

    def __init__(self, store: Store, channel: str = "invalidations") -> None:
        self.store, self.channel = store, channel
        self.published = 0
        self.closed = False
        self._lock = threading.Lock()

    def publish(self, key: str) -> int:
        """Announce that ``key`` changed; returns how many subscribers received it."""
        if self.closed:
            raise LabError("This invalidation bus is closed; make a new InvalidationBus(store) to publish again.")
        with self._lock:
            self.published += 1
            seq = self.published
        return self.store.publish(self.channel, f"{seq} {key}")

    def subscribe(self) -> Subscription:
        if self.closed:
            raise LabError("This invalidation bus is closed; make a new InvalidationBus(store) to subscribe.")
        return self.store.subscribe(self.channel)

    def close(self) -> None:
        self.closed = True


class AppInstance:
    """One app server: a near cache in front of the shared store, in front of the DB.

    It hears invalidations only when it calls :meth:`drain` (explicit polling: no
    background thread to leak).  :meth:`lose_next_messages` drops the next messages
    it receives, as a message lost in transit would be; :meth:`disconnect` and
    :meth:`reconnect` close and reopen its subscription for real, so whatever is
    published in between never reaches it.  ``near_cache`` picks the near cache's
    class (a :class:`NearCache` subclass, called with ``(clock, ttl_seconds)``).
    """

    def __init__(
        self,
        name: str,
        store: Store,
        db: Database,
        bus: InvalidationBus,
        *,
        clock: Clock | None = None,
        near_ttl_seconds: float = 20.0,
        shared_ttl_seconds: float = 300.0,
        near_cache: type[NearCache] = NearCache,
    ) -> None:
        self.name, self.store, self.db, self.bus = name, store, db, bus
        self.clock = clock or db.clock
        self.near = near_cache(self.clock, near_ttl_seconds)
        self.shared_ttl_seconds = check_ttl(shared_ttl_seconds, "shared_ttl_seconds")
        self.subscription: Subscription | None = bus.subscribe()
        self.last_seq = 0
        self._resubscribed_after = 0  # messages up to this number were published while away
        self._away_since = 0
        self.missed = 0  # messages published while disconnected
        self.applied = 0
        self.lost: list[str] = []
        self._to_lose = 0
        self.near_hits = self.shared_hits = self.db_reads = 0

    def read(self, row_id: int) -> Row:
        key = item_key(row_id)
        text = self.near.get(key)
        if text is not None:
            self.near_hits += 1
            return Row.from_cache(text)
        text = self.store.get(key)
        if cached_row(text) is not None:
            self.shared_hits += 1
        else:
            row = self.db.read(row_id)
            if row is None:
                raise LabError(f"Row {row_id} does not exist; use an id below {self.db.rows}.")
            self.db_reads += 1
            text = row.to_cache()
            self.store.set(key, text, ttl_seconds=self.shared_ttl_seconds)
        assert text is not None
        self.near.put(key, text)
        return Row.from_cache(text)

    def lose_next_messages(self, count: int = 1) -> None:
        self._to_lose += int(check_positive("count", count))

    @property
    def connected(self) -> bool:
        return self.subscription is not None

    def disconnect(self) -> None:
        """Drop the subscription (a restart, a network blip, a slow consumer cut off)."""
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
            self._away_since = self.bus.published

    def reconnect(self) -> None:
        """Subscribe again and tell the near cache: what was published meanwhile is lost."""
        if self.subscription is None:
            self.subscription = self.bus.subscribe()
            self._resubscribed_after = self.bus.published
            self.missed += self.bus.published - self._away_since
            self.near.on_reconnect()

    def drain(self, until_seq: int | None = None, timeout_seconds: float = 2.0) -> int:
        """Apply every invalidation that has arrived; with ``until_seq``, wait for that one too."""
        if self.subscription is None:
            return 0  # away: nothing arrives
        applied = 0
        deadline = time.monotonic() + timeout_seconds
        while True:
            waiting = until_seq is not None and max(self.last_seq, self._resubscribed_after) < until_seq
            wait = max(0.0, deadline - time.monotonic()) if waiting else 0.0
            message = self.subscription.get_message(wait)
            if message is None:
                if waiting and time.monotonic() < deadline:
                    continue
                return applied
            seq_text, _, key = message.partition(" ")
            seq = int(seq_text)
            self.last_seq = max(self.last_seq, seq)
            if self._to_lose:
                self._to_lose -= 1
                self.lost.append(key)
                continue
            self.near.on_invalidation(seq, key)
            self.applied += 1
            applied += 1

    def close(self) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        return f"<AppInstance {self.name} near={len(self.near)} applied={self.applied} lost={len(self.lost)}>"


def write_and_publish(store: Store, db: Database, bus: InvalidationBus, row_id: int, value: str) -> Row:
    """Commit, delete the shared copy, then tell every instance to drop its near copy."""
    if bus.closed:  # refuse before the DB changes, so nothing is left half-invalidated
        raise LabError("This invalidation bus is closed; make a new InvalidationBus(store) to publish again.")
    row = db.write(row_id, value)
    store.delete(item_key(row_id))
    bus.publish(item_key(row_id))
    return row


@dataclass
class EventRun:
    times: list[float]
    db_versions: list[int]
    served: dict[str, list[int]]
    stale_reads: dict[str, int]
    max_stale_age_seconds: dict[str, float]
    stale_until: dict[str, float | None]  # first fresh read after the lost message, per instance
    lost: dict[str, int]
    write_times: tuple[float, ...]
    near_ttl_seconds: float
    first_cached_at: float
    away: tuple[float, float] | None = None  # when the last instance was disconnected


def simulate_events(
    store: Store,
    *,
    near_ttl_seconds: float = 20.0,
    lose_message: bool = True,
    flush_on_loss: bool = False,
    instances: Sequence[str] = ("A", "B", "C"),
    seconds: float = 60.0,
    read_every_seconds: float = 1.0,
    write_times: Sequence[float] = (10.0, 40.0),
    row_id: int = 0,
) -> EventRun:
    """Instances read one key every second while a writer updates it; real pub/sub, virtual time.

    With ``lose_message`` the last instance is disconnected for real around the
    first write (:data:`DISCONNECTED_SECONDS`), so that message never reaches it.
    With ``flush_on_loss`` every instance runs a :class:`LossSafeNearCache`, which
    flushes when it reconnects (or sees a gap in the message numbers).
    """
    check_ttl(near_ttl_seconds, "near_ttl_seconds")
    check_positive("read_every_seconds", read_every_seconds, "s")
    clock = VirtualClock()
    db = Database(clock, rows=row_id + 1, latency_seconds=0.0)
    bus = InvalidationBus(store, "invalidations:sim")
    store.delete(item_key(row_id))
    near_cache = LossSafeNearCache if flush_on_loss else NearCache
    apps = [AppInstance(n, store, db, bus, clock=clock, near_ttl_seconds=near_ttl_seconds,
                        near_cache=near_cache) for n in instances]
    meters = {a.name: StalenessMeter(db) for a in apps}
    pending = sorted(write_times)
    run = EventRun([], [], {a.name: [] for a in apps}, {}, {}, {}, {}, tuple(pending), near_ttl_seconds, 0.0)
    first_write = pending[0] if pending else None
    away = (None if first_write is None or not lose_message
            else (first_write + DISCONNECTED_SECONDS[0], first_write + DISCONNECTED_SECONDS[1]))
    run.away = away
    try:
        steps = int(round(seconds / read_every_seconds))
        for i in range(1, steps + 1):
            t = i * read_every_seconds
            if away is not None:
                if away[0] <= t < away[1]:
                    apps[-1].disconnect()
                else:
                    apps[-1].reconnect()
            while pending and pending[0] <= t:
                clock.set(pending.pop(0))
                write_and_publish(store, db, bus, row_id, f"value at {clock.now():g} s")
            clock.set(t)
            run.times.append(t)
            run.db_versions.append(db.current_version(row_id))
            for app in apps:
                app.drain(until_seq=bus.published)
                row = app.read(row_id)
                run.served[app.name].append(row.version)
                meters[app.name].observe(row_id, row.version)
        run.first_cached_at = read_every_seconds
        for app in apps:
            run.stale_reads[app.name] = meters[app.name].stale_reads
            run.max_stale_age_seconds[app.name] = meters[app.name].max_stale_age_seconds
            run.lost[app.name] = len(app.lost) + app.missed
            run.stale_until[app.name] = _first_fresh_after(run, app.name, first_write)
    finally:
        for app in apps:
            app.close()
        bus.close()
        store.delete(item_key(row_id))
    return run


def _first_fresh_after(run: EventRun, name: str, since: float | None) -> float | None:
    """When ``name`` first served the newest version again after a stale stretch."""
    was_stale = False
    for t, db_v, served in zip(run.times, run.db_versions, run.served[name], strict=True):
        if since is None or t < since:
            continue
        if served < db_v:
            was_stale = True
        elif was_stale:
            return t
    return None

