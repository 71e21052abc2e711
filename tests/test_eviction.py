"""Eviction: the simulator's policies, checked against each other, against
libCacheSim, and against a real redis-server; plus every claim notebook 05 makes."""

from __future__ import annotations

import numpy as np
import pytest

import labkit
from labkit import eviction, workloads
from labkit.errors import LabError
from labkit.eviction import grading, lesson
from labkit.eviction import redis_demo as rd
from labkit.redis_server import redis_server_binary

N = 100_000
TRACES = {
    "zipf": workloads.zipf(N, 20_000, 0.8, seed=1),
    "shifting": workloads.shifting(N, 20_000, 0.9, seed=2),
    "loop": workloads.loop(N, 1001),
    "zipf+scan": workloads.mix(
        workloads.zipf(N // 2, 10_000, 0.9, seed=3), workloads.scan(N // 2, 50_000), weights=[0.7, 0.3], seed=4
    ),
}


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("capacity", [0, -5, 1.5, True, "10", None])
def test_bad_capacity_is_one_sentence(capacity):
    with pytest.raises(LabError, match=r"^capacity must be a whole number of objects > 0 \(got .*\)\.$"):
        eviction.simulate([1, 2, 3], "lru", capacity)


def test_unknown_policy_lists_every_valid_name():
    with pytest.raises(LabError) as err:
        eviction.simulate([1, 2, 3], "mru", 10)
    message = str(err.value)
    assert message.startswith("Unknown policy 'mru'. Choose one of: ")
    assert all(name in message for name in eviction.POLICIES)
    assert "\n" not in message and message.endswith("opt.")


@pytest.mark.parametrize("trace", [[], np.array([], dtype=np.int64)])
def test_empty_trace_is_one_sentence(trace):
    with pytest.raises(LabError, match=r"^The trace is empty; give it at least one request"):
        eviction.simulate(trace, "lru", 10)


def test_other_bad_traces_and_arguments():
    with pytest.raises(LabError, match="integer key ids"):
        eviction.simulate([1.5, 2.5], "lru", 2)
    with pytest.raises(LabError, match="must be >= 0"):
        eviction.simulate([1, -2], "lru", 2)
    with pytest.raises(LabError, match="rate must be in"):
        eviction.shards_sample([1, 2], 0)
    with pytest.raises(LabError, match="window must be"):
        eviction.hit_ratio_timeline([1, 2], "lru", 1, window=0)
    with pytest.raises(LabError, match="capacity must be"):
        eviction.hit_ratio_curve([1, 2], "fifo", [1, 0])
    with pytest.raises(LabError, match="No trace file"):
        eviction.load_trace("/nonexistent/trace.csv")
    with pytest.raises(LabError, match="Unknown maxmemory-policy"):
        rd.real_eviction_demo(policies=["allkeys-mru"])


# ------------------------------------------------------------ policy basics


def test_small_traces_by_hand():
    assert eviction.simulate([1, 2, 1, 3, 1], "lru", 2).hits == 2  # 3 evicts 2, 1 stays
    assert eviction.simulate([1, 2, 1, 3, 1], "fifo", 2).hits == 1  # 3 evicts 1 despite its hit
    assert eviction.simulate([1, 2, 1, 3, 1], "opt", 2).hits == 2
    result = eviction.simulate([1, 2, 1, 3, 1], "lru", 2)
    assert (result.misses, result.requests, result.hit_ratio) == (3, 5, 0.4)


@pytest.mark.parametrize("policy", eviction.POLICIES)
def test_every_policy_respects_capacity_and_counts(policy):
    trace = workloads.zipf(20_000, 2_000, 0.9, seed=5)
    cache = eviction.make_policy(policy, 150)
    keys = trace.tolist()
    cache.prepare(keys)
    hits = cache.run(keys)
    assert 0 < hits < len(keys)
    assert len(cache.cached_keys()) <= 150
    assert set(cache.cached_keys()) <= set(keys)
    again = eviction.simulate(trace, policy, 150)
    assert again.hits == hits  # seeded: the same trace gives the same answer
    assert again.hits + again.misses == len(keys)


@pytest.mark.parametrize("policy", eviction.POLICIES)
def test_replaying_in_windows_equals_one_replay(policy):
    trace = TRACES["shifting"][:30_000]
    whole = eviction.simulate(trace, policy, 500).hits
    windows = eviction.hit_ratio_timeline(trace, policy, 500, window=7_000)
    sizes = [7_000] * 4 + [2_000]
    assert round(sum(r * s for r, s in zip(windows, sizes, strict=True))) == whole


@pytest.mark.parametrize("name", list(TRACES))
@pytest.mark.parametrize("policy", [*eviction.POLICIES, "tinylfu-libcachesim"])
def test_fast_loop_and_readable_access_give_the_same_hits(policy, name):
    keys = TRACES[name][:30_000].tolist()
    for capacity in (3, 500):
        params = {}
        if policy == "tinylfu-libcachesim":
            policy, params = "tinylfu", eviction.POLICY_CLASSES["tinylfu"].libcachesim_params(capacity)
        fast, readable = (eviction.make_policy(policy, capacity, **params) for _ in range(2))
        fast.prepare(keys)
        readable.prepare(keys)
        assert fast.run(keys) == sum(1 for key in keys if readable.access(key)), capacity
        assert fast.cached_keys() == readable.cached_keys()


@pytest.mark.parametrize("name", list(TRACES))
def test_the_exercise_reference_answers_equal_the_lab_simulator(name):
    from labkit.eviction.answers import LearnerClock, LearnerSieve

    trace = TRACES[name][:20_000]
    for capacity in (1, 4, 300):
        assert LearnerSieve(capacity).run(trace.tolist()) == eviction.simulate(trace, "sieve", capacity).hits
        assert LearnerClock(capacity).run(trace.tolist()) == eviction.simulate(trace, "clock", capacity).hits


def test_a_policy_needs_only_access():
    class MRU(eviction.Policy):
        def __init__(self, capacity, *, seed=0):
            super().__init__(capacity, seed=seed)
            self.keys = []

        def access(self, key):
            if key in self.keys:
                self.keys.remove(key)
                self.keys.append(key)
                return True
            if len(self.keys) >= self.capacity:
                self.keys.pop()  # the most recently used goes
            self.keys.append(key)
            return False

    assert MRU(100).run(list(range(101)) * 50) > 4_000  # MRU is what a loop wants
    with pytest.raises(LabError, match="does not list its keys"):
        MRU(1).cached_keys()


@pytest.mark.parametrize("policy", ["lru", "fifo", "clock", "sieve", "lfu", "arc"])
def test_loop_one_longer_than_the_cache_defeats_recency_and_frequency(policy):
    assert eviction.simulate(list(range(101)) * 50, policy, 100).hits == 0


def test_tinylfu_ages_every_ten_cache_sizes_like_caffeine():
    assert eviction.make_policy("tinylfu", 1_000).sample_size == 10_000


# ---------------------------------------------------- one-pass LRU and OPT


@pytest.mark.parametrize("name", list(TRACES))
def test_one_pass_lru_curve_equals_lru_at_every_capacity(name):
    trace = TRACES[name][:20_000]
    curve = eviction.lru_curve(trace)
    distinct = len(np.unique(trace))
    assert curve.distinct_keys == distinct
    for capacity in sorted({1, 2, 3, 10, 99, 100, 101, 500, 1000, 1001, 4000, distinct, distinct + 5}):
        assert curve.hits(capacity) == eviction.simulate(trace, "lru", capacity).hits, capacity


def test_one_pass_lru_curve_exhaustively_on_a_small_trace():
    trace = workloads.zipf(3_000, 300, 0.7, seed=9)
    curve = eviction.lru_curve(trace)
    for capacity in range(1, 301):
        assert curve.hits(capacity) == eviction.simulate(trace, "lru", capacity).hits


def test_stack_distances_by_hand():
    # a b c a b b: distances -1 -1 -1 2 2 0
    assert eviction.stack_distances([0, 1, 2, 0, 1, 1]).tolist() == [-1, -1, -1, 2, 2, 0]


@pytest.mark.parametrize("name", list(TRACES))
@pytest.mark.parametrize("capacity", [100, 1_000])
def test_opt_is_never_beaten(name, capacity):
    trace = TRACES[name][:40_000]
    best = eviction.simulate(trace, "opt", capacity).hits
    for policy in eviction.POLICIES:
        assert eviction.simulate(trace, policy, capacity).hits <= best, policy


# ---------------------------------------------------------- libCacheSim


EXACT = ("lru", "fifo", "clock", "sieve", "arc", "opt")  # within 0.5 points (measured: identical)
# Within 1.5 points, on the shapes where the implementations are comparable:
# - lfu, s3fifo: same algorithm and tie-breaking as libCacheSim (measured: identical).
# - random: different random number generators (and libCacheSim draws its victim from
#   its hash table); on a loop with a cache half the loop's size the run-to-run spread
#   alone exceeds 1.5 points, so loops are left out.
# - tinylfu: ours follows Caffeine by default; TinyLFU.libcachesim_params(capacity) sets
#   the four mechanisms in which libCacheSim's WTinyLFU differs (which events are counted,
#   its counting Bloom filter, uncapped counts aged by main-cache hits, and its SLRU layout;
#   see the TinyLFU docstring), and then the hit counts are identical on every shape.
LOOSE = {
    "lfu": [(s, c) for s in TRACES for c in (100, 2_000)],
    "s3fifo": [(s, c) for s in TRACES for c in (100, 2_000)],
    "random": [(s, c) for s in ("zipf", "shifting", "zipf+scan") for c in (100, 2_000)],
    "tinylfu": [(s, c) for s in TRACES for c in (100, 500, 2_000)],
}
LIBCACHESIM_NAMES = {
    "lru": "LRU", "fifo": "FIFO", "clock": "Clock", "sieve": "Sieve", "arc": "ARC", "opt": "Belady",
    "lfu": "LFU", "s3fifo": "S3FIFO", "random": "Random", "tinylfu": "WTinyLFU",
}


@pytest.fixture(scope="module")
def libcachesim_hit_ratio(tmp_path_factory):
    lcs = pytest.importorskip("libcachesim")
    folder = tmp_path_factory.mktemp("traces")
    files = {name: eviction.write_oracle_general(t, folder / f"{name}.oracleGeneral") for name, t in TRACES.items()}

    def run(policy: str, shape: str, capacity: int) -> float:
        # A fresh cache per run (process_trace does not reset one); hashpower=16 keeps it small.
        cache = getattr(lcs, LIBCACHESIM_NAMES[policy])(capacity, hashpower=16)
        reader = lcs.TraceReader(str(files[shape]), lcs.TraceType.ORACLE_GENERAL_TRACE)
        return 1.0 - cache.process_trace(reader)[0]

    return run


@pytest.mark.parametrize("policy", EXACT)
@pytest.mark.parametrize("shape", list(TRACES))
@pytest.mark.parametrize("capacity", [100, 2_000])
def test_agrees_with_libcachesim_within_half_a_point(libcachesim_hit_ratio, policy, shape, capacity):
    ours = eviction.simulate(TRACES[shape], policy, capacity).hit_ratio
    assert abs(ours - libcachesim_hit_ratio(policy, shape, capacity)) <= 0.005


def libcachesim_params(policy: str, capacity: int) -> dict:
    """Our parameters that reproduce libCacheSim's variant of ``policy`` (the defaults elsewhere)."""
    return eviction.POLICY_CLASSES[policy].libcachesim_params(capacity) if policy == "tinylfu" else {}


@pytest.mark.parametrize(("policy", "shape", "capacity"), [(p, s, c) for p, cases in LOOSE.items() for s, c in cases])
def test_agrees_with_libcachesim_within_one_and_a_half_points(libcachesim_hit_ratio, policy, shape, capacity):
    ours = eviction.simulate(TRACES[shape], policy, capacity, **libcachesim_params(policy, capacity)).hit_ratio
    theirs = libcachesim_hit_ratio(policy, shape, capacity)
    assert abs(ours - theirs) <= 0.015
    if policy == "tinylfu":  # stronger than the issue asks: the same hit count, request for request
        assert round(ours * N) == round(theirs * N)


def test_our_caffeine_style_tinylfu_adapts_faster_than_libcachesims_when_the_hot_set_moves(libcachesim_hit_ratio):
    # With the notebook's (Caffeine's) defaults: 10.5 points above libCacheSim at 500 (measured).
    ours = eviction.simulate(TRACES["shifting"], "tinylfu", 500).hit_ratio
    assert ours > libcachesim_hit_ratio("tinylfu", "shifting", 500) + 0.05


def test_libcachesims_bloom_filter_collisions_and_slow_aging_each_matter():
    """Evidence for the TinyLFU docstring: each of these mechanisms alone moves the result."""
    trace, shifting = TRACES["loop"], TRACES["shifting"]
    lcs = eviction.POLICY_CLASSES["tinylfu"].libcachesim_params(500)
    bloom = eviction.simulate(trace, "tinylfu", 500, **lcs).hit_ratio
    exact = eviction.simulate(trace, "tinylfu", 500, **{**lcs, "sketch": "exact"}).hit_ratio
    assert bloom - exact > 0.04  # measured 5.1 points: shared counters change who gets in
    slow = eviction.simulate(shifting, "tinylfu", 500, **lcs).hit_ratio
    fast = eviction.simulate(shifting, "tinylfu", 500, **{**lcs, "aging_clock": "requests", "aging_period": 5_000})
    assert fast.hit_ratio - slow > 0.06  # measured 8.3 points: forgetting the old hot set sooner


def test_tinylfu_parameters_are_checked():
    with pytest.raises(LabError, match="Unknown sketch 'cms'. Choose one of: exact, bloom."):
        eviction.make_policy("tinylfu", 100, sketch="cms")


# ----------------------------------------------------- SHARDS and traces


def test_shards_estimate_is_within_four_points_at_a_ten_percent_sample():
    trace = workloads.zipf(200_000, 20_000, 0.8, seed=3)
    sampled_keys = len(np.unique(eviction.shards_sample(trace, 0.1)))
    assert 0.08 < sampled_keys / len(np.unique(trace)) < 0.12  # a tenth of the keys, all their requests
    for policy in ("lru", "s3fifo"):
        assert eviction.sampling_error(trace, policy, [500, 2_000, 5_000], 0.1) < 0.04


def test_shards_lru_estimate_matches_the_exact_one_pass_curve():
    trace = lesson.sizing_trace()
    sizes = lesson.SIZING_CAPACITIES
    exact = eviction.lru_curve(trace).hit_ratios(sizes)
    sampled = eviction.hit_ratio_curve(trace, "lru", sizes, sample_rate=0.1)
    assert np.max(np.abs(sampled - exact)) < 0.02
    assert np.all(np.diff(sampled) > 0)  # the estimate rises with the size, as the true curve does


def test_oracle_general_round_trip_and_csv(tmp_path):
    trace = np.array([5, 7, 5, 9, 7, 5])
    path = eviction.write_oracle_general(trace, tmp_path / "t.oracleGeneral")
    assert eviction.load_trace(path).tolist() == [0, 1, 0, 2, 1, 0]
    csv = tmp_path / "t.csv"
    csv.write_text("time,key,size\n1,42,1\n2,17,1\n3,42,1\n")
    assert eviction.load_trace(csv).tolist() == [0, 1, 0]


# ------------------------------------------------------ notebook's claims


MODERN = lesson.POLICY_SETS["modern: lru sieve s3fifo arc tinylfu"]


def test_section1_loop_table(capsys):
    assert eviction.table(list(range(101)) * 50, 100) is None  # prints; shows no raw dict under the cell
    assert "LRU" in capsys.readouterr().out
    results = lesson.loop_hit_ratios(list(range(101)) * 50, 100)
    assert results["lru"] == results["fifo"] == results["sieve"] == 0
    assert results["s3fifo"] > 0.85 and results["tinylfu"] > 0.85
    assert results["opt"] >= max(results.values())


def test_section2_lru_last_at_every_size_and_tinylfu_about_ten_points_under_opt():
    for percent in lesson.CAPACITY_PERCENTS:
        here = lesson.compare("zipf+scan", percent, MODERN)
        assert min(MODERN, key=here.__getitem__) == "lru", percent
        assert here["opt"] > max(here[p] for p in MODERN)
    at5 = lesson.compare("zipf+scan", 5, MODERN)
    assert max(MODERN, key=at5.__getitem__) == "tinylfu"
    assert 0.08 <= at5["opt"] - at5["tinylfu"] <= 0.12


def test_section2_gap_between_policies_shrinks_as_the_cache_grows():
    spread = {}
    for percent in lesson.CAPACITY_PERCENTS:
        here = lesson.compare("zipf+scan", percent, MODERN)
        spread[percent] = max(here[p] for p in MODERN) - min(here[p] for p in MODERN)
    assert min(spread[1], spread[2]) > max(spread[20], spread[30], spread[50])


def test_section2_loop_trace_zero_for_recency_and_frequency_policies():
    for percent in lesson.CAPACITY_PERCENTS:
        for policy in ("lru", "fifo", "clock", "sieve", "arc", "lfu"):
            assert lesson.hit_ratio("loop", 0.8, policy, percent) == 0.0


def test_section3_lfu_never_recovers_and_the_others_do():
    series = lesson.timelines(lesson.TIMELINE_POLICIES, 10)
    quarter = len(series["lru"]) // 4
    first = {p: series[p][1:quarter].mean() for p in lesson.TIMELINE_POLICIES}
    last = {p: series[p][-quarter:].mean() for p in lesson.TIMELINE_POLICIES}
    assert last["lfu"] < 0.5 * first["lfu"]
    assert abs(last["lru"] - first["lru"]) < 0.03 and first["lru"] < first["arc"]
    for p in ("arc", "s3fifo"):
        assert last[p] >= first[p] - 0.05
    assert first["tinylfu"] - last["tinylfu"] > first["s3fifo"] - last["s3fifo"]
    assert last["tinylfu"] > 2 * last["lfu"]


def test_explore_redraws_from_memory_and_titles_state_the_finding():
    plot = eviction.explore(warm_up=False)
    assert isinstance(next(iter(plot.controls.values())).value, int)  # the first control: a slider
    assert plot.axes[1].get_title() == "At 5%: W-TinyLFU best, 10 points under OPT"
    assert plot.axes[0].get_title() == "LRU trails at every size; none reaches OPT"
    plot.set(percent=20)
    assert plot.redraws == 2 and plot.axes[1].get_title().startswith("At 20%")
    timeline = eviction.explore_timeline()
    assert timeline.axes[0].get_title().endswith("LFU never recovers")


@pytest.mark.slow
@pytest.mark.parametrize("percent", lesson.CAPACITY_PERCENTS)
@pytest.mark.parametrize("alpha", lesson.ALPHAS)
def test_the_two_titles_never_disagree(percent, alpha):
    """The curve panel names no leader; the bar panel names the best at the slider's size."""
    left, right = lesson.comparison_titles("zipf+scan", percent, "modern: lru sieve s3fifo arc tinylfu", alpha)
    here = lesson.compare("zipf+scan", percent, MODERN, alpha)
    best = max(MODERN, key=here.__getitem__)
    assert right.startswith(f"At {percent}%: {lesson.LABELS[best]} best")
    assert "leads" not in left and not any(lesson.LABELS[p] in left for p in MODERN if p != "lru")


@pytest.mark.slow
def test_titles_call_ties_ties():
    left, right = lesson.comparison_titles("loop", 5, "classic: lru fifo lfu clock")
    assert left.startswith("every policy ties at every size") and right.startswith("At 5%: all tie")
    left, _ = lesson.comparison_titles("loop", 5, "modern: lru sieve s3fifo arc tinylfu")
    assert left.startswith("LRU, SIEVE and ARC trail at every size")


# --------------------------------------------------------------- exercises


def test_exercise_workloads():
    ex = eviction.exercises()
    assert ex.workloads.check({"catalogue": "tinylfu", "nightly-report": "tinylfu", "news": "arc"})
    assert ex.workloads.check({"catalogue": "s3fifo", "nightly-report": "s3fifo", "news": "s3fifo"})
    assert not ex.workloads.check({"catalogue": "lru", "nightly-report": "lru", "news": "lru"})
    assert not ex.workloads.check({"catalogue": "tinylfu", "nightly-report": "tinylfu", "news": "lfu"})
    assert not ex.workloads.check({"catalogue": "lfu"})
    assert not ex.workloads.check(...)


def test_exercise_redis_policy():
    ex = eviction.exercises()
    assert ex.redis_policy.check("volatile-lfu") and ex.redis_policy.check("volatile-lru")
    for wrong in ("allkeys-lru", "allkeys-lfu", "noeviction", "volatile-random", "volatile-ttl", "lru"):
        assert not ex.redis_policy.check(wrong)


@pytest.mark.slow
def test_every_exercise_passes_its_reference_and_refuses_each_mistake_by_name():
    ex = eviction.exercises()
    assert [e.kind for e in ex.values()] == ["choice", "implement", "value", "choice"]
    for exercise in ex.values():
        assert exercise.check(exercise.reference()), exercise.name
        assert len(exercise.mistakes()) >= 2
        for name, wrong in exercise.mistakes().items():
            assert not exercise.check(wrong), (exercise.name, name)
            assert name in exercise.last_feedback, (exercise.name, name, exercise.last_feedback)


def test_sieve_exercise_shows_the_first_divergence_and_accepts_clock_when_asked():
    from labkit.eviction.answers import MISTAKES, LearnerClock
    from labkit.eviction.replay import divergence_rows, first_divergence, replay

    ex = eviction.exercises()
    assert ex.sieve.check(LearnerClock)  # the learner's choice: name = "clock"
    assert not ex.sieve.check(...) and "replace the ..." in ex.sieve.last_feedback
    keys = list(grading._SMALL_TRACE)
    expected = replay(eviction.POLICY_CLASSES["sieve"](4), keys).hits
    got = replay(MISTAKES["moves survivors to the head"](4), keys).hits
    at = first_divergence(expected, got).request
    assert expected[:at] == got[:at] and expected[at] != got[at]
    rows = divergence_rows(keys, expected, got, at)
    assert rows[-1]["request #"] == at and rows[-1]["key"] == keys[at] and rows[-1]["reference"] != rows[-1]["yours"]
    assert not ex.sieve.check(MISTAKES["moves survivors to the head"])
    assert f"first different at request #{at} (key {keys[at]})" in ex.sieve.last_feedback


def test_a_never_ending_hand_is_stopped_and_named():
    from labkit.eviction.answers import MISTAKES
    from labkit.eviction.replay import replay

    stuck = replay(MISTAKES["never clears the visited bit"](4), list(grading._SMALL_TRACE), seconds=0.3)
    assert stuck.timed_out and len(stuck.hits) == 8  # every key visited, then the first newcomer


def test_the_replay_time_limit_keeps_an_outer_alarm_running():
    import signal

    from labkit.eviction.replay import time_limit

    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        with time_limit(5.0):
            pass
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 20.0 < left <= 30.0  # a test timeout (pytest-timeout uses SIGALRM) still stands
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_sizing_exercise_reference_reaches_the_target_and_half_of_it_does_not():
    answer = lesson.sizing_answer()
    assert lesson.sizing_hit_ratio(answer) >= lesson.SIZING_TARGET
    assert lesson.sizing_hit_ratio(answer // 2) < lesson.SIZING_TARGET


@pytest.mark.parametrize("name", list(__import__("labkit.eviction.answers", fromlist=["x"]).ALTERNATIVES))
def test_sieve_exercise_accepts_correct_answers_written_another_way(name):
    from labkit.eviction.answers import ALTERNATIVES

    ex = eviction.exercises()
    assert ex.sieve.check(ALTERNATIVES[name]), ex.sieve.last_feedback
    assert ex.sieve.alternatives()[name] is ALTERNATIVES[name]


def test_sieve_feedback_says_what_the_lab_cache_did_with_the_key():
    from labkit.eviction.answers import MISTAKES, LearnerSieve
    from labkit.eviction.replay import first_divergence, replay

    ex = eviction.exercises()
    keys = list(grading._SMALL_TRACE)
    expected = replay(LearnerSieve(4), keys).hits
    got = replay(MISTAKES["holds one key too many"](4), keys).hits
    at = first_divergence(expected, got).request
    assert got[at] and not expected[at]  # it kept a key the lab's SIEVE had evicted
    evicted_at = max(i for i in range(at) if not expected[i] and keys[i] != keys[at])  # the miss that made room
    assert not ex.sieve.check(MISTAKES["holds one key too many"])
    feedback = ex.sieve.last_feedback
    assert f"first different at request #{at} (key {keys[at]}): yours hit" in feedback
    assert f"evicted key {keys[at]} at request #{evicted_at}" in feedback and "yours still held it" in feedback
    assert "holds one key too many" in feedback


def test_sieve_names_no_mistake_the_evidence_does_not_show():
    from labkit.eviction.answers import LearnerSieve

    class Fifo(LearnerSieve):  # an unlisted bug: the hand spares nothing
        def evict(self):
            del self.visited[self.queue.pop(0)]

    class HitsNewKeys(LearnerSieve):  # admits a new key and reports a hit
        def access(self, key):
            super().access(key)
            return True

    class NeverCaches(LearnerSieve):  # forgets to admit the key
        def access(self, key):
            return key in self.visited

    ex = eviction.exercises()
    assert not ex.sieve.check(Fifo)  # on the small trace its hits equal one listed mistake's; not on Zipf
    assert "Your hits match" not in ex.sieve.last_feedback
    assert "The lab's SIEVE evicted key 5 at request #20" in ex.sieve.last_feedback
    assert not ex.sieve.check(NeverCaches)
    assert "first different at request #4 (key 0): yours missed" in ex.sieve.last_feedback
    assert "The lab's SIEVE still holds key 0 (last requested at #0): yours did not hold it" in (
        ex.sieve.last_feedback)
    assert not ex.sieve.check(HitsNewKeys)
    assert "first different at request #0 (key 0): yours hit" in ex.sieve.last_feedback
    assert "requested there for the first time" in ex.sieve.last_feedback


def test_a_sieve_that_never_ends_is_stopped_on_the_small_trace_and_named():
    from labkit.eviction.answers import MISTAKES

    ex = eviction.exercises()
    assert not ex.sieve.check(MISTAKES["never clears the visited bit"])
    feedback = ex.sieve.last_feedback
    assert "scenario 1 of 4" in feedback and "at request #8 (key 7)" in feedback and "never ends" in feedback
    assert "never clears the visited bit" in feedback


def test_sizing_bounds_hold_the_measured_spread_of_a_ten_percent_sample():
    reads_low, reads_high = grading.sampling_spread()  # 12 hash seeds, around the 70% crossing
    assert reads_low <= grading.SIZING_READS_LOW and reads_high <= grading.SIZING_READS_HIGH
    # and no looser than half a point beyond what the seeds showed
    assert grading.SIZING_READS_LOW - reads_low < 0.005 and grading.SIZING_READS_HIGH - reads_high < 0.005


@pytest.mark.parametrize("answer", [lambda: grading.sizing_answer(), lambda: np.int64(grading.sizing_answer()),
                                    lambda: float(grading.sizing_answer()), lambda: 7_000],
                         ids=["reference", "numpy int", "whole float", "read between the printed sizes"])
def test_sizing_accepts_the_reference_and_a_right_answer_written_another_way(answer):
    ex = eviction.exercises()
    value = answer()
    assert ex.sizing.check(value), ex.sizing.last_feedback
    exact = grading.sizing_hit_ratio(int(value))
    assert f"{int(value):,} objects give {exact:.1%} hits in the full simulation" in ex.sizing.last_feedback


@pytest.mark.parametrize("answer, says", [
    (5_000, "below the target"),            # the sample put it under 70%
    (6_000, "below the target"),            # within a factor of two, still short in full
    (8_000, "more memory than needed"),     # one size past the smallest that reaches it
    (10_000, "more memory than needed"),    # the round number (the old check accepted 7,000-13,999)
    (750, "the sample's own cache size"),   # the crossing in the sample's own units
    (28_000, "70% of the keys"),            # a hit ratio read as a share of the keys
])
def test_sizing_refuses_realistic_wrong_answers_and_says_what_it_measured(answer, says):
    ex = eviction.exercises()
    assert not ex.sizing.check(answer)
    assert says in ex.sizing.last_feedback
    exact = grading.sizing_hit_ratio(answer)
    assert f"{answer:,} objects give {exact:.1%} hits in the full simulation" in ex.sizing.last_feedback
    assert not (grading.SIZING_TARGET - grading.SIZING_READS_HIGH <= exact
                <= grading.SIZING_TARGET + grading.SIZING_READS_LOW)


# ------------------------------------------------------------- real Redis


def test_fakeredis_accepts_maxmemory_but_never_evicts():
    import fakeredis

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    client.config_set("maxmemory", "1mb")
    client.config_set("maxmemory-policy", "allkeys-lru")
    for i in range(3_000):
        client.set(f"k{i}", "x" * 1024)
    assert client.dbsize() == 3_000


def test_demo_explains_itself_on_fakeredis_and_on_a_learners_server(monkeypatch, redis_url):
    monkeypatch.setattr("labkit.redis_server.redis_server_binary", lambda: None)
    fake = labkit.connect("fakeredis://", namespace="test-evict-fake")
    assert "never evicts" in rd.real_eviction_demo(fake).skipped_reason
    learners = labkit.connect(redis_url, namespace="test-evict-real", fallback=False)
    learners.lab_owned_server = False
    before = learners.client.config_get("maxmemory*")
    assert "never changes its maxmemory" in rd.real_eviction_demo(learners).skipped_reason
    assert learners.client.config_get("maxmemory*") == before


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    before = client.config_get("maxmemory*")
    yield client
    assert client.config_get("maxmemory*") == before  # every test leaves the settings as found
    assert not list(client.scan_iter(match="labkit:05:evict-demo:*"))
    client.close()


def test_redis_config_restores_settings_even_after_an_error(redis_client):
    with pytest.raises(RuntimeError), rd.redis_config(redis_client, maxmemory="3mb", maxmemory_policy="allkeys-lfu"):
        assert redis_client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lfu"
        raise RuntimeError("boom")


@pytest.mark.redis_server
def test_real_redis_lru_evicts_hot_keys_lfu_keeps_them_noeviction_refuses(redis_client):
    runs = {p: rd.run_policy(redis_client, p) for p in rd.DEMO_POLICIES}
    lru, lfu, rand, noev = (runs[p] for p in ("allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"))
    for run in (lru, lfu, rand):
        assert run.evicted_keys > 1_000 and run.oom_errors == 0
        assert 550 <= run.keys_kept <= 850  # "a memory limit that holds about 700"
    assert lru.hot_kept <= 10 and lru.predicted_hot_kept <= 10
    assert lfu.hot_kept >= 190 and lfu.predicted_hot_kept >= 190
    assert 5 <= rand.hot_kept <= 80 and 5 <= rand.predicted_hot_kept <= 80
    assert noev.evicted_keys == 0 and noev.oom_errors > 1_000 and noev.hot_kept == 200


@pytest.mark.redis_server
def test_demo_uses_a_lab_owned_server_when_no_binary(monkeypatch, redis_url, redis_client):
    monkeypatch.setattr("labkit.redis_server.redis_server_binary", lambda: None)
    owned = labkit.connect(redis_url, namespace="test-evict-owned", fallback=False)
    owned.lab_owned_server = True
    demo = rd.real_eviction_demo(owned, policies=["noeviction"])
    assert demo.where.startswith("the lab's own server") and demo.runs[0].oom_errors > 0


@pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server binary")
def test_show_redis_demo_starts_and_stops_its_own_server_and_draws(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("labkit.charts.show", lambda fig, alt=None: shown.append(fig))
    assert eviction.show_redis_demo(None) is None  # no <Figure size ...> text under the cell
    assert "throwaway redis-server" in capsys.readouterr().out
    assert shown and shown[0].axes[0].get_title().startswith("A one-off fill flushed LRU's hot keys")
