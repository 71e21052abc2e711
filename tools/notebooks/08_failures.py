# %% [markdown]
# # 08 · When the cache fails: down, slow, cold, penetrated, metastable, partial
#
# Notebooks 00-07 taught a healthy cache. Caches hurt people when they are *not*
# healthy. A service that has grown used to its cache has a database sized for what the
# cache lets through. In this notebook's service the healthy cache leaves the database
# **{claim:healthy_db_qps:.1f} queries a second**, {claim:healthy_db_share:.1%} of the requests; the
# database was built for 50, a quarter of the traffic and {claim:db_headroom:.1f}x its healthy load,
# with room for writes, deploys and growth. The day the cache is down, slow or empty, the
# database gets all 200: four times what it can do. In this notebook you cause each failure,
# watch what it does to the database's capacity, and fix it.
#
# | | |
# |---|---|
# | **What you'll learn** | what a fallback to the database does at full traffic; client timeouts, a circuit breaker (closed / open / half-open), a bulkhead and a gutter cache, each measured; why a slow cache is worse than none; how to warm a cold cache at peak; negative caching and a Bloom filter against ids that do not exist; how retries turn a 30-second outage into an overload that does not end, and what ends it; why one frozen node of ten never opens a breaker that counts failures in a row |
# | **What you need** | notebooks 01 (cache-aside) and 04 (single-flight). Notebook 07's 20:00 cache restart is the question this notebook answers. |
# | **Time** | 45 minutes (30 teaching and experimenting + 15 for the exercises) |
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
# The replays above inject faults into the store. Now a real one. Whenever the `redis-server`
# program is installed (on fakeredis as on a real Redis), the lab starts its own throwaway
# server on a free loopback port, reads from it in a loop, **freezes** it with SIGSTOP
# (redis-py raises `TimeoutError`), **kills** it with SIGKILL (`ConnectionError`: connection
# refused) and **starts a new one** on the same port, empty; then it stops it. Your `REDIS_URL`
# server is never paused, killed, flushed or reconfigured. The client uses a 50 ms timeout,
# no client-side retries, and a breaker. Without `redis-server`, the table says so, and the
# same four phases come from the fault injector.
#
# Timeouts deserve care: with the defaults of redis-py {claim:redis_py_version} (the version this lab
# installs: a {claim:redis_default_socket_timeout} s socket timeout, {claim:redis_default_retries} retries with
# exponential backoff), one command to a frozen server can wait up to about
# **{claim:redis_default_wait_seconds:.0f} s**. Other versions have other defaults: read yours. Set
# `socket_timeout` and `socket_connect_timeout` from your cache's own latency, and decide retries
# yourself (`retry=Retry(NoBackoff(), 0)` switches them off).

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
# ratio is 0, and all 200 requests a second go to a database built for 50. Ways to warm
# it: **pre-warm** the 1,000 hottest keys (from the old node's hot-key list) before it takes
# traffic, at 25 queries/s; **ramp** its share of traffic up over a minute (the load balancer's
# slow start); **single-flight** (notebook 04) so that identical loads share one query;
# **load shedding** (the database drops queries that waited over 0.5 s); and **serve a stale
# snapshot** while refreshing in the background.
#
# **What the ramp assumes.** While the ramp is under way, the requests not yet sent to the new
# node go to *warm copies of the same keys*, and the replay counts them as served at once. That
# is a **replicated** pool (every node holds every key). In a **sharded** cache (notebook 09) the
# restarted shard is the only owner of its keys: a ramp has nowhere warm to send them, so they
# read the database. The menu's two *sharded* plans replay that case.

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
#   end of the run**, and only {claim:cold_served:.0%} of requests are served at the end (the
#   hottest keys, loaded in the first second while the queue was still short). It never fills:
#   {claim:cold_wasted_share:.0%} of the database's answers arrive after their client gave up, so
#   they never reach the cache. A cold cache at peak is not a slow start; it can be a state.
# * **Single-flight alone changes nothing**: {claim:cold_single_flight_served:.0%} served at the end,
#   as cold. The queue is not full of *duplicate* loads (10,000 keys; few are loaded twice at
#   once); it is full of loads *nobody waits for any more*. That is section 5's metastable
#   failure: the overload sustains itself. **Load shedding** alone breaks the loop: the database
#   drops queries that waited over 0.5 s, the rest answer in time and fill the cache:
#   {claim:cold_shedding_served:.1%} served at the end.
# * The chart starts with the **combined plan** (pre-warm 1,000 keys, ramp over 45 s): over
#   capacity for {claim:warm_plan_over_seconds} s instead of {claim:cold_over_seconds}. Pick
#   **pre-warming** alone: not enough keys; a **ramp** alone starts cold.
# * **Sharded**: the same pre-warm and ramp leave the database over capacity for
#   {claim:sharded_ramp_over_seconds} s - the ramp only moves the shard's reads to the database.
#   Pre-warming with load shedding serves {claim:sharded_shedding_served:.0%} after the restart.
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
# * With no negative caching, absent ids cost **{claim:absent_queries_none:.0f} DB queries/s**, not the
#   200 of "200 ids read once a second": about 60 of the ids are created during the minute, and
#   once one exists its reads are ordinary cached hits. On average each exists for half the run,
#   so the expected cost is 200 - 60/2 = {claim:absent_queries_expected:.0f}. A 10 s not-found TTL cuts that
#   to **{claim:absent_queries_ttl10:.0f}**.
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
# **Its conditions.** A Bloom filter turns away absent ids only if *every* create adds the new
# id to the filter, in the same transaction or before the id is handed out. An add that is lost
# (a crash between the insert and the add, a filter rebuilt from a stale snapshot) makes the
# filter refuse a real id, for good: nothing ever corrects it. And it cannot delete: a deleted
# id stays "maybe present", and the filter fills up until you rebuild it from the database.
# Negative caching errs for a TTL; a Bloom filter errs until it is rebuilt.
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
# * **Backoff with jitter** alone: still over capacity for **{claim:meta_over_backoff} s**, and it sends
#   the database {claim:backoff_retry_ratio:.2f}x the queries of no backoff. That holds in an **open**
#   system like this one, where new requests arrive at 200/s whatever happens to the old ones:
#   spreading retries in time does not reduce how many there are. In a **closed** system (a fixed
#   set of clients, each waiting for its answer before sending the next), backoff does slow the
#   clients down, and with them the load. Backoff protects against synchronized bursts; a budget
#   limits the amplification. Use both.
# * When the trigger also empties the cache, add section 3's warming: a cold cache at peak
#   sustains an overload on its own.
#
# ## 6. Partial failure: one node of N
#
# Real caches are several nodes. Freeze **one node of 10** (from 10 s to 50 s): its reads wait
# for the 250 ms timeout and fall back to the database; the other nine answer as usual. Three
# breakers around the cache: **one breaker that opens after 5 failures in a row** (section 1's
# breaker), **one breaker that opens when 50% of its last 20 calls failed**, and **a breaker per
# node** with the same rate rule.

# %%
labkit.widgets.predict(
    "One cache node of ten is frozen; every read sent to it fails after a 250 ms timeout. Does a breaker that opens after 5 failures in a row open?",
    ["yes, within a second", "yes, now and then", "never"],
    notebook="08", name="partial",
)

# %%
failures.explore_partial()

# %% [markdown]
# ### What to notice
#
# * **The breaker that counts failures in a row opened {claim:partial_consecutive_opens} times.** One call
#   in ten fails, scattered among successes, and every success resets the count. Five failures in
#   a row has probability 0.1^5: about {claim:partial_run_odds:.2f} such runs in the whole outage. So
#   {claim:partial_waited_one:.0%} of all reads wait for the timeout, p99 **{claim:partial_p99_one_ms:.0f} ms**,
#   and no breaker helps. The same holds for "5% of requests time out": pick **20 nodes**, and the
#   breaker opens {claim:partial_twenty_consecutive_opens} times. A failure rate is not a streak.
# * **One rate-based breaker for the whole cache** does no better: 90% of its calls succeed, far
#   under its 50% threshold. Lower the threshold to 10% and it would open for *everyone*, sending
#   the nine healthy nodes' reads to the database too.
# * **A breaker per node** sees 100% failures on the frozen node and opens for it alone: only
#   {claim:partial_waited_per_node:.1%} of reads wait (a probe every 2 s), p99 **{claim:partial_p99_per_node_ms:.0f} ms**.
# * Pick **4 nodes**: now the two single breakers *do* open, {claim:partial_four_opens} times between them,
#   and each time they refuse the healthy nodes as well ({claim:partial_four_healthy_refused:.0%} of reads kept from
#   healthy nodes by the rate breaker): the database's load jumps past its capacity. The breaker
#   per node refuses no healthy read, but one node of four is a quarter of the traffic by itself:
#   its reads peak at {claim:partial_four_per_node_db_peak} DB queries/s. Keep section 1's bulkhead.
#
# ## Exercises
#
# Replace the `...` and run the cell. `.hint()` helps; `.solution()` shows one answer.

# %%
ex = failures.exercises()

# %% [markdown]
# **1. Write the circuit breaker.** Fill in the class below. The lab puts it around the
# cache of section 1's service and replays: a healthy cache, then the 30 s frozen cache,
# then recovery; and it calls your breaker directly, call by call, on a virtual clock (scattered
# failures, five in a row, the reset timeout, a failed and a successful probe). It checks that
# the database serves what it can and no more than its 50 queries/s (so set
# `max_fallback_reads`, the bulkhead: each fallback read takes 80 ms), that p99 during the
# outage stays under 200 ms, and that the cache is used again once it is back. `clock.now()`
# gives the time in seconds: use it, not the wall clock.

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
# A breaker that trips on a failure *rate* (half of its last 20 calls failed) passes too, as does
# one with no state names at all. The grader names a mistake only when what it observed
# identifies it: **counts failures across successes** (a success closes the breaker but leaves the
# count, so scattered failures open it), **no half-open probe** (after the reset timeout every
# request tries the frozen cache again), **each refused call restarts the reset timer** (under
# steady traffic it never probes), **reads the wall clock**, **a successful probe does not close the
# breaker**, a **fallback without a limit**, and a bulkhead set to 50 (**queries per second, not
# reads at once**: Little's law gives 50/s x 0.08 s = 4).
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
# anything from 9 to 30. The check holds you to that bound rather than to the replay, which
# costs a little less (ids created during the run stop costing).
# </details>
#
# **3. Warm the cache.** Plan the restart of section 3 so that the database is over capacity
# for **at most 10 s** (and never more than 20% over), and at least 99% of requests are
# served in the last 20 s. Plan keys: `prewarm_keys` (the hottest keys loaded before the
# restart, at 25 queries/s, at most 40 s of warming), `ramp_seconds` (0-60) and
# `single_flight` (True/False). The pool is replicated (the ramp sends the rest to warm copies);
# the snapshot is too old to serve stale.

# %%
plan = ...
ex["warming-plan"].check(plan)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `plan = {"prewarm_keys": 1000, "ramp_seconds": 60}` (with or without single-flight: it changes
# nothing here). The combined plan of section 3 ramps over 45 s and stays over capacity a little
# too long; a longer ramp lets the pre-warmed cache fill the rest of the working set at the rate
# the database can serve. Pre-warming 200 keys, or ramping over 30 s, leaves the database
# overloaded; pre-warming 5,000 keys would take 200 s the warmer does not have.
# </details>
#
# ## Key takeaways
#
# * A database sized for what a healthy cache lets through (here a quarter of the traffic, a few
#   times its healthy load) is still four times too small the day the cache fails. **Plan for the
#   cache failing**: the fallback is a load test the database did not sign up for.
# * Put a **bulkhead** on fallback reads (the database's capacity, by Little's law), a **circuit
#   breaker** around the cache (with a half-open probe, so it closes again), and a **client
#   timeout** set from the cache's own latency. A **gutter** cache keeps serving hot keys.
# * A **slow** cache is worse than none, and raises no error: time out from its healthy p99.
# * A **cold** cache at peak can stay cold, because the database's time goes to answers nobody
#   waits for: warm it (pre-warm; ramp where a replica is warm), **shed** what waited too long, or
#   serve a stale snapshot. Single-flight does not fix that.
# * Cache **"not found"** with a short TTL, shorter than how long a new id may stay invisible; a
#   **Bloom filter** turns away nearly all absent ids at a predictable false-positive rate.
# * Retries without a **budget** can make an outage outlive its cause. Budget retries, back off
#   with jitter, and **shed** work nobody waits for.
# * A **partial** failure (one node of N, a few percent of calls) never makes five failures in a
#   row: put a **rate-based breaker per node**, and keep the bulkhead.
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
# * Michael T. Nygard, *Release It!* (2nd ed., Pragmatic Bookshelf, 2018) - the circuit breaker and
#   the bulkhead; Resilience4j's CircuitBreaker documentation - failure-rate thresholds over count-
#   and time-based sliding windows.
# * redis-py documentation: connection timeouts (`socket_timeout`, `socket_connect_timeout`) and
#   "Retries" (the `Retry` object and its backoff classes).
# * Burton H. Bloom, "Space/Time Trade-offs in Hash Coding with Allowable Errors", CACM 1970.

# %%
store.reset();
