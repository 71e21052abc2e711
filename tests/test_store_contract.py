"""The cache store contract, run unchanged on memory, fakeredis and real Redis."""

from __future__ import annotations

import math
import threading
import time

import pytest

import labkit
from labkit.errors import LabError


def test_set_get_delete_and_counters(store):
    assert store.get("user:1") is None
    assert store.set("user:1", "alice")
    assert store.get("user:1") == "alice"
    assert store.delete("user:1", "user:missing") == 1
    assert store.get("user:1") is None
    assert (store.stats.hits, store.stats.misses, store.stats.sets, store.stats.deletes) == (1, 2, 1, 1)
    assert store.stats.hit_ratio == pytest.approx(1 / 3)


def test_ttl_expires_on_the_store_clock(store):
    store.set("short", "v", ttl_seconds=0.15)
    store.set("forever", "v")
    assert 0 < store.ttl_seconds("short") <= 0.15
    assert store.ttl_seconds("forever") == math.inf
    assert store.ttl_seconds("missing") is None
    time.sleep(0.3)
    assert store.get("short") is None
    assert store.get("forever") == "v"


def test_set_nx_only_when_absent(store):
    assert store.set("lock", "a", ttl_seconds=5, nx=True)
    assert not store.set("lock", "b", ttl_seconds=5, nx=True)
    assert store.get("lock") == "a"


def test_compare_and_delete_never_frees_someone_elses_value(store):
    store.set("lock", "token-A")
    assert not store.compare_and_delete("lock", "token-B")
    assert store.get("lock") == "token-A"
    assert store.compare_and_delete("lock", "token-A")
    assert store.get("lock") is None


def test_compare_and_set(store):
    assert store.compare_and_set("k", None, "v1")          # only if absent
    assert not store.compare_and_set("k", None, "v2")
    assert not store.compare_and_set("k", "stale", "v3")
    assert store.compare_and_set("k", "v1", "v4", ttl_seconds=10)
    assert store.get("k") == "v4"
    assert 0 < store.ttl_seconds("k") <= 10


def test_incr_and_expire(store):
    assert store.incr("views") == 1
    assert store.incr("views", 5) == 6
    assert store.expire("views", 10)
    assert not store.expire("nope", 10)
    store.set("text", "abc")
    with pytest.raises(LabError, match="does not hold an integer"):
        store.incr("text")


def test_reset_removes_only_own_prefix(store):
    # A bystander's key on the same backend must survive the lab's reset.
    if store.backend == "memory":
        store._data["someone-elses-key"] = ("keep me", math.inf)
    else:
        other = labkit.connect(getattr(store, "url", "") or "fakeredis://", namespace="bystander", fallback=False)
        other.set("precious", "keep me")
    for i in range(1200):  # more than one SCAN batch
        store.set(f"k{i}", "x")
    assert store.reset() == 1200
    assert store.scan_keys() == []
    if store.backend == "memory":
        assert store._data["someone-elses-key"][0] == "keep me"
    else:
        assert other.get("precious") == "keep me"
        other.reset()


def test_scan_keys_returns_unprefixed_names(store):
    store.set("tenant:1:a", "x")
    store.set("tenant:1:b", "x")
    store.set("tenant:2:a", "x")
    assert sorted(store.scan_keys("tenant:1:*")) == ["tenant:1:a", "tenant:1:b"]


def test_publish_subscribe(store):
    sub = store.subscribe("invalidate")
    assert store.publish("invalidate", "user:42") == 1
    assert sub.get_message(timeout_seconds=2) == "user:42"
    assert sub.get_message(timeout_seconds=0.05) is None
    sub.close()
    with pytest.raises(LabError, match="closed"):
        sub.get_message()


@pytest.mark.parametrize("bad", [0, -5, "ten", float("nan")])
def test_bad_ttl_is_one_clear_sentence(store, bad):
    with pytest.raises(LabError) as err:
        store.set("k", "v", ttl_seconds=bad)
    msg = str(err.value)
    assert "ttl_seconds must be > 0" in msg and "None for no expiry" in msg
    assert msg.count("\n") == 0


def test_bad_key(store):
    with pytest.raises(LabError, match="non-empty string"):
        store.get("")


def test_concurrent_set_nx_has_exactly_one_winner(store):
    winners = []
    barrier = threading.Barrier(20)

    def contend(i):
        barrier.wait()
        if store.set("lock:hot", f"t{i}", ttl_seconds=5, nx=True):
            winners.append(i)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.get("lock:hot") == f"t{winners[0]}"
