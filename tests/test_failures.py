"""Notebook 08: each failure and each fix, asserted on who hit the database and what was served."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit.clock import VirtualClock
from labkit.errors import LabError
from labkit.failures import (
    BloomFilter,
    Bulkhead,
    CacheDown,
    CacheTimeout,
    ChargeClock,
    CircuitBreaker,
    Defenses,
    FaultyStore,
    Incident,
    Traffic,
    bits_for,
    expected_false_positive_rate,
    optimal_hashes,
    replay,
)
from labkit.failures.checks import WARM_PLAN, check_warming_plan
from labkit.failures.incidents import (
    COLD,
    METASTABLE,
    METASTABLE_TRAFFIC,
    OUTAGE,
    cold_run,
    metastable_run,
    outage_run,
)
from labkit.failures.negative import penetration
from labkit.failures.slow import slow_cache
from labkit.store import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
S, E = OUTAGE.start_seconds, OUTAGE.end_seconds


# -- the circuit breaker's state machine ---------------------------------------------------------


def test_breaker_opens_after_the_threshold_and_refuses_while_open():
    clock = VirtualClock()
    b = CircuitBreaker(clock, failure_threshold=3, reset_timeout_seconds=2)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state == "closed", "two failures are under the threshold of three"
    b.record_failure()
    assert b.state == "open" and not b.allow()
    clock.advance(1.9)
    assert not b.allow(), "still inside the reset timeout"


def test_half_open_lets_exactly_one_probe_through():
    clock = VirtualClock()
    b = CircuitBreaker(clock, failure_threshold=1, reset_timeout_seconds=2)
    b.record_failure()
    clock.advance(2)
    assert [b.allow() for _ in range(5)] == [True, False, False, False, False]
    assert b.state == "half-open"


def test_a_failed_probe_reopens_and_a_successful_one_closes():
    clock = VirtualClock()
    b = CircuitBreaker(clock, failure_threshold=1, reset_timeout_seconds=2)
    b.record_failure()
    clock.advance(2)
    assert b.allow()
    b.record_failure()
    assert b.state == "open" and not b.allow(), "a failed probe opens the breaker for a new timeout"
    clock.advance(2)
    assert b.allow()
    b.record_success()
    assert b.state == "closed" and all(b.allow() for _ in range(3))
    assert [s for _, s in b.transitions] == ["closed", "open", "half-open", "open", "half-open", "closed"]


def test_a_success_resets_the_count_of_failures_in_a_row():
    b = CircuitBreaker(VirtualClock(), failure_threshold=2)
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state == "closed"


def test_bulkhead_refuses_beyond_its_limit_and_counts():
    b = Bulkhead(2)
    assert [b.try_enter() for _ in range(3)] == [True, True, False]
    b.leave()
    assert b.try_enter() and b.refused == 1 and b.peak_in_flight == 2
    unlimited = Bulkhead(None)
    assert all(unlimited.try_enter() for _ in range(1000))
    with pytest.raises(LabError):
        Bulkhead(None).leave()


# -- the fault injector ------------------------------------------------------------------------


def _faulty(timeout=0.25):
    clock = VirtualClock()
    charge = ChargeClock(clock)
    store = FaultyStore(MemoryStore(charge, namespace="test-faults"), timeout_seconds=timeout)
    store.set("k", "v")
    charge.take()
    return store, charge


def test_refuse_fails_fast_and_hang_waits_for_the_timeout():
    store, charge = _faulty()
    store.inject("refuse")
    with pytest.raises(CacheDown):
        store.get("k")
    assert charge.take() == pytest.approx(0.001)
    store.inject("hang")
    with pytest.raises(CacheTimeout):
        store.get("k")
    assert charge.take() == pytest.approx(0.25)
    store.heal()
    assert store.get("k") == "v" and store.failures == 2


def test_slow_answers_below_the_timeout_and_times_out_above_it():
    store, charge = _faulty()
    store.inject("slow", delay_seconds=0.1)
    assert store.get("k") == "v" and charge.take() == pytest.approx(0.1)
    store.inject("slow", delay_seconds=0.3)
    with pytest.raises(CacheTimeout):
        store.get("k")
    assert charge.take() == pytest.approx(0.25)


def test_drop_loses_about_its_share_of_replies():
    store, _ = _faulty()
    store.inject("drop", drop_share=0.3)
    lost = 0
    for _ in range(2000):
        try:
            store.get("k")
        except CacheTimeout:
            lost += 1
    assert 0.25 < lost / 2000 < 0.35


def test_a_hang_without_a_timeout_is_one_clear_sentence():
    store, _ = _faulty(timeout=None)
    store.inject("hang")
    with pytest.raises(LabError, match="socket_timeout"):
        store.get("k")
    with pytest.raises(LabError, match="Choose one of"):
        store.inject("explode")


# -- the Bloom filter --------------------------------------------------------------------------------


def test_bloom_filter_has_no_false_negatives():
    f = BloomFilter(4000, 3)
    f.add_many(range(500))
    assert all(i in f for i in range(500))


@pytest.mark.parametrize("bits_per_id", [4, 10])
def test_bloom_false_positive_rate_matches_the_formula(bits_per_id):
    ids = 2000
    bits = bits_per_id * ids
    f = BloomFilter(bits, optimal_hashes(bits, ids))
    f.add_many(range(ids))
    measured = f.measured_false_positive_rate(range(10**7, 10**7 + 20_000))
    expected = expected_false_positive_rate(bits, f.hashes, ids)
    assert 0.75 * expected <= measured <= 1.25 * expected


def test_sizing_for_a_target_rate_reaches_it():
    bits = bits_for(1000, 0.01)
    assert expected_false_positive_rate(bits, optimal_hashes(bits, 1000), 1000) <= 0.0105


# -- section 1: the cache is down ---------------------------------------------------------------------


def test_fallback_without_a_limit_overloads_the_database():
    r = outage_run("fall back to the DB")
    assert r.peak_db_qps(S, E) > 2 * r.capacity_qps
    assert r.success_rate(S, E) < 0.05, "answers arrive after the clients gave up"
    assert r.db_wasted > 1000, "the database did work nobody waited for"


def test_bulkhead_and_breaker_keep_the_database_within_capacity():
    limited, guarded = outage_run("+ bulkhead (4 at once)"), outage_run("+ circuit breaker")
    for r in (limited, guarded):
        assert r.peak_db_qps(S, E) <= r.capacity_qps
        assert 0.1 < r.success_rate(S, E) < 0.35
    assert limited.p99_ms(S + 1, E) >= 250, "without a breaker every request waits for the cache timeout"
    assert guarded.p99_ms(S + 1, E) < 150
    assert guarded.cache_attempts_while_down * 20 < limited.cache_attempts_while_down
    states = [s for _, s in guarded.breaker_transitions]
    assert states[:3] == ["closed", "open", "half-open"] and states[-1] == "closed"


def test_failing_fast_spares_the_database_but_serves_nobody():
    r = outage_run("fail the request")
    assert r.peak_db_qps(S, E) == 0 and r.success_rate(S, E) == 0


def test_gutter_serves_most_requests_within_capacity():
    r = outage_run("+ gutter cache")
    assert r.success_rate(S, E) > 2 * outage_run("+ circuit breaker").success_rate(S, E)
    assert r.peak_db_qps(S, E) <= r.capacity_qps


def test_every_strategy_recovers_after_a_short_outage_except_the_unlimited_fallback():
    for name in ("fail the request", "+ bulkhead (4 at once)", "+ circuit breaker", "+ gutter cache"):
        assert outage_run(name).success_rate(E + 5, 70) > 0.99, name


def test_replays_are_deterministic():
    d = Defenses(fallback_limit=4)
    a = replay(d, traffic=Traffic(duration_seconds=20), incident=Incident(start_seconds=5, down_seconds=5))
    b = replay(d, traffic=Traffic(duration_seconds=20), incident=Incident(start_seconds=5, down_seconds=5))
    assert (a.latencies == b.latencies).all() and (a.db_offered_per_second == b.db_offered_per_second).all()


def test_bad_incidents_are_one_sentence():
    with pytest.raises(LabError, match="after the replay"):
        replay(traffic=Traffic(duration_seconds=10), incident=Incident(start_seconds=5, down_seconds=30))
    with pytest.raises(LabError, match="fallback"):
        Defenses(fallback="pray")


# -- section 2: slow ---------------------------------------------------------------------------------


def test_a_slow_cache_is_worse_than_none_and_a_timeout_fixes_latency_not_load():
    res = {r.strategy: r for r in slow_cache(100)}
    assert res["wait for it"].p50_ms > 5 * res["no cache"].p50_ms
    for name in ("timeout at p99", "hedge", "skip while slow"):
        assert res[name].p99_ms < 2 * res["no cache"].p99_ms
        assert res[name].db_share > 0.95, "the reads went to the database instead"
    healthy = {r.strategy: r for r in slow_cache(0)}
    assert healthy["timeout at p99"].db_share == healthy["wait for it"].db_share, "the timeout never fires"


# -- section 3: cold ----------------------------------------------------------------------------------


def test_a_cold_cache_at_peak_stays_overloaded_and_warming_ends_it():
    e, d = COLD.end_seconds, 110
    cold = cold_run("cold (no warming)")
    assert cold.seconds_over_capacity(e) >= 60 and cold.success_rate(d - 20, d) < 0.5
    stale = cold_run("serve a stale snapshot")
    assert stale.seconds_over_capacity(e) == 0 and stale.success_rate(e, d) > 0.99
    combined = cold_run("pre-warm + ramp 45 s")
    assert combined.seconds_over_capacity(e) * 3 <= cold.seconds_over_capacity(e)
    assert check_warming_plan(dict(WARM_PLAN)).passed


def test_warming_plans_are_checked():
    with pytest.raises(LabError, match="prewarm_keys"):
        cold_run({"prewarm_keys": -1})
    with pytest.raises(LabError, match="Unknown plan key"):
        cold_run({"prewarm": 10})


# -- section 4: penetration ------------------------------------------------------------------------------


def test_negative_caching_cuts_absent_queries_at_a_bounded_staleness():
    none, short = penetration(None), penetration(10.0)
    assert none.db_queries_for_absent_per_second > 100
    assert short.db_queries_for_absent_per_second * 5 < none.db_queries_for_absent_per_second
    assert none.false_not_found == 0
    assert short.false_not_found > 0 and short.oldest_false_not_found_seconds <= 10.0
    # 200 ids at 1 read/s each with a 10 s TTL: about 200 / (1 + 10) queries/s at most
    assert short.db_queries_for_absent_per_second <= 200 / 11 * 1.1


def test_a_bloom_filter_lets_only_its_false_positives_through():
    r = penetration(None, bloom=True)
    assert r.db_queries_for_absent_per_second < 5
    assert r.bloom_false_positives > 0, "a filter with no false positives would be suspicious"


# -- section 5: metastable -------------------------------------------------------------------------------


def test_retries_without_a_budget_keep_the_database_over_capacity_after_the_trigger():
    e = METASTABLE.end_seconds
    stuck = metastable_run("3 retries, no budget")
    d = METASTABLE_TRAFFIC.duration_seconds
    assert stuck.seconds_over_capacity(e) >= d - e - 2, "it should stay over capacity until the end"
    assert stuck.success_rate(d - 20, d) < 0.9
    for fix in ("no retries", "retry budget (10%)", "load shedding"):
        r = metastable_run(fix)
        assert r.seconds_over_capacity(e) <= 10, fix
        assert r.success_rate(e + 20, d) > 0.99, fix
    assert metastable_run("backoff with jitter").seconds_over_capacity(e) >= d - e - 2, (
        "backoff spreads retries but does not cut them")


# -- the exercises ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_each_exercise_passes_its_reference_and_refuses_each_mistake_by_name():
    from labkit.failures import exercises

    ex = exercises()
    assert set(ex) == {"breaker", "not-found-ttl", "warming-plan"} and ex.breaker.kind == "implement"
    for name, exercise in ex.items():
        assert exercise.check(exercise.reference()), name
        for mistake, answer in exercise.mistakes().items():
            assert not exercise.check(answer), (name, mistake)
            assert mistake in exercise.last_feedback, (name, mistake, exercise.last_feedback)


def test_the_breaker_skeleton_is_not_an_attempt(tmp_path):
    from labkit.failures import exercises

    ex = exercises()
    namespace: dict = {}
    exec(ex.breaker.skeleton, namespace)
    assert not ex.breaker.check(namespace["Breaker"])
    assert "replace the ..." in ex.breaker.last_feedback


# -- a real outage on a lab-started server ----------------------------------------------------------------


def _redis_servers_under(path: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "redis-server" in cmdline and path in cmdline:
            found.append(int(pid))
    return found


@pytest.mark.redis_server
def test_live_outage_freezes_kills_and_restarts_a_lab_started_server(redis_server, tmp_path, monkeypatch):
    import tempfile

    from labkit.failures.live import run_live_outage

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the lab's servers keep their folder here
    r = run_live_outage(use_real_server=True, breaker=True, phase_seconds=0.4, keys=20)
    healthy, frozen, killed, restarted = r.phases
    assert r.backend == "lab-started redis-server"
    assert healthy.cache_hits == healthy.requests and healthy.db_reads == 0
    assert frozen.errors_seen == {"TimeoutError"} and frozen.skipped_by_breaker > frozen.cache_errors
    assert killed.errors_seen == {"ConnectionError"}
    misses = restarted.db_reads - restarted.skipped_by_breaker - restarted.cache_errors
    assert misses == 20, "the restarted server is empty: one miss per key, then hits"
    assert _redis_servers_under(str(tmp_path)) == [], "a lab-started redis-server was left running"


def test_live_outage_without_a_server_uses_the_wrapper():
    from labkit.failures.live import run_live_outage

    r = run_live_outage(use_real_server=False, breaker=False, phase_seconds=0.2, keys=10)
    assert r.backend == "fault-injecting wrapper"
    assert r.phases[1].errors_seen == {"CacheTimeout"} and r.phases[2].errors_seen == {"CacheDown"}
    assert r.phases[1].skipped_by_breaker == 0


@pytest.mark.slow
@pytest.mark.redis_server
def test_notebook_on_real_redis_leaves_the_learners_server_as_it_was(redis_url, tmp_path, monkeypatch):
    import nbformat
    import redis
    from nbclient import NotebookClient

    learner = redis.Redis.from_url(redis_url, decode_responses=True)
    learner.set("my-app:user:1", "precious")
    learner.set("other-team:cache:1", "theirs", ex=3600)
    before = {"config": learner.config_get("maxmemory*"), "dbsize": learner.dbsize(),
              "clients": learner.config_get("timeout")}
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CACHE_LAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the lab's own servers keep their folder here
    nb = nbformat.read(ROOT / "notebooks" / "08_failures.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   extra_arguments=["--IPKernelApp.log_level=ERROR"]).execute()
    shown = "\n".join(str(o.get("data", {}).get("text/plain", "")) for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "lab-started redis-server" in shown or "Cache: a redis-server this notebook started" in shown
    assert learner.get("my-app:user:1") == "precious" and learner.get("other-team:cache:1") == "theirs"
    assert learner.ttl("other-team:cache:1") > 3500
    after = {"config": learner.config_get("maxmemory*"), "dbsize": learner.dbsize(),
             "clients": learner.config_get("timeout")}
    assert after == before, "the learner's server changed"
    assert _redis_servers_under(str(tmp_path)) == [], "a lab-started redis-server outlived the notebook"


@pytest.mark.parametrize("backend", ["memory", "fakeredis"])
def test_every_data_command_goes_through_the_fault_but_cleanup_does_not(backend):
    import labkit

    inner = (MemoryStore(namespace="test-faults-all") if backend == "memory"
             else labkit.connect("fakeredis://", namespace="test-faults-all"))
    store = FaultyStore(inner, timeout_seconds=0.01)
    store.set("n", "1")
    store.inject("refuse")
    for call in (lambda: store.get("n"), lambda: store.incr("n"), lambda: store.set_if_newer("v", "x", 2),
                 lambda: store.get_many(["n"]), lambda: store.expire("n", 5), lambda: store.delete("n")):
        with pytest.raises(CacheDown):
            call()
    assert store.scan_keys("*") == ["n"] and store.prefix == inner.prefix
    assert store.reset() == 1, "the lab's own cleanup works while the cache is down"


# -- the database's capacity model against what a FIFO queue must do ---------------------------


def test_queue_database_matches_the_closed_form_of_a_burst():
    from labkit.failures.replay import DatabaseCapacity, QueueDatabase

    # 12 queries at once on 4 workers of 80 ms: the n-th answers after (n // 4 + 1) * 80 ms.
    db = QueueDatabase(DatabaseCapacity(workers=4, query_seconds=0.08, queue_limit=100), None, 10)
    answers = [db.submit(1.0) for _ in range(12)]
    assert [status for status, _ in answers] == ["ok"] * 12
    assert [round(t - 1.0, 3) for _, t in answers] == [0.08] * 4 + [0.16] * 4 + [0.24] * 4


def test_queue_database_never_serves_more_than_its_capacity_and_refuses_when_full():
    from labkit.failures.replay import DatabaseCapacity, QueueDatabase

    cap = DatabaseCapacity(workers=4, query_seconds=0.08, queue_limit=10)
    db = QueueDatabase(cap, None, 20)
    statuses = [db.submit(i * 0.001)[0] for i in range(2000)]  # 1,000 queries/s for 2 s
    assert db.served.max() <= cap.queries_per_second + cap.workers
    assert statuses.count("refused") == db.refused > 1500
    below = QueueDatabase(cap, None, 20)
    times = [below.submit(i * 0.05)[1] - i * 0.05 for i in range(100)]  # 20/s: no one waits
    assert max(times) == pytest.approx(0.08)


def test_load_shedding_drops_queries_that_waited_too_long_without_using_a_worker():
    from labkit.failures.replay import DatabaseCapacity, QueueDatabase

    db = QueueDatabase(DatabaseCapacity(workers=1, query_seconds=0.1, queue_limit=100), 0.25, 10)
    answers = [db.submit(0.0) for _ in range(6)]
    # waits 0, 0.1, 0.2 are served; 0.3 is shed at once, and so is everyone behind it
    assert [s for s, _ in answers] == ["ok", "ok", "ok", "shed", "shed", "shed"]
    assert db.submit(0.31) == ("ok", pytest.approx(0.41)), "shed queries did not occupy the worker"


def test_live_outage_says_so_in_one_line_when_no_redis_server_is_installed(monkeypatch):
    from labkit.failures import live

    monkeypatch.setattr(live, "redis_server_binary", lambda: None)
    r = live.run_live_outage(use_real_server=True, phase_seconds=0.1, keys=5)
    assert r.backend == "fault-injecting wrapper"
    assert r.note.count(".") == 1 and "No redis-server" in r.note


@pytest.mark.slow
def test_the_views_show_what_the_claims_state():
    from labkit import failures
    from labkit.claims import claims_for

    claims = {c.name: c.value() for c in claims_for("08").values()}
    outage = failures.explore_outage()
    outage.set(chosen="fall back to the DB")
    assert f"{claims['fallback_peak_ratio']:.1f}x DB capacity" in outage.axes[0].get_title()
    outage.set(chosen="+ circuit breaker")
    assert f"p99 {claims['breaker_p99_ms']:.0f} ms" in outage.axes[2].get_title()
    cold = failures.explore_cold_start()
    said = f"cold {claims['cold_over_seconds']} s, plan {claims['warm_plan_over_seconds']} s"
    assert said in cold.axes[0].get_title()
    meta = failures.explore_metastable()
    assert f"over capacity {claims['meta_over_no_budget']} s vs {claims['meta_over_budget']} s" in (
        meta.axes[0].get_title())
    slow = failures.explore_slow_cache()
    assert "100 ms cache" in slow.axes[0].get_title() and len(slow.results["results"]) == 5
    pen = failures.explore_penetration()
    pen.set(bloom=True)
    assert pen.results["run"].bloom and pen.results["run"].db_queries_for_absent_per_second < 5
    table = str(failures.outage_table())
    assert "+ gutter cache" in table and "fall back to the DB" in table


@pytest.mark.redis_server
def test_redis_py_retries_a_timed_out_command_by_default(redis_server):
    """The premise of the 'about a minute' claim, at a 50 ms timeout instead of 5 s: the
    default client tries again after a timeout, so a frozen server costs many timeouts."""
    import signal
    import time

    import redis

    from labkit.redis_server import LocalRedis

    server = LocalRedis()
    try:
        client = redis.Redis(port=server.port, socket_timeout=0.05)  # every other setting: the defaults
        client.set("k", "v")
        pid = int(client.info("server")["process_id"])
        os.kill(pid, signal.SIGSTOP)
        started = time.perf_counter()
        with pytest.raises(redis.TimeoutError):
            client.get("k")
        waited = time.perf_counter() - started
        os.kill(pid, signal.SIGCONT)
    finally:
        server.stop()
    retries = client.get_retry().get_retries()
    assert retries >= 3 and waited >= (retries + 1) * 0.05, "each retry waited its own timeout"


def test_a_healthy_replay_misses_as_often_as_the_ttl_formula_says():
    """Independent reference: with a TTL of T, a key read r times a second misses r / (1 + rT)
    times a second (one miss per TTL cycle), so the database sees the sum over keys."""
    from labkit.workloads import zipf_probabilities

    traffic = Traffic(duration_seconds=60)
    r = replay(Defenses(), traffic=traffic, incident=Incident(fault="none", start_seconds=0, down_seconds=0))
    rates = zipf_probabilities(traffic.keys, traffic.zipf_alpha) * traffic.rate_per_second
    expected = float((rates / (1 + rates * traffic.cache_ttl_seconds)).sum())
    assert r.mean_db_qps(0, 60) == pytest.approx(expected, rel=0.15)
    assert r.success_rate() == 1.0


# -- the breaker exercise: what its grader refuses, accepts and says ------------------------------------


def _breaker_variant(**changes):
    """The reference breaker with one realistic edit: class attributes, or __init__ defaults."""
    from labkit.failures.breaker_answers import Breaker

    init = changes.pop("init", None)
    variant = type("Breaker", (Breaker,), changes)
    if init:
        def __init__(self, clock, failure_threshold=5, reset_timeout_seconds=2.0):
            Breaker.__init__(self, clock, **init)
        variant.__init__ = __init__
    return variant


def test_the_breaker_grader_accepts_correct_breakers_written_another_way():
    from labkit.failures import exercises

    ex = exercises().breaker
    assert set(ex.alternatives()) == {"rate-based trip", "a probe deadline instead of states"}
    for name, answer in ex.alternatives().items():
        assert ex.check(answer), (name, ex.last_feedback)


def test_a_success_that_closes_but_keeps_the_failure_count_is_refused_with_what_was_seen():
    from labkit.failures import exercises
    from labkit.failures.breaker_answers import Breaker

    class Breaker(Breaker):  # noqa: F811 - what a learner writes: closes, forgets to reset the count
        def record_success(self):
            self.state, self.probing = "closed", False

    ex = exercises().breaker
    assert not ex.check(Breaker)
    assert "1 call in 10, never twice in a row" in ex.last_feedback
    assert "after 5 such failures" in ex.last_feedback and "counts failures across successes" in ex.last_feedback


def test_a_bulkhead_one_over_capacity_is_told_what_it_allows_not_that_it_has_no_limit():
    from labkit.failures import exercises

    ex = exercises().breaker
    assert not ex.check(_breaker_variant(max_fallback_reads=5))
    said = ex.last_feedback
    assert "without a limit" not in said
    assert "max_fallback_reads = 5 lets 5 reads of 80 ms run at once, up to 62.5 queries/s" in said
    assert "up to 51 queries/s" in said, "the peak the replay measured"
    assert not ex.check(_breaker_variant(max_fallback_reads=2))
    assert "served only 23 of the 50 queries/s it can" in ex.last_feedback


def test_a_slow_reset_is_told_when_it_probed_not_that_it_never_closes():
    from labkit.failures import exercises

    ex = exercises().breaker
    assert not ex.check(_breaker_variant(init={"reset_timeout_seconds": 20.0}))
    assert "never" not in ex.last_feedback
    assert "the first call your breaker let through came 20.0 s after it opened" in ex.last_feedback


def test_breaker_mistakes_are_named_only_from_their_evidence():
    from labkit.failures import exercises

    ex = exercises().breaker
    assert not ex.check(_breaker_variant(init={"failure_threshold": 3}))
    assert "refused call 4 after only 3 failures in a row" in ex.last_feedback
    for name in ("counts failures across", "wall clock", "restarts the reset timer", "half-open probe"):
        assert name not in ex.last_feedback


@pytest.mark.redis_server
def test_the_real_outage_runs_on_a_lab_started_server_on_fakeredis_too(redis_server, tmp_path, monkeypatch):
    """08's freeze and kill need only the redis-server program, not REDIS_URL."""
    import tempfile

    import labkit
    from labkit import failures

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    store = labkit.connect("fakeredis://", namespace="test-live-08")
    table = str(failures.live_outage(store, phase_seconds=0.2))
    assert "a redis-server this notebook started" in table
    assert "SIGSTOP" in table and "SIGKILL" in table and "TimeoutError" in table and "ConnectionError" in table
    assert _redis_servers_under(str(tmp_path)) == []


# -- partial failure: one node of N ----------------------------------------------------------------------


def test_one_frozen_node_of_ten_never_opens_a_consecutive_breaker_but_opens_its_own_rate_breaker():
    from labkit.failures.partial import partial_failure

    one = partial_failure("one breaker, 5 failures in a row", 10)
    per_node = partial_failure("a breaker per node, failure rate >= 50%", 10)
    assert one.openings == 0
    assert 0.08 < one.waited_share() < 0.12, "every read of the frozen node waits: a tenth"
    assert per_node.openings >= 1 and per_node.waited_share() < 0.01
    assert per_node.skipped_healthy_share() == 0, "only the frozen node's breaker opens"
    assert per_node.p99_ms() < 250 <= one.p99_ms()


def test_a_single_breaker_that_opens_on_one_node_of_four_refuses_the_healthy_nodes_too():
    from labkit.failures.partial import PARTIAL, partial_failure

    rate = partial_failure("one breaker, failure rate >= 50%", 4)
    assert rate.openings >= 1 and rate.skipped_healthy_share() > 0.02
    assert rate.peak_db_qps() > PARTIAL.db_capacity_qps


def test_a_rate_breaker_opens_on_scattered_failures_that_a_consecutive_one_never_sees():
    from labkit.failures import CircuitBreaker
    from labkit.failures.breaker import RateCircuitBreaker

    clock = VirtualClock()
    streak, rate = CircuitBreaker(clock, failure_threshold=5), RateCircuitBreaker(clock, 0.5, 20, 10)
    for i in range(40):  # fail, succeed, fail, succeed...: 50%, never two in a row
        for b in (streak, rate):
            (b.record_failure if i % 2 == 0 else b.record_success)()
        if rate.state == "open":
            break
    assert streak.state == "closed" and rate.state == "open" and i == 10, "at 10 calls, 5 of them failed"
    clock.advance(2.0)
    assert rate.allow() and not rate.allow(), "one probe, as in the consecutive breaker"
    rate.record_success()
    assert rate.state == "closed" and len(rate.outcomes) == 0, "closed afresh"


def test_warming_in_a_sharded_cache_has_no_warm_copy_to_ramp_to():
    e = COLD.end_seconds
    replicated = cold_run({"prewarm_keys": 1000, "ramp_seconds": 60})
    sharded = cold_run({"prewarm_keys": 1000, "ramp_seconds": 60, "sharded": True})
    assert replicated.seconds_over_capacity(e) <= 10 < sharded.seconds_over_capacity(e)
    assert cold_run("load shedding (0.5 s)").success_rate(90, 110) > 0.95 > 0.3 > cold_run(
        "single-flight").success_rate(90, 110)


def test_value_exercises_refuse_realistic_wrong_answers_and_say_why():
    from labkit.failures import exercises

    ex = exercises()
    ttl = ex["not-found-ttl"]
    assert ttl.check(9) and ttl.check(30) and not ttl.check(31)
    assert not ttl.check(8.5) and "200 ids x 1/(1 + 8.5) = 21.1 DB queries/s" in ttl.last_feedback
    assert not ttl.check(20_000) and "milliseconds" in ttl.last_feedback
    plan = ex["warming-plan"]
    assert not plan.check({"prewarm_keys": 5000})
    assert "takes 200 s" in plan.last_feedback
    assert not plan.check({"prewarm_keys": 800, "ramp_seconds": 60})
    assert "a peak of" in plan.last_feedback and "prewarm_keys=1000 passes" in plan.last_feedback
    assert plan.check({"prewarm_keys": 1000, "ramp_seconds": 60, "single_flight": False})


def test_a_breaker_written_in_a_notebook_cell_on_the_wall_clock_is_named():
    """A class defined in a cell has no source file; its methods do (IPython keeps each cell in
    linecache under its own name), and that is where the grader looks."""
    import linecache

    from labkit.failures import exercises

    cell = '''
import time
from labkit.failures.breaker_answers import Breaker as Reference

class Breaker(Reference):
    def allow(self):
        if self.state == "open" and time.time() - self.opened_at >= self.reset_timeout_seconds:
            self.state = "half-open"
        return super().allow()

    def record_failure(self):
        super().record_failure()
        if self.state == "open":
            self.opened_at = time.time()
'''
    name = "<ipython-input-8-wallclock>"
    linecache.cache[name] = (len(cell), None, cell.splitlines(True), name)
    namespace = {"__name__": "__main__"}
    exec(compile(cell, name, "exec"), namespace)
    ex = exercises().breaker
    assert not ex.check(namespace["Breaker"])
    assert "reads the wall clock" in ex.last_feedback and "time.time(" in ex.last_feedback


def test_the_partial_failure_chart_says_what_its_claims_state():
    from labkit import failures
    from labkit.claims import claims_for

    claims = {name: c.value() for name, c in claims_for("08").items() if name.startswith("partial_")}
    view = failures.explore_partial()
    title = view.axes[0].get_title()
    assert f"{claims['partial_waited_one']:.0%} of reads wait with one breaker" in title
    assert f"{claims['partial_waited_per_node']:.1%} with one per node" in title
    assert "Only the frozen node's share reads the DB" in view.axes[1].get_title()
    view.set(nodes=4)
    assert "sends every node's reads to the DB" in view.axes[1].get_title()
