"""The capstone: the scorecard's verdicts, and every number notebook 07's prose states.

The day runs on a virtual clock with the in-process store (a Redis TTL follows the
wall clock, so a virtual day cannot run on a server); the notebook itself runs on
fakeredis and on a real Redis in tests/test_notebooks.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import labkit
from labkit import LabError, capstone, eviction
from labkit.capstone import NAIVE_DESIGN, REFERENCE_DESIGN, day, score
from labkit.capstone.design import explorer_design
from labkit.capstone.lesson import _ALL_GREEN


@pytest.fixture(scope="module")
def naive():
    return score(NAIVE_DESIGN)


@pytest.fixture(scope="module")
def reference():
    return score(REFERENCE_DESIGN)


def explored(ttl=3600, jitter=0.0, defense="none", headers="public, max-age=300", invalidation="ttl-only"):
    return score(explorer_design(NAIVE_DESIGN, ttl, jitter, defense, headers, invalidation))


# -- the verdicts ---------------------------------------------------------------------------

def test_reference_design_meets_every_budget(reference):
    assert reference.passed, str(reference)
    assert [a.name for a in reference.axes.values()] == list(capstone.AXES)
    assert all(a.ratio <= 1 for a in reference.axes.values())


def test_naive_design_fails_six_of_seven_including_leaks_stampede_and_staleness(naive):
    assert {"leaks", "stampede", "staleness"} <= set(naive.failed)
    assert naive.failed == ["DB load", "stampede", "p99 latency", "staleness", "leaks", "memory"]
    # The one budget it meets: it never queues a write, so a crash loses nothing.
    assert naive.axes["lost writes"].value == 0


def test_naive_numbers_the_notebook_quotes(naive):
    # "over 100 requests rebuild it at once", and readers "wait for seconds"
    assert naive.data_sets["landing"].stampede_queries > 100
    assert naive.axes["p99 latency"].detail == "slowest: landing"
    assert naive.axes["p99 latency"].value > 1000
    # "hundreds of page views" showed another user's balance or orders
    assert naive.data_sets["balances"].leaks > 100 and naive.data_sets["user_pages"].leaks > 100
    assert naive.data_sets["catalogue"].leaks == naive.data_sets["landing"].leaks == 0
    # memory: 100 objects each, 99 more than the landing page's one key needs
    assert {p.memory_objects for p in NAIVE_DESIGN.values()} == {100}
    assert capstone.DATA_SETS["landing"].keys == 1
    assert naive.data_sets["catalogue"].eviction_hit_ratio < 0.55
    # the warmed catalogue: about 600 queries in one second, every hour from 07:00
    load = naive.db_queries_per_second
    assert 590 <= naive.axes["DB load"].value <= 620
    hourly = [int(load[h * 3600]) for h in range(7, 24)]
    assert all(q >= 600 for q in hourly)
    assert int(load[6 * 3600]) < 10  # the warm-up itself fills, the expiry hurts
    # staleness: an hour is too long for the 0-30 s budgets, fine for view counters
    over = {n for n, s in naive.data_sets.items() if s.max_stale_seconds > s.stale_budget_seconds}
    assert over == {"sessions", "catalogue", "balances", "landing", "user_pages"}
    assert naive.data_sets["view_counters"].max_stale_seconds <= 3600


def test_same_seed_same_scorecard_even_from_scratch(naive):
    assert labkit.forget() >= 6  # every remembered replay, in one call
    again = score(NAIVE_DESIGN, seed=0)
    assert again.rows() == naive.rows()
    assert again.data_sets == naive.data_sets
    assert np.array_equal(again.db_queries_per_second, naive.db_queries_per_second)
    other = score(NAIVE_DESIGN, seed=1)
    assert other.data_sets["catalogue"].db_queries != naive.data_sets["catalogue"].db_queries
    assert other.failed == naive.failed  # the lesson does not depend on the seed


def test_reference_passes_on_another_seed_too():
    assert score(REFERENCE_DESIGN, seed=1).passed


# -- the explorer's claims ------------------------------------------------------------------

def test_a_shorter_catalogue_ttl_does_not_shrink_the_warm_up_spike():
    card = explored(ttl=300)
    assert card.axes["DB load"].value == 720          # 600 warmed keys + the hot keys at 19:30
    assert card.axes["DB load"].detail.endswith("19:30:00")
    assert card.data_sets["catalogue"].max_stale_seconds <= 600   # it does fix staleness


def test_jitter_moves_the_busiest_second_to_the_hot_keys_until_the_landing_page_is_defended():
    jittered = explored(jitter=0.2)
    assert jittered.axes["DB load"].detail.endswith("19:30:00")
    assert not jittered.axes["DB load"].passed
    assert explored(jitter=0.2, defense="swr").axes["DB load"].passed


def test_lock_protects_the_database_but_readers_wait_half_a_second():
    card = explored(defense="lock")
    assert card.axes["stampede"].passed and card.data_sets["landing"].stampede_queries == 1
    assert 400 <= card.data_sets["landing"].p99_ms <= 510
    assert not card.axes["p99 latency"].passed
    herd = day.hot_key_at_peak("landing", 3600, "lock")
    waited = int((herd.herd_latencies_ms > 1).sum())
    assert 70 <= waited <= 130   # "about a hundred readers"


def test_single_flight_is_like_the_lock_here():
    card = explored(defense="single-flight")
    assert card.axes["stampede"].passed and not card.axes["p99 latency"].passed


def test_vary_cookie_stops_the_leak_but_the_cdn_almost_never_reuses_a_copy():
    card = score(NAIVE_DESIGN.change(user_pages={"vary": "Cookie"}))
    assert card.data_sets["user_pages"].leaks == 0
    assert card.data_sets["user_pages"].cdn_hit_ratio < 0.02


def test_other_all_green_designs_exist():
    namespace = {"capstone": capstone}
    exec(_ALL_GREEN, namespace)
    mine = namespace["my_design"]
    assert score(mine.change(catalogue={"pattern": "read-through"})).passed
    assert score(mine.change(user_pages={"invalidation": "ttl-only", "ttl_seconds": 30})).passed


def test_swr_fixes_stampede_and_latency_xfetch_only_latency():
    swr = explored(defense="swr")
    assert swr.axes["stampede"].passed and swr.axes["p99 latency"].passed
    xfetch = explored(defense="xfetch")
    assert not xfetch.axes["stampede"].passed and xfetch.data_sets["landing"].stampede_queries > 2
    assert xfetch.data_sets["landing"].p99_ms < 100


def test_private_headers_end_leaks_on_write_ends_staleness_and_only_memory_is_left():
    assert explored(headers="private, no-cache").axes["leaks"].value == 0
    assert explored(invalidation="on-write").axes["staleness"].passed
    best = explored(jitter=0.2, defense="swr", headers="private, no-cache", invalidation="on-write")
    assert best.failed == ["memory"]


def test_knob_table_agrees_with_the_explorer():
    table = capstone.knob_table()
    rows = {r[0]: r for r in table.cells}
    assert rows["naive, unchanged"][-1] == "DB load, stampede, p99 latency, staleness, leaks, memory"
    assert rows["catalogue TTL 300 s"][1] == "720 at 19:30"
    assert rows["landing page: lock"][2] == "1" and rows["landing page: swr"][2] == "1"
    assert int(rows["landing page: xfetch"][2]) > 2
    assert rows["per-user pages: private, no-cache"][4] == "0"
    assert rows["jitter + swr + private + on-write"][-1] == "memory"


def test_explore_redraws_with_the_first_slider():
    plot = capstone.explore()
    assert list(plot.controls)[0] == "catalogue_ttl"
    assert "fails 6 of 7" in plot.last_result
    plot.set(ttl_jitter=0.2)
    plot.set(landing_defense="swr")
    assert plot.redraws == 3
    assert "fails 3 of 7" in plot.last_result
    assert plot.axes[0].get_title().startswith("your design fails 3 of 7")


# -- the reference against the naive design -------------------------------------------------

def test_correct_answers_cost_hits(naive, reference):
    lower = [n for n in capstone.DATA_SET_NAMES
             if reference.data_sets[n].hit_ratio < naive.data_sets[n].hit_ratio]
    assert len(lower) >= 4          # "lower on most data sets"
    total = lambda card: sum(s.db_queries for s in card.data_sets.values())  # noqa: E731
    assert 1.0 < total(reference) / total(naive) < 1.25   # "a little more work"
    assert reference.axes["DB load"].value <= 10          # "a handful of queries"


def test_memory_follows_need(reference):
    assert REFERENCE_DESIGN.memory_objects == capstone.service.CACHE_OBJECTS == 600
    plans = REFERENCE_DESIGN
    assert (plans["sessions"].memory_objects, plans["balances"].memory_objects,
            plans["user_pages"].memory_objects, plans["landing"].memory_objects,
            plans["catalogue"].memory_objects) == (150, 100, 100, 1, 200)
    # all 150 sessions fit: more memory would not add a single hit
    assert day.eviction_hit_ratio("sessions", "lru", 150) == day.eviction_hit_ratio("sessions", "lru", 600)
    # TinyLFU keeps more of the catalogue's popular products than LRU in the same space
    trace = day.day_traffic("catalogue").read_keys
    assert eviction.simulate(trace, "tinylfu", 200).hit_ratio > eviction.simulate(trace, "lru", 200).hit_ratio + 0.03
    assert reference.data_sets["landing"].eviction_hit_ratio > 0.999  # one cold miss


def test_the_memory_budget_costs_misses_in_the_replay_too():
    plan = REFERENCE_DESIGN["catalogue"]
    roomy = day.replay_data_set("catalogue", plan)
    cramped = day.replay_data_set("catalogue", replace(plan, memory_objects=20))
    assert cramped.hit_ratio < roomy.hit_ratio - 0.1
    assert cramped.db_reads > roomy.db_reads


def test_write_behind_loses_counts_within_budget_but_never_money(reference):
    counters = reference.data_sets["view_counters"]
    assert counters.lost_writes == 47 and counters.lost_writes <= counters.lost_writes_budget
    risky = score(REFERENCE_DESIGN.change(balances={"pattern": "write-behind"}))
    assert not risky.axes["lost writes"].passed
    assert risky.data_sets["balances"].lost_writes > 0
    assert "balances" in risky.axes["lost writes"].detail


def test_cache_restart_and_deploy_are_in_the_day():
    traffic = day.day_traffic("sessions")
    kinds = dict(zip(traffic.times.tolist(), traffic.kinds.tolist(), strict=True))
    assert kinds[20 * 3600.0] == day._RESTART and kinds[21 * 3600.0 + 600] == day._CRASH
    assert day.deploy_refreshes("catalogue", 3600, 0.0)[7 * 3600] == 600
    assert day.deploy_refreshes("sessions", 3600, 0.0).sum() == 0
    catalogue = day.day_traffic("catalogue")
    crawl = (catalogue.times >= 3 * 3600) & (catalogue.times < 3 * 3600 + day.CRAWL_SECONDS)
    crawled = catalogue.keys[crawl & (catalogue.kinds == day._READ)]
    assert set(range(600)) <= set(crawled.tolist())   # every product, once, among the traffic


# -- exercises ------------------------------------------------------------------------------

def test_leaks_exercise(capsys):
    ex = capstone.exercises()["leaks"]
    assert ex.check("private, no-store", "private, no-cache")
    assert not ex.check("public, max-age=300", "private, no-cache")
    assert "balances" in capsys.readouterr().out
    assert not ex.check(..., ...)
    assert not ex.check(5, "private")
    assert "must be a Cache-Control string" in capsys.readouterr().out


def test_stampede_exercise(capsys):
    ex = capstone.exercises()["stampede"]
    assert ex.check("swr")
    assert not ex.check("lock")
    assert "wait" in capsys.readouterr().out
    assert not ex.check("none")
    assert not ex.check("jitter")
    assert "Unknown stampede defense 'jitter'" in capsys.readouterr().out


def test_all_green_exercise(capsys):
    ex = capstone.exercises()["all-green"]
    namespace = {"capstone": capstone}
    exec(_ALL_GREEN, namespace)
    assert ex.check(namespace["my_design"])
    assert not ex.check(REFERENCE_DESIGN)
    assert "reference design itself" in capsys.readouterr().out
    assert not ex.check(NAIVE_DESIGN)
    assert not ex.check({"landing": {}})


# -- bad input: one sentence each -----------------------------------------------------------

@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"landing": {"pattern": "write-around"}}, "landing: Unknown pattern 'write-around'. Choose one of"),
        ({"landing": {"policy": "opt"}}, "needs tomorrow's requests"),
        ({"landing": {"policy": "mru"}}, "Unknown eviction policy 'mru'"),
        ({"landing": {"defense": "mutex"}}, "Unknown stampede defense 'mutex'"),
        ({"landing": {"invalidation": "pubsub"}}, "Unknown invalidation 'pubsub'"),
        ({"landing": {"ttl_seconds": 0}}, "ttl_seconds must be a number from 1 to 86400"),
        ({"landing": {"ttl_jitter": 1.5}}, "ttl_jitter must be a number from 0 to 0.9"),
        ({"landing": {"memory_objects": 10_000}}, "memory_objects must be a whole number from 1 to 600"),
        ({"landing": {"tll_seconds": 60}}, "Unknown plan field 'tll_seconds' (did you mean 'ttl_seconds'?)"),
        ({"balances": {"pattern": "write-behind", "invalidation": "ttl-only"}}, "set invalidation='on-write'"),
        ({"sessions": {"headers": "private"}}, "never sent to a browser"),
        ({"landing": {"headers": "pubic, max-age=60"}}, "did you mean 'public'"),
        ({"landng": {"ttl_seconds": 60}}, "Unknown data set 'landng' (did you mean 'landing'?)"),
        ({"landing": 60}, "must be a dict of fields"),
    ],
)
def test_bad_designs_are_one_clear_sentence(change, expected):
    with pytest.raises(LabError) as err:
        NAIVE_DESIGN.change(**change)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message and message.endswith((".", "?", "'"))


def test_reference_explains_itself_and_a_change_drops_the_stale_reason():
    assert set(REFERENCE_DESIGN.notes) == set(capstone.DATA_SET_NAMES)
    assert "why" in REFERENCE_DESIGN._repr_html_()
    changed = REFERENCE_DESIGN.change(balances={"ttl_seconds": 60})
    assert "balances" not in changed.notes and "landing" in changed.notes


def test_a_design_needs_every_data_set_and_score_needs_a_design():
    with pytest.raises(LabError, match="has no plan for balances"):
        capstone.Design({k: v for k, v in NAIVE_DESIGN.items() if k != "balances"})
    with pytest.raises(LabError, match="takes a capstone Design"):
        score(NAIVE_DESIGN.to_dict())
    with pytest.raises(LabError, match="seed must be a whole number"):
        score(NAIVE_DESIGN, seed=-1)
    with pytest.raises(LabError, match="Unknown axis"):
        score(REFERENCE_DESIGN).axis("cost")


def test_memory_budgets_that_do_not_fit_the_node_fail_the_memory_axis():
    greedy = REFERENCE_DESIGN.change(catalogue={"memory_objects": 500})
    card = score(greedy)
    assert not card.axes["memory"].passed
    assert "ask for 900 objects; the node holds 600" in card.axes["memory"].detail


# -- charts ---------------------------------------------------------------------------------

def test_compare_chart_titles_state_the_finding(naive, reference):
    figure = capstone.compare(NAIVE_DESIGN, REFERENCE_DESIGN)
    top, bottom = figure.fig.axes
    assert top.get_title() == "naive fails 6 of 7; reference meets all 7 budgets"
    assert bottom.get_title().startswith("naive: 601 queries in one second at ")
    assert "6.0× the DB's capacity" in bottom.get_title()
    assert "log scale" in top.get_xlabel() and "(h)" in bottom.get_xlabel()
    shown = figure._repr_html_()
    alt = shown.split("alt='", 1)[1].split("'", 1)[0]
    assert shown.startswith("<img src='data:image/png;base64,") and "naive fails 6 of 7" in alt


def test_run_day_report_shows_table_and_chart():
    report = capstone.run_day(REFERENCE_DESIGN)
    html = report._repr_html_()
    assert "reference: all 7 budgets met" in html and "data:image/png;base64" in html
    assert "view_counters" in str(report)


def test_service_table_lists_the_six_data_sets():
    text = str(capstone.service_table())
    for name in ("sessions", "catalogue", "balances", "view_counters", "landing", "user_pages"):
        assert name in text
    assert "holds 600 objects" in text


# -- what the learner reads: wording, labels, controls that answer -------------------------------


def test_scorecard_wording_is_grammatical():
    from labkit.capstone.scorecard import _fmt, possessive

    assert possessive("sessions") == "sessions'" and possessive("landing") == "landing's"
    assert _fmt(1, "queries") == "1 query" and _fmt(2, "queries") == "2 queries"
    assert _fmt(1, "page views") == "1 page view"


def test_db_load_title_never_rounds_an_overload_down_to_one_times():
    from labkit.capstone.lesson import _times

    assert _times(1.3) == "1.3×" and _times(0.96) == "1.0×" and _times(12.4) == "12×"


def test_verdict_labels_never_cross_the_budget_line(naive, reference):
    figure = capstone.compare(NAIVE_DESIGN, REFERENCE_DESIGN)
    top = figure.fig.axes[0]
    labels = [t for t in top.texts if t.get_text() in ("pass", "FAIL")]
    assert len(labels) == 2 * len(capstone.AXES)
    for label in labels:
        x = label.xy[0]
        if label.get_text() == "pass":
            assert x <= 1.0 and label.get_ha() == "right"   # written leftwards, away from the line
        else:
            assert x > 1.0 and label.get_ha() == "left"     # written rightwards, away from the line


def test_explorer_says_why_a_control_changes_nothing():
    plot = capstone.explore()
    assert not plot.caption.value.lower().count("your design: your design")
    plot.set(catalogue_ttl=86400)
    plot.set(ttl_jitter=0.2)
    assert "TTL jitter changes nothing" in plot.caption.value and "06:00" in plot.caption.value
    plot.set(catalogue_ttl=300)
    plot.set(ttl_jitter=0.3)
    assert "changes nothing" not in plot.caption.value   # at a short TTL jitter moves the peak


def test_explorer_scores_the_catalogue_ttl_neighbours_ahead():
    import threading

    from labkit.capstone import day
    from labkit.capstone.lesson import _EXPLORER_DEFAULTS, CATALOGUE_TTLS, _ScoreAhead

    assert {300, 900, 3600, 86400} <= set(CATALOGUE_TTLS)
    plot = capstone.explore()
    assert [v for _, v in plot.controls["catalogue_ttl"].options] == list(CATALOGUE_TTLS)
    plot.set(catalogue_ttl=7200)
    assert "fails" in plot.last_result

    design = explorer_design(NAIVE_DESIGN, **{**_EXPLORER_DEFAULTS, "catalogue_ttl": 43200})
    thread = _ScoreAhead(seed=0).want([design])
    assert thread is not None
    plot.wait_idle()
    for other in threading.enumerate():   # every explorer's own scoring ahead, too
        if other.name == "labkit-score-ahead":
            other.join(timeout=60)
    assert not thread.is_alive()
    misses = day._replay.cache_info().misses
    score(design)
    assert day._replay.cache_info().misses == misses   # the day was replayed ahead
