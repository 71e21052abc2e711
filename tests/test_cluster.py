"""Notebook 09: a real Redis Cluster, simulated shards, and the lessons they teach.

The fast tests run the engine on simulated shards (virtual clock).  The tests marked
``redis_server`` start one local cluster for this module and check the same facts on
it - the slot counts must come out identical, since both route keys with Redis's own
slot function - then that every process it started is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import labkit
from labkit.clock import VirtualClock
from labkit.cluster import experiments as ex
from labkit.cluster import rehash
from labkit.cluster.checks import copies_needed
from labkit.cluster.failover import CACHE_TTL_SECONDS, CACHED_VALUE
from labkit.cluster.local import NODE_TIMEOUT_MS
from labkit.cluster.race import FILLS, replica_fill_race
from labkit.cluster.real import migrate_slots
from labkit.cluster.routing import ReadYourWrites
from labkit.cluster.shards import FAIL_SECONDS, FAILOVER_SECONDS, ClusterUnavailable, SimulatedCluster
from labkit.cluster.slots import SLOTS, hash_tag, key_slot, slot_ranges
from labkit.errors import LabError
from labkit.redis_server import redis_server_binary

PREFIX = "labkit:test-learner:09:"


def sim() -> SimulatedCluster:
    return SimulatedCluster(3, 1, clock=VirtualClock())


# ---------------------------------------------------------------------------------
# Slots and hash tags
# ---------------------------------------------------------------------------------

def test_key_slot_is_redis_crc16_with_hash_tags():
    assert key_slot("foo") == 12182  # the example in the Redis Cluster specification
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers") == key_slot("user1000")
    assert key_slot("foo{}{bar}") == key_slot(b"foo{}{bar}") != key_slot("bar")  # empty tag: whole key
    assert key_slot("foo{{bar}}zap") == key_slot("{bar")  # the first '{' to the first '}'
    assert hash_tag("labkit:a:09:{user:42}:cart") == "user:42" and hash_tag("user:42") is None


def test_slot_ranges_cover_every_slot_once():
    for masters in (1, 3, 4, 7):
        ranges = slot_ranges(masters)
        covered = [s for first, last in ranges for s in range(first, last + 1)]
        assert covered == list(range(SLOTS))
        sizes = [last - first + 1 for first, last in ranges]
        assert max(sizes) - min(sizes) <= 1


def test_the_prefix_does_not_move_a_tagged_key():
    a = sim().node_for("labkit:alice:09:{user:42}:name").port
    b = sim().node_for("labkit:bob:09:{user:42}:name").port
    assert a == b


def test_crossslot_is_refused_and_a_shared_tag_fixes_it():
    cluster = sim()
    refused = ex.crossslot_demo(cluster, PREFIX, ["user:42:name", "user:42:email"])
    fixed = ex.crossslot_demo(cluster, PREFIX, ["{user:42}:name", "{user:42}:email"])
    assert "CROSSSLOT" in refused
    assert fixed.endswith("['1', '1']")


# ---------------------------------------------------------------------------------
# Adding a node
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("nodes", [1, 2, 3, 5, 9])
def test_keys_moved_match_the_formulas(nodes):
    assert abs(rehash.moved_share("modulo", nodes) - nodes / (nodes + 1)) <= 0.02
    assert abs(rehash.moved_share("hash slots", nodes) - 1 / (nodes + 1)) <= 0.02
    assert abs(rehash.moved_share("consistent hashing", nodes, vnodes=160) - 1 / (nodes + 1)) <= 0.06
    assert abs(rehash.moved_share("rendezvous", nodes) - 1 / (nodes + 1)) <= 0.02
    assert abs(rehash.moved_share("jump", nodes) - 1 / (nodes + 1)) <= 0.02


def test_jump_hash_gives_the_published_buckets():
    # Test vectors of the reference implementation (Lamping and Veach's algorithm, as in go-jump).
    assert [rehash.jump_hash(k, n) for k, n in ((1, 1), (42, 57), (0xDEAD10CC, 666), (256, 1024))] == [0, 43, 361, 520]


def test_jump_and_rendezvous_only_move_keys_to_the_newcomer():
    for scheme in ("jump", "rendezvous"):
        before = rehash._owners(scheme, 4, 10_000, 0, False)
        after = rehash._owners(scheme, 4, 10_000, 0, True)
        assert set(after[before != after]) == {4}, scheme  # a moved key goes to node 5, never between old nodes


def test_load_spread_tells_one_ring_point_from_many():
    assert rehash.load_spread("consistent hashing", 4, vnodes=1) > 1.5
    assert rehash.load_spread("consistent hashing", 4, vnodes=160) < 1.3
    assert rehash.load_spread("rendezvous", 4) < 1.08 and rehash.load_spread("hash slots", 4) < 1.02


def test_rebalancing_gives_the_newcomer_its_share_of_slots():
    owners = rehash.rebalanced_owners(3)
    assert owners.count(3) == SLOTS // 4
    counts = [owners.count(i) for i in range(4)]
    assert sum(counts) == SLOTS and max(counts) - min(counts) <= 2


def test_the_miss_storm_belongs_to_client_side_sharding():
    modulo, ring = rehash.miss_storm("modulo", 3), rehash.miss_storm("consistent hashing", 3)
    cluster = rehash.miss_storm("redis cluster", 3)
    assert modulo[:20].sum() == ring[:20].sum() == 0  # nothing before the join
    assert modulo.sum() > 2 * ring.sum() > 0
    assert cluster.sum() == 0
    assert modulo.argmax() == 20  # the storm peaks the second the node joins


def test_resharding_moves_a_quarter_of_the_keys_and_counts_redirects():
    cluster = sim()
    result = ex.reshard(cluster, PREFIX)
    assert result.reads_correct == 2 * result.keys  # every read, mid-move and after, right
    assert abs(result.moved_share - 1 / 4) <= 0.02
    assert result.slots_moved == SLOTS // 4
    newcomer = cluster.masters[-1]
    keys = [f"{PREFIX}{{user:{i // 4}}}:{ex.USER_FIELDS[i % 4]}" for i in range(result.keys)]
    moved = [k for k in keys if cluster.node_for(k) is newcomer]
    assert sorted(moved) == sorted(result.moved_keys) and len(moved) == result.keys_moved
    slots = sorted({key_slot(k) for k in moved})
    # After the handover: one MOVED per slot the old map got wrong (not one per key), then the map is right.
    assert result.moved_redirects == len(slots) < len(moved)
    # Mid-way the keys of the first half of those slots had left: one ASK each, every time.
    first_half = set(slots[: len(slots) // 2])
    assert result.ask_redirects == sum(key_slot(k) in first_half for k in moved) > 0


def test_adding_a_node_on_a_cluster_the_lab_does_not_own_is_refused():
    from labkit.cluster.real import RealCluster

    fake = RealCluster.__new__(RealCluster)
    fake.local = None
    with pytest.raises(LabError, match="only changes a cluster it started"):
        fake.add_master()


# ---------------------------------------------------------------------------------
# The hot key
# ---------------------------------------------------------------------------------

def test_one_master_serves_the_hot_key_and_the_fixes_spread_it():
    cluster = sim()
    none = ex.hot_key_load(cluster, PREFIX, fix="none")
    near = ex.hot_key_load(cluster, PREFIX, fix="near cache")
    copies = ex.hot_key_load(cluster, PREFIX, fix="copies", copies=6)
    assert sum(none.counts.values()) == none.requests  # one GET per read, counted by the node
    assert none.hot_node_share >= 0.5 and none.hot_key_share >= 0.2
    assert near.near_hits >= 0.9 * near.requests
    assert sum(near.counts.values()) == near.requests - near.near_hits  # only misses reach a node
    assert near.hot_node_share <= 0.4
    assert copies.writes_per_update == 6 and copies.hot_node_share < none.hot_node_share - 0.05


def test_the_near_cache_drops_a_key_when_the_node_says_it_changed():
    from labkit.cluster.tracking import NearCache

    cluster = sim()
    key = ex.product_key(PREFIX, 0)
    cluster.set(key, "v1")
    with NearCache(cluster) as near:
        assert near.get(key) == "v1" and near.get(key) == "v1"
        assert (near.hits, near.misses) == (1, 1)
        cluster.set(key, "v2")
        assert near.get(key) == "v2"  # not the stale v1
        assert near.invalidations == 1 and near.misses == 2


def test_hot_key_rejects_an_unknown_fix():
    with pytest.raises(LabError, match="Unknown fix"):
        ex.hot_key_load(sim(), PREFIX, fix="bigger server")


# ---------------------------------------------------------------------------------
# Replicas, WAIT, read-your-writes
# ---------------------------------------------------------------------------------

def test_a_lagging_replica_serves_old_values_and_read_your_writes_does_not():
    run = ex.replica_reads(sim(), PREFIX, lag_seconds=0.3)
    assert run.stale_reads["replica"] == 6  # the three reloads inside the lag, in each of 2 rounds
    assert run.stale_reads["read-your-writes"] == run.stale_reads["primary"] == 0
    assert run.primary_reads["replica"] == 0
    assert run.primary_reads["read-your-writes"] == 6  # the reload after the window went to the replica
    late = [r for r in run.timeline if r["policy"] == "read-your-writes" and r["t (s)"] > 0.6]
    assert late and all(r["read from"] == "replica" and not r["stale"] for r in late)


def test_the_window_must_outlast_the_lag():
    with pytest.raises(LabError, match="longer than the lag"):
        ex.replica_reads(sim(), PREFIX, lag_seconds=0.5, window_seconds=0.2)


def test_wait_reports_the_replica_only_once_it_has_the_write():
    rows = ex.wait_demo(sim(), PREFIX, lag_seconds=0.3)
    assert [r["WAIT 1 100 ms answered"] for r in rows] == [0, 1]
    assert [r["replica holds"] for r in rows] == ["v0", "v1"]


def test_router_reference():
    clock = VirtualClock()
    router = ReadYourWrites(clock, 1.0)
    assert router.route("a") == "replica"
    router.wrote("a")
    clock.advance(0.9)
    assert router.route("a") == "primary" and router.route("b") == "replica"
    clock.advance(0.2)
    assert router.route("a") == "replica"


def test_refilling_from_a_lagging_db_replica_restores_the_old_row():
    runs = {fill: replica_fill_race(fill) for fill in FILLS}
    assert runs["from the replica"].stale_reads == runs["from the replica"].reads > 50
    assert runs["from the primary"].stale_reads == 0
    assert runs["from the replica + delete again after the lag"].stale_reads == 0


# ---------------------------------------------------------------------------------
# Failover
# ---------------------------------------------------------------------------------

def test_failover_errors_then_recovers_and_loses_the_unreplicated_writes():
    result = ex.failover(sim(), PREFIX, replicated=80, unreplicated=20)
    assert result.recovered and result.recovered_after_seconds == pytest.approx(FAILOVER_SECONDS, abs=0.06)
    crashed = result.probes[result.crashed]
    # The crashed master's keys: no answer until the others mark it FAIL, then CLUSTERDOWN.
    assert result.refused(result.crashed, "no answer") == pytest.approx(FAIL_SECONDS / 0.05, abs=2)
    assert crashed[-1][1] == "ok"
    for name in result.survivors:  # every other master: fine, then CLUSTERDOWN until the promotion
        states = [s for _, s in result.probes[name]]
        first_down = states.index("CLUSTERDOWN")
        assert set(states[:first_down]) == {"ok"} and states[-1] == "ok"
        assert result.probes[name][first_down][0] == pytest.approx(FAIL_SECONDS, abs=0.06)
        assert result.down_seconds(name) == pytest.approx(FAILOVER_SECONDS - FAIL_SECONDS, abs=0.1)
    assert result.lost_writes == 20  # exactly the acknowledged writes the replica had not applied
    assert result.delete_undone and result.deleted_ttl_after == CACHE_TTL_SECONDS - round(FAILOVER_SECONDS)


def test_a_dead_master_without_a_replica_stays_down():
    cluster = SimulatedCluster(1, 0, clock=VirtualClock())
    cluster.set("k", "v")
    cluster.crash(cluster.masters[0])
    cluster.clock.advance(60)
    with pytest.raises(ClusterUnavailable):
        cluster.get("k")


# ---------------------------------------------------------------------------------
# Exercises, lesson views, claims
# ---------------------------------------------------------------------------------

def test_exercises_accept_the_reference_and_refuse_each_mistake_by_name():
    from labkit.cluster import lesson

    for exercise in lesson.exercises().values():
        assert exercise.check(exercise.reference()), exercise.last_feedback
        for name, mistake in exercise.mistakes().items():
            assert not exercise.check(mistake), f"{exercise.name}: {name} passed"
            assert name in exercise.last_feedback, (name, exercise.last_feedback)
    assert copies_needed() == 6


def test_the_router_grader_accepts_other_correct_routers():
    from labkit.cluster import lesson

    exercise = lesson.exercises()["read-your-writes"]
    alternatives = exercise.alternatives()
    assert len(alternatives) >= 2
    for name, answer in alternatives.items():
        assert exercise.check(answer), (name, exercise.last_feedback)


def test_a_router_that_remembers_only_the_first_write_is_refused_with_what_the_replay_saw():
    from labkit.cluster import lesson
    from labkit.cluster.checks import FirstWriteOnly

    exercise = lesson.exercises()["read-your-writes"]
    assert not exercise.check(FirstWriteOnly)
    feedback = exercise.last_feedback
    # The evidence: which read, when, what it got and what was newest; then the cause it shows.
    assert "'two writes to one key'" in feedback and "t = 1.2 s" in feedback
    assert "got v2" in feedback and "written v3" in feedback and "only 0.4 s after the second" in feedback


def test_a_router_on_the_wall_clock_is_told_which_clock_it_called():
    from labkit.cluster import lesson

    class Monotonic:
        def __init__(self, clock, window_seconds):
            self.window_seconds, self.written = window_seconds, {}

        def wrote(self, key):
            self.written[key] = time.monotonic()

        def route(self, key):
            fresh = time.monotonic() - self.written.get(key, float("-inf")) < self.window_seconds
            return "primary" if fresh else "replica"

    exercise = lesson.exercises()["read-your-writes"]
    original = time.monotonic
    assert not exercise.check(Monotonic)
    assert "time.monotonic()" in exercise.last_feedback and "clock.now()" in exercise.last_feedback
    assert time.monotonic is original  # the replay put the real clock back


def test_an_untouched_skeleton_is_not_an_attempt(capsys):
    from labkit.cluster import lesson

    namespace: dict = {}
    exec(lesson.ROUTER_SKELETON, namespace)
    exercise = lesson.exercises()["read-your-writes"]
    assert not exercise.check(namespace["MyRouter"])
    assert exercise.passed is None and "replace the ..." in capsys.readouterr().out


def test_lesson_views_on_simulated_shards_say_simulated():
    from labkit.cluster import lesson

    lab = lesson.start_lab(simulated=True, quiet=True)
    try:
        assert "simulated" in lab.where
        assert len(lesson.show_keys(lab).rows) == 5
        reshard = lesson.show_reshard(lab)
        assert "simulated shards" in reshard.caption
        hot = lesson.explore_hot_key(lab)
        assert hot.axes[0].get_title().endswith("(simulated)")
        replicas = lesson.explore_replicas(lab)
        assert replicas.axes[0].get_title().endswith("(simulated)")
        near = lesson.show_near_cache(lab)
        assert [r["served from"] for r in near.rows][1] == "app memory" and near.rows[3]["served from"] == "node"
    finally:
        lab.close()


def test_the_failover_views_show_one_run_every_master_refusing_and_the_undone_delete(monkeypatch):
    from labkit.cluster import lesson, lesson_failover

    shown: list = []
    monkeypatch.setattr(lesson_failover.charts, "show", lambda fig, alt=None: shown.append(fig))
    lab = lesson.start_lab(simulated=True, quiet=True)
    try:
        lesson.explore_failover(lab)
        title = shown[0].axes[0].get_title()
        assert title.startswith("Every master refused for 0.9 s, not only the crashed one") and "(simulated)" in title
        assert len(shown[0].axes[0].get_yticklabels()) == len(lab.results["failover"].probes) == 3  # a row per master
        table = lesson.show_failover_losses(lab)
        values = [r["value"] for r in table.rows]
        assert values[:2] == ["20 of 20 lost", "undone: the key is back"]
        assert lab.results["failover"].deleted_value_after == values[2].strip("'")
    finally:
        lab.close()


def test_a_lab_closes_as_a_context_manager_once():
    from labkit.cluster import lesson

    with lesson.Lab(PREFIX + "ctx:", simulated=True) as lab:
        lab.cluster.set(PREFIX + "ctx:k", "v")
        assert not lab._closed
    assert lab._closed
    lab.close()  # a second close is a no-op
    assert lab._closed


def test_the_opening_line_says_what_runs_and_nothing_else(capsys, monkeypatch):
    from labkit.cluster import lesson

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # set, but a simulated lab never uses it
    lab = lesson.start_lab(simulated=True)
    lab.close()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("Running on simulated shards") and "REDIS_URL" not in out[0]


def test_without_redis_server_the_lab_uses_simulated_shards(monkeypatch):
    from labkit.cluster import lesson

    monkeypatch.setattr(lesson, "redis_server_binary", lambda: None)
    monkeypatch.delenv("REDIS_CLUSTER_URL", raising=False)
    monkeypatch.delenv("LABKIT_CLUSTER", raising=False)
    lab = lesson.start_lab(quiet=True)
    try:
        assert lab.cluster.simulated and lab.control is lab.cluster and lab.local is None
    finally:
        lab.close()


def test_starting_the_lab_again_stops_the_previous_one():
    from labkit.cluster import lesson

    first = lesson.start_lab(simulated=True, quiet=True)
    second = lesson.start_lab(simulated=True, quiet=True)
    assert first._closed and not second._closed
    second.close()


def test_rehash_explorer_draws_both_panels():
    from labkit.cluster import lesson

    plot = lesson.explore_rehash()
    left, right = plot.axes
    assert "1/(n+1)" in left.get_title() and "miss storm" in right.get_title()
    plot.set(nodes=5)
    assert "node 6 joins" in plot.axes[1].get_title()


def test_claims_hold():
    from labkit.claims import claims_for

    claims = claims_for("09")
    assert len(claims) >= 10
    for claim in claims.values():
        ok, message = claim.check()
        assert ok, message


def test_lab_errors_are_one_sentence():
    from labkit.cluster import LocalCluster

    with pytest.raises(LabError, match="masters must be"):
        LocalCluster(masters=0)
    with pytest.raises(LabError, match="masters must be"):
        SimulatedCluster(masters=40)


def test_rehash_sliders_only_draw_what_building_the_chart_computed(monkeypatch):
    from labkit.cluster import lesson, lesson_rehash

    plot = lesson.explore_rehash()

    def computed_again(*_a, **_k):
        raise AssertionError("a slider move recomputed a ring: the sweep should have memoized it")

    monkeypatch.setattr(rehash, "_ring_owner", computed_again)
    monkeypatch.setattr(rehash, "zipf", computed_again)
    for vnodes in lesson_rehash.REHASH_VNODES:
        for nodes in (1, 5, 9):
            plot.set(vnodes=vnodes, nodes=nodes)
            assert "could not update" not in plot.caption.value
    assert f"node {9 + 1} joins" in plot.axes[1].get_title()


def test_a_cluster_like_another_has_its_masters_slot_map_and_counts():
    original = sim()
    ex.reshard(original, PREFIX)  # four masters, uneven ranges: the shape a preview must copy
    copy = SimulatedCluster.like(original)
    assert [m.name for m in copy.masters] == [m.name for m in original.masters]
    assert copy.slot_ports() == original.slot_ports()
    assert len({n.port for n in copy.nodes}) == len(copy.nodes)  # no replica shares a master's name
    for copies in (3, 8):
        real = ex.hot_key_load(original, PREFIX, fix="copies", copies=copies)
        preview = ex.hot_key_load(copy, PREFIX, fix="copies", copies=copies)
        assert preview.counts == real.counts


def test_on_simulated_shards_the_sliders_run_the_experiment_and_need_no_live_button():
    from labkit.cluster import lesson

    lab = lesson.start_lab(simulated=True, quiet=True)
    try:
        hot, replicas = lesson.explore_hot_key(lab), lesson.explore_replicas(lab)
        assert not hot.live_buttons and not replicas.live_buttons
        replicas.set(lag_seconds=0.2)
        assert replicas.axes[0].get_title().endswith("(simulated)") and "preview" not in replicas.last_result
        hot.set(copies=9)
        assert "9 copies of the hot key" in hot.axes[0].get_legend_handles_labels()[1]
    finally:
        lab.close()


def test_the_replica_fill_race_says_it_is_simulated():
    from labkit.cluster import lesson

    table = lesson.show_replica_fill()
    assert table.caption.startswith("Simulated on a virtual clock")
    assert [int(r["stale reads in the next minute"]) > 0 for r in table.rows] == [f == FILLS[0] for f in FILLS]


# ---------------------------------------------------------------------------------
# A real local cluster (one per module), then nothing left running
# ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real():
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary on this machine (apt-get install redis-server)")
    from labkit.cluster import LocalCluster
    from labkit.cluster.real import RealCluster

    local = LocalCluster(3, 1, spares=1)
    cluster = RealCluster(local)
    yield cluster
    pids = local.pids()
    cluster.stop()
    assert all(not os.path.exists(f"/proc/{pid}") or _zombie(pid) for pid in pids)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
@pytest.mark.redis_server
def test_real_cluster_is_formed_and_routes_like_redis_py(real):
    local = real.local
    assert [n.role for n in local.nodes].count("master") == 3 and len(local.replicas) == 3
    for node in local.masters + local.replicas:
        assert "cluster_state:ok" in node.connect().execute_command("CLUSTER", "INFO")
    key = PREFIX + "{user:42}:name"
    real.client.set(key, "Ada")
    assert real.node_for(key).get(key) == "Ada"  # the slot's owner holds it
    assert real.node_for(key).port == real.client.get_node_from_key(key).port
    assert all(real.replica_of(m) is not None for m in real.masters)
    assert "CROSSSLOT" in ex.crossslot_demo(real, PREFIX, ["user:42:name", "user:42:email"])


@pytest.mark.slow
@pytest.mark.redis_server
def test_real_cluster_gives_the_simulations_counts(real):
    """The notebook's sequence on both engines: identical slot counts, the same lessons."""
    simulated = sim()
    got = {}
    for name, cluster in (("real", real), ("sim", simulated)):
        reshard = ex.reshard(cluster, PREFIX)
        hot = {fix: ex.hot_key_load(cluster, PREFIX, fix=fix) for fix in ("none", "near cache", "copies")}
        # A 0.5 s lag leaves 0.3 s of margin after the last read inside it, for a busy machine.
        replicas = ex.replica_reads(cluster, PREFIX, lag_seconds=0.5)
        wait = ex.wait_demo(cluster, PREFIX, lag_seconds=0.5)
        got[name] = (reshard, hot, replicas, wait)
    (r_real, h_real, rep_real, w_real), (r_sim, h_sim, rep_sim, w_sim) = got["real"], got["sim"]
    assert (r_real.keys_moved, r_real.ask_redirects, r_real.moved_redirects) == (
        r_sim.keys_moved, r_sim.ask_redirects, r_sim.moved_redirects)
    assert r_real.reads_correct == 2 * r_real.keys
    for fix in h_real:  # per-master commands from INFO commandstats equal the simulation's
        assert sorted(h_real[fix].counts.values()) == sorted(h_sim[fix].counts.values()), fix
    assert rep_real.stale_reads == rep_sim.stale_reads
    assert rep_real.stale_reads["replica"] > 0 and rep_real.stale_reads["read-your-writes"] == 0
    assert [r["WAIT 1 100 ms answered"] for r in w_real] == [r["WAIT 1 100 ms answered"] for r in w_sim] == [0, 1]


@pytest.mark.slow
@pytest.mark.redis_server
def test_real_near_cache_hears_client_tracking(real):
    from labkit.cluster import lesson

    lab = lesson.Lab.__new__(lesson.Lab)
    lab.cluster, lab.prefix = real, PREFIX
    table = lesson.show_near_cache(lab)
    assert [r["served from"] for r in table.rows] == [
        "node", "app memory", "node sent 1 invalidation", "node"]
    assert table.rows[3]["value"] == "price-0 (discounted)"


@pytest.mark.slow
@pytest.mark.redis_server
def test_a_near_cache_whose_invalidation_connection_broke_forgets_everything(real):
    from labkit.cluster.tracking import NearCache

    key = ex.product_key(PREFIX, 1)
    real.set(key, "v1")
    with NearCache(real) as near:
        assert near.get(key) == "v1" and near.get(key) == "v1" and near.hits == 1
        tracker = next(iter(near._trackers.values()))
        real.node_for(key).conn.execute_command("CLIENT", "KILL", "ID", tracker.listener_id)
        real.set(key, "v2")  # its invalidation has nowhere to go
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and near.reconnects == 0:
            assert near.get(key) in ("v1", "v2")
            time.sleep(0.05)
        assert near.reconnects == 1 and near.get(key) == "v2"  # flushed on the broken link, read afresh


@pytest.mark.slow
@pytest.mark.redis_server
def test_real_failover_recovers_and_loses_the_unreplicated_writes(real):
    result = ex.failover(real, PREFIX, replicated=80, unreplicated=20)
    assert result.recovered, "the replica was not promoted within 15 s"
    # cluster-require-full-coverage yes: every surviving master refused with CLUSTERDOWN for a while,
    # no earlier than the node timeout (PFAIL) after the crash, and answered again at the end.
    for name in result.survivors:
        down = [t for t, state in result.probes[name] if state == "CLUSTERDOWN"]
        assert down, f"master {name} never answered CLUSTERDOWN"
        assert down[0] >= NODE_TIMEOUT_MS / 1000 and result.probes[name][-1][1] == "ok"
    assert result.refused(result.crashed, "no answer") >= 1  # its own keys: nobody answered at first
    # The simulation's counts, measured: every unreplicated write lost, the DEL undone with its TTL.
    assert result.lost_writes == 20
    assert result.deleted_value_after == CACHED_VALUE and result.deleted_ttl_after >= CACHE_TTL_SECONDS - 30
    promoted = [n for n in real.nodes if n.role == "master" and n.running]
    assert len(promoted) == 4  # three survivors of the resharded four, plus the promoted replica
    crashed = next(n for n in real.local.nodes if n.role == "master" and not n.running)
    real.local.start_node(crashed)  # it comes back from its nodes.conf and follows the new master
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and crashed.connect().info("replication")["role"] != "slave":
        time.sleep(0.1)
    assert crashed.connect().info("replication")["role"] == "slave"


@pytest.mark.slow
@pytest.mark.redis_server
def test_local_cluster_moves_a_slot_with_its_keys(real):
    local = real.local
    key = PREFIX + "{moving}:k"
    real.set(key, "still here")
    slot = key_slot(key)
    # Earlier tests fail a master over: ask the cluster which nodes own slots now.
    local.refresh_roles()
    real.refresh()
    source = real.owner(slot)
    owners = {real.owner(s).port for s in range(0, 16384, 256)}
    target = next(n for n in local.masters if n.running and n.port != source.port and n.port in owners)
    assert migrate_slots(local, [slot], target) == 1
    real.refresh()  # this view of the cluster learns the new owner from the nodes
    assert real.owner(slot).port == target.port
    assert target.connect().get(key) == "still here"
    with pytest.raises(LabError, match="already live on"):
        migrate_slots(local, [slot], target)
    replica = next(n for n in local.replicas if n.running)
    with pytest.raises(LabError, match="is a replica now"):
        migrate_slots(local, [slot], replica)


@pytest.mark.slow
@pytest.mark.redis_server
def test_redis_py_patches_a_slot_per_moved_and_rereads_the_map_every_fifth():
    """What the notebook says of RedisCluster (reinitialize_steps=5, mget_nonatomic), on the installed redis-py."""
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary")
    from labkit.cluster import LocalCluster

    with LocalCluster(2, 0) as local:
        client = local.client
        first, second = local.masters
        keys, slots = [], set()
        for i in range(2000):  # ten keys in ten different slots of the first master
            key = f"{PREFIX}{{moved:{i}}}"
            if client.get_node_from_key(key).port == first.port and key_slot(key) not in slots:
                keys.append(key)
                slots.add(key_slot(key))
            if len(keys) == 10:
                break
        for key in keys:
            client.set(key, "v")
        from redis.cluster import RedisCluster

        old = RedisCluster(host="127.0.0.1", port=first.port, decode_responses=True, protocol=2)
        assert [old.get(k) for k in keys] == ["v"] * 10  # its map: every slot on the first master
        migrate_slots(local, sorted(slots), second)
        calls = {"move_slot": 0, "initialize": 0}
        manager = old.nodes_manager
        for name in calls:
            original = getattr(manager, name)

            def counted(*args, _name=name, _original=original, **kwargs):
                calls[_name] += 1
                return _original(*args, **kwargs)

            setattr(manager, name, counted)
        assert [old.get(k) for k in keys] == ["v"] * 10
        old.close()
        # Four MOVED patched one slot each; the fifth re-read the whole map, which fixed the other five.
        assert calls == {"move_slot": 4, "initialize": 1}
        # mget_nonatomic: one MGET per slot (all ten slots now live on one node), not one per node.
        before = int(second.connect().info("commandstats").get("cmdstat_mget", {}).get("calls", 0))
        assert client.mget_nonatomic(keys) == ["v"] * 10
        after = int(second.connect().info("commandstats")["cmdstat_mget"]["calls"])
        assert after - before == 10


@pytest.mark.slow
@pytest.mark.redis_server
def test_a_learners_redis_and_other_keys_are_untouched(redis_url, monkeypatch):
    import redis

    from labkit.cluster import lesson

    own = redis.Redis.from_url(redis_url, decode_responses=True)
    own.set("my-app:session:9", "precious")
    before = own.dbsize()
    monkeypatch.setenv("REDIS_URL", redis_url)
    store = labkit.start("09", quiet=True)
    lab = lesson.start_lab(store, quiet=True)
    try:
        lesson.show_keys(lab)
        lesson.show_crossslot(lab)
    finally:
        lab.close()
        store.reset()
    assert own.get("my-app:session:9") == "precious" and own.dbsize() == before


@pytest.mark.slow
@pytest.mark.redis_server
def test_an_existing_cluster_by_url_is_only_read_and_written_under_the_prefix(monkeypatch):
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary")
    from labkit.cluster import LocalCluster, lesson

    with LocalCluster(3, 0) as theirs:
        theirs.client.set("their:key", "keep")
        monkeypatch.setenv("REDIS_CLUSTER_URL", theirs.url())
        lab = lesson.start_lab(quiet=True)
        assert not lab.cluster.simulated and lab.control.simulated
        with pytest.raises(LabError, match="only changes a cluster it started"):
            lab.cluster.add_master()
        lesson.show_keys(lab)
        lesson.show_crossslot(lab)
        lab.close()
        assert theirs.client.get("their:key") == "keep"
        assert not any(k.startswith(PREFIX[:7]) for k in theirs.client.keys("labkit:*"))
        assert all(n.running for n in theirs.nodes)


@pytest.mark.slow
@pytest.mark.redis_server
def test_a_cluster_left_running_is_stopped_when_python_exits(tmp_path):
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary")
    script = ("import json\nfrom labkit.cluster import LocalCluster\n"
              "c = LocalCluster(2, 1)\nprint(json.dumps({'pids': c.pids(), 'ports': [n.port for n in c.nodes],"
              " 'dir': str(c._dir)}))\n")  # no stop(): the interpreter's exit must do it
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    started = json.loads(out.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and not _zombie(p)
                                              for p in started["pids"]):
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{p}") and not _zombie(p) for p in started["pids"])
    assert not os.path.exists(started["dir"])
    import socket

    for port in started["ports"]:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}") and not _zombie(pid)


def _all_gone(pids: list[int], folders: list[str], timeout_seconds: float = 20.0) -> tuple[list, list]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)], [f for f in folders if os.path.exists(f)]
        if left == ([], []):
            break
        time.sleep(0.1)
    return [p for p in pids if _alive(p)], [f for f in folders if os.path.exists(f)]


# The owner starts a cluster and a single server from a worker thread that then ends (the
# parent-death signal is per thread: the servers must outlive that thread), prints what it
# started, and waits to be killed.
_OWNER = """
import json, threading, time
from labkit.cluster import LocalCluster
from labkit.redis_server import LocalRedis
made = {}
def start():
    made["cluster"], made["single"] = LocalCluster(2, 1), LocalRedis()
worker = threading.Thread(target=start)
worker.start()
worker.join()
cluster, single = made["cluster"], made["single"]
print(json.dumps({"pids": cluster.pids() + [single._proc.pid], "folders": [str(cluster._dir), str(single._dir)]}),
      flush=True)
time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.redis_server
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGHUP, signal.SIGINT], ids=["SIGKILL", "SIGHUP", "SIGINT"])
def test_servers_and_folders_die_with_their_owner_however_it_dies(how):
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary")
    owner = subprocess.Popen([sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    try:
        started = json.loads(owner.stdout.readline() or "null") if owner.stdout else None
        assert started, owner.stderr.read() if owner.stderr else "no output"
        time.sleep(0.5)
        assert all(_alive(p) for p in started["pids"]), "a server died with the thread that started it"
        assert all(os.path.exists(f) for f in started["folders"])
        owner.send_signal(how)
        owner.wait(timeout=30)
        pids, folders = _all_gone(started["pids"], started["folders"])
        assert pids == [], f"redis-server processes outlived their owner ({how.name}): {pids}"
        assert folders == [], f"folders left in /tmp after {how.name}: {folders}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


@pytest.mark.slow
@pytest.mark.redis_server
def test_a_killed_kernel_leaves_no_cluster_and_no_folder(tmp_path):
    """The notebook's way: a Jupyter kernel runs start_lab(), then is killed with SIGKILL."""
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary")
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "CACHE_LAB_HOME": str(tmp_path), "LABKIT_CLUSTER": ""}
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        code = ("import json\nfrom labkit import cluster\nlab = cluster.start_lab(quiet=True)\n"
                "print('STARTED', json.dumps({'pids': lab.local.pids(), 'folder': str(lab.local._dir)}))")
        printed: list[str] = []
        reply = kc.execute_interactive(code, timeout=120, output_hook=lambda m: printed.append(
            m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok", reply["content"]
        started = json.loads("".join(printed).split("STARTED ", 1)[1].splitlines()[0])
        assert len(started["pids"]) == 7 and all(_alive(p) for p in started["pids"])
        os.kill(km.provisioner.process.pid, signal.SIGKILL)
        pids, folders = _all_gone(started["pids"], [started["folder"]])
        assert pids == [] and folders == [], (pids, folders)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.slow
def test_the_notebook_runs_on_simulated_shards(tmp_path, monkeypatch):
    from test_notebooks import ROOT, _execute, output_problems

    path = ROOT / "notebooks" / "09_scaling_out.ipynb"
    monkeypatch.setenv("LABKIT_CLUSTER", "simulated")
    monkeypatch.setenv("CACHE_LAB_HOME", str(tmp_path))
    nb = _execute(path, tmp_path, audit_charts=True)
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert output_problems(nb, path.name) == []
    assert "Running on simulated shards" in text
    audit = json.loads(text.split("CHART-AUDIT ", 1)[1].splitlines()[0])
    assert audit["charts"] >= 4 and audit["problems"] == []


@pytest.mark.slow
@pytest.mark.redis_server
def test_on_a_real_cluster_sliders_preview_at_once_and_run_live_measures(monkeypatch):
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary on this machine (apt-get install redis-server)")
    from labkit.cluster import lesson

    monkeypatch.delenv("REDIS_CLUSTER_URL", raising=False)
    monkeypatch.delenv("LABKIT_CLUSTER", raising=False)
    lab = lesson.start_lab(quiet=True)
    try:
        assert not lab.cluster.simulated
        lesson.show_reshard(lab)
        hot = lesson.explore_hot_key(lab)
        labels = lambda: hot.axes[0].get_legend_handles_labels()[1]  # noqa: E731
        assert "6 copies of the hot key" in labels()  # the chart opens on a real run
        served = lab.cluster.command_counts()
        hot.set(copies=9)
        assert "9 copies of the hot key (simulated preview)" in labels()
        assert lab.cluster.command_counts() == served  # the preview sent nothing to the real cluster
        preview = hot.last_result
        hot.run_live(lesson.LIVE, lambda plot: lesson._hot(lab, "copies", plot.values["copies"]))
        assert hot.wait_idle(30)
        assert "9 copies of the hot key" in labels() and "preview" not in hot.last_result
        assert hot.last_result.split("Busiest")[1] == preview.split("Busiest")[1].split(" The copies")[0]

        replicas = lesson.explore_replicas(lab)
        assert "simulated" not in replicas.axes[0].get_title()
        replicas.set(lag_seconds=0.2)
        assert replicas.axes[0].get_title().endswith("(simulated preview)")
        button = replicas.live_buttons[lesson.LIVE]
        button.click()
        assert button.description == "running…"  # at once, before the real run ends
        assert replicas.wait_idle(30)
        run = lab.results[("replicas", 0.2, "live")]
        assert run.stale_reads["replica"] > 0 and run.stale_reads["read-your-writes"] == 0
        assert "simulated" not in replicas.axes[0].get_title()
    finally:
        lab.close()


@pytest.mark.slow
@pytest.mark.redis_server
@pytest.mark.parametrize("simulated", [True, False], ids=["simulated", "real"])
def test_sliders_still_redraw_after_the_last_cell_stopped_the_cluster(simulated):
    """Run All ends by closing the lab; a learner scrolling back up can still move every slider."""
    from labkit.cluster import lesson

    if not simulated and shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary on this machine (apt-get install redis-server)")
    lab = lesson.start_lab(simulated=simulated, quiet=True)
    hot, replicas = lesson.explore_hot_key(lab), lesson.explore_replicas(lab)
    lesson.explore_failover(lab)   # as in the notebook: the topology changes before the last cell
    lab.close()
    for plot in (hot, replicas):
        name, control = next(iter(plot.controls.items()))
        before = plot.redraws
        plot.set(**{name: control.value + control.step})
        assert plot.redraws == before + 1 and "⚠" not in plot.caption.value, plot.caption.value
