"""TTL tuning: hit ratio against staleness, simulated and modelled side by side.

A cache-aside entry that is filled on a miss and kept for ``ttl_seconds`` turns
each key's reads into a renewal process: a miss fills the entry, every read in
the next ``T`` seconds hits, the first read after that misses again.  If a key
is read at Poisson rate λ and written at Poisson rate μ (and writes do not
invalidate the cache, so only the TTL corrects a copy):

* hit ratio                 h = λT / (1 + λT)
* stale share of hits       s = 1 - (1 - e^(-μT)) / (μT)
* DB reads per second       λ / (1 + λT)

(Jung, Berger & Balakrishnan, "Modeling TTL-based Internet Caches", INFOCOM 2003.)

This package offers three views of the same question, so each checks the others:

* :func:`model` / :func:`model_curve` - the closed form above, summed over a
  Zipf key space (weighted by reads).
* :func:`simulate` / :func:`simulate_keys` - a seeded simulation of the actual
  read and write times (millions of events per second of CPU, numpy only) that
  decides hit, miss and stale for every read.  It never uses the formulas above
  except to start each key in its steady state (see :func:`run_events`).
* :func:`replay_through_store` - the same events replayed one by one through a
  real :class:`~labkit.store.MemoryStore` on a :class:`~labkit.clock.VirtualClock`
  in front of the SQLite :class:`~labkit.database.Database`, judged by the
  :class:`~labkit.metrics.StalenessMeter`.  The fast simulation must agree with
  it read for read.

Plus the cost side (:func:`break_even_ttl`: below it the cache only adds
latency), TTL jitter after a bulk warm-up (:func:`jitter_timeline`), a demo on
the notebook's own Redis (:func:`bulk_warm_up`), the notebook's live charts and
its exercises.

==============  ==============================================================
``traffic``     Zipf popularity and Poisson rates; popularity bands
``events``      every read and write time of a run, seeded, on a 2**-20 s grid
``simulation``  hit / miss / stale per read, vectorized; replicas; summaries
``model``       the closed form, summed over the key space; break-even cost
``jitter``      bulk warm-up, DB load per second, jittered TTLs on a real store
``replay``      the reference replay through MemoryStore + Database
``settings``    the notebook's settings, its memoized chart dots, its data sets
``lesson``      the live charts and exercises (loaded on first use)
``claims``      the numbers notebook 03's prose states
==============  ==============================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..course import lesson_attributes
from ._common import TICKS_PER_SECOND
from .events import Events, Writes, make_events
from .jitter import JitterResult, bulk_warm_up, jitter_timeline, jittered_ttl
from .model import (
    ModelResult,
    break_even_hit_ratio,
    break_even_ttl,
    hit_ratio_model,
    longest_ttl_within,
    mean_stale_age_model,
    model,
    model_curve,
    read_latency_ms,
    stale_share_of_hits_model,
)
from .replay import replay_through_store
from .settings import (
    CHART_CACHE_MS,
    CHART_DB_MS,
    DATA_SETS,
    EXERCISE_TRAFFIC,
    JITTER_TRAFFIC,
    SIM_TTLS,
    STALE_BUDGET,
    TTL_MAX_SECONDS,
    TTL_MIN_SECONDS,
    DataSet,
    chart_duration_seconds,
    chart_point,
    format_seconds,
    needs_event_invalidation,
)
from .simulation import (
    BandResult,
    ReadOutcomes,
    Run,
    SimResult,
    run_events,
    simulate,
    simulate_keys,
    summarize,
)
from .traffic import Band, Traffic, popularity_bands

_LESSON = ("explore", "explore_bands", "explore_cost", "explore_jitter", "data_set_table", "exercises")

if TYPE_CHECKING:
    from .lesson import data_set_table, exercises, explore, explore_bands, explore_cost, explore_jitter

__all__ = [
    "TICKS_PER_SECOND",
    "Traffic",
    "Band",
    "popularity_bands",
    "Events",
    "Writes",
    "make_events",
    "Run",
    "ReadOutcomes",
    "run_events",
    "summarize",
    "SimResult",
    "BandResult",
    "simulate",
    "simulate_keys",
    "ModelResult",
    "hit_ratio_model",
    "stale_share_of_hits_model",
    "mean_stale_age_model",
    "model",
    "model_curve",
    "longest_ttl_within",
    "read_latency_ms",
    "break_even_hit_ratio",
    "break_even_ttl",
    "JitterResult",
    "jitter_timeline",
    "jittered_ttl",
    "bulk_warm_up",
    "replay_through_store",
    "CHART_CACHE_MS",
    "CHART_DB_MS",
    "JITTER_TRAFFIC",
    "SIM_TTLS",
    "TTL_MIN_SECONDS",
    "TTL_MAX_SECONDS",
    "chart_duration_seconds",
    "chart_point",
    "format_seconds",
    "DataSet",
    "DATA_SETS",
    "EXERCISE_TRAFFIC",
    "STALE_BUDGET",
    "needs_event_invalidation",
    "explore",
    "explore_bands",
    "explore_cost",
    "explore_jitter",
    "data_set_table",
    "exercises",
]


__getattr__ = lesson_attributes(__name__, _LESSON)
