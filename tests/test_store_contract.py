"""The cache store contract, run unchanged on memory, fakeredis and real Redis."""

from __future__ import annotations

import math
import threading
import time
import uuid

import numpy as np
import pytest

import labkit
from labkit.errors import LabError
from labkit.store import MemoryStore, unversioned, versioned
from labkit.wrappers import RecordingStore, StoreWrapper


@pytest.fixture(params=["memory", "fakeredis", "redis", "wrapped"])
def store(request):
    """The contract's three backends, plus a RecordingStore over fakeredis (a wrapper
    must honour the whole contract too)."""
    kind = request.param
    namespace = "test-" + uuid.uuid4().hex[:10]
    if kind == "memory":
        s = MemoryStore(namespace=namespace)
    elif kind == "fakeredis":
        s = labkit.connect("fakeredis://", namespace=namespace)
    elif kind == "wrapped":
        s = RecordingStore(labkit.connect("fakeredis://", namespace=namespace))
    else:
        s = labkit.connect(request.getfixturevalue("redis_url"), namespace=namespace, fallback=False)
    yield s
    s.reset()


def test_set_get_delete_and_counters(store):
    assert store.get("user:1") is None
    assert store.set("user:1", "alice")
    assert store.get("user:1") == "alice"
    assert store.delete("user:1", "user:missing") == 1
    assert store.get("user:1") is None
    assert (store.stats.hits, store.stats.misses, store.stats.sets, store.stats.deletes) == (1, 2, 1, 1)
    assert store.stats.hit_ratio == pytest.approx(1 / 3)


def test_ttl_expires_on_the_store_clock(store):
    # The read-back uses a TTL a stalled test process cannot outlive (a busy machine
    # may pause it for a second); expiry itself is checked on a short TTL after a
    # sleep, which a loaded machine can only lengthen.
    store.set("read-back", "v", ttl_seconds=30)
    store.set("short", "v", ttl_seconds=0.15)
    store.set("forever", "v")
    assert 25 < store.ttl_seconds("read-back") <= 30
    assert store.ttl_seconds("forever") == math.inf
    assert store.ttl_seconds("missing") is None
    time.sleep(0.3)
    assert store.get("short") is None and store.ttl_seconds("short") is None
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
    assert 5 < store.ttl_seconds("k") <= 10


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
        url = getattr(store, "url", "") or "fakeredis://"
        other = labkit.connect(url, namespace=store.namespace, learner="bystander", fallback=False)
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


# -- bad input: one sentence, the same on every backend ----------------------------------


@pytest.mark.parametrize("bad", [math.inf, -math.inf, float("nan"), 1e300])
def test_infinite_nan_or_absurd_ttl_is_one_sentence(store, bad):
    for call in (lambda: store.set("k", "v", ttl_seconds=bad), lambda: store.expire("k", bad),
                 lambda: store.compare_and_set("k", None, "v", ttl_seconds=bad),
                 lambda: store.set_if_newer("k", "v", 1, ttl_seconds=bad)):
        with pytest.raises(LabError) as err:
            call()
        msg = str(err.value)
        assert "ttl_seconds must be > 0" in msg and "Use None for no expiry" in msg and "\n" not in msg
    assert store.get("k") is None


def test_none_is_refused_with_how_to_cache_not_found(store):
    messages = set()
    for call in (lambda: store.set("k", None), lambda: store.compare_and_set("k", None, None),
                 lambda: store.set_if_newer("k", None, 1)):
        with pytest.raises(LabError) as err:
            call()
        messages.add(str(err.value).replace("payload", "value"))
    (msg,) = messages
    assert "cannot store None" in msg and "'<not-found>'" in msg and "short ttl_seconds" in msg
    assert store.get("k") is None


@pytest.mark.parametrize("bad", [1.5, np.float64(2.0), "3", True, None])
def test_incr_refuses_anything_but_a_whole_number(store, bad):
    store.incr("n", 2)
    with pytest.raises(LabError) as err:
        store.incr("n", bad)
    assert str(err.value) == (
        f"incr() amount must be a whole number (got {bad!r}); to count fractions, "
        "count a smaller unit (for example milliseconds) in whole numbers."
    )
    assert store.get("n") == "2"


def test_numpy_numbers_are_accepted_as_ttls_and_amounts(store):
    assert store.set("k", "v", ttl_seconds=np.int64(20))
    assert 15 < store.ttl_seconds("k") <= 20
    assert store.set("short", "v", ttl_seconds=np.float64(0.5))
    assert store.expire("k", np.float32(30.0))
    assert store.incr("n", np.int64(5)) == 5
    assert store.incr("n", np.int32(-2)) == 3
    assert store.set("numpy-value", np.int64(7)) and store.get("numpy-value") == "7"


def test_bad_input_reads_the_same_on_every_backend(store):
    """The exact sentences, so a backend that words them differently fails here."""
    cases = {
        lambda: store.set("k", "v", ttl_seconds=math.inf): "ttl_seconds must be > 0 seconds (got inf). "
        "Use None for no expiry.",
        lambda: store.set("k", None): "A cache cannot store None as the value; to cache 'not found' on purpose, "
        "store a sentinel such as '<not-found>' with a short ttl_seconds.",
        lambda: store.set_if_newer("k", "v", -1): "version must be a whole number >= 0, such as a row's version "
        "(got -1).",
    }
    for call, sentence in cases.items():
        with pytest.raises(LabError) as err:
            call()
        assert str(err.value) == sentence


# -- set_if_newer: the one version-guarded write ---------------------------------------------


def test_versioned_text_round_trips():
    assert versioned("alice", 3) == "3|alice"
    assert unversioned("3|alice") == (3, "alice")
    assert unversioned("12|a|b") == (12, "a|b")          # the payload may hold '|'
    assert unversioned("lease:abc") == (None, "lease:abc")
    assert unversioned("-1|x") == (None, "-1|x")


def test_set_if_newer_newer_wins_older_and_equal_are_refused(store):
    assert store.set_if_newer("row:1", "v3", 3)
    assert store.get("row:1") == "3|v3"
    assert not store.set_if_newer("row:1", "v2", 2)        # older: a slow writer arriving late
    assert not store.set_if_newer("row:1", "v3 again", 3)  # equal: nothing new
    assert store.get("row:1") == "3|v3"
    assert store.set_if_newer("row:1", "v10", 10)          # numeric, not text, order
    assert unversioned(store.get("row:1")) == (10, "v10")
    assert not store.set_if_newer("row:1", "v9", 9)
    assert store.stats.sets == 2


def test_set_if_newer_overwrites_a_value_without_a_version(store):
    store.set("row:2", "lease:token-123", ttl_seconds=5)   # a placeholder, not a row
    assert store.set_if_newer("row:2", "v1", 1)
    assert store.get("row:2") == "1|v1"
    store.set("row:3", "plain")
    assert store.set_if_newer("row:3", "v0", 0)


def test_set_if_newer_applies_the_ttl(store):
    assert store.set_if_newer("row:4", "v1", 1, ttl_seconds=20)
    assert 15 < store.ttl_seconds("row:4") <= 20
    assert store.set_if_newer("row:4", "v2", 2)              # no TTL: kept forever
    assert store.ttl_seconds("row:4") == math.inf
    assert store.set_if_newer("row:4", "v3", np.int64(3), ttl_seconds=np.float64(0.2))
    time.sleep(0.35)
    assert store.get("row:4") is None
    assert store.set_if_newer("row:4", "v1", 1)              # expired: absent again


@pytest.mark.parametrize("bad", [1.5, "2", True, None, -3])
def test_set_if_newer_needs_a_whole_version(store, bad):
    with pytest.raises(LabError, match="version must be a whole number >= 0"):
        store.set_if_newer("row:5", "v", bad)


def test_concurrent_versioned_writers_end_with_the_highest_version(store):
    versions = list(range(1, 41))
    barrier = threading.Barrier(len(versions))
    stored = []

    def write(version):
        barrier.wait()
        if store.set_if_newer("row:hot", f"v{version}", version):
            stored.append(version)

    threads = [threading.Thread(target=write, args=(v,)) for v in reversed(versions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert unversioned(store.get("row:hot")) == (40, "v40")
    assert 40 in stored and store.stats.sets == len(stored)  # the newest always lands; refused ones wrote nothing


# -- wrappers --------------------------------------------------------------------------------


def test_a_wrapper_shares_the_inner_stores_state():
    inner = labkit.connect("fakeredis://", namespace="wrap-" + uuid.uuid4().hex[:8])
    wrapped = StoreWrapper(inner)
    assert (wrapped.prefix, wrapped.namespace, wrapped.backend, wrapped.clock) == (
        inner.prefix, inner.namespace, inner.backend, inner.clock)
    wrapped.set("a", "1")
    assert inner.get("a") == "1" and wrapped.stats is inner.stats and inner.stats.sets == 1
    wrapped.reset()
    assert inner.scan_keys() == [] and wrapped.stats is inner.stats and wrapped.client is inner.client


def test_a_wrapper_subclass_changes_only_what_it_overrides():
    class DropsDeletes(StoreWrapper):
        def delete(self, *keys):
            return 0  # a lost invalidation

    store = DropsDeletes(MemoryStore(namespace="wrap-drop"))
    store.set("user:1", "old")
    assert store.delete("user:1") == 0 and store.get("user:1") == "old"
    assert store.set_if_newer("user:2", "v", 1) and store.get("user:2") == "1|v"


def test_recording_store_logs_every_command_as_rows():
    store = RecordingStore(MemoryStore(namespace="wrap-log"))
    store.get("user:1")
    store.set("user:1", "alice", ttl_seconds=30)
    store.set_if_newer("user:1", "bob", 2)
    store.delete("user:1")
    assert [row["command"] for row in store.log] == ["get", "set", "set_if_newer", "delete"]
    assert store.log[0] == {"time": store.log[0]["time"], "command": "get", "key": "user:1", "args": "",
                            "result": "None"}
    assert store.commands("set")[0]["args"] == "value=alice ttl_seconds=30"
    assert store.commands("set_if_newer")[0]["result"] == "True"
    store.clear()
    assert store.log == []
