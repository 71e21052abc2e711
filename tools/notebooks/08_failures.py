# %% [markdown]
# # 08 · When the cache fails: down, slow, cold, penetrated, metastable
#
# Notebooks 00-07 taught a healthy cache. Caches hurt people when they are *not*
# healthy. A service that has grown used to a 90% hit ratio is really a service whose
# database can carry a tenth of its traffic; the day the cache is down, slow or empty,
# the database gets the other nine tenths. In this notebook you cause each failure,
# watch what it does to the database's capacity, and fix it.
#
# | | |
# |---|---|
# | **What you'll learn** | what a fallback to the database does at full traffic; client timeouts, a circuit breaker (closed / open / half-open), a bulkhead and a gutter cache, each measured; why a slow cache is worse than none; how to warm a cold cache at peak; negative caching and a Bloom filter against ids that do not exist; how retries turn a 30-second outage into an overload that does not end, and what ends it |
# | **What you need** | notebooks 01 (cache-aside) and 04 (single-flight). Notebook 07's 20:00 cache restart is the question this notebook answers. |
# | **Time** | 40 minutes (25 teaching and experimenting + 15 for the exercises) |
#
# **The service in this notebook.** 200 requests a second over 10,000 keys (Zipf),
# a cache with a 600 s TTL, and a database that runs 4 queries at once,
# 80 ms each: a capacity of **50 queries a second**, with at most 100 waiting. Clients give
# up after 1 s; the database, which cannot know, still does the work. Every replay runs
# request by request on a virtual clock (seeded, the same every run) through a real store
# wrapped in a *fault injector* that refuses, freezes, slows or drops commands.

# %%
import labkit
from labkit import failures

store = labkit.start("08")

# %% [markdown]
# ## 1. The cache is down
#
# At 20 s the cache **freezes** for 30 s (a paused process, a full network buffer): every
# command waits for the client's 250 ms timeout. The ordinary cache-aside code catches the
# error and **falls back to the database**. Five ways to handle it:
#
# * **fail the request**: no fallback at all.
# * **fall back to the DB**: every failed read becomes a database read.
# * **+ bulkhead**: at most 4 fallback reads at once; the rest fail fast.
# * **+ circuit breaker**: after 5 failures in a row, stop calling the cache for 2 s; then
#   let one *probe* through (half-open); its success closes the breaker.
# * **+ gutter cache**: on a cache failure, read a small second cache (entries live 10 s)
#   before the database, as Facebook's memcache does for a failed server.

# %%
labkit.widgets.predict(
    "The cache is frozen and every read falls back to the database (capacity 50 queries/s). What share of requests is served during the outage?",
    ["nearly all: the database has the data", "about a quarter: what 50 of 200 requests/s allows", "almost none"],
    notebook="08", name="fallback",
)

# %%
outage = failures.explore_outage()
outage

# %% [markdown]
# ### What to notice
#
# * Move **strategy** to *fall back to the DB*: the database receives **{claim:fallback_peak_ratio:.1f}x
#   its capacity**. Its queue fills, every answer comes after the client gave up, and only
#   **{claim:fallback_served:.0%}** of requests are served. The fallback meant to save the
#   service is what takes the database down with it.
# * The **bulkhead** keeps the database at its capacity and serves the {claim:bulkhead_served:.0%}
#   it can carry; the rest fail fast. But without a breaker every request still waits
#   for the frozen cache first: p99 **{claim:bulkhead_p99_ms:.0f} ms**.
# * The **breaker** opens after five failures: requests stop waiting (p99
#   **{claim:breaker_p99_ms:.0f} ms**), and {claim:timeout_waiters_ratio:.0f} times fewer
#   requests pay the timeout. Every 2 s one probe checks the cache; the first probe after
#   50 s closes the breaker. The database stays at {claim:breaker_peak_ratio:.0%} of capacity.
# * The **gutter** serves **{claim:gutter_served:.0%}** during the outage: hot keys land in it
#   after their first fallback read and are served from there for 10 s.
#
# All five strategies side by side:

# %%
failures.outage_table()

# %% [markdown]
# ### A real outage
#
# The replays above inject faults into the store. Now a real one: the lab starts its own
# throwaway `redis-server` (only when you run on a real Redis; your `REDIS_URL` server is
# never paused, killed, flushed or reconfigured), reads from it in a loop, **freezes** it with
# SIGSTOP (redis-py raises `TimeoutError`), **kills** it with SIGKILL (`ConnectionError`:
# connection refused) and **starts a new one** on the same port, empty. The client uses a
# 50 ms timeout, no client-side retries, and a breaker. On fakeredis, the same four phases
# come from the fault injector.
#
# Timeouts deserve care: with redis-py's defaults (a 5 s socket timeout, 10 retries with
# backoff), one command to a frozen server can wait up to about **{claim:redis_default_wait_seconds} s**.
# Set `socket_timeout` and `socket_connect_timeout` from your cache's own latency, and
# decide retries yourself (`retry=Retry(NoBackoff(), 0)` switches them off).

# %%
failures.live_outage(store)

# %% [markdown]
# ### What to notice
#
# * **Frozen:** the first few reads wait out the timeout, then the breaker opens and
#   the rest go straight to the database ("skipped"). **Killed:** the errors change from
#   timeouts to refused connections; the breaker does not care which.
# * **Restarted (empty):** the breaker's probe succeeds, it closes, and the first read of
#   every key is a miss: the new server is *cold*. Section 3 is about that.
#
# ## 2. The cache is slow
#
# A cache that answers in 50-200 ms has not failed: no error, no breaker opens. It only
# makes every request wait. Compare: no cache at all; waiting for the slow cache; a timeout
# set from the cache's *healthy* p99 (three times it); **hedging** (if the cache has not
# answered by its healthy p99, ask the database too and take the first answer); and a
# latency breaker that **skips** the cache while it is slow.

# %%
labkit.widgets.predict(
    "The cache answers in 100 ms; the database in 10 ms; 90% of reads hit. Which is faster at the median?",
    ["the slow cache: 90% hits still beat the database", "no cache at all", "about the same"],
    notebook="08", name="slow",
)

# %%
failures.explore_slow_cache()

# %% [markdown]
# ### What to notice
#
# * At 100 ms, waiting for the cache makes the median request **{claim:slow_cache_p50_ratio:.0f}x
#   slower** than no cache at all. A slow cache is worse than none.
# * A timeout from the healthy p99, hedging and skipping all bring latency back near the
#   database's, because they all **send the reads to the database** (right): fine for a
#   database sized for it, an outage for one sized for 30% of reads. A slow cache needs the
#   same bulkhead as a down one, and an alert: it is the failure no error message reports.
# * Slide the cache back to 0 ms: the timeout (a few milliseconds) never fires, and hedging
#   costs only the slowest 1% of reads a second query.
#
# ## 3. The cache restarts empty, at peak
#
# The cache node restarts at 40 s (notebook 07's 20:00 restart): every key is gone, the hit
# ratio is 0, and all 200 requests a second go to a database built for 50. Four ways to warm
# it: **pre-warm** the 1,000 hottest keys (from the old node's hot-key list) before it takes
# traffic, at 25 queries/s; **ramp** its share of traffic up over a minute (the load balancer's
# slow start; the rest stays on warm nodes); **single-flight** (notebook 04) so that identical
# loads share one query; and **serve a stale snapshot** while refreshing in the background.

# %%
labkit.widgets.predict(
    "With no warming, does the cold cache fill up on its own, once the first misses have loaded their keys?",
    ["yes, within seconds", "yes, within a minute or two", "no: it stays overloaded"],
    notebook="08", name="cold",
)

# %%
failures.explore_cold_start()

# %% [markdown]
# ### What to notice
#
# * **Cold, no warming: the database stays over capacity for {claim:cold_over_seconds} s, to the
#   end of the run**, and only {claim:cold_served:.0%} of requests are served at the end. It
#   never fills: every load waits behind a full queue, answers after its client gave up, and
#   so never reaches the cache. A cold cache at peak is not a slow start; it can be a state.
# * The chart starts with the **combined plan** (pre-warm 1,000 keys, ramp over 45 s,
#   single-flight): over capacity for {claim:warm_plan_over_seconds} s instead of
#   {claim:cold_over_seconds}. Pick each strategy alone from the menu: **pre-warming** and
#   **single-flight** each help a little, not enough; a **ramp** alone starts cold.
# * **Serving a stale snapshot** never overloads the database at all, if stale data is
#   acceptable for that data set (notebook 07's budgets tell you which).
#
# ## 4. Ids that do not exist
#
# Cache-aside caches what the database returns. For an id that does not exist it returns
# nothing, nothing is cached, and the next read for that id goes to the database again:
# **cache penetration**. A bot probing ids, or a stale link shared widely, becomes a stream
# of database queries the cache never absorbs. Here 200 absent ids are read once a second
# each, next to normal traffic; and one absent id is *created* every second.
#
# **Negative caching** stores "not found" with a short TTL. Its risk: an id created meanwhile
# keeps reading "not found" until the marker expires. A **Bloom filter** of the ids that exist
# (a few bits per id) turns almost every absent read away before the cache and the database.

# %%
failures.explore_penetration()

# %% [markdown]
# ### What to notice
#
# * With no negative caching, absent ids cost **{claim:absent_queries_none:.0f} DB queries/s**;
#   a 10 s not-found TTL cuts that to **{claim:absent_queries_ttl10:.0f}**.
# * The price: a new id read "not found" up to **{claim:ttl10_oldest_false_not_found:.0f} s** after
#   it was created. Drag the TTL to 120 s and watch that age grow with it.
# * Tick **Bloom filter**: absent reads are refused without a query, except the filter's false
#   positives. How many is predictable:

# %%
failures.bloom_table()

# %% [markdown]
# A filter of `m` bits with `k` hash functions holding `n` ids lets an absent id through with
# probability about `(1 - e^(-kn/m))^k`. The measured rate agrees with the formula (at 8 bits
# per id, measured / formula = {claim:bloom_fpr_ratio:.2f}), so you can size a filter before
# you build it: read the table for the memory a false-positive rate costs. (Redis 8 ships Bloom
# filters as `BF.ADD` / `BF.EXISTS`; the lab's Redis 7 does not, so labkit brings a small one.)
#
# ## 5. Metastable failure: the outage that does not end
#
# Back to section 1's 30 s outage with the naive fallback, and one more common habit:
# **retry a failed request up to 3 times**. The cache comes back at 50 s, warm. Without
# retries the database is back under capacity {claim:meta_over_no_retries} s later. With them?

# %%
labkit.widgets.predict(
    "The cache is back after 30 s, with its data. With 3 retries per failed request, when is the database back under capacity?",
    ["within seconds, like without retries", "after a minute or so", "not at all, while traffic stays the same"],
    notebook="08", name="metastable",
)

# %%
failures.explore_metastable()

# %% [markdown]
# ### What to notice
#
# * **3 retries, no budget:** the database stays over capacity for **{claim:meta_over_no_budget} s
#   after the trigger ended**, to the end of the run. The cache is fine. The misses alone would
#   fit, but each one times out behind a full queue and is sent 4 times: the
#   retries keep the queue full, and the full queue makes the retries fail. This is a
#   **metastable failure**: the trigger is gone, the *sustaining effect* remains.
# * **Retry budget** (retries at most 10% of requests): back under capacity after
#   **{claim:meta_over_budget} s**.
# * **Load shedding** (the database drops queries that waited longer than 0.5 s, since their
#   client is about to give up): **{claim:meta_over_shedding} s**. Work nobody waits for is not done.
# * **Backoff with jitter** alone: still over capacity for **{claim:meta_over_backoff} s**. Spreading
#   retries in time does not reduce how many there are. Backoff protects against synchronized
#   bursts; a budget limits the amplification. Use both.
# * When the trigger also empties the cache, add section 3's warming: a cold cache at peak
#   sustains an overload on its own.
#
# ## Exercises
#
# Replace the `...` and run the cell. `.hint()` helps; `.solution()` shows one answer.

# %%
ex = failures.exercises()

# %% [markdown]
# **1. Write the circuit breaker.** Fill in the class below. The lab puts it around the
# cache of section 1's service and replays: a healthy cache, then the 30 s frozen cache,
# then recovery. It checks that the database stays within its 50 queries/s (so set
# `max_fallback_reads`, the bulkhead: each fallback read takes 80 ms), that p99 during the
# outage stays under 200 ms, and that the cache is used again once it is back. `clock.now()`
# gives the time in seconds.

# %%
class Breaker:
    max_fallback_reads = ...   # fallback DB reads at once (the bulkhead); None = no limit

    def __init__(self, clock, failure_threshold=5, reset_timeout_seconds=2.0):
        ...

    def allow(self):
        """True if this request may try the cache (closed; or the one half-open probe)."""
        ...

    def record_success(self):
        ...

    def record_failure(self):
        ...


ex.breaker.check(Breaker)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# class Breaker:
#     max_fallback_reads = 4  # 4 reads x 80 ms each = the DB's 50 queries/s
#
#     def __init__(self, clock, failure_threshold=5, reset_timeout_seconds=2.0):
#         self.clock = clock
#         self.failure_threshold = failure_threshold
#         self.reset_timeout_seconds = reset_timeout_seconds
#         self.state, self.failures, self.opened_at, self.probing = "closed", 0, 0.0, False
#
#     def allow(self):
#         if self.state == "open" and self.clock.now() - self.opened_at >= self.reset_timeout_seconds:
#             self.state = "half-open"
#         if self.state == "closed":
#             return True
#         if self.state == "half-open" and not self.probing:
#             self.probing = True              # exactly one probe at a time
#             return True
#         return False
#
#     def record_success(self):
#         self.state, self.failures, self.probing = "closed", 0, False
#
#     def record_failure(self):
#         self.failures += 1
#         if self.state == "half-open" or self.failures >= self.failure_threshold:
#             self.state, self.opened_at, self.probing = "open", self.clock.now(), False
# ```
#
# The replay refuses three common mistakes by name: a breaker with **no half-open probe**
# (after the reset timeout every request tries the frozen cache again, and all that arrive
# within the 250 ms timeout wait for it before five failures reopen the breaker), one that **never closes** (the cache is back, the
# service still limps on the fallback), and a **fallback without a limit**.
# </details>
#
# **2. Choose the not-found TTL.** In section 4's service, 200 absent ids are read once a
# second each. The database can spare **20 queries/s** for them, and a newly created id must
# be found within **30 s**. Choose the not-found TTL in seconds.

# %%
not_found_ttl = ...
ex["not-found-ttl"].check(not_found_ttl)

# %% [markdown]
# <details><summary>Solution</summary>
#
# An absent id read `r` times a second with a TTL of `T` seconds costs about `r / (1 + rT)`
# queries a second (one query, then `rT` reads served by the marker). 200 ids x 1/(1 + T) <= 20
# needs T >= 9 s; the staleness budget needs T <= 30 s. `not_found_ttl = 20` passes; so does
# anything from about 10 to 30.
# </details>
#
# **3. Warm the cache.** Plan the restart of section 3 so that the database is over capacity
# for **at most 10 s** (and never more than 20% over), and at least 99% of requests are
# served in the last 20 s. Plan keys: `prewarm_keys` (the hottest keys loaded before the
# restart, at 25 queries/s, at most 40 s of warming), `ramp_seconds` (0-60) and
# `single_flight` (True/False). The snapshot is too old to serve stale.

# %%
plan = ...
ex["warming-plan"].check(plan)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `plan = {"prewarm_keys": 1000, "ramp_seconds": 60, "single_flight": True}`. The combined
# plan of section 3 ramps over 45 s and stays over capacity a little too long; a longer ramp
# lets the pre-warmed cache fill the rest of the working set at the rate the database can
# serve. Pre-warming 200 keys, or ramping over 30 s, leaves the database overloaded.
# </details>
#
# ## Key takeaways
#
# * A cache that carries 90% of the reads means a database sized for 10%. **Plan for the cache
#   failing**: the fallback is a load test the database did not sign up for.
# * Put a **bulkhead** on fallback reads (the database's capacity, by Little's law), a **circuit
#   breaker** around the cache (with a half-open probe, so it closes again), and a **client
#   timeout** set from the cache's own latency. A **gutter** cache keeps serving hot keys.
# * A **slow** cache is worse than none, and raises no error: time out from its healthy p99.
# * A **cold** cache at peak can stay cold: warm it (pre-warm, ramp, single-flight) or serve a
#   stale snapshot.
# * Cache **"not found"** with a short TTL, shorter than how long a new id may stay invisible; a
#   **Bloom filter** turns away nearly all absent ids at a predictable false-positive rate.
# * Retries without a **budget** can make an outage outlive its cause. Budget retries, back off
#   with jitter, and **shed** work nobody waits for.
#
# ## Further reading
#
# * Matt Brinkley and Jas Chhabra, "Caching challenges and strategies", Amazon Builders'
#   Library - cache-addicted services, cold starts, negative caching, sizing for cache failure.
# * Nathan Bronson, Abutalib Aghayev, Aleksey Charapko and Timothy Zhu, "Metastable Failures in
#   Distributed Systems", HotOS 2021.
# * Lexiang Huang et al., "Metastable Failures in the Wild", OSDI 2022 - triggers, sustaining
#   effects, and retry policies in real incidents.
# * Rajesh Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013 - the gutter pool.
# * Marc Brooker, "Timeouts, retries, and backoff with jitter", Amazon Builders' Library.
# * redis-py documentation: connection timeouts (`socket_timeout`, `socket_connect_timeout`) and
#   "Retries" (the `Retry` object and its backoff classes).
# * Burton H. Bloom, "Space/Time Trade-offs in Hash Coding with Allowable Errors", CACM 1970.

# %%
store.reset();
