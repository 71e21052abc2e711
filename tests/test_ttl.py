"""Notebook 03's lessons: the TTL model, the simulation that checks it, cost and jitter."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import labkit
from labkit import ttl
from labkit.errors import LabError

# -- the model against the simulation, key by key ------------------------------------

# (reads/s, TTL s) pairs spanning short to long TTLs, with λT up to 50 so that each
# point simulates thousands of copies in well under a second.
RATE_TTL = [
    (1.0, 1.0), (1.0, 20.0),
    (0.1, 1.0), (0.1, 20.0), (0.1, 300.0),
    (0.01, 20.0), (0.01, 300.0), (0.01, 3600.0),
]
WRITE_RATES = [1 / 3600, 1 / 300, 1 / 30]  # once an hour, every 5 min, every 30 s
N_KEYS = 200


@pytest.fixture(scope="module")
def grid_runs():
    """One simulation per (λ, μ, T): 200 keys with the same rates, ~40,000 copies."""
    runs = []
    for (rate, ttl_seconds), write_rate in itertools.product(RATE_TTL, WRITE_RATES):
        duration = 200 * (ttl_seconds + 1 / rate)
        result = ttl.simulate_keys(
            np.full(N_KEYS, rate), write_rate, ttl_seconds, duration_seconds=duration, seed=7
        )
        runs.append((rate, write_rate, ttl_seconds, result))
    return runs


def _worst_gaps(runs, hit_model, stale_model):
    hit_gap = stale_gap = 0.0
    for rate, write_rate, ttl_seconds, result in runs:
        hit = float(hit_model(rate, ttl_seconds))
        stale_of_hits = float(stale_model(write_rate, ttl_seconds))
        hit_gap = max(hit_gap, abs(result.hit_ratio - hit))
        stale_gap = max(
            stale_gap,
            abs(result.stale_share_of_hits - stale_of_hits),
            abs(result.stale_read_share - hit * stale_of_hits),
        )
    return hit_gap, stale_gap


def test_model_matches_simulation_within_one_point_on_a_grid(grid_runs):
    hit_gap, stale_gap = _worst_gaps(grid_runs, ttl.hit_ratio_model, ttl.stale_share_of_hits_model)
    assert hit_gap < 0.01
    assert stale_gap < 0.01


def test_a_wrong_model_fails_the_same_check(grid_runs):
    def wrong_hit(rate, ttl_seconds):
        return rate * ttl_seconds / (2 + rate * ttl_seconds)

    def wrong_stale(write_rate, ttl_seconds):  # the small-μT approximation, used everywhere
        return np.minimum(1.0, write_rate * ttl_seconds / 2)

    hit_gap, _ = _worst_gaps(grid_runs, wrong_hit, ttl.stale_share_of_hits_model)
    _, stale_gap = _worst_gaps(grid_runs, ttl.hit_ratio_model, wrong_stale)
    assert hit_gap > 0.05
    assert stale_gap > 0.05


def test_a_cold_start_converges_to_the_same_model():
    """The steady start only removes warm-up bias; an empty cache gets there too."""
    result = ttl.simulate_keys(np.full(50, 2.0), 1 / 60, 10.0, duration_seconds=20_000, start="cold")
    assert result.hit_ratio == pytest.approx(float(ttl.hit_ratio_model(2.0, 10.0)), abs=0.01)
    assert result.stale_share_of_hits == pytest.approx(
        float(ttl.stale_share_of_hits_model(1 / 60, 10.0)), abs=0.01
    )


def test_stale_share_of_hits_does_not_depend_on_the_read_rate():
    busy = ttl.simulate_keys(np.full(20, 5.0), 1 / 120, 60.0, duration_seconds=20_000, seed=1)
    quiet = ttl.simulate_keys(np.full(400, 0.2), 1 / 120, 60.0, duration_seconds=20_000, seed=1)
    assert busy.hit_ratio > quiet.hit_ratio + 0.05
    assert busy.stale_share_of_hits == pytest.approx(quiet.stale_share_of_hits, abs=0.01)


# -- the Zipf key space, with the notebook's own chart settings ----------------------


@pytest.mark.parametrize(
    "alpha,reads_per_second,writes_per_key_per_hour",
    list(itertools.product([0.5, 1.0], [1.0, 200.0], [0.05, 30.0])) + [(0.9, 50.0, 2.0)],
)
def test_chart_dots_sit_on_the_model_across_the_slider_ranges(
    alpha, reads_per_second, writes_per_key_per_hour
):
    traffic = ttl.Traffic(1000, alpha, reads_per_second, writes_per_key_per_hour)
    for ttl_seconds in (1.0, 60.0, 600.0, 3600.0, 21600.0):
        sim = ttl.chart_point(traffic, ttl_seconds)
        expected = ttl.model(traffic, ttl_seconds)
        assert sim.hit_ratio == pytest.approx(expected.hit_ratio, abs=0.01)
        assert sim.stale_read_share == pytest.approx(expected.stale_read_share, abs=0.01)
        assert sim.db_reads_per_second == pytest.approx(
            expected.db_reads_per_second, rel=0.05, abs=0.05
        )


def test_the_ttl_bounds_how_old_a_stale_read_can_be():
    traffic = ttl.EXERCISE_TRAFFIC
    for ttl_seconds in (60.0, 300.0):
        sim = ttl.simulate(traffic, ttl_seconds, duration_seconds=3600)
        assert 0.9 * ttl_seconds < sim.max_stale_age_seconds <= ttl_seconds
        assert sim.mean_stale_age_seconds == pytest.approx(
            ttl.model(traffic, ttl_seconds).mean_stale_age_seconds, rel=0.1
        )


# -- the fast simulation against the lab's real store and database -------------------


@pytest.mark.parametrize(
    "start,jitter,ttl_seconds",
    [("steady", 0.0, 30.0), ("steady", 0.3, 5.0), ("bulk", 0.2, 30.0), ("cold", 0.0, 0.5)],
)
def test_fast_simulation_agrees_read_for_read_with_memorystore_replay(start, jitter, ttl_seconds):
    events = ttl.make_events(
        np.array([4.0, 1.0, 0.2, 0.02]), 1 / 20, duration_seconds=300, history_seconds=60, seed=5
    )
    run = ttl.run_events(events, ttl_seconds, start=start, jitter_fraction=jitter)
    fast = run.outcomes()
    replay = ttl.replay_through_store(events, ttl_seconds, start=start, jitter_fraction=jitter)
    assert events.n_reads > 1000 and events.n_writes > 40
    assert np.array_equal(fast.miss, replay["miss"])
    assert np.array_equal(fast.stale, replay["stale"])
    assert np.array_equal(fast.stale_age_ticks / ttl.TICKS_PER_SECOND, replay["stale_age_seconds"])
    # Who hit the database how often: one query per miss, plus the starting copies.
    misses = int(fast.miss.sum())
    assert replay["db_reads"] == misses + int(run.initially_cached.sum())
    assert replay["cache_misses"] == misses
    assert replay["stale_reads"] == int(fast.stale.sum()) > 0
    summary = ttl.summarize(run)
    assert (summary.db_reads, summary.stale_reads) == (misses, int(fast.stale.sum()))


def test_the_same_seed_gives_identical_numbers():
    traffic = ttl.Traffic(300, 0.8, 20.0, 4.0)
    first = ttl.simulate(traffic, 120.0, duration_seconds=1800, seed=3, replicas=3)
    labkit.forget()
    again = ttl.simulate(traffic, 120.0, duration_seconds=1800, seed=3, replicas=3)
    other = ttl.simulate(traffic, 120.0, duration_seconds=1800, seed=4, replicas=3)
    assert first == again
    assert first.summary() != other.summary()
    plain = ttl.jitter_timeline(traffic, 60.0, 0.2, seed=3).db_reads_per_second
    assert np.array_equal(plain, ttl.jitter_timeline(traffic, 60.0, 0.2, seed=3).db_reads_per_second)


def test_a_day_of_ten_thousand_keys_is_millions_of_events():
    traffic = ttl.Traffic(10_000, 0.8, 50.0, 1.0)
    result = ttl.simulate(traffic, 300.0, duration_seconds=86_400, replicas=1)
    assert result.reads > 4_000_000
    assert result.hit_ratio == pytest.approx(ttl.model(traffic, 300.0).hit_ratio, abs=0.005)


# -- what the notebook says ----------------------------------------------------------


def test_notebook_section_1_numbers():
    traffic = ttl.EXERCISE_TRAFFIC
    assert (traffic.n_keys, traffic.reads_per_second, traffic.writes_per_key_per_hour) == (1000, 50, 2)
    at_5_min = ttl.model(traffic, 300.0)
    assert at_5_min.hit_ratio == pytest.approx(0.94, abs=0.005)
    assert at_5_min.stale_read_share == pytest.approx(0.07, abs=0.005)
    sim = ttl.chart_point(traffic, 300.0)
    assert sim.hit_ratio == pytest.approx(0.94, abs=0.01)
    assert sim.stale_read_share == pytest.approx(0.07, abs=0.01)
    assert sim.max_stale_age_seconds <= 300.0
    # "A key read once a second with a 10 s TTL hits 10 times out of 11."
    assert ttl.hit_ratio_model(1.0, 10.0) == pytest.approx(10 / 11)
    # "about μT/2 while μT is small"
    assert ttl.stale_share_of_hits_model(0.001, 10.0) == pytest.approx(0.005, rel=0.01)
    # Writes move only the stale curve; reads move mostly the hit curve.
    more_writes = ttl.model(traffic.replace(writes_per_key_per_hour=10.0), 300.0)
    assert more_writes.hit_ratio == at_5_min.hit_ratio
    assert more_writes.stale_read_share > 3 * at_5_min.stale_read_share
    fewer_reads = ttl.model(traffic.replace(reads_per_second=5.0), 300.0)
    assert fewer_reads.hit_ratio < at_5_min.hit_ratio - 0.1
    assert fewer_reads.stale_share_of_hits == at_5_min.stale_share_of_hits
    assert fewer_reads.stale_read_share == pytest.approx(fewer_reads.hit_ratio * fewer_reads.stale_share_of_hits)
    # Past a few minutes a longer TTL buys a few hits and a lot of staleness.
    at_1_h = ttl.model(traffic, 3600.0)
    assert at_1_h.hit_ratio - at_5_min.hit_ratio < 0.06
    assert at_1_h.stale_read_share - at_5_min.stale_read_share > 0.4


def test_notebook_section_2_hot_keys_and_the_tail():
    traffic = ttl.EXERCISE_TRAFFIC
    rates = traffic.read_rates()
    assert rates[:10].sum() / rates.sum() == pytest.approx(0.31, abs=0.01)  # "almost a third"
    assert 1 / rates[100] == pytest.approx(13, abs=0.5)  # "every 13 seconds"
    assert 1 / rates[-1] == pytest.approx(105, abs=1)  # "every 2 minutes"
    top, _, tail = ttl.model(traffic, 10.0).band_hit_ratios
    assert (round(top, 2), round(tail, 2)) == (0.94, 0.22)
    sim = ttl.chart_point(traffic, 10.0)
    assert sim.bands[0].hit_ratio == pytest.approx(0.94, abs=0.01)
    assert sim.bands[-1].hit_ratio == pytest.approx(0.22, abs=0.01)
    assert [b.band.label for b in sim.bands] == ["top 10 keys", "ranks 11-100", "ranks 101-1,000"]
    # "Most of the misses the database sees come from the tail."
    tail_misses = sim.bands[-1].reads * (1 - sim.bands[-1].hit_ratio)
    assert tail_misses > 0.5 * sim.db_reads
    # "To get the tail to hit, the TTL has to reach minutes."
    assert ttl.model(traffic, 60.0).band_hit_ratios[-1] < 0.65 < 0.85 < ttl.model(traffic, 300.0).band_hit_ratios[-1]


def test_notebook_section_3_break_even():
    assert ttl.break_even_hit_ratio(0.5, 2.0) == pytest.approx(0.40)
    break_even = ttl.break_even_ttl(ttl.EXERCISE_TRAFFIC, 0.5, 2.0)
    assert break_even == pytest.approx(2.9, abs=0.05)  # "a TTL of about 3 seconds"
    hit = ttl.model(ttl.EXERCISE_TRAFFIC, break_even).hit_ratio
    assert ttl.read_latency_ms(hit, 0.5, 2.0) == pytest.approx(2.0, abs=1e-6)
    below = ttl.model(ttl.EXERCISE_TRAFFIC, break_even / 2).hit_ratio
    assert ttl.read_latency_ms(below, 0.5, 2.0) > 2.0
    # A slower query shrinks the break-even TTL; a slower cache grows it.
    assert ttl.break_even_ttl(ttl.EXERCISE_TRAFFIC, 0.5, 10.0) < break_even
    assert ttl.break_even_ttl(ttl.EXERCISE_TRAFFIC, 1.0, 2.0) > break_even
    assert ttl.break_even_ttl(ttl.EXERCISE_TRAFFIC, 2.0, 2.0) == math.inf


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_notebook_section_4_jitter_cuts_the_peak_more_than_5x(seed):
    traffic = ttl.JITTER_TRAFFIC
    assert (traffic.n_keys, traffic.reads_per_second) == (5000, 1000)
    plain = ttl.jitter_timeline(ttl.JITTER_TRAFFIC, 300.0, 0.0, seed=seed)
    jittered = ttl.jitter_timeline(ttl.JITTER_TRAFFIC, 300.0, 0.1, seed=seed)
    # Nothing misses before the TTL; then hundreds of queries in one second.
    assert plain.db_reads_per_second[:300].sum() == 0
    assert plain.peak_db_reads_per_second >= 300
    assert int(np.argmax(plain.db_reads_per_second)) == 300
    assert plain.peak_db_reads_per_second > 5 * jittered.peak_db_reads_per_second
    # The same misses, spread out: the totals barely differ.
    assert jittered.db_reads_per_second.sum() == pytest.approx(plain.db_reads_per_second.sum(), rel=0.15)
    # Without jitter the spike echoes one TTL later; jitter blurs the echo too.
    echo = slice(600, 610)
    assert plain.db_reads_per_second[echo].max() > 2 * jittered.db_reads_per_second[echo].max()


def test_jittered_ttls_on_a_real_store(store):
    rows = ttl.bulk_warm_up(store, 12, ttl_seconds=300, jitter_fraction=0.1, seed=1)
    set_ttls = [ttl_set for _, ttl_set, _ in rows]
    assert all(270 <= t <= 330 for t in set_ttls)
    assert len(set(set_ttls)) == 12  # every key expires at its own time
    for _, ttl_set, ttl_left in rows:
        assert ttl_set - 2 < ttl_left <= ttl_set
    assert sorted(store.scan_keys("item:*")) == sorted(key for key, _, _ in rows)


# -- exercises --------------------------------------------------------------------------


def test_exercise_answers_from_the_solutions(capsys):
    ex = ttl.exercises()
    assert set(ex) == {"longest_ttl", "shortest_ttl", "needs_events"} and ex.longest_ttl is ex["longest_ttl"]
    traffic = ttl.EXERCISE_TRAFFIC
    longest = max(t for t in range(1, 3600) if ttl.model(traffic, t).stale_read_share <= 0.02)
    assert longest == 85  # "about 86 s"
    assert ttl.model(traffic, longest).hit_ratio == pytest.approx(0.85, abs=0.005)
    assert ex["longest_ttl"].check(longest)
    assert not ex["longest_ttl"].check(120)  # over budget
    assert not ex["longest_ttl"].check(30)  # within budget, but far from the longest
    shortest = min(t / 100 for t in range(1, 1000) if ttl.model(traffic, t / 100).hit_ratio >= 0.4)
    assert shortest == pytest.approx(2.93)
    assert ex["shortest_ttl"].check(shortest)
    assert not ex["shortest_ttl"].check(1.0)
    assert not ex["shortest_ttl"].check(60)
    needs = {d.name for d in ttl.DATA_SETS if d.longest_ttl_within_budget() < d.break_even_ttl(0.5, 2.0)}
    assert needs == {"account balance", "exchange rate", "user permissions"}
    assert ex["needs_events"].check(needs)
    assert not ex["needs_events"].check({"account balance", "stock level"})
    assert not ex["needs_events"].check({"no such data"})  # a one-line message, never a raise
    assert not ex["needs_events"].check(...)
    out = capsys.readouterr().out
    assert "replace the ..." in out and "Unknown data set" in out


def test_stock_level_lives_with_a_ttl_of_about_a_second():
    stock = next(d for d in ttl.DATA_SETS if d.name == "stock level")
    assert 1.0 < stock.longest_ttl_within_budget() < 2.0
    assert stock.break_even_ttl(0.5, 2.0) < 1.0
    assert not ttl.needs_event_invalidation(stock, 0.5, 2.0)


# -- bad input: one sentence each ---------------------------------------------------------


def _one_sentence(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message.endswith(".")
    assert message.count(". ") == 0, message
    return message


@pytest.mark.parametrize("bad", [0, -5, float("nan"), math.inf, None, "300"])
def test_ttl_must_be_positive(bad):
    with pytest.raises(LabError) as exc:
        ttl.model(ttl.EXERCISE_TRAFFIC, bad)
    assert "ttl_seconds must be a number of seconds > 0" in _one_sentence(exc)
    with pytest.raises(LabError):
        ttl.simulate(ttl.EXERCISE_TRAFFIC, bad)


def test_rates_cannot_be_negative():
    with pytest.raises(LabError) as exc:
        ttl.Traffic(reads_per_second=-1)
    assert "reads_per_second" in _one_sentence(exc)
    with pytest.raises(LabError) as exc:
        ttl.Traffic(writes_per_key_per_hour=-0.5)
    assert "writes_per_key_per_hour" in _one_sentence(exc)
    with pytest.raises(LabError) as exc:
        ttl.simulate_keys(np.array([1.0, -1.0]), 0.1, 10.0)
    _one_sentence(exc)
    with pytest.raises(LabError) as exc:
        ttl.break_even_ttl(ttl.EXERCISE_TRAFFIC, -0.5, 2.0)
    assert "cache_ms" in _one_sentence(exc)


@pytest.mark.parametrize("bad", [0, -0.8, math.nan])
def test_alpha_must_be_positive(bad):
    with pytest.raises(LabError) as exc:
        ttl.Traffic(alpha=bad)
    assert "alpha must be > 0" in _one_sentence(exc)


def test_other_bad_input():
    with pytest.raises(LabError) as exc:
        ttl.jitter_timeline(ttl.JITTER_TRAFFIC, 300.0, 1.5)
    assert "jitter_fraction" in _one_sentence(exc)
    with pytest.raises(LabError) as exc:
        ttl.run_events(ttl.make_events(np.ones(2), 0.1, duration_seconds=10), 5.0)
    assert "history_seconds" in _one_sentence(exc)
    with pytest.raises(LabError) as exc:
        ttl.Traffic(n_keys=0)
    _one_sentence(exc)


# -- the live charts ------------------------------------------------------------------


def test_explore_redraws_and_titles_state_the_finding():
    plot = ttl.explore()
    assert plot.redraws == 1
    titles = [ax.get_title() for ax in plot.axes]
    assert titles[0] == "At 5 min: 94% hits, 7.4% stale"
    plot.set(ttl_seconds=30.0)
    assert plot.axes[0].get_title().startswith("At 30 s:")
    assert plot.wait_idle()
    assert "No stale read was older than" in plot.last_result
    for factory in (ttl.explore_bands, ttl.explore_cost, ttl.explore_jitter):
        other = factory()
        assert other.redraws == 1 and other.axes[0].get_title()
    cost = ttl.explore_cost()
    assert cost.axes[0].get_title() == "Below a TTL of 2.9 s the cache only adds latency"
    jitter = ttl.explore_jitter()
    assert jitter.axes[0].get_title().startswith("±10% jitter cuts the peak")


def _dot_count(plot) -> int:
    """Simulated dots drawn on the hit/stale panel (markers without a line)."""
    return sum(len(line.get_xdata()) for line in plot.axes[0].get_lines() if line.get_linestyle() == "None")


def test_a_new_traffic_redraws_the_model_at_once_and_the_dots_follow():
    plot = ttl.explore()
    assert _dot_count(plot) == 2 * (len(ttl.SIM_TTLS) + 1)  # the first draw waits for every dot
    plot.set(reads_per_second=123.0)
    # The model moved at once (the DB-load title is the model's); dots for 123 reads/s are
    # not simulated yet, so this draw shows none and says so.
    assert plot.axes[1].get_title().endswith("of 123 reads/s")
    assert _dot_count(plot) == 0 and "simulating the dots" in plot.last_result
    assert plot.wait_idle(120)
    assert _dot_count(plot) == 2 * (len(ttl.SIM_TTLS) + 1)  # the background run redrew with them
    assert "No stale read was older than" in plot.last_result
    before = plot.redraws
    plot.set(reads_per_second=50.0)  # back to a traffic simulated before: dots at once, no background run
    assert _dot_count(plot) == 2 * (len(ttl.SIM_TTLS) + 1) and not plot.busy and plot.redraws == before + 1


def test_bands_title_follows_the_simulation_once_its_dot_is_ready():
    plot = ttl.explore_bands()
    assert plot.axes[0].get_title() == "At 10 s the top 10 keys hit 94%, the tail 22%"
    plot.set(alpha=0.55)
    assert "simulating the dots" in plot.last_result  # the title is the model's meanwhile
    assert plot.wait_idle(120)
    assert "dots: simulated at your TTL" in plot.last_result


def test_per_band_figures_add_up_and_staleness_does_not_follow_popularity():
    sim = ttl.chart_point(ttl.EXERCISE_TRAFFIC, 300.0)
    assert sum(b.reads for b in sim.bands) == sim.reads
    assert sum(b.db_reads for b in sim.bands) == sim.db_reads
    assert sum(b.stale_reads for b in sim.bands) == sim.stale_reads
    expected = float(ttl.stale_share_of_hits_model(ttl.EXERCISE_TRAFFIC.write_rate_per_second, 300.0))
    for band in sim.bands:
        assert band.stale_reads / (band.reads - band.db_reads) == pytest.approx(expected, abs=0.02)
        assert 0 < band.mean_stale_age_seconds < band.max_stale_age_seconds <= 300.0
    assert max(b.max_stale_age_seconds for b in sim.bands) == sim.max_stale_age_seconds


# -- the chart dots, pinned -------------------------------------------------------------

# chart_point's results as the simulation gave them before it was made faster (the
# per-replica implementation).  Any change to which reads hit, miss or read stale, to
# the replicas drawn or to the write histories changes some of these numbers.
# (alpha, reads/s, writes/key/h), TTL, replicas, reads, db_reads, stale_reads,
# max stale age (s, exact), mean stale age (s)
PINNED_DOTS = [
    ((0.85, 50, 2), 1, 1, 600679, 462514, 46, 0.8149490356445312, 0.3152991999750552),
    ((0.85, 50, 2), 60, 1, 600679, 117000, 8447, 59.56090545654297, 19.834368283612864),
    ((0.85, 50, 2), 600, 15, 9010185, 277540, 1331145, 599.4508838653564, 205.45592632136874),
    ((0.85, 50, 2), 3600, 94, 56463826, 309157, 32205026, 3599.496703147888, 1372.9078461446634),
    ((0.85, 50, 2), 21600, 96, 57665184, 53232, 52882011, 21598.58070755005, 10001.777184508115),
    ((0.5, 200, 30), 10, 1, 720559, 222375, 20240, 9.84004020690918, 3.344397597256385),
    ((0.5, 200, 30), 600, 55, 39630745, 326445, 31497598, 599.9280195236206, 254.44248964503134),
    ((1.0, 1, 0.05), 1, 1, 86812, 84495, 0, 0.0, 0.0),
    ((1.0, 1, 0.05), 3600, 3, 260436, 38700, 5084, 3514.066961288452, 1111.4686428307548),
    ((1.0, 1, 0.05), 21600, 57, 4948284, 195773, 644216, 21561.43266773224, 7309.623915654981),
    ((0.7, 7, 2), 10, 1, 601018, 493252, 257, 9.436802864074707, 3.532532439621506),
    ((0.7, 7, 2), 300, 1, 601018, 163231, 34394, 298.9903268814087, 102.00976548494624),
    ((0.7, 7, 2), 3600, 17, 10217306, 378565, 5584225, 3599.824013710022, 1369.8659222309066),
]


@pytest.mark.parametrize(
    ("rates", "ttl_seconds", "replicas", "reads", "db_reads", "stale_reads", "max_age", "mean_age"),
    PINNED_DOTS,
)
def test_chart_dots_are_the_pinned_ones(rates, ttl_seconds, replicas, reads, db_reads, stale_reads,
                                        max_age, mean_age):
    alpha, reads_per_second, writes_per_key_per_hour = rates
    traffic = ttl.Traffic(n_keys=1000, alpha=alpha, reads_per_second=float(reads_per_second),
                          writes_per_key_per_hour=float(writes_per_key_per_hour))
    sim = ttl.chart_point(traffic, float(ttl_seconds))
    assert (sim.replicas, sim.reads, sim.db_reads, sim.stale_reads) == (replicas, reads, db_reads, stale_reads)
    assert sim.hit_ratio == (reads - db_reads) / reads
    assert sim.stale_read_share == stale_reads / reads
    assert sim.max_stale_age_seconds == max_age  # whole ticks: exact
    assert sim.mean_stale_age_seconds == pytest.approx(mean_age, rel=1e-12, abs=0)


def test_chart_dot_bands_are_the_pinned_ones():
    traffic = ttl.Traffic(n_keys=1000, alpha=0.85, reads_per_second=50.0, writes_per_key_per_hour=2.0)
    sim = ttl.chart_point(traffic, 600.0)
    assert [(b.band.label, b.reads, b.db_reads, b.stale_reads, b.max_stale_age_seconds) for b in sim.bands] == [
        ("top 10 keys", 2404380, 2997, 381894, 599.3283758163452),
        ("ranks 11-100", 2719470, 26656, 401552, 598.7758407592773),
        ("ranks 101-1,000", 3886335, 247887, 547699, 599.4508838653564),
    ]
    assert (sim.hit_ratio, sim.stale_read_share) == (0.9691970808590501, 0.14773781004496578)
