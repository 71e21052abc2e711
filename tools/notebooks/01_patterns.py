# %% [markdown]
# # 01 · Caching patterns: who loads, who writes, what can go wrong
#
# Every cache answers two questions, whether its authors thought about them or not:
# **who fetches a row when the cache does not have it**, and **what happens to the
# cached copy when the row changes**. The four classic patterns are four answers.
# They differ in database load, in latency, in how stale a read can be, and in what
# a crash can take with it. You will run all four on the same workload and watch
# those four numbers move.
#
# | | |
# |---|---|
# | **What you'll learn** | how cache-aside, read-through, write-through and write-behind handle a read miss and a write; why write-through writes the database *before* the cache, and exactly what it guarantees; why write-behind fits counters and never money; how to pick a pattern per data set; and you will **write a cache-aside yourself**, graded by the lab's race replays |
# | **What you need** | [00 · Start here](00_start_here.ipynb) (the toy system, the staleness meter) |
# | **Time** | 45 minutes (25 teaching and experimenting + 20 for the exercises) |

# %%
import labkit
from labkit import patterns

store = labkit.start("01")

# %% [markdown]
# ## Four answers to two questions
#
# | pattern | on a read miss | on a write | fits | costs |
# |---|---|---|---|---|
# | **cache-aside** | the *app* reads the DB and fills the cache | DB, then delete the cached key | read-mostly data that can afford a miss; the sensible default | the first read after a miss or a write is slow |
# | **read-through** | the *cache layer* loads the row (a library's loader, a proxy) | through the same layer | the same data as cache-aside, when a library owns loading | you are tied to that layer's loader and its failure modes |
# | **write-through** | the app reads the DB and fills the cache | DB, then the cache, before acknowledging | data read right after it is written: once a write is acknowledged, every read gets it | slower writes: each one waits for the DB and then the cache |
# | **write-behind** | the app reads the DB and fills the cache | cache + queue; a flusher writes batches later | write-heavy data where losing the last moments is acceptable | a crash loses whatever is still queued |
#
# In `labkit.patterns` each one is a small class with the same three methods:
# `read(row_id)`, `write(row_id, value)` and `close()`. Rows are cached under
# `item:<id>` with their database version, so the lab can always tell a fresh copy
# from an old one.
#
# ## Step by step, on your cache
#
# The next cell runs one short script through each pattern against the cache you
# just connected to (fakeredis, or your Redis server if `REDIS_URL` is set): read a
# row, read it again, write it, read it, close. The database sits on a virtual clock,
# so nothing waits.

# %%
labkit.widgets.predict(
    "Script: read, read, write, read. How many times does each pattern read the database?",
    ["all four: 1", "cache-aside 2, write-through 1", "cache-aside 1, write-through 2", "all four: 2"],
    notebook="01", name="walkthrough",
)

# %%
patterns.walkthrough(store)

# %% [markdown]
# ### What to notice
#
# * **Cache-aside and read-through read the database twice.** A write deletes the
#   cached key, so the next read misses and pays for a query. Their rows are identical:
#   read-through moves the loading code into the cache layer, it does not remove it.
#   One real difference shows only under concurrency: read-through loaders such as
#   Caffeine's and Guava's `LoadingCache` **coalesce concurrent loads of one key** - when
#   a hundred requests miss the same key at once, one loads it and the others wait for
#   that result, where a hand-written cache-aside sends all hundred to the database
#   (notebook [04 · Stampede](04_stampede.ipynb)). The lab's read-through loads one request
#   at a time, like cache-aside, so its numbers here are the same.
# * **Write-through reads it once.** The write put the new row in the cache, so the
#   read after it is a hit.
# * **Write-behind's database is behind its cache.** After the write the cache holds
#   `'new'` and the database still holds the old row, until `close()` flushes the queue.
#   That gap is the whole story of write-behind.
#
# ### Why write-through writes the database first
#
# A write-through write has two halves, and either can fail. The lab's version orders
# them so that **a failure in either half leaves no cache entry that disagrees with the
# committed row once the write returns**, and so that concurrent writers cannot leave an
# older row in the cache:
#
# 1. **Database first.** It is the source of truth. If it refuses the write, the cache
#    has not been touched and still matches it.
# 2. **Then the cache**, and only ever *forward*: the new row replaces the cached one
#    only if its version is newer (`store.set_if_newer`: one atomic step, a Lua script on
#    Redis). Two writers can reach the cache in the opposite order to the one in which
#    they reached the database; the version check stops the slower one from putting the
#    older row back.
# 3. **If the cache half fails, delete the key.** The next read reloads the committed row.
#
# Writing the cache first would be faster to explain and wrong: if the database then
# refused the write, readers would be served a value that never existed.
#
# **What write-through guarantees, exactly.** Once a write is *acknowledged*, the cache
# holds that version or a newer one (or nothing), so every read that starts after the
# acknowledgement - the writer's own next read included - gets the new row, and no later
# fill can put an older one back. It does **not** promise that other readers never see an
# older row: between the database commit and the cache update, a reader that hits the
# cache still gets the old row. That window is usually one cache round trip, longer if the
# writer stalls in between, but it is always there; a read that must never be behind (the
# check before moving money) reads the database.
#
# ## A race the table did not show
#
# The script above ran one request at a time. Real requests overlap. Take the worst
# timing: a reader misses and loads version 1 from the database; before it fills the
# cache, a writer commits version 2 and does its cache step; then the slow reader fills
# the cache with what it loaded.

# %%
labkit.widgets.predict(
    "After that interleaving, which patterns are left serving the old version?",
    ["none of them", "cache-aside and read-through", "write-through and write-behind", "all four"],
    notebook="01", name="race",
)

# %%
patterns.race_demo(store)

# %% [markdown]
# ### What to notice
#
# * **Cache-aside and read-through end up stale**: the writer's delete came *before*
#   the reader's fill, so the fill put version 1 back, and it stays until the TTL
#   expires. Nothing errors; the staleness meter is the only witness.
# * **Write-through and write-behind stay fresh**: the writer put version 2 in the
#   cache, and the reader's fill is refused because version 1 is older.
# * The TTL is what bounds cache-aside's damage here. This is the *stale-set race*;
#   [02 · Invalidation](02_invalidation.ipynb) takes it apart and fixes it (leases, short
#   TTLs, write-through).
#
# ## Side by side: one workload, four patterns
#
# Now the same stream of requests (1,000 per second, a few popular rows asked for
# far more often than the rest) replays through each pattern, each with its own cache
# and database on a virtual clock. Cache round trips cost 0.2 ms and database queries
# cost the latency on the slider. At the end, the process crashes without a clean
# shutdown. Press **Crash now** to crash it at a random moment instead.

# %%
labkit.widgets.predict(
    "With 20% writes, which pattern sends the fewest write queries to the database?",
    ["cache-aside", "read-through", "write-through", "write-behind"],
    notebook="01", name="side-by-side",
)

# %%
patterns.explore()

# %% [markdown]
# ### What to notice
#
# * **DB work (top left).** Write-through reads the database about
#   {claim:through_reads_less:.0f} times less than cache-aside, because writes refresh the
#   cache instead of emptying it. Write-behind writes fewer rows than the app wrote
#   (repeated writes to a popular row coalesce into one update) and sends them in
#   {claim:behind_write_queries} batched queries instead of one per write
#   ({claim:behind_app_writes} writes).
#   It reads the database a little more than write-through: before its first write to a
#   row it has not cached, it loads the row (here to learn its version; for a counter,
#   to learn the count it adds to).
# * **Latency (top right).** Most reads are cache hits for every pattern; the p99 read
#   is a miss and costs a database query. A write-through or cache-aside write waits
#   for the database; a write-behind write is acknowledged at cache speed.
# * **Staleness (bottom left).** Replayed one request at a time, no pattern serves a
#   stale read. Write-behind's reads run *ahead* of its database instead: for
#   {claim:behind_ahead_share:.0%} of the reads the database did not yet have the value the app
#   returned. Anything else that reads that database (a report, another service, a failover)
#   sees the past.
# * **The crash (bottom right).** Only write-behind loses acknowledged writes, and
#   only those still in its queue. Slide the flush interval up and press
#   **Crash now** a few times: the longer the interval, the more is at risk.
# * Push **writes** to 0.5: cache-aside's hit ratio falls to
#   {claim:aside_hit_ratio_half_writes:.0%} because every write empties a key, and its median
#   read pays the database's price ({claim:aside_median_read_ms_half_writes:.1f} ms), while
#   write-through's median read is still a hit.
#
# ## A crash, on your cache
#
# A page-view counter is write-behind's textbook case: every view is an increment,
# and the exact count of the last second does not matter much. Here three pages get
# 60 views over 3 seconds; the queue is flushed every second; the process dies
# 2.5 seconds in.

# %%
labkit.widgets.predict(
    "How many of the acknowledged increments are lost when the process dies?",
    ["none", "a handful (the last half second's worth)", "about half", "all of them"],
    notebook="01", name="crash",
)

# %%
crashed = patterns.crash_demo(store)
crashed

# %% [markdown]
# ### What to notice
#
# * The **lost increments are exactly the ones queued since the last flush**: of
#   {claim:crash_acknowledged} acknowledged, {claim:crash_lost} were lost - under half a
#   second's worth. Every increment flushed before that is in the database.
# * **The cache still shows the lost counts.** Cache and database now disagree, and the
#   cache is the one that is right about what the app acknowledged. When those keys
#   expire, the counts silently go back.
# * Batching did its job: each flush wrote one row update per page, all in one query,
#   however many increments each page had received since the last flush.
#
# A clean shutdown flushes the queue before the process goes away:

# %%
patterns.crash_demo(store, clean_shutdown=True)

# %% [markdown]
# **The other way write-behind loses a write: eviction before the flush.** Until the
# flusher runs, the cache may be the only place that holds an acknowledged value. If the
# cache evicts that entry (memory pressure) or it expires before the flush, a reader
# misses and loads the *older* row from the database - and a design that flushes by
# reading dirty entries back out of the cache has lost the write for good. Such designs
# must pin dirty entries until they are flushed. The lab's write-behind keeps every queued
# value in its own queue, apart from the cache entry: the flusher writes from the queue,
# and a read that misses checks the queue first and rebuilds the acknowledged row.

# %% [markdown]
# ## The fifth pattern: refresh-ahead
#
# The four patterns above all load a row *after* a reader misses. **Refresh-ahead**
# reloads a popular row *before* its TTL runs out (for example when a read finds the
# entry in its last tenth of life), so hot keys almost never miss. It costs database
# queries for rows nobody may read again, and it only pays off for keys that are read
# often. It is also one of the defences against a stampede, when a hot key expires
# and every reader misses at once: see notebook [04 · Stampede](04_stampede.ipynb).
#
# ## Exercises

# %%
ex = patterns.exercises()

# %% [markdown]
# **Exercise 1 — one pattern per data set.** Pick a pattern for each data set (one of
# `"cache-aside"`, `"read-through"`, `"write-through"`, `"write-behind"`). For each,
# say to yourself in one sentence why: how is it read and written, can a reader accept
# an older value, and can the last few acknowledged writes be lost?

# %%
answer = {
    "session store": ...,
    "product catalogue": ...,
    "account balance": ...,
    "page-view counter": ...,
}
ex.choose.check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# * **session store: write-through** (cache-aside also works). Read on every request;
#   a user must see their own change on the next one; losing an acknowledged login is
#   not acceptable.
# * **product catalogue: cache-aside** (or read-through). Read-heavy, rarely written; a
#   slow first read is harmless.
# * **account balance: write-through.** No acknowledged write may be lost, and once a
#   write is acknowledged no cached copy is older than it (the version guard also closes
#   the stale-set race). Never write-behind for money - and the check that actually moves
#   money reads the database, not the cache.
# * **page-view counter: write-behind.** Write-heavy and loss-tolerant; coalescing turns
#   thousands of increments into a few batched updates.
#
# </details>
#
# **Exercise 2 — write a cache-aside.** Now you write the pattern. Fill in `read` and
# `write` below. `self.store` is the cache (the same `get`, `set`, `delete` you used in
# notebook 00), `self.db` the database (`read(row_id)`, `write(row_id, value)`), and
# `self.ttl_seconds` the TTL to give every cached copy. The check does not just call your
# code once: it looks at the TTL your copy carries on the store and lets simulated time pass
# (the copy must still be there at 90 % of its TTL and gone after it), then replays your code
# against a busy server - a reader arriving in the middle of your write, two writers
# overlapping, the stale-set race from above, a database that refuses a write - and names
# the first scenario that breaks it, with the timeline that did.

# %%
class MyCacheAside(patterns.CacheAsideBase):
    """Cache-aside: self.store is the cache, self.db the database, self.ttl_seconds the TTL.
    Cache a row under self.key(row_id) as row.to_cache(); labkit.Row.from_cache(text)
    turns the cached text back into a row."""

    def read(self, row_id):
        """Return the row: from the cache if it is there; otherwise load it with
        self.db.read(row_id), keep a copy in the cache, and return it."""
        ...

    def write(self, row_id, value):
        """Change the row in the database (self.db.write(row_id, value)) so that no
        reader goes on being served the old value from the cache."""
        ...


ex.cache_aside.check(MyCacheAside)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# class MyCacheAside(patterns.CacheAsideBase):
#     def read(self, row_id):
#         cached = self.store.get(self.key(row_id))
#         if cached is not None:
#             return labkit.Row.from_cache(cached)  # a hit: no database query
#         row = self.db.read(row_id)
#         # The TTL is the backstop: whatever goes wrong, a stale copy dies with it.
#         self.store.set(self.key(row_id), row.to_cache(), ttl_seconds=self.ttl_seconds)
#         return row
#
#     def write(self, row_id, value):
#         self.db.write(row_id, value)  # the database first: it is the truth
#         self.store.delete(self.key(row_id))  # then drop the copy; the next read reloads it
# ```
#
# The database first, then delete: a reader arriving between the two steps is served the
# old row for that moment, but cannot put it back for later (with the delete first, it
# can - and it stays until the TTL). Delete rather than set: two writers can reach the
# cache in the opposite order to the database, and a plain set would leave the older row;
# a delete cannot (or set with `self.store.set_if_newer`, which refuses an older version).
# The TTL is the backstop for what neither order prevents: the stale-set race.
#
# </details>
#
# **Exercise 3 — lose nothing on a clean shutdown.** Your service is being stopped for
# a deploy. Write the shutdown hook it runs before exiting so that write-behind loses no
# acknowledged write. The check makes 50 writes, calls your hook, then ends the process.

# %%
def shutdown(pattern):
    ...  # replace the ... with what must happen before the process exits


ex.shutdown.check(shutdown)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def shutdown(pattern):
#     pattern.close()   # flushes every queued write to the database
# ```
#
# `close()` drains the queue in batches before closing (and stops the flusher's timer
# thread, if `start_flusher()` started one). A deploy that kills the
# process first (or a crash, or an out-of-memory kill) skips it: that risk never goes
# away, which is why write-behind is for data you can afford to lose.
#
# </details>
#
# ## Key takeaways
#
# * Pick a pattern **per data set**, from how it is read and written and how much
#   staleness and loss it tolerates. Cache-aside is the default.
# * Read-through is cache-aside with the loading moved into the cache layer: same
#   numbers, different owner - and library loaders (Caffeine, Guava) usually coalesce
#   concurrent loads of one key, which hand-written cache-aside does not.
# * Write-through writes the **database first**, moves the cache only forward, and
#   deletes the key if the cache half fails. Once a write is acknowledged every read
#   gets it; between the commit and the cache update, other readers can still get the
#   old row.
# * Cache-aside's write is **database, then delete**; its fill always carries a TTL.
# * Write-behind makes writes cheap and coalesces them, and a crash loses its queue.
#   Flush on shutdown, never evict an unflushed entry; never use it for money.
# * Cache-aside's fill can race a writer and leave a stale entry until the TTL
#   expires: keep a TTL as the backstop.
#
# ## Further reading
#
# * R. Nishtala et al., "Scaling Memcache at Facebook", USENIX NSDI 2013: look-aside
#   caching at scale, delete-on-write, and leases against stale sets.
# * N. Bronson et al., "TAO: Facebook's Distributed Data Store for the Social Graph",
#   USENIX ATC 2013: a write-through cache in front of MySQL.
# * Microsoft Azure Architecture Center, "Cache-Aside pattern":
#   https://learn.microsoft.com/azure/architecture/patterns/cache-aside
# * AWS whitepaper, "Database Caching Strategies Using Redis" (2017):
#   https://docs.aws.amazon.com/whitepapers/latest/database-caching-strategies-using-redis/
# * Oracle Coherence documentation, "Caching Data Sources" (read-through,
#   write-through, write-behind and refresh-ahead).
# * Guava, `LoadingCache.get` javadoc ("if another call ... is currently loading the
#   value for key, simply waits for that thread to finish"), and Caffeine's wiki,
#   "Population": https://github.com/ben-manes/caffeine/wiki/Population
#
# ## Clean up

# %%
store.reset();
