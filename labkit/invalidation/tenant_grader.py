"""Grading notebook 02's invalidate-tenant: ``invalidate_tenant(store, tenant_id)``.

It must make one tenant's keys unreachable with no SCAN (the commands are recorded),
leave other tenants alone, keep two invalidations two when another lands in the
middle of it, and never bring back the keys of generations retired before - for
whichever tenant it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import invalidation  # the reference is written as a learner writes it
from ..errors import LabError
from ..exercises import Scenario, Verdict
from ..store import Store
from ..wrappers import RecordingStore, StoreWrapper
from .versioned import VersionedNamespace, scan_and_delete


def _callable(answer: Any, name: str) -> None:
    if not callable(answer):
        raise LabError(f"Pass your function itself, e.g. ex.check({name}) (no parentheses).")


def _short(text: Any, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Interrupted(StoreWrapper):
    """Runs ``meanwhile`` once: right after the first read of ``key``, or before the first
    write to it if it is never read (an atomic INCR leaves no gap to land in)."""

    def __init__(self, inner: Store, key: str, meanwhile: Callable[[], None]) -> None:
        super().__init__(inner)
        self._key, self._meanwhile = key, meanwhile

    def _run_once(self) -> None:
        meanwhile, self._meanwhile = self._meanwhile, None
        if meanwhile is not None:
            meanwhile()

    def get(self, key):
        value = self.inner.get(key)
        if key == self._key:
            self._run_once()
        return value

    def set(self, key, value, ttl_seconds=None, *, nx=False):
        if key == self._key:
            self._run_once()
        return self.inner.set(key, value, ttl_seconds, nx=nx)

    def incr(self, key, amount=1):
        if key == self._key:
            self._run_once()
        return self.inner.incr(key, amount)

    def delete(self, *keys):
        if self._key in keys:
            self._run_once()
        return self.inner.delete(*keys)


def tenant_scenarios(store: Store) -> list[Scenario]:
    def in_a_clean_keyspace(fn: Callable[..., Any], replay: Callable[..., Verdict]) -> Verdict:
        _callable(fn, "invalidate_tenant")
        try:
            return replay(fn)
        finally:
            for name in ("tenant:7", "tenant:8"):
                scan_and_delete(store, f"{name}:*")

    def two_tenants(fn: Callable[..., Any]) -> Verdict:
        seven, eight = VersionedNamespace(store, "tenant:7"), VersionedNamespace(store, "tenant:8")
        seven.bump()  # invalidated once before: generation 1
        for ns in (seven, eight):
            ns.fill(200)
        log = RecordingStore(store)
        fn(log, 7)
        commands = [{"command": r["command"], "key": _short(r["key"]), "result": r["result"]} for r in log.log]
        if any(r["command"] == "scan_keys" for r in commands):
            return Verdict(False, "your function scans the keyspace; the point is to invalidate without SCAN.",
                           commands[:8])
        if seven.get("item:0") is not None or seven.get("item:199") is not None:
            return Verdict(False, f"tenant 7's keys are still reachable through VersionedNamespace(store, "
                                  f"'tenant:7'): its generation is still {seven.generation()}, so your commands "
                                  "changed nothing its keys are built from - it leaves the keys reachable.",
                           commands[:8] or None)
        if eight.get("item:0") is None:
            return Verdict(False, "tenant 8's keys became unreachable too: it invalidates other tenants; "
                                  "invalidate only tenant 7.", commands[:8])
        return Verdict(True, f"tenant 7's 200 keys unreachable after {len(commands)} command(s), no SCAN")

    def two_at_once(fn: Callable[..., Any]) -> Verdict:
        seven = VersionedNamespace(store, "tenant:7")
        seven.set("item:0", "cached before both invalidations")
        rows: list[dict[str, Any]] = []

        def another_invalidation_and_a_refill() -> None:
            seven.bump()
            seven.set("item:0", "cached between the two invalidations")
            rows.append({"who": "another invalidation", "did": f"INCR tenant:7:gen -> {seven.generation()}"})
            rows.append({"who": "a reader", "did": f"cached item:0 at generation {seven.generation()}"})

        log = RecordingStore(_Interrupted(store, seven.generation_key, another_invalidation_and_a_refill))
        fn(log, 7)
        rows[:0] = [{"who": "your call", "did": f"{r['command']} {r['key']} -> {_short(r['result'])}"}
                    for r in log.log]
        still, generation = seven.get("item:0"), seven.generation()
        if still is None:
            return Verdict(True, "two overlapping invalidations moved the generation twice")
        if generation < 1:
            return Verdict(False, f"another invalidation of tenant 7 landed in the middle of yours and moved the "
                                  f"generation to 1; after yours it is {generation} and item:0 reads {still!r} - "
                                  "it resets the generation, so retired keys come back. Move it forward.", rows)
        return Verdict(False, f"another invalidation of tenant 7 landed in the middle of yours; afterwards the "
                              f"generation is {generation}, not 2, and item:0 still reads {still!r}: the other "
                              "bump was lost between your read of the generation and your write of it - a "
                              "read-modify-write of the generation. One INCR is atomic.", rows)

    def tenant_8_invalidated_before(fn: Callable[..., Any]) -> Verdict:
        seven, eight = VersionedNamespace(store, "tenant:7"), VersionedNamespace(store, "tenant:8")
        eight.set("item:0", "an old value, retired by earlier invalidations")
        for _ in range(3):
            eight.bump()
        for ns in (seven, eight):
            ns.set("item:0", "the current value")
        fn(store, 8)
        back, generation = eight.get("item:0"), eight.generation()
        if back is not None and generation < 3:
            return Verdict(False, f"tenant 8 was at generation 3, with generation 0's keys not yet expired; after "
                                  f"your call its generation is {generation} and item:0 reads {back!r} - it resets "
                                  "the generation, so retired keys come back. Move the counter forward, never back.")
        if back is not None:
            other = "" if seven.get("item:0") is not None else (
                " while tenant 7's became unreachable: it invalidates other tenants (the tenant_id you were given, "
                "not the 7 of the example)")
            return Verdict(False, f"asked to invalidate tenant 8, tenant 8's item:0 still reads {back!r}{other}.")
        if seven.get("item:0") is None:
            return Verdict(False, "asked to invalidate tenant 8, tenant 7's keys became unreachable too: it "
                                  "invalidates other tenants.")
        return Verdict(True, "tenant 8 invalidated, its old generations stay retired, tenant 7 untouched")

    return [Scenario(name, lambda fn, replay=replay: in_a_clean_keyspace(fn, replay)) for name, replay in (
        ("tenant 7 of two tenants", two_tenants), ("two invalidations at once", two_at_once),
        ("tenant 8, invalidated before", tenant_8_invalidated_before))]


def invalidate_tenant(store, tenant_id):
    """Make every key of one tenant unreachable: one INCR of its generation, no SCAN."""
    invalidation.VersionedNamespace(store, f"tenant:{tenant_id}").bump()


def _tenant_by_scan(store, tenant_id):
    scan_and_delete(store, f"tenant:{tenant_id}:v*")


def _tenant_wrong_counter(store, tenant_id):
    store.incr(f"tenant:{tenant_id}:generation")  # not the counter the keys are built from


def _the_example_tenant(store, tenant_id):
    VersionedNamespace(store, "tenant:7").bump()  # the tenant of the example, whatever was asked


def _tenant_get_then_set(store, tenant_id):
    ns = VersionedNamespace(store, f"tenant:{tenant_id}")
    store.set(ns.generation_key, str(ns.generation() + 1))


def _tenant_deletes_the_counter(store, tenant_id):
    store.delete(f"tenant:{tenant_id}:gen")


def _tenant_incr_by_key(store, tenant_id):
    store.incr(f"tenant:{tenant_id}:gen")


def _tenant_incr_by_name(store, tenant_id):
    namespace = VersionedNamespace(store, "tenant:" + str(tenant_id))
    store.incr(namespace.generation_key, 1)


TENANT_MISTAKES = {
    "scans the keyspace": _tenant_by_scan, "leaves the keys reachable": _tenant_wrong_counter,
    "invalidates other tenants": _the_example_tenant, "read-modify-write of the generation": _tenant_get_then_set,
    "resets the generation": _tenant_deletes_the_counter,
}
TENANT_ALTERNATIVES = {"INCR the generation key": _tenant_incr_by_key,
                       "INCR through the namespace's key": _tenant_incr_by_name}
