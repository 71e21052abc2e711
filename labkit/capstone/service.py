"""The service the capstone designs a cache for: six data sets, their traffic, their budgets.

Everything a learner cannot change lives here: how often each data set is read
and written over the day, how hot its hottest key gets at the evening peak, what
a database query costs, when the injected events happen, and the budgets the
scorecard judges against.  The learner's choices live in :mod:`.design`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DataSet",
    "DATA_SETS",
    "DATA_SET_NAMES",
    "HOURLY_TRAFFIC",
    "DAY_SECONDS",
    "PEAK_START_SECONDS",
    "CRAWLER_AT_SECONDS",
    "DEPLOY_AT_SECONDS",
    "HOT_KEY_EXPIRES_AT_SECONDS",
    "RESTART_AT_SECONDS",
    "STALL_AT_SECONDS",
    "CRASH_AT_SECONDS",
    "DB_CAPACITY_QPS",
    "STAMPEDE_BUDGET_QUERIES",
    "P99_BUDGET_MS",
    "CACHE_OBJECTS",
    "EVICTION_HIT_RATIO_FLOOR",
    "DB_LATENCY_SECONDS",
    "CACHE_LATENCY_SECONDS",
    "PARALLEL_QUERIES",
]

HOUR = 3600.0
DAY_SECONDS = 24 * HOUR

# Relative traffic per hour of the day: quiet nights, a lunch bump, an evening peak.
HOURLY_TRAFFIC = (
    0.25, 0.2, 0.15, 0.15, 0.2, 0.3, 0.5, 0.8, 1.0, 1.1, 1.1, 1.2,
    1.3, 1.2, 1.1, 1.1, 1.2, 1.4, 1.7, 2.2, 2.2, 1.6, 1.0, 0.5,
)

# The injected events of the day.
CRAWLER_AT_SECONDS = 3 * HOUR          # a partner's crawler reads every product once
DEPLOY_AT_SECONDS = 6 * HOUR           # a deploy warms every catalogue key at once
PEAK_START_SECONDS = 19 * HOUR         # the evening peak: 19:00-21:00
HOT_KEY_EXPIRES_AT_SECONDS = 19.5 * HOUR  # each data set's hottest key expires at peak
RESTART_AT_SECONDS = 20 * HOUR         # the cache node restarts: every key is gone
STALL_AT_SECONDS = 21 * HOUR           # the write-behind worker hangs on a stuck connection
CRASH_AT_SECONDS = 21 * HOUR + 600     # ...and is killed ten minutes later, with its queue

# Costs (the same order of magnitude as notebooks 01 and 06).
DB_LATENCY_SECONDS = 0.005             # one query on an idle database
CACHE_LATENCY_SECONDS = 0.0002         # one cache round trip (a real Redis over a LAN)
PARALLEL_QUERIES = 8                   # queries the database runs at once before queueing

# Budgets for the whole service.
DB_CAPACITY_QPS = 100                  # queries in any one second the database can take
STAMPEDE_BUDGET_QUERIES = 2            # DB queries per expiry of a hot key (the limit is 1)
P99_BUDGET_MS = 100.0                  # read latency, every data set
CACHE_OBJECTS = 600                   # what the cache node holds, all data sets together
EVICTION_HIT_RATIO_FLOOR = 0.75        # share of reads the cache's memory can serve


@dataclass(frozen=True)
class DataSet:
    """One kind of data the service caches, and what it can tolerate."""

    name: str
    description: str
    keys: int
    reads_per_day: int             # the sampled requests the replay follows one by one
    writes_per_day: int
    alpha: float                   # Zipf skew of which key is asked for
    stale_budget_seconds: float    # the oldest value a reader may be shown
    lost_writes_budget: int        # acknowledged writes that may vanish in a crash
    path: str | None               # the URL it is served at (None: never sent to a browser)
    per_user: bool                 # each user's own data (a shared cache must not store it)
    hot_key_reads_per_second: float  # its hottest key at the evening peak, full traffic
    recompute_seconds: float       # what rebuilding that hot key costs the database
    deploy_warmed: bool = False    # filled by the deploy's warm-up at 06:00
    crawled: bool = False          # read end to end by the crawler at 03:00

    def url(self, key: int) -> str | None:
        if self.path is None:
            return None
        return self.path.format(key=key)


DATA_SETS: dict[str, DataSet] = {
    ds.name: ds
    for ds in (
        DataSet(
            "sessions", "who is logged in; a logout or a revoked session must stop working at once",
            keys=150, reads_per_day=4500, writes_per_day=300, alpha=0.6,
            stale_budget_seconds=0.0, lost_writes_budget=0, path=None, per_user=True,
            hot_key_reads_per_second=0.5, recompute_seconds=0.005,
        ),
        DataSet(
            "catalogue", "product pages: descriptions and prices, edited by a back-office import",
            keys=600, reads_per_day=6000, writes_per_day=150, alpha=0.9,
            stale_budget_seconds=600.0, lost_writes_budget=0, path="/product/{key}", per_user=False,
            hot_key_reads_per_second=4.0, recompute_seconds=0.05,
            deploy_warmed=True, crawled=True,
        ),
        DataSet(
            "balances", "each customer's account balance; payments change it",
            keys=150, reads_per_day=2000, writes_per_day=600, alpha=0.6,
            stale_budget_seconds=0.0, lost_writes_budget=0, path="/account", per_user=True,
            hot_key_reads_per_second=0.2, recompute_seconds=0.01,
        ),
        DataSet(
            "view_counters", "how many times each product was viewed; every view adds one",
            keys=600, reads_per_day=1500, writes_per_day=4500, alpha=0.9,
            stale_budget_seconds=3600.0, lost_writes_budget=100, path=None, per_user=False,
            hot_key_reads_per_second=2.0, recompute_seconds=0.01,
        ),
        DataSet(
            "landing", "the home page everyone sees first, rebuilt from many queries",
            keys=1, reads_per_day=1500, writes_per_day=48, alpha=1.0,
            stale_budget_seconds=120.0, lost_writes_budget=0, path="/", per_user=False,
            hot_key_reads_per_second=200.0, recompute_seconds=0.5,
        ),
        DataSet(
            "user_pages", "each user's 'my orders' page",
            keys=150, reads_per_day=2500, writes_per_day=350, alpha=0.6,
            stale_budget_seconds=30.0, lost_writes_budget=0, path="/me", per_user=True,
            hot_key_reads_per_second=0.5, recompute_seconds=0.05,
        ),
    )
}
DATA_SET_NAMES = tuple(DATA_SETS)
