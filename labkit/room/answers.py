"""The measured answer to a prediction, for the view to reveal beside the room's poll.

A prediction widget is not graded; its experiment shows the truth.  For the
predictions registered here the view can show that truth too: each function runs the
notebook's own engine with the notebook's settings (mostly through the claims its prose
states) and returns the option the experiment bears out.  A prediction not registered
here is revealed by its chart.

    @measured("00", "speedup")
    def _speedup() -> str: ...
"""

from __future__ import annotations

from .measure import _ANSWERS, _claim, _nearest, known_questions, measured, measured_answer  # noqa: F401

__all__ = ["measured", "measured_answer", "known_questions"]

# -- notebook 00 ------------------------------------------------------------------------


@measured("00", "copy")
def _copy() -> str:
    from ..clock import VirtualClock
    from ..database import Database, Row
    from ..store import MemoryStore

    clock = VirtualClock()
    db, store = Database(clock, rows=10, latency_seconds=0.0), MemoryStore(clock, namespace="room-answer")
    store.set("item:7", db.read(7).to_cache(), ttl_seconds=30)
    db.write(7, "a new price")
    cached = store.get("item:7")
    if cached is None:
        return "nothing: the change removed the copy"
    if Row.from_cache(cached).version == db.current_version(7):
        return "the new value: the cache follows the database"
    return "the old value, until its 30 s run out"


@measured("00", "speedup")
def _speedup() -> str:
    from ..tour.claims import speedup_default

    return _nearest(speedup_default(), {"about 1.5x": 1.5, "about 4x": 4.0, "about 50x": 50.0})


@measured("00", "long-ttl")
def _long_ttl() -> str:
    from ..tour.system import measure

    stale = measure(use_cache=True, ttl_seconds=300.0).stale_share
    return _nearest(stale, {"none: the database is the same": 0.0, "about one in a hundred": 0.01,
                            "about one in seven": 1 / 7, "about half": 0.5})


# -- notebook 01 ------------------------------------------------------------------------


@measured("01", "walkthrough")
def _walkthrough() -> str:
    from ..clock import VirtualClock
    from ..patterns.demos import walkthrough
    from ..store import MemoryStore

    rows = walkthrough(MemoryStore(VirtualClock(), namespace="room-answer")).rows
    reads = {row["pattern"]: row["DB reads"] for row in rows}  # the last step's count wins
    if len(set(reads.values())) == 1:
        return f"all four: {reads['cache-aside']}"
    return f"cache-aside {reads['cache-aside']}, write-through {reads['write-through']}"


@measured("01", "race")
def _patterns_race() -> str:
    from ..clock import VirtualClock
    from ..patterns.demos import race_demo
    from ..store import MemoryStore

    rows = race_demo(MemoryStore(VirtualClock(), namespace="room-answer")).rows
    stale = {row["pattern"] for row in rows if row["next read"].startswith("STALE")}
    return {frozenset(): "none of them", frozenset({"cache-aside", "read-through"}): "cache-aside and read-through",
            frozenset({"write-through", "write-behind"}): "write-through and write-behind"}.get(
        frozenset(stale), "all four")


@measured("01", "side-by-side")
def _fewest_write_queries() -> str:
    from ..patterns.claims import _side_by_side  # the replay at the notebook's 20% writes

    runs = _side_by_side()
    return min(runs, key=lambda name: runs[name].db_write_queries)


@measured("01", "crash")
def _crash() -> str:
    lost, acknowledged = _claim("01", "crash_lost"), _claim("01", "crash_acknowledged")
    if lost == 0:
        return "none"
    if lost >= acknowledged:
        return "all of them"
    return "about half" if lost >= acknowledged / 3 else "a handful (the last half second's worth)"


# -- notebook 02 ------------------------------------------------------------------------


@measured("02", "ttl-window")
def _ttl_window() -> str:
    from ..invalidation.claims import NOTEBOOK_TTL_SECONDS

    oldest = _claim("02", "ttl_oldest_read")
    if oldest > NOTEBOOK_TTL_SECONDS:
        return "well over 30 s: copies pile up"
    return "just under 30 s" if oldest >= NOTEBOOK_TTL_SECONDS / 2 else "a few seconds"


@measured("02", "lost-message")
def _lost_message() -> str:
    until = _claim("02", "lost_message_stale_until")
    if until == float("inf"):
        return "forever"
    return "until its near-cache copy expires" if until < 40 else "until the next write reaches it (t = 40 s)"


@measured("02", "bump-vs-scan")
def _bump_vs_scan() -> str:
    from ..clock import VirtualClock
    from ..invalidation.versioned import compare_bump_and_scan
    from ..store import MemoryStore

    r = compare_bump_and_scan(MemoryStore(VirtualClock(), namespace="room-answer"), 2000)
    extra = r["scan_round_trips"] - r["bump_round_trips"]
    return "one or more per key" if r["scan_round_trips"] >= r["keys"] else (
        "about the same" if extra <= 1 else "a handful more")


@measured("02", "race")
def _invalidation_race() -> str:
    from ..invalidation.race import replay
    from ..store import MemoryStore

    outcome = replay(MemoryStore(namespace="room-answer", learner="room"), "naive")
    return {None: "nothing: the writer deleted the key", 2: "version 2"}.get(
        outcome.cached_version, "version 1, for up to 300 s")


@measured("02", "threads")
def _threads() -> str:
    # The notebook's threads race for real, differently each run; the answer comes from the
    # scripted interleavings its prose states: naive breaks in some order, and the short TTL
    # only caps its stale entry (gone once the writes have stopped that long).
    if _claim("02", "orders_that_break_naive") == 0:
        return "none: the race is too rare to matter"
    return "naive and short-TTL" if _claim("02", "short_ttl_stale_seconds") >= 300 else "only naive"


# -- notebooks 03 to 05: from the claims their prose states -----------------------------------


@measured("03", "stale-at-5-min")
def _stale_at_5_min() -> str:
    from ..ttl.claims import stale_5min

    return _nearest(stale_5min(), {"under 1%": 0.005, "about 7%": 0.07, "about 30%": 0.30})


@measured("03", "tail-at-10-s")
def _tail_at_10_s() -> str:
    from ..ttl.claims import tail_hit_10s

    return _nearest(tail_hit_10s(), {"over 80%": 0.85, "about half": 0.5, "about 20%": 0.2})


@measured("03", "break-even")
def _break_even() -> str:
    from ..ttl import CHART_CACHE_MS, CHART_DB_MS, break_even_hit_ratio

    return _nearest(break_even_hit_ratio(CHART_CACHE_MS, CHART_DB_MS), {"10%": 0.1, "40%": 0.4, "75%": 0.75})


@measured("03", "jitter")
def _jitter() -> str:
    from ..ttl.claims import jitter_peak_cut

    cut = jitter_peak_cut()
    return "5x or more" if cut >= 5 else "about 2x" if cut >= 1.5 else "barely: the same keys still miss"


@measured("04", "herd")
def _herd() -> str:
    from ..stampede.claims import herd_queries

    queries = herd_queries()
    return ("1: the first reader refills the cache for everyone" if queries <= 3 else
            "about 10" if queries <= 40 else "about 200: nearly one per reader")


@measured("04", "expired-lock")
def _expired_lock() -> str:
    from ..stampede.claims import recipe_refreshes_at_once

    at_once = recipe_refreshes_at_once()
    return {0: "0: the lock expires before anyone refreshes", 1: "1: that is what the lock is for"}.get(
        at_once, "2 or more")


@measured("04", "which-defense")
def _which_defense() -> str:
    # The notebook's herds are live (real threads); the simulated herd beside them is deterministic.
    from ..stampede.simulation import simulate_herd

    queries = {d: simulate_herd(d, 200, recompute_seconds=0.05, parallel_queries=16).db_queries
               for d in ("lock", "single-flight", "xfetch", "swr")}
    worst = max(queries, key=queries.__getitem__)
    return "stale-while-revalidate" if worst == "swr" else worst


@measured("04", "xfetch")
def _xfetch() -> str:
    from ..stampede.claims import xfetch_missed_share

    return _nearest(xfetch_missed_share(), {"about half": 0.5, "about 10%": 0.1, "almost never": 0.0})


@measured("05", "lru-loop-hits")
def _lru_loop_hits() -> str:
    from ..eviction.claims import loop_lru_hit_ratio

    return _nearest(loop_lru_hit_ratio(), {"about 99%": 0.99, "about half": 0.5, "about 1%": 0.01, "zero": 0.0})


@measured("05", "best-on-scan")
def _best_on_scan() -> str:
    from ..eviction import lesson

    here = lesson.compare("zipf+scan", 5, ("lru", "sieve", "arc", "tinylfu"))
    ratios = sorted((v, p) for p, v in here.items() if p != "opt")
    if ratios[-1][0] - ratios[0][0] < 0.01:
        return "they all land within a point of each other"
    return lesson.LABELS[ratios[-1][1]]


@measured("05", "who-adapts")
def _who_adapts() -> str:
    from ..eviction import lesson

    first, last = lesson.phase_means(10)
    return lesson.LABELS[min(("lru", "lfu", "arc", "tinylfu"), key=lambda p: last[p] / first[p])]


@measured("05", "redis-lru-hot-keys")
def _redis_lru_hot_keys() -> str:
    # The notebook measures a real redis-server; this replays its requests through the simulator
    # the notebook prints beside it, at the most keys its memory limit could hold.
    from ..eviction.redis_demo import DemoSizes, _predict_hot_kept

    sizes = DemoSizes()
    kept = _predict_hot_kept("allkeys-lru", sizes.budget_bytes // sizes.value_bytes, sizes)
    return _nearest(kept / sizes.hot_keys, {"all 200": 1.0, "about half": 0.5, "almost none": 0.0})


from . import answers_later  # noqa: E402, F401  (notebooks 06 to 11 register theirs there)
