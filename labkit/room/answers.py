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

from collections.abc import Callable

__all__ = ["measured", "measured_answer", "known_questions"]

_ANSWERS: dict[tuple[str, str], Callable[[], str]] = {}
_computed: dict[tuple[str, str], str] = {}


def measured(notebook: str, question: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    def register(fn: Callable[[], str]) -> Callable[[], str]:
        _ANSWERS[(notebook, question)] = fn
        return fn

    return register


def known_questions() -> list[tuple[str, str]]:
    return sorted(_ANSWERS)


def measured_answer(notebook: str, question: str) -> str | None:
    """The option the experiment bears out, or None where the view cannot measure it."""
    key = (notebook, question)
    if key not in _ANSWERS:
        return None
    if key not in _computed:
        _computed[key] = _ANSWERS[key]()
    return _computed[key]


def _nearest(value: float, options: dict[str, float]) -> str:
    return min(options, key=lambda option: abs(options[option] - value))


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


# -- notebooks 03 to 05: from the claims their prose states -----------------------------------


@measured("03", "stale-at-5-min")
def _stale_at_5_min() -> str:
    from ..ttl.claims import stale_5min

    return _nearest(stale_5min(), {"under 1%": 0.005, "about 7%": 0.07, "about 30%": 0.30})


@measured("03", "tail-at-10-s")
def _tail_at_10_s() -> str:
    from ..ttl.claims import tail_hit_10s

    return _nearest(tail_hit_10s(), {"over 80%": 0.85, "about half": 0.5, "about 20%": 0.2})


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


@measured("04", "xfetch")
def _xfetch() -> str:
    from ..stampede.claims import xfetch_missed_share

    return _nearest(xfetch_missed_share(), {"about half": 0.5, "about 10%": 0.1, "almost never": 0.0})


@measured("05", "lru-loop-hits")
def _lru_loop_hits() -> str:
    from ..eviction.claims import loop_lru_hit_ratio

    return _nearest(loop_lru_hit_ratio(), {"about 99%": 0.99, "about half": 0.5, "about 1%": 0.01, "zero": 0.0})
