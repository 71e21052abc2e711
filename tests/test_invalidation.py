"""Invalidation: every claim notebook 02 makes, on memory, fakeredis and a real Redis."""

from __future__ import annotations

import itertools
import uuid

import pytest

from labkit import invalidation as inv
from labkit.clock import VirtualClock
from labkit.database import Database, Row
from labkit.errors import LabError
from labkit.invalidation import near_grader, race_grader, tenant_grader
from labkit.invalidation.lesson import _naive_read
from labkit.store import MemoryStore, unversioned
from labkit.wrappers import RecordingStore


def _one_sentence(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.endswith("."), text
    return text


# -- the stale-set race, scripted ------------------------------------------------------


def test_naive_bad_interleaving_leaves_old_row_until_its_ttl(store):
    stepper = inv.RaceStepper(store, "naive")
    outcome = stepper.run()
    assert [e.actor for e in stepper.events] == list(inv.BAD_INTERLEAVING)
    assert [e.text for e in stepper.events] == [
        "GET item:1 → miss",
        "SELECT id=1 → v1",
        "UPDATE id=1 → v2 committed",
        "DEL item:1",
        "SET v1 (TTL 300 s)",
    ]
    assert (outcome.cached_version, outcome.db_version, outcome.stale) == (1, 2, True)
    assert 299 <= outcome.stale_for_seconds <= 300


def test_naive_stale_entry_survives_exactly_until_the_ttl():
    clock = VirtualClock()
    store = MemoryStore(clock, namespace="race-ttl")
    stepper = inv.RaceStepper(store, "naive", ttl_seconds=300)
    stepper.run()
    clock.advance(299.9)
    assert stepper.outcome().stale  # nothing corrects it before the TTL...
    clock.advance(0.2)
    assert store.get("item:1") is None  # ...and the TTL does


@pytest.mark.parametrize("strategy", ["lease", "write-through"])
def test_lease_and_write_through_leave_nothing_stale(store, strategy):
    outcome = inv.replay(store, strategy)
    assert not outcome.stale
    assert outcome.stale_for_seconds == 0
    expected = None if strategy == "lease" else 2  # lease: fill refused; write-through: writer set v2
    assert outcome.cached_version == expected


def test_short_ttl_caps_the_stale_entry_at_the_short_ttl():
    clock = VirtualClock()
    store = MemoryStore(clock, namespace="race-short")
    stepper = inv.RaceStepper(store, "short-ttl", short_ttl_seconds=5)
    outcome = stepper.run()
    assert outcome.stale and outcome.stale_for_seconds == pytest.approx(5)
    clock.advance(5.01)
    assert not stepper.outcome().stale


def test_of_all_ten_interleavings_only_the_bad_one_breaks_naive(store):
    schedules = [
        tuple("writer" if i in writer_at else "reader" for i in range(5))
        for writer_at in itertools.combinations(range(5), 2)
    ]
    assert len(schedules) == 10
    broken = {s: inv.replay(store, "naive", s).stale for s in schedules}
    assert [s for s, stale in broken.items() if stale] == [inv.BAD_INTERLEAVING]
    for strategy in ("lease", "write-through"):
        assert not any(inv.replay(store, strategy, s).stale for s in schedules), strategy


def test_stepper_steps_and_resets(store):
    stepper = inv.RaceStepper(store, "lease")
    first = stepper.step()
    assert first is not None and first.actor == "reader" and first.cache_state == "lease"
    assert len(stepper.events) == 1 and not stepper.done
    stepper.reset()
    assert stepper.events == [] and stepper.cache_state() == "empty"
    assert stepper.run().cached_version is None
    assert stepper.step() is None


def test_write_if_newer_never_moves_the_cache_backwards(store):
    new, old = Row(1, "new", 3, 0.0), Row(1, "old", 2, 0.0)
    assert inv.write_if_newer(store, "item:1", new, 60)
    assert not inv.write_if_newer(store, "item:1", old, 60)
    assert not inv.write_if_newer(store, "item:1", new, 60)  # same version: nothing to do
    assert inv.cached_version(store.get("item:1")) == 3
    assert unversioned(store.get("item:1")) == (3, new.to_cache())  # the contract's stored form
    store.set("item:1", "lease:abc")  # a placeholder is not a row: replaced
    assert inv.cached_version(store.get("item:1")) is None
    assert inv.write_if_newer(store, "item:1", old, 60)
    assert 0 < store.ttl_seconds("item:1") <= 60


def test_write_through_race_goes_through_the_contracts_version_guard(store):
    log = RecordingStore(store)
    outcome = inv.replay(log, "write-through")
    guarded = log.commands("set_if_newer")
    # the writer's v2 stored, then the reader's late v1 refused: one guard, on the store contract
    assert [(row["args"].split()[0], row["result"]) for row in guarded] == [("version=2", "True"),
                                                                           ("version=1", "False")]
    assert outcome.cached_version == 2 and not outcome.stale


# -- the race under real threads --------------------------------------------------------


def test_threads_naive_leaves_stale_keys_the_fixes_none(store):
    # Races are probabilistic: naive is given up to three seeded runs to show one.
    naive = [inv.run_concurrent(store, "naive", seed=seed).stale_keys_after_settle for seed in range(3)]
    assert max(naive) > 0, naive
    for strategy in ("lease", "short-ttl", "write-through"):
        result = inv.run_concurrent(store, strategy, seed=1)
        assert result.writes == 32 and result.reads > 0
        assert result.stale_keys_after_settle == 0, strategy


# -- event-driven invalidation --------------------------------------------------------


def test_every_subscribed_instance_drops_the_key_after_a_write(store):
    clock = VirtualClock()
    db = Database(clock, rows=3, latency_seconds=0)
    bus = inv.InvalidationBus(store, "inv-test-" + uuid.uuid4().hex[:6])
    apps = [inv.AppInstance(n, store, db, bus, clock=clock, near_ttl_seconds=30) for n in "ABC"]
    try:
        assert [a.read(2).version for a in apps] == [1, 1, 1]
        assert [a.near_hits for a in apps] == [0, 0, 0] and apps[0].db_reads == 1
        inv.write_and_publish(store, db, bus, 2, "new")
        assert [a.drain(until_seq=bus.published) for a in apps] == [1, 1, 1]
        assert all(a.near.get("item:2") is None for a in apps)
        assert [a.read(2).version for a in apps] == [2, 2, 2]
    finally:
        for a in apps:
            a.close()


def test_a_lost_message_leaves_exactly_that_instance_stale_until_its_ttl(store):
    run = inv.simulate_events(store, near_ttl_seconds=20, lose_message=True)
    assert run.lost == {"A": 0, "B": 0, "C": 1}  # C's subscription was really closed at the write
    assert run.away == (9.0, 12.0)
    assert run.stale_reads["A"] == run.stale_reads["B"] == 0
    # C cached the row at t=1 s, the write came at t=10 s, its copy expired at 1+20 = 21 s.
    assert run.stale_reads["C"] == 11
    assert run.stale_until["C"] == 21.0
    assert run.max_stale_age_seconds["C"] == pytest.approx(10.0)
    assert run.max_stale_age_seconds["C"] < 20
    # The second write (t=40 s) reached everyone: nobody stale at the end.
    assert run.served["C"][-1] == run.db_versions[-1] == 3


def test_a_near_cache_that_flushes_on_reconnect_is_stale_only_while_away(store):
    plain = inv.simulate_events(store, near_ttl_seconds=20)
    safe = inv.simulate_events(store, near_ttl_seconds=20, flush_on_loss=True)
    assert safe.lost["C"] == 1
    # C is away 9-12 s: it serves v1 at t=10 and t=11, reconnects, flushes, and reads v2 at 12 s.
    assert safe.stale_reads == {"A": 0, "B": 0, "C": 2} and safe.stale_until["C"] == 12.0
    assert plain.stale_reads["C"] == 11 > safe.stale_reads["C"]


def test_loss_safe_near_cache_over_real_pubsub(store):
    clock = VirtualClock()
    db = Database(clock, rows=4, latency_seconds=0)
    bus = inv.InvalidationBus(store, "inv-safe-" + uuid.uuid4().hex[:6])
    plain = inv.AppInstance("plain", store, db, bus, clock=clock, near_ttl_seconds=300)
    safe = inv.AppInstance("safe", store, db, bus, clock=clock, near_ttl_seconds=300,
                           near_cache=inv.LossSafeNearCache)
    try:
        for app in (plain, safe):
            assert [app.read(i).version for i in (1, 2, 3)] == [1, 1, 1]
        # A disconnect: the write is published while both are away, so neither gets it.
        for app in (plain, safe):
            app.disconnect()
        inv.write_and_publish(store, db, bus, 1, "while away")
        for app in (plain, safe):
            app.reconnect()
            assert app.drain(until_seq=bus.published) == 0 and app.missed == 1
        assert plain.read(1).version == 1  # trusts its copy: stale until its TTL
        assert safe.read(1).version == 2  # flushed on reconnect
        # A message lost in transit: the next message's number reveals the gap.
        for app in (plain, safe):
            app.read(3)
            app.lose_next_messages(1)
        inv.write_and_publish(store, db, bus, 3, "lost")
        inv.write_and_publish(store, db, bus, 2, "arrives")
        for app in (plain, safe):
            app.drain(until_seq=bus.published)
        assert plain.read(3).version == 1 and safe.read(3).version == 2
        assert safe.near.flushes == 2 and plain.near.flushes == 0
    finally:
        for app in (plain, safe):
            app.close()


def test_without_a_lost_message_nobody_is_ever_stale(store):
    run = inv.simulate_events(store, near_ttl_seconds=20, lose_message=False)
    assert run.stale_reads == {"A": 0, "B": 0, "C": 0}


def test_the_stale_window_of_a_lost_message_follows_the_near_ttl(store):
    short = inv.simulate_events(store, near_ttl_seconds=5)
    assert short.stale_until["C"] == 11.0 and short.stale_reads["C"] == 1


# -- TTL alone --------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [5, 30, 90])
def test_ttl_bounds_the_stale_window(ttl):
    run = inv.simulate_ttl(ttl)
    assert run.stale_reads > 0
    assert run.max_stale_age_seconds < ttl  # the TTL is the promise...
    assert run.max_stale_age_seconds > 0.75 * ttl  # ...and it is nearly reached


def test_longer_ttl_more_stale_reads_and_more_hits():
    runs = [inv.simulate_ttl(t) for t in (5, 30, 120)]
    assert [r.stale_share for r in runs] == sorted(r.stale_share for r in runs)
    assert [r.hit_ratio for r in runs] == sorted(r.hit_ratio for r in runs)
    assert runs[1].stale_share == pytest.approx(0.16, abs=0.03)
    assert runs[1].hit_ratio > 0.95


def test_staleness_stacks_across_layers():
    assert inv.stacked_worst_case(45, 15) == pytest.approx(60, abs=0.2)
    assert inv.stacked_worst_case(10, 30) == pytest.approx(40, abs=0.2)


# -- versioned keys -----------------------------------------------------------------------


def test_bump_makes_old_keys_unreachable_at_once_without_scan(store):
    seven = inv.VersionedNamespace(store, "tenant:7")
    eight = inv.VersionedNamespace(store, "tenant:8")
    seven.fill(300)
    eight.fill(10)
    assert seven.key("item:3") == "tenant:7:v0:item:3"
    assert seven.get("item:299") == "cached"
    log = RecordingStore(store)
    assert inv.VersionedNamespace(log, "tenant:7").bump() == 1
    assert [row["command"] for row in log.log] == ["incr"]  # one command, no scan
    assert seven.get("item:0") is None and seven.get("item:299") is None
    assert eight.get("item:0") == "cached"
    # The old keys still exist (left to expire), which is what keeps the bump O(1).
    assert len(store.scan_keys("tenant:7:v0:*")) == 300
    assert 0 < store.ttl_seconds("tenant:7:v0:item:0") <= 3600


def test_scan_and_delete_is_seen_scanning_and_costs_more(store):
    result = inv.compare_bump_and_scan(store, 1500)
    assert result["bump_round_trips"] == 1 and not result["bump_scanned"]
    assert result["old_key_reachable_after_bump"] is False
    assert result["scan_deleted"] == 1500
    assert result["delete_batches"] == 3  # 1,500 keys in batches of 500
    assert result["scan_round_trips"] == result["scan_calls"] + 3 > 3
    log = RecordingStore(store)
    inv.scan_and_delete(log, "nothing-here:*")
    assert log.commands("scan_keys")  # so "not scanned" above is a real check


def test_scan_walks_the_whole_database_not_only_the_matches(redis_store):
    before = inv.redis_scan_calls(redis_store, "nothing-here:*")
    inv.VersionedNamespace(redis_store, "someone-else").fill(3000)
    after = inv.redis_scan_calls(redis_store, "nothing-here:*")
    assert after >= before + 2  # ~1 SCAN (COUNT 1000) per 1,000 keys present, matching or not
    assert inv.SCAN_COUNT == 1000  # what the prose's "about a thousand keys per call" rests on


def test_scan_calls_are_counted_only_where_redis_answers():
    assert inv.redis_scan_calls(MemoryStore(namespace="no-scan")) is None


def test_parse_versioned_key():
    key = inv.parse_versioned_key("tenant:7:v3:user:42")
    assert (key.namespace, key.generation, key.suffix) == ("tenant:7", 3, "user:42")
    assert str(key) == "tenant:7:v3:user:42"


# -- bad input: one sentence each ---------------------------------------------------------


@pytest.mark.parametrize("bad", ["tenant:7:user:42", "user:42:vX:name", "", None, "tenant:7:v3:"])
def test_malformed_versioned_key(bad):
    with pytest.raises(LabError, match="is not a versioned key") as exc:
        inv.parse_versioned_key(bad)
    assert "'<namespace>:v<generation>:<key>'" in _one_sentence(exc)


def test_bad_namespace_names_and_keys(store):
    with pytest.raises(LabError, match="must not itself look like a generation") as exc:
        inv.VersionedNamespace(store, "tenant:v3")
    _one_sentence(exc)
    with pytest.raises(LabError, match="without spaces") as exc:
        inv.VersionedNamespace(store, "tenant:7").key("user 42")
    _one_sentence(exc)


@pytest.mark.parametrize(
    "make",
    [
        lambda s: inv.NearCache(VirtualClock(), -5),
        lambda s: inv.simulate_ttl(-5),
        lambda s: inv.VersionedNamespace(s, "tenant:7", ttl_seconds=-5),
        lambda s: inv.RaceSettings(s, Database(VirtualClock(), rows=2), "naive", ttl_seconds=-5),
        lambda s: inv.stacked_worst_case(45, -5),
        lambda s: inv.simulate_events(s, near_ttl_seconds=-5),
    ],
)
def test_negative_ttl(store, make):
    with pytest.raises(LabError, match=r"must be > 0 seconds \(got -5\)") as exc:
        make(store)
    _one_sentence(exc)


def test_publishing_on_a_closed_bus(store):
    bus = inv.InvalidationBus(store)
    bus.close()
    with pytest.raises(LabError, match="bus is closed") as exc:
        bus.publish("item:1")
    _one_sentence(exc)
    db = Database(VirtualClock(), rows=2)
    with pytest.raises(LabError, match="bus is closed"):
        inv.write_and_publish(store, db, bus, 1, "x")
    assert db.current_version(1) == 1  # refused before touching the database


def test_unknown_strategy(store):
    with pytest.raises(LabError, match="Unknown strategy 'optimistic'. Choose one of: naive, lease") as exc:
        inv.RaceStepper(store, "optimistic")
    _one_sentence(exc)


# -- exercises ------------------------------------------------------------------------------


def _solution_namespace(solution: str) -> dict:
    names = {"Row": Row, "LEASE_PREFIX": inv.LEASE_PREFIX, "uuid": uuid, "invalidation": inv}
    exec(solution.split("\n\n", 1)[1], names)
    return names


def test_exercises_are_one_set_with_four_slots(store):
    ex = inv.exercises(store)
    assert list(ex) == ["tenant", "race", "loss-safe", "budget"]
    assert ex.loss_safe is ex["loss-safe"] and ex.loss_safe.kind == "implement"
    assert {e.kind for e in ex.values()} == {"implement", "value"}


def test_race_exercise_catches_the_naive_reader_and_accepts_the_lease(store, capsys):
    ex = inv.exercises(store).race
    assert not ex.check(_naive_read)
    out = capsys.readouterr().out
    assert "'the stale-set race'" in out and "sets after the writer's delete" in out
    assert "set" in out and "delete" in out  # the commands the reader sent, as a table
    ex.solution()
    assert ex.check(_solution_namespace(capsys.readouterr().out)["read_item"])
    assert not ex.check(lambda s, db, i: db.read(i))  # never caching is no fix
    assert "never caches" in ex.last_feedback
    assert not ex.check(lambda s, db, i: 1 / 0)  # a crash is a verdict, not a traceback
    assert "ZeroDivisionError" in ex.last_feedback
    assert not ex.check(...)
    assert store.get("item:5") is None  # the check cleans up after itself


def test_tenant_exercise(store, capsys):
    ex = inv.exercises(store).tenant
    ex.solution()
    assert ex.check(_solution_namespace(capsys.readouterr().out)["invalidate_tenant"])
    assert not ex.check(lambda s, t: inv.scan_and_delete(s, f"tenant:{t}:v*"))
    assert "scans the keyspace" in capsys.readouterr().out
    assert store.scan_keys("tenant:*") == []  # the check cleans up after itself


class _OnlyDropsTheKey(inv.NearCache):
    def on_invalidation(self, seq, key):
        self.drop(key)

    def on_reconnect(self):
        self.clear()


def test_loss_safe_exercise_names_the_scenario_and_shows_the_timeline(capsys):
    ex = inv.exercises(MemoryStore(namespace="loss-safe")).loss_safe
    assert ex.check(inv.LossSafeNearCache)
    assert not ex.check(_OnlyDropsTheKey)
    out = capsys.readouterr().out
    assert "'a lost message'" in ex.last_feedback and "ignores gaps" in ex.last_feedback
    assert "item:1 was served at v1 while the DB has v2" in ex.last_feedback
    assert "message 1; lost" not in out and "lost" in out and "stale" in out  # the timeline table
    assert not ex.check(inv.LossSafeNearCache(VirtualClock(), 30))  # an instance, not the class
    assert "Pass your class itself" in ex.last_feedback


def test_lossy_replays_judge_the_plain_and_the_loss_safe_near_cache():
    plain = {name: inv.run_lossy_scenario(name, inv.NearCache) for name in inv.LOSSY_SCENARIOS}
    safe = {name: inv.run_lossy_scenario(name, inv.LossSafeNearCache) for name in inv.LOSSY_SCENARIOS}
    assert all(run.passed for run in safe.values())
    assert plain["messages in order"].passed  # with nothing lost, dropping the key is enough
    failed = {name for name, run in plain.items() if not run.passed}
    assert failed == {"a lost message", "messages out of order", "a disconnect", "back to normal after a gap",
                      "a late message"}
    assert all(run.broken_kind == "fresh" for name, run in plain.items() if name in failed)
    last = plain["a disconnect"].timeline[-1]
    assert (last["served"], last["DB"], last["check"]) == ("v1", "v2", "❌ stale")


# -- the graders look at properties: what the answer left on the store, with time passing --


@pytest.mark.parametrize("slot, alternative", [
    (slot, name) for slot, module in (("tenant", tenant_grader.TENANT_ALTERNATIVES),
                                      ("race", race_grader.RACE_ALTERNATIVES),
                                      ("loss-safe", near_grader.LOSSY_ALTERNATIVES)) for name in module])
def test_correct_answers_written_another_way_pass(slot, alternative, store, capsys):
    ex = inv.exercises(store)[slot]
    assert ex.check(ex.alternatives()[alternative]), ex.last_feedback


def test_two_invalidations_at_once_refuse_a_read_modify_write_of_the_generation(store, capsys):
    ex = inv.exercises(store).tenant
    assert not ex.check(tenant_grader.TENANT_MISTAKES["read-modify-write of the generation"])
    said = ex.last_feedback
    assert "'two invalidations at once'" in said and "the generation is 1, not 2" in said
    assert "'cached between the two invalidations'" in said  # the key that stayed reachable
    assert not ex.check(tenant_grader.TENANT_MISTAKES["resets the generation"])
    assert "after yours it is 0" in ex.last_feedback and "resets the generation" in ex.last_feedback


def test_a_tenant_hard_coded_from_the_example_is_refused_when_another_is_asked(store, capsys):
    ex = inv.exercises(store).tenant
    assert not ex.check(lambda store, tenant_id: inv.VersionedNamespace(store, "tenant:7").bump())
    said = ex.last_feedback
    assert "'tenant 8, invalidated before'" in said and "tenant 7's became unreachable" in said


def test_a_dead_readers_lease_must_carry_a_short_ttl(store, capsys):
    ex = inv.exercises(store).race
    assert not ex.check(race_grader.RACE_MISTAKES["lease without a TTL"])  # store.set(key, token, nx=True)
    said = ex.last_feedback
    assert "'a reader dies holding the lease'" in said and "with no TTL" in said
    out = capsys.readouterr().out
    assert "killed mid-query" in out and "TTL none (never expires)" in out  # the evidence table
    long_lease = race_grader._lease_with(ttl_seconds=3600, nx=True)
    assert not ex.check(long_lease) and "held its lease for 3600 s more" in ex.last_feedback


def test_a_lease_without_nx_is_refused_by_the_reader_it_sent_to_the_database(store, capsys):
    ex = inv.exercises(store).race
    assert not ex.check(race_grader.RACE_MISTAKES["lease without NX"])
    assert "reader D" in ex.last_feedback and "replaced A's cached row" in ex.last_feedback
    assert not ex.check(race_grader.RACE_MISTAKES["serves a lease as a row"])
    assert "reader C" in ex.last_feedback and "JSONDecodeError" in ex.last_feedback


def test_the_fixed_reader_keeps_the_300_s_ttl_and_hits_the_second_time(store, capsys):
    ex = inv.exercises(store).race

    def forever(store, db, row_id):
        row = race_grader.read_item(store, db, row_id)
        store.expire(f"item:{row_id}", 3_000_000)
        return row

    assert not ex.check(forever) and "carries a TTL of 3e+06 s on the store" in ex.last_feedback

    def always_queries(store, db, row_id):
        race_grader.read_item(store, db, row_id)
        return db.read(row_id)

    assert not ex.check(always_queries) and "after 1 DB read(s)" in ex.last_feedback


def test_a_late_message_must_not_move_the_newest_number_back(capsys):
    ex = inv.exercises(MemoryStore(namespace="late")).loss_safe
    assert not ex.check(near_grader.LOSSY_MISTAKES["a late message moves last_seq back"])
    assert "'a late message'" in ex.last_feedback and "item:1 was no longer in the near cache" in ex.last_feedback


def test_budget_exercise(capsys):
    ex = inv.exercises(MemoryStore(namespace="budget")).budget
    assert ex.check(15)
    assert not ex.check(16) and "the two layers' TTLs add up" in capsys.readouterr().out
    assert not ex.check(3)
    assert not ex.check(-1)


# -- the notebook's widgets -----------------------------------------------------------------


def test_ttl_widget_redraws_and_states_the_finding():
    plot = inv.explore_ttl()
    assert "No stale read was older than the TTL" in plot.axes[1].get_title()
    for ttl in (5, 60, 10, 90, 20):
        plot.set(ttl_seconds=ttl)
    assert plot.redraws == 6  # redraw speed is measured in benchmarks/bench_invalidation.py


def test_event_widget(redis_store):
    plot = inv.explore_events(redis_store)
    assert "Instance C missed one message" in plot.axes[0].get_title()
    assert "t = 21 s" in plot.axes[0].get_title()
    plot.set(near_cache="also flushes on a reconnect or a gap")
    assert "flushed when it reconnected: stale for 2 reads" in plot.axes[0].get_title()
    assert "no longer decides it" in plot.last_result  # the TTL slider says why it changes nothing now
    plot.set(lose_message=False)
    assert "nobody served an old row" in plot.axes[0].get_title()
    assert "neither the near-cache TTL nor C's near cache changes" in plot.last_result
    for ttl in (5, 30, 10):
        plot.set(near_ttl_seconds=ttl)
    assert plot.redraws == 6


def test_race_widget_steps_resets_and_switches(redis_store):
    plot = inv.explore_race(redis_store)
    assert plot.axes[1].get_title().startswith("Stale: the cache keeps v1 while the DB has v2")
    step, reset = (b for b in plot._buttons)
    reset.click()
    assert plot.stepper().events == []
    step.click()
    assert len(plot.stepper().events) == 1
    plot.set(strategy="lease")
    assert plot.axes[1].get_title().startswith("Safe")


def test_versioned_and_comparison_widgets(redis_store):
    plot = inv.explore_versioned(redis_store, keys=1000)
    assert plot.axes[0].get_title().startswith("A bump is 1 command")
    assert "SCAN call(s) (COUNT 1000)" in plot.last_result
    fixes = inv.compare_fixes(redis_store, concurrent=False)
    assert "only a TTL ends the naive stale entry" in fixes.axes[0].get_title()
