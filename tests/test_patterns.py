"""The caching patterns: each test asserts a lesson of notebook 01.

Store-facing tests run on the in-process store, fakeredis and a real redis-server
(the ``store`` / ``redis_store`` fixtures); the side-by-side numbers come from the
virtual-clock replay the notebook draws.
"""

from __future__ import annotations

import contextlib
import inspect
import random
import threading
import time

import pytest

import labkit
from labkit.ahead import control_neighbours
from labkit.clock import VirtualClock
from labkit.database import Database, DatabaseError, Row
from labkit.errors import LabError
from labkit.patterns import (
    PATTERNS,
    CacheAsideBase,
    ReadThroughCache,
    WriteBehind,
    WriteThrough,
    cache_key,
    compare,
    crash_demo,
    exercises,
    explore,
    grader,
    lost_writes_by_db_state,
    make_pattern,
    race_demo,
    walkthrough,
)
from labkit.patterns.replay import CACHE_LATENCY_SECONDS
from labkit.store import MemoryStore
from labkit.workloads import read_write_mix, zipf

# explore()'s defaults: the numbers the notebook's prose describes.
EXPLORE = dict(n_requests=2000, n_keys=200, seed=0)


def _db(rows: int = 10, latency_seconds: float = 0.0) -> Database:
    return Database(VirtualClock(), rows=rows, latency_seconds=latency_seconds)


def _cached_row(store, row_id: int) -> Row | None:
    text = store.get(cache_key(row_id))
    return None if text is None else Row.from_cache(text)


# -- cache-aside --------------------------------------------------------------------------


def test_cache_aside_write_costs_exactly_one_miss_then_hits(store):
    db = _db()
    aside = make_pattern("cache-aside", store, db)
    aside.read(4)
    aside.read(4)
    aside.write(4, "new")
    assert _cached_row(store, 4) is None  # the write deleted the key
    misses = aside.stats.cache_misses
    assert aside.read(4).value == "new"
    assert aside.stats.cache_misses == misses + 1  # the next read misses once...
    for _ in range(3):
        assert aside.read(4).value == "new"
    assert aside.stats.cache_misses == misses + 1  # ...and then hits
    assert db.stats.reads == aside.stats.cache_misses == 2


def test_cache_aside_db_reads_equal_misses_over_a_random_run(store):
    db = _db(rows=20)
    aside = make_pattern("cache-aside", store, db)
    rng = random.Random(3)
    for i in range(300):
        row_id = rng.randrange(20)
        if rng.random() < 0.25:
            aside.write(row_id, f"v{i}")
        else:
            aside.read(row_id)
    assert aside.stats.cache_misses > 0
    assert db.stats.reads == aside.stats.cache_misses == aside.stats.db_reads
    assert db.stats.writes == aside.stats.writes


# -- read-through --------------------------------------------------------------------------


def test_read_through_caller_never_calls_the_db(store, monkeypatch):
    db = _db()
    callers: list[str] = []
    real_read, real_write_many = db.read, db.write_many

    def spy_read(*args, **kwargs):
        callers.append(inspect.stack()[1].frame.f_code.co_qualname)
        return real_read(*args, **kwargs)

    def spy_write_many(*args, **kwargs):
        callers.append(inspect.stack()[2].frame.f_code.co_qualname)  # via db.write
        return real_write_many(*args, **kwargs)

    monkeypatch.setattr(db, "read", spy_read)
    monkeypatch.setattr(db, "write_many", spy_write_many)
    through = make_pattern("read-through", store, db)
    assert not hasattr(through, "db")  # the application holds no database handle
    assert isinstance(through.cache, ReadThroughCache)
    through.read(1)
    through.read(1)
    through.write(1, "new")
    assert through.read(1).value == "new"
    assert callers == ["ReadThroughCache._load", "ReadThroughCache.put", "ReadThroughCache._load"]
    assert through.stats.db_reads == 2


def test_read_through_matches_cache_aside_number_for_number():
    results = compare(**EXPLORE)
    aside, through = results["cache-aside"].as_dict(), results["read-through"].as_dict()
    aside.pop("pattern"), through.pop("pattern")
    assert aside == through


# -- write-through -------------------------------------------------------------------------


def test_write_through_refreshes_the_cache_so_the_next_read_hits(store):
    db = _db()
    through = make_pattern("write-through", store, db)
    through.read(2)
    through.write(2, "new")
    assert _cached_row(store, 2) == Row(2, "new", 2, db.clock.now())
    hits = through.stats.cache_hits
    assert through.read(2).value == "new"
    assert through.stats.cache_hits == hits + 1
    assert db.stats.reads == 1


def test_write_through_db_failure_leaves_the_cache_untouched(store):
    db = _db()
    through = make_pattern("write-through", store, db)
    before = through.read(5)
    db.fail_next_writes(1)
    with pytest.raises(DatabaseError):
        through.write(5, "never committed")
    assert _cached_row(store, 5) == before
    assert db.current_version(5) == before.version


def test_write_through_cache_failure_after_commit_deletes_the_key(store, monkeypatch):
    db = _db()
    through = make_pattern("write-through", store, db)
    through.read(5)

    def cache_down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(store, "set_if_newer", cache_down)
    through.write(5, "committed")  # the DB committed: the write is acknowledged
    monkeypatch.undo()
    assert _cached_row(store, 5) is None  # no entry disagrees with the DB
    assert through.stats.cache_repairs == 1
    assert through.read(5).value == "committed"


def test_write_through_a_slower_writer_never_puts_an_older_row_back(store):
    db = _db()
    first = make_pattern("write-through", store, db)
    second = make_pattern("write-through", store, db)
    # The first writer commits v2; before its cache step the second commits v3 and
    # finishes. Then the first writer's cache step runs with the older row.
    first.between_steps = lambda row_id: (setattr(first, "between_steps", None),
                                          second.write(row_id, "second"))
    first.write(6, "first")
    assert db.current_version(6) == 3
    assert _cached_row(store, 6).version == 3
    assert _cached_row(store, 6).value == "second"


class _UnguardedWriteThrough(WriteThrough):
    """A write-through that overwrites the cache without checking versions."""

    def write(self, row_id: int, value: str) -> None:
        row = self.db.write(row_id, value)
        self._step(row_id)
        self.store.set(cache_key(row_id), row.to_cache(), self.ttl_seconds)


def test_without_the_version_check_the_same_interleaving_leaves_an_older_row(store):
    # The control for the test above: the interleaving really does reorder the writes.
    db = _db()
    first, second = _UnguardedWriteThrough(store, db), _UnguardedWriteThrough(store, db)
    first.between_steps = lambda row_id: (setattr(first, "between_steps", None),
                                          second.write(row_id, "second"))
    first.write(6, "first")
    assert db.current_version(6) == 3
    assert _cached_row(store, 6).version == 2  # the cache went backwards


def test_write_through_concurrent_writers_never_leave_the_cache_behind(redis_store):
    _run_concurrent_write_through(redis_store)


def test_write_through_concurrent_writers_on_the_memory_store():
    _run_concurrent_write_through(MemoryStore(namespace="test-wt-threads"))


def _run_concurrent_write_through(store) -> None:
    db = Database(rows=4, latency_seconds=0.0005, parallel_queries=8)  # wall clock: real overlap
    committed: dict[tuple[int, int], str] = {}  # (row, version) -> value, every commit
    real_write_many = db.write_many
    mine = threading.local()

    def recording_write_many(updates, **kwargs):
        rows = real_write_many(updates, **kwargs)
        for row in rows:
            committed[(row.id, row.version)] = row.value
        mine.rows = rows
        return rows

    db.write_many = recording_write_many
    through = make_pattern("write-through", store, db)
    # A short random pause between the DB step and the cache step (a GC pause, a slow
    # network) makes writers overtake one another often, not once in a while.
    through.between_steps = lambda _row_id: time.sleep(random.random() * 0.001)
    failures: list[str] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for i in range(40):
            row_id = rng.randrange(4)
            through.write(row_id, f"w{seed}-{i}")
            acknowledged = mine.rows[0]
            cached = _cached_row(store, row_id)
            # Never missing, never older than the acknowledged write, never a
            # version the database did not commit with exactly that value.
            if cached is None or cached.version < acknowledged.version:
                failures.append(f"row {row_id}: cache {cached} behind acknowledged {acknowledged}")
            elif committed.get((row_id, cached.version)) != cached.value:
                failures.append(f"row {row_id}: cache holds {cached}, never committed")

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(60):
            through.read(rng.randrange(4))

    writing = threading.Event()

    def watcher() -> None:
        # The cached version of a row must never go down while writers run.
        highest = [0] * 4
        while writing.is_set():
            for row_id in range(4):
                cached = _cached_row(store, row_id)
                if cached is None:
                    continue
                if cached.version < highest[row_id]:
                    failures.append(f"row {row_id}: cache went back from v{highest[row_id]} "
                                    f"to v{cached.version}")
                highest[row_id] = max(highest[row_id], cached.version)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    threads += [threading.Thread(target=reader, args=(s,)) for s in (10, 11)]
    watching = threading.Thread(target=watcher)
    writing.set()
    watching.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writing.clear()
    watching.join()
    assert failures == []
    assert len(committed) == 160
    for row_id in range(4):  # quiescent: cache == DB, row for row
        cached = _cached_row(store, row_id)
        assert cached is not None
        assert (cached.version, cached.value) == (
            db.current_version(row_id), committed[(row_id, db.current_version(row_id))]
        )


# -- write-behind ------------------------------------------------------------------------


def _counter_run(store, *, writes: int = 120, step_seconds: float = 0.01) -> tuple:
    clock = VirtualClock()
    db = Database(clock, rows=8, latency_seconds=0.002)
    behind = WriteBehind(store, db, clock=clock, flush_interval_seconds=0.25, flush_batch_size=1000)
    acknowledged = []
    for i in range(writes):
        clock.advance(step_seconds)
        behind.write(i % 8, f"views {i}")
        acknowledged.append((i % 8, f"views {i}"))
    return behind, db, acknowledged


def test_write_behind_crash_loses_exactly_the_unflushed_writes(store):
    behind, db, acknowledged = _counter_run(store)
    queued = behind.pending()
    assert 0 < len(queued) < len(acknowledged)
    lost = behind.crash()
    assert sorted(lost) == sorted(queued)
    # Worked out independently, from what the database holds:
    assert sorted(lost_writes_by_db_state(acknowledged, db)) == sorted(lost)
    flushed = [w for w in acknowledged if w not in lost]
    latest_flushed = {row_id: value for row_id, value in flushed}
    for row_id, value in latest_flushed.items():  # every flushed write is present
        assert db.read(row_id).value == value
    # The cache still shows the lost values: cache and DB now disagree.
    row_id, value = lost[-1]
    assert _cached_row(store, row_id).value == [v for r, v in acknowledged if r == row_id][-1]
    assert db.read(row_id).value != value


def test_write_behind_close_loses_nothing(store):
    behind, db, acknowledged = _counter_run(store)
    assert behind.queued_writes > 0
    behind.close()
    assert lost_writes_by_db_state(acknowledged, db) == []
    assert behind.queued_writes == 0
    for row_id in range(8):
        assert db.read(row_id).value == _cached_row(store, row_id).value


def test_write_behind_coalesces_and_batches(store):
    behind, db, acknowledged = _counter_run(store)
    behind.close()
    # 120 increments over 8 counters, flushed every 0.25 s: 5 flushes of 8 rows each.
    assert behind.stats.writes == 120
    assert behind.stats.db_writes == db.stats.writes == 40
    assert behind.stats.db_write_queries == 5


def test_write_behind_flushes_when_the_batch_is_full():
    clock = VirtualClock()
    db = Database(clock, rows=50)
    behind = WriteBehind(MemoryStore(clock), db, clock=clock,
                         flush_interval_seconds=3600, flush_batch_size=10)
    for i in range(25):
        behind.write(i, "x")
    assert behind.stats.db_write_queries == 2
    assert behind.queued_writes == 5


def test_write_behind_flushes_on_time_without_traffic():
    clock = VirtualClock()
    db = Database(clock, rows=5)
    behind = WriteBehind(MemoryStore(clock), db, clock=clock, flush_interval_seconds=1.0)
    behind.write(1, "a")
    clock.advance(0.5)
    assert behind.tick() == 0 and db.current_version(1) == 1
    clock.advance(0.5)
    assert behind.tick() == 1 and db.peek(1).value == "a"


def test_write_behind_timer_thread_flushes_when_traffic_stops(store):
    db = Database(rows=5, latency_seconds=0.0)  # wall clock: a real timer thread
    behind = WriteBehind(store, db, flush_interval_seconds=0.05)
    flusher = behind.start_flusher()
    assert behind.start_flusher() is flusher  # one timer per pattern
    behind.write(1, "a")
    behind.write(2, "b")
    deadline = time.monotonic() + 5
    while behind.queued_writes and time.monotonic() < deadline:
        time.sleep(0.01)  # no calls into the pattern: only the timer can flush
    assert (db.peek(1).value, db.peek(2).value) == ("a", "b")
    behind.write(3, "c")
    behind.close()
    assert not flusher.is_alive()
    assert db.peek(3).value == "c"


def test_write_behind_crash_stops_the_timer_thread():
    db = Database(rows=5, latency_seconds=0.0)
    behind = WriteBehind(MemoryStore(), db, flush_interval_seconds=60)
    flusher = behind.start_flusher()
    behind.write(1, "a")
    assert behind.crash() == [(1, "a")]
    assert not flusher.is_alive()
    assert db.peek(1).value == "item 1 v1"


def test_write_behind_timer_needs_wall_time():
    clock = VirtualClock()
    behind = WriteBehind(MemoryStore(clock), Database(clock, rows=2), clock=clock)
    with pytest.raises(LabError, match="start_flusher\\(\\) needs wall time"):
        behind.start_flusher()


def test_write_behind_read_your_writes_when_the_cache_drops_a_queued_row(store):
    behind, db, acknowledged = _counter_run(store, writes=3)
    store.delete(cache_key(2))  # evicted while its write is still queued
    assert behind.read(2).value == "views 2"
    assert db.stats.reads == 3  # no extra DB read: the value came from the queue


def test_write_behind_failed_flush_keeps_the_queue():
    behind, db, acknowledged = _counter_run(MemoryStore(VirtualClock()), writes=5)
    queued = behind.queued_writes
    db.fail_next_writes(1)
    with pytest.raises(DatabaseError):
        behind.flush()
    assert behind.queued_writes == queued
    behind.close()
    assert lost_writes_by_db_state(acknowledged, db) == []


# -- bad input ----------------------------------------------------------------------------


def test_unknown_pattern_name_lists_the_names():
    with pytest.raises(LabError, match="Unknown pattern 'write-around'. Choose one of: cache-aside, "
                                       "read-through, write-through, write-behind."):
        make_pattern("write-around", MemoryStore(), _db())


def test_negative_flush_interval_is_one_sentence():
    with pytest.raises(LabError, match=r"flush_interval_seconds must be a number >= 0 s \(got -1\)\. "
                                       "Use 0 to flush after every write."):
        make_pattern("write-behind", MemoryStore(), _db(), flush_interval_seconds=-1)
    with pytest.raises(LabError, match="flush_batch_size must be a whole number >= 1"):
        make_pattern("write-behind", MemoryStore(), _db(), flush_batch_size=0)


@pytest.mark.parametrize("name", PATTERNS)
@pytest.mark.parametrize("how", ["close", "crash"])
def test_a_closed_pattern_used_again_says_how_to_fix_it(name, how):
    pattern = make_pattern(name, MemoryStore(), _db())
    getattr(pattern, how)()
    message = (f"This {name} pattern is closed; make a new one with "
               f"labkit.patterns.make_pattern('{name}', store, db).")
    with pytest.raises(LabError) as read_error:
        pattern.read(1)
    with pytest.raises(LabError) as write_error:
        pattern.write(1, "x")
    assert str(read_error.value) == str(write_error.value) == message
    if name == "write-behind":
        with pytest.raises(LabError, match="is closed"):
            pattern.tick()


def test_other_bad_input_is_one_sentence():
    aside = make_pattern("cache-aside", MemoryStore(), _db(rows=10))
    with pytest.raises(LabError, match="Row 99 is not in the database"):
        aside.read(99)
    with pytest.raises(LabError, match="Row ids are integers >= 0"):
        aside.read(-1)
    with pytest.raises(LabError, match="needs a labkit store"):
        make_pattern("cache-aside", {}, _db())
    with pytest.raises(LabError, match="write_ratio must be a share between 0 and 1"):
        compare(write_ratio=1.5, n_requests=10)
    with pytest.raises(LabError, match="flush_interval_ms must be a number > 0"):
        compare(flush_interval_ms=-5, n_requests=10)


# -- the notebook's step-by-step demos, on the real store -----------------------------------


def test_walkthrough_db_reads_per_pattern(redis_store):
    table = walkthrough(redis_store)
    last = {r["pattern"]: r for r in table.rows if r["step"] == "close"}
    assert {name: last[name]["DB reads"] for name in PATTERNS} == {
        "cache-aside": 2, "read-through": 2, "write-through": 1, "write-behind": 1,
    }
    queued = next(r for r in table.rows if r["pattern"] == "write-behind" and r["step"] == "write 'new'")
    assert queued["DB writes"] == 0
    assert queued["cache holds"] == "'new' (v2)" and queued["DB holds"] == "'item 7 v1' (v1)"
    assert last["write-behind"]["DB holds"] == "'new' (v2)"
    numbers = ("step", "DB reads", "DB writes", "cache holds", "DB holds")
    aside, through = ([tuple(r[c] for c in numbers) for r in table.rows if r["pattern"] == name]
                      for name in ("cache-aside", "read-through"))
    assert aside == through  # "their rows are identical"
    assert redis_store.scan_keys() == []
    assert "cache-aside" in str(table) and "<table>" in table._repr_html_()


def test_race_leaves_only_cache_aside_and_read_through_stale(redis_store):
    table = race_demo(redis_store)
    verdicts = {r["pattern"]: r["next read"] for r in table.rows}
    assert verdicts == {
        "cache-aside": "STALE until the TTL expires",
        "read-through": "STALE until the TTL expires",
        "write-through": "fresh",
        "write-behind": "fresh",
    }


def test_crash_demo_count_matches_the_database(redis_store):
    report = crash_demo(redis_store)
    assert report.acknowledged_writes == 50  # 60 views over 3 s, stopped at 2.5 s
    # The count the notebook shows equals the count worked out from the DB's rows.
    assert 0 < report.lost == len(report.lost_by_db_state) <= 10
    assert sorted(report.lost_writes) == sorted(report.lost_by_db_state)
    # One row update per page per flush, one query per flush.
    assert report.db_write_queries == 2
    assert report.db_rows_written == 3 * report.db_write_queries
    for counter in report.counters:  # the cache shows every acknowledged count; the DB lags
        assert int(counter["cache shows"]) == counter["counted"]
        assert int(counter["DB holds"]) < counter["counted"]
    assert str(report).startswith("After a crash: 50 increments acknowledged")
    clean = crash_demo(redis_store, clean_shutdown=True)
    assert clean.lost == len(clean.lost_by_db_state) == 0
    assert all(c["DB holds"] == str(c["counted"]) for c in clean.counters)


# -- the side-by-side replay: every claim the notebook makes ---------------------------------


@pytest.fixture(scope="module")
def side_by_side():
    return compare(**EXPLORE)


def test_write_through_reads_the_db_about_three_times_less(side_by_side):
    ratio = side_by_side["cache-aside"].db_reads / side_by_side["write-through"].db_reads
    assert 2.5 <= ratio < 3.5  # the chart title rounds it to "3×"


def test_write_behind_coalesces_into_a_handful_of_queries(side_by_side):
    wb = side_by_side["write-behind"]
    assert wb.db_writes < wb.writes
    assert wb.db_write_queries <= 5
    for name in ("cache-aside", "write-through"):
        assert side_by_side[name].db_write_queries == side_by_side[name].writes == wb.writes
    # A first write to an uncached row loads it: a few more DB reads than write-through.
    assert side_by_side["write-through"].db_reads < wb.db_reads < side_by_side["cache-aside"].db_reads


def test_latencies_hits_everywhere_misses_pay_the_db(side_by_side):
    for report in side_by_side.values():
        assert report.read_p50_ms == pytest.approx(0.2)  # most reads: one 0.2 ms cache hit
        assert report.read_p99_ms >= 5.0  # the tail is a miss: one DB query
    assert side_by_side["write-behind"].write_p50_ms < 1.0
    assert side_by_side["write-through"].write_p50_ms >= 5.0
    assert side_by_side["cache-aside"].write_p50_ms >= 5.0


def test_no_stale_reads_and_write_behind_runs_ahead_for_about_half(side_by_side):
    assert all(r.stale_share == 0 for r in side_by_side.values())
    assert 0.35 <= side_by_side["write-behind"].ahead_of_db_share <= 0.65
    assert all(side_by_side[n].ahead_of_db_share == 0 for n in PATTERNS[:3])


def test_only_write_behind_loses_writes_on_crash(side_by_side):
    assert [side_by_side[n].lost_on_crash for n in PATTERNS[:3]] == [0, 0, 0]
    assert side_by_side["write-behind"].lost_on_crash > 0


def test_a_longer_flush_interval_puts_more_writes_at_risk():
    def mean_lost(flush_interval_ms: float) -> float:
        crash_points = range(600, 2000, 200)
        return sum(
            compare(**EXPLORE, flush_interval_ms=flush_interval_ms, crash_at=c,
                    patterns=("write-behind",))["write-behind"].lost_on_crash
            for c in crash_points
        ) / len(crash_points)

    short, default, long = mean_lost(50), mean_lost(500), mean_lost(2000)
    assert short < default < long
    assert long > 4 * short


def test_the_replayed_crash_count_matches_an_independent_replay():
    """compare()'s lost_on_crash equals what the DB is missing after the same run."""
    crash_at = 1234
    reported = compare(**EXPLORE, crash_at=crash_at, patterns=("write-behind",))["write-behind"]
    clock = VirtualClock()
    db = Database(clock, rows=200, latency_seconds=0.005)
    store = MemoryStore(clock)
    behind = make_pattern("write-behind", store, db, clock=clock,
                          flush_interval_seconds=0.5, flush_batch_size=500)
    keys = zipf(2000, 200, 0.9, seed=0)[:crash_at]
    writes = read_write_mix(2000, 0.2, seed=0)[:crash_at]
    acknowledged = []
    for i, (row_id, write) in enumerate(zip(keys.tolist(), writes.tolist(), strict=True)):
        clock.set(max(clock.now(), i / 1000))  # 1,000 requests per second
        commands = store.stats.commands
        if write:
            behind.write(row_id, f"w{i}")
            acknowledged.append((row_id, f"w{i}"))
        else:
            behind.read(row_id)
        clock.advance((store.stats.commands - commands) * CACHE_LATENCY_SECONDS)
    behind.crash()
    assert reported.lost_on_crash == len(lost_writes_by_db_state(acknowledged, db)) > 0


def test_more_writes_make_cache_aside_pay_the_first_read_penalty():
    results = compare(write_ratio=0.5, **EXPLORE, patterns=("cache-aside", "write-through"))
    assert results["cache-aside"].hit_ratio < 0.5
    assert results["cache-aside"].read_p50_ms >= 5.0
    assert results["write-through"].read_p50_ms < 1.0


def test_explore_redraws_and_the_crash_button_moves_the_crash():
    plot = explore()
    assert plot.redraws == 1
    first = plot.last_result
    lost = compare(**EXPLORE)["write-behind"].lost_on_crash
    assert f"write-behind lost {lost} acknowledged writes" in first
    assert len(plot.axes) == 4
    assert plot.axes[0].get_title().startswith("Write-through reads the DB 3× less")
    plot._buttons[0].click()
    assert plot.redraws == 2 and plot.last_result != first
    assert "crashed after request 2,000 of 2,000" not in plot.last_result
    plot.set(write_ratio=0.5)
    assert plot.redraws == 3


def test_the_twenty_thousand_request_default_run_covers_every_pattern():
    # The timing target lives in benchmarks/bench_patterns.py; this checks the size.
    results = compare(n_requests=20_000)
    assert list(results) == list(PATTERNS)
    assert all(r.reads + r.writes == 20_000 for r in results.values())


# -- exercises ----------------------------------------------------------------------------


def test_exercise_choose_a_pattern():
    ex = exercises()
    good = {"session store": "write-through", "product catalogue": "cache-aside",
            "account balance": "write-through", "page-view counter": "write-behind"}
    assert ex.choose.check(good)
    assert not ex.choose.check({**good, "account balance": "write-behind"})
    assert not ex.choose.check({"session store": "cache-aside"})
    assert not ex.choose.check({**good, "product catalogue": "write-around"})
    assert not ex.choose.check(...)


def test_exercise_clean_shutdown(capsys):
    ex = exercises()

    def closes(pattern):
        pattern.close()

    def does_nothing(pattern):
        return None

    def stub(pattern):
        ...

    assert ex.shutdown.check(closes)
    assert not ex.shutdown.check(does_nothing)
    assert not ex.shutdown.check(lambda pattern: pattern.crash())
    capsys.readouterr()
    assert not ex.shutdown.check(stub)
    assert "replace the ..." in capsys.readouterr().out


def test_placeholders_mean_not_attempted(capsys):
    ex = exercises()
    assert not ex.choose.check({"session store": ..., "product catalogue": "cache-aside"})

    class MyCacheAside(CacheAsideBase):
        def read(self, row_id):
            """Not written yet."""
            ...

        def write(self, row_id, value):
            ...

    assert not ex.cache_aside.check(MyCacheAside)
    out = capsys.readouterr().out
    assert out.count("replace the ...") == 2 and "❌" not in out


# -- the implement exercise: a learner's cache-aside, graded by the race replays -----------------


def _feedback(answer) -> str:
    ex = exercises().cache_aside
    passed = ex.check(answer)
    return ("PASS " if passed else "FAIL ") + ex.last_feedback


def test_the_reference_cache_aside_passes_every_scenario(capsys):
    said = _feedback(grader.MyCacheAside)
    assert said.startswith("PASS") and "every replay" in said


@pytest.mark.parametrize("mistake, scenario", [
    ("caching before the DB commit", "the write path"),
    ("deleting before the write", "the write path"),
    ("setting the cache on write without a version guard", "the write path"),
    ("no TTL", "the TTL backstop"),
    ("TTL in the wrong unit", "the TTL backstop"),
])
def test_each_mistake_is_refused_by_the_scenario_that_catches_it(mistake, scenario, capsys):
    said = _feedback(grader.MISTAKES[mistake])
    assert said.startswith("FAIL") and f"'{scenario}'" in said and mistake in said
    assert "step" in capsys.readouterr().out  # the timeline that broke it is shown


def test_deleting_first_leaves_the_old_row_that_a_reader_put_back():
    rows = grader.the_write_path(grader.MISTAKES["deleting before the write"]).evidence
    did = [(r["who"], r["did"].split(":")[0]) for r in rows]
    # The writer deletes, a reader misses and refills from the not-yet-updated DB, then the write lands.
    assert did[3:] == [("writer", "DEL item"), ("reader", "GET item"), ("reader", "DB read row 3"),
                       ("reader", "SET item"), ("writer", "DB write row 3")]
    assert rows[-1]["cache holds"].startswith("v1") and rows[-1]["DB holds"].startswith("v2")


def test_a_database_refusal_leaves_the_reference_cache_agreeing_with_the_database():
    verdict = grader.a_database_failure_mid_write(grader.MyCacheAside)
    assert verdict.passed
    verdict = grader.a_database_failure_mid_write(grader.MISTAKES["caching before the DB commit"])
    assert not verdict.passed and "never existed" in verdict.message
    assert any("REFUSED" in r["did"] for r in verdict.evidence)


class _GuardedWriteThrough(CacheAsideBase):
    """Setting the cache on write is fine with a version guard (fill and write alike)."""

    def read(self, row_id):
        cached = self.store.get(self.key(row_id))
        if cached is not None:
            return Row.from_cache(cached)
        row = self.db.read(row_id)
        self.store.set_if_newer(self.key(row_id), row.to_cache(), row.version, self.ttl_seconds)
        return row

    def write(self, row_id, value):
        row = self.db.write(row_id, value)
        self.store.set_if_newer(self.key(row_id), row.to_cache(), row.version, self.ttl_seconds)


class _SwallowsErrors(grader.MyCacheAside):
    def write(self, row_id, value):
        with contextlib.suppress(DatabaseError):  # the mistake: the caller never hears of it
            super().write(row_id, value)


class _NeverCaches(grader.MyCacheAside):
    def read(self, row_id):
        return self.db.read(row_id)


class _LongTtl(grader.MyCacheAside):
    def read(self, row_id):
        cached = self.store.get(self.key(row_id))
        if cached is not None:
            return Row.from_cache(cached)
        row = self.db.read(row_id)
        self.store.set(self.key(row_id), row.to_cache(), ttl_seconds=86_400)
        return row


class _ReturnsText(grader.MyCacheAside):
    def read(self, row_id):
        text = self.store.get(self.key(row_id))
        return text if text is not None else super().read(row_id)


def test_a_version_guarded_set_on_write_is_accepted(capsys):
    assert _feedback(_GuardedWriteThrough).startswith("PASS")


@pytest.mark.parametrize("name", sorted(grader.ALTERNATIVES))
def test_correct_answers_written_another_way_pass(name, capsys):
    assert _feedback(grader.ALTERNATIVES[name]).startswith("PASS")


def test_a_ttl_in_milliseconds_is_refused_with_the_ttl_the_store_holds(capsys):
    said = _feedback(grader.MISTAKES["TTL in the wrong unit"])  # ttl_seconds=self.ttl_seconds / 1000
    assert said.startswith("FAIL") and "a TTL of 0.3 s on the store" in said and "1000 times off" in said
    rows = grader.the_ttl_backstop(grader.MISTAKES["TTL in the wrong unit"]).evidence
    assert rows[-1]["did"] == "TTL left on item:8: 0.3 s"


class _SlidingTtl(grader.MyCacheAside):
    """Renews the TTL on every hit: a hot key's copy - stale or not - never expires."""

    def read(self, row_id):
        row = super().read(row_id)
        self.store.expire(self.key(row_id), self.ttl_seconds)
        return row


def test_time_passes_a_copy_must_live_90_percent_of_its_ttl_and_die_after_it(capsys):
    assert grader.the_ttl_backstop(grader.MyCacheAside).passed
    rows = grader.the_ttl_backstop(_SlidingTtl).evidence
    assert [r["did"] for r in rows if r["who"] in ("(store)", "(clock)")][:3] == [
        "TTL left on item:8: 300 s", "270 s later (90 % of the TTL)", "301 s after the fill (the TTL + 1 s)"]
    said = _feedback(_SlidingTtl)  # right TTL at the fill, renewed by the read at 90 %
    assert said.startswith("FAIL") and "301 s after the fill the copy of row 8 is still on the store" in said


@pytest.mark.parametrize("answer, scenario, words", [
    (_SwallowsErrors, "a database failure mid-write", "let the error reach the caller"),
    (_NeverCaches, "hits after a fill", "queried the database 3 times"),
    (_LongTtl, "the TTL backstop", "carries a TTL of 86400 s on the store"),
    (_ReturnsText, "hits after a fill", "return the row itself"),
])
def test_other_wrong_answers_are_refused_with_a_reason(answer, scenario, words, capsys):
    said = _feedback(answer)
    assert said.startswith("FAIL") and f"'{scenario}'" in said and words in said


def test_learner_code_that_raises_is_one_line_naming_the_scenario(capsys):
    class Broken(CacheAsideBase):
        def read(self, row_id):
            return 1 / 0

        def write(self, row_id, value):
            pass

    said = _feedback(Broken)
    assert said.startswith("FAIL") and "'hits after a fill'" in said and "ZeroDivisionError" in said
    assert "Traceback" not in capsys.readouterr().out


def test_passing_something_else_says_what_to_pass(capsys):
    said = _feedback(lambda row_id: row_id)
    assert said.startswith("FAIL") and "check(MyCacheAside)" in said


def test_the_notebook_shows_the_skeleton_and_the_reference_as_its_solution():
    from pathlib import Path

    source = (Path(__file__).resolve().parent.parent / "tools" / "notebooks" / "01_patterns.py").read_text()
    shown = "\n".join(line[2:] if line.startswith("# ") else "" for line in source.splitlines())
    assert grader.solution_source() in shown
    assert grader.SKELETON.split("\n\n\n", 1)[1].rstrip() in source


def test_replays_are_repeatable_and_reachable_from_labkit():
    assert labkit.patterns.make_pattern is make_pattern
    assert compare(n_requests=500, n_keys=50, seed=4) == compare(n_requests=500, n_keys=50, seed=4)


def test_database_peek_is_free_and_uncounted():
    db = _db(latency_seconds=0.01)
    db.write(3, "new")
    before, now = db.stats.as_dict(), db.clock.now()
    assert db.peek(3) == Row(3, "new", 2, now)
    assert db.peek(99) is None
    assert db.stats.as_dict() == before and db.clock.now() == now


def test_explore_shows_exactly_what_compare_reports():
    from labkit.patterns.lesson import _compare_remembered

    for flush in (500.0, 50.0):
        remembered = _compare_remembered(flush_interval_ms=flush, write_ratio=0.3, alpha=0.9,
                                         db_latency_ms=5.0, crash_at=None, **EXPLORE)
        assert remembered == compare(write_ratio=0.3, flush_interval_ms=flush, **EXPLORE)


@pytest.mark.slow
def test_a_shown_chart_warms_the_next_slider_step_so_a_move_replays_nothing():
    from labkit.patterns import lesson

    plot = explore()
    plot.warm_up()  # what showing the chart does
    plot.warmer.wait()
    assert plot.warmer.warmed > 0
    plot.warmer.enabled = False  # count only the move's own replays, not the next warming
    start = plot.values
    for name in plot.controls:
        for step in control_neighbours(plot.controls[name], start[name]):
            misses = lesson._replayed.cache_info().misses
            plot.set(**{name: step})
            assert lesson._replayed.cache_info().misses == misses, f"moving {name} one step replayed"
            plot.set(**{name: start[name]})


def test_warming_waits_until_the_chart_is_shown():
    plot = explore()
    plot.set(write_ratio=0.35)
    assert plot.warmer.warmed == 0 and not plot.warmer.enabled


def test_one_keyboard_step_on_each_kind_of_slider():
    from labkit.widgets import log_slider, slider

    assert control_neighbours(slider("s", 0.0, 0.9, 0.05, 0.2), 0.2) == pytest.approx([0.25, 0.15])
    assert control_neighbours(slider("s", 0.0, 0.9, 0.05, 0.9), 0.9) == pytest.approx([0.85])
    up, down = control_neighbours(log_slider("l", 0.5, 50.0, 5.0), 5.0)
    assert up == pytest.approx(5 * 10 ** 0.05) and down == pytest.approx(5 * 10 ** -0.05)


def test_the_package_exports_the_engine_and_loads_the_lesson_on_use():
    import subprocess
    import sys

    code = ("import sys, labkit.patterns as p; p.compare(n_requests=50, n_keys=10); "
            "print('labkit.patterns.lesson' in sys.modules, 'labkit.widgets' in sys.modules, "
            "'matplotlib' in sys.modules); p.exercises; print('labkit.patterns.lesson' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False", "True"]
