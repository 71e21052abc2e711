# %% [markdown]
# # 10 · Watching and sizing a cache
#
# Every earlier notebook measured the cache from inside the lab. In production nobody hands
# you a staleness meter: you instrument the app, read Redis's own numbers, and decide how
# much memory to buy from data. This notebook does exactly that, on a small shop, and then
# checks the kit's predictions against a real Redis server that the lab starts for itself.
#
# **What you'll learn**
# - The four numbers to watch - hit ratio *per key prefix*, latency percentiles, expirations
#   and evictions per second, memory - and why an average hides a broken data set.
# - How to read Redis itself: `INFO`, `MEMORY USAGE`, `OBJECT FREQ`, `SLOWLOG`, and the
#   `redis-cli --bigkeys / --memkeys / --hotkeys` scans.
# - What one cached value really costs: key name, value, per-key overhead, serialization format, compression.
# - How to turn a hit-ratio curve into `maxmemory`, and how to tell a cache that is too small from
#   one whose TTL is too short, from the server's own counters.
# - How to tell whether cached data is right, by sampling a stream of hits.
#
# **What you need**: [00 · Start here](00_start_here.ipynb) (hit ratio, staleness) and
# [05 · Eviction](05_eviction.ipynb) (the LRU curve, SHARDS, Redis's sampled LRU). No Redis
# server of your own: the sizing check starts a throwaway one when `redis-server` is installed.
#
# **Time**: 45 minutes (25 teaching + 20 exercises).

# %%
import labkit
from labkit import observability as obs

store = labkit.start("10")

# %% [markdown]
# ## 1 · The four numbers
#
# The shop caches three data sets under three key prefixes: `product:` (60% of reads,
# TTL 300 s), `user:` (30%, TTL 120 s) and `price:` (10%). Prices were meant to live 30 s.
# The config says `PRICE_TTL = 0.5` - in minutes, as its comment says - and the cache helper
# it is handed takes seconds and sends Redis `PX 500`. redis-py's own `ex=0.5` would have
# refused the fraction (it takes whole seconds), but a helper that converts seconds to
# milliseconds accepts it without a word: prices now live half a second.
#
# `obs.MeteredStore` wraps the notebook's store and records, **per prefix**, what a
# dashboard needs: hits and misses, the latency of every cache command and every database
# read behind a miss, keys that expired or vanished early (evicted), and the memory of what
# it wrote. The cell below fills the cache as a shop that has been running a while holds
# it, then runs the shop for two seconds of real time (up to 2,000 reads a second) and
# redraws the dashboard as the traffic flows.

# %%
labkit.widgets.predict(
    "The whole shop's hit ratio comes out near 90%. What is the price data set's own hit ratio?",
    ["about the same, 80-90%", "a bit lower, 70-80%", "far lower, under 60%"],
    notebook="10", name="price-hit-ratio",
)

# %%
before = obs.info_snapshot(store)  # the server's counters now (None on fakeredis)
dash = obs.live_dashboard(store, seconds=2)

# %% [markdown]
# **What to notice**: the average looks healthy, yet one bar is far below the line. In the
# lab's seeded replay of the same shop (six seconds of traffic after the same warm-up), the whole cache hits
# {claim:overall_hit_ratio:.0%} while `price:` hits only {claim:price_hit_ratio:.0%} and
# `product:` {claim:product_hit_ratio:.0%}. Prices are only {claim:price_read_share:.0%} of
# the reads, so their collapse moves the average by a few points - nobody would page on that.
# A per-prefix hit ratio, one line of code in the wrapper, finds it at once. Switch the
# dashboard to *DB load, expiries, evictions*: the prices send the database
# {claim:price_db_share:.0%} of its queries (in the replay) and expire about
# {claim:price_expired_per_second:,.0f} keys a second. *Run 3 s more* keeps the
# shop running; the ratios climb as the long-TTL data sets warm up, the price bar does not.

# %% [markdown]
# ## 2 · Reading Redis itself
#
# The app's own counts are one view. The server keeps its own, and an operator reads them
# first: `INFO stats` (`keyspace_hits`, `keyspace_misses`, `evicted_keys`, `expired_keys`),
# `INFO memory` (`used_memory`, `mem_fragmentation_ratio`), `MEMORY USAGE key`, `OBJECT FREQ key`
# (only under an LFU `maxmemory-policy`) and `SLOWLOG GET`. On a real server the table below
# holds the server's numbers - for the whole server, every client's traffic included, so
# they are read as the change since the cell before the dashboard. fakeredis has none of
# these commands; there labkit computes the same figures and the **source** column says
# *computed*. `SLOWLOG` times only a command's execution inside the server: not the network,
# not the queue before it. A cache that is slow because the network is, or because the
# server was paused (notebook 08), leaves `SLOWLOG` empty - time the calls in the app too.

# %%
obs.redis_readings(store, dash, before)

# %% [markdown]
# The `redis-cli` scans find keys that need attention: `--bigkeys` the biggest per type
# (strings by length in bytes, lists, sets and hashes by element count - not bytes),
# `--memkeys` the most memory, `--hotkeys` the most used (it reads `OBJECT FREQ`, so it needs
# an LFU policy). They walk the keyspace with `SCAN`, never `KEYS`; here they walk only this
# notebook's keys.

# %%
obs.key_scans(store, dash)

# %% [markdown]
# **What to notice**: on a real server `keyspace_hits / (keyspace_hits + keyspace_misses)`
# is close to the dashboard's ratio but not equal - it counts every client, and every `GET`
# the app sends, not only the ones the app called reads. `evicted_keys` is 0 on a server
# with no `maxmemory` (section 5 fills one that is too small). The hottest key's LFU counter is far below its hit count: Redis counts
# logarithmically (a key needs about a million accesses to reach 255), so `OBJECT FREQ`
# ranks keys, it does not count requests.

# %% [markdown]
# ## 3 · What a value costs
#
# A key holds more than its value: a dictionary entry (24 bytes), the key name as its own
# string, a 16-byte object header, and every allocation rounded up to the allocator's
# size classes. `MEMORY USAGE` reports all of that. labkit computes the same number from Redis
# 7's layout; on a real server the table shows both, side by side. Two costs `MEMORY USAGE`
# leaves out and `used_memory` (so `maxmemory`) counts: the main hash table's buckets, and -
# for every key with a TTL, which is every key a cache writes - an entry in the *expires*
# dictionary that maps the key to its deadline.

# %%
labkit.widgets.predict(
    "A price stored as the 4-character string '1999' under the key 'price:17'. How many bytes does Redis hold for it?",
    ["about 4", "about 20", "about 90"],
    notebook="10", name="price-key-bytes",
)

# %%
obs.key_cost_table(store)

# %% [markdown]
# **What to notice**: for a small value, overhead is nearly everything: the 4-byte price
# costs {claim:price_key_bytes} bytes, {claim:small_value_overhead:.0%} of it overhead (Redis even stores
# the number inside the header, and it is still mostly overhead). A product record of
# {claim:product_value_bytes} bytes of JSON costs {claim:product_key_bytes}. Long key names are not free either: the name is part of
# every key. The TTL's own entry adds {claim:ttl_key_bytes} bytes per key (a 32-byte allocation
# plus its share of the expires table's buckets) - the tests hold this model to a real
# server's `used_memory`, with a TTL and without. A budget built from keys without TTLs comes
# out {claim:ttl_budget_share:.0%} short for 200-byte values, and one built from `MEMORY USAGE`
# shorter still.
#
# How the value is encoded matters as much. Slide the number of products in one cached value
# (one product, or a "home page feed" of many).

# %%
obs.explore_formats()

# %% [markdown]
# **What to notice**: msgpack stores a single product {claim:msgpack_saving:.2f}× smaller than
# JSON, and decodes it fast; pickle is Python-only and must never read bytes you did not
# write. zlib does little for one small record (JSON is only {claim:zlib_record_ratio:.2f}×
# bigger than its compressed form) but shrinks the default 50-product feed
# {claim:zlib_feed_ratio:.1f}× - repeated field names compress well. Compression pays for big,
# repetitive values that are read less often than they cost to decompress; every read pays
# the decode time shown on the right.

# %% [markdown]
# ## 4 · Sizing: from the hit-ratio curve to `maxmemory`
#
# Notebook 05 drew LRU's hit ratio at every capacity from one pass over a trace (stack
# distances, Mattson et al. 1970), and estimated it from a 10% spatial sample of the keys
# (SHARDS). Multiply each capacity by what one key *really* costs, and the x-axis becomes
# memory. The workload: 100,000 Zipf reads (alpha 1.1) over 10,000 keys, 200-byte values,
# each written with a TTL (so each key costs {claim:ttl_key_bytes} bytes more than `MEMORY USAGE` says).

# %%
obs.explore_sizing()

# %% [markdown]
# **What to notice**: 90% of reads need {claim:budget_mib:.2f} MiB - room for
# {claim:capacity_share:.0%} of the keys, because the tail of rarely read keys is not worth
# caching. A budget of value bytes times keys buys only {claim:values_only_share:.0%} of that
# memory. The 10% SHARDS sample drawn here asks for more keys than the exact curve; drawn with
# ten different hash seeds, the capacity it asks for ranges from {claim:shards_error_low:+.0%}
# to {claim:shards_error_high:+.0%} of the exact one. Near the flat top of the curve, a small
# error in hit ratio is a large error in capacity - round up, and check.
#
# So check it. The next cell starts a throwaway `redis-server` (never yours), sets `maxmemory`
# to what the empty server uses plus that budget, replays the same 100,000 reads as
# cache-aside `GET`-then-`SET` (each `SET` with an hour's TTL, as a cache's would), under
# `allkeys-lru` and then `allkeys-lfu`, and reads the
# server's own `INFO` counters. (Where `redis-server` is not installed it says so in one line
# and shows the model's prediction only.)

# %%
labkit.widgets.predict(
    "The model predicts 90.0% hits. What will the real server's allkeys-lru measure?",
    ["90% or a little more", "1-3 points less", "under 85%"],
    notebook="10", name="server-hit-ratio",
)

# %%
verification = obs.show_verification(store)

# %% [markdown]
# **What to notice**: an LRU cache of the planned size, simulated request by request, hits
# {claim:predicted_hit_ratio:.1%}; the real `allkeys-lru` lands one to three points below it,
# `allkeys-lfu` about on it. Two differences explain the gap, and the table shows both:
#
# - **Memory the model cannot see.** The server holds a few percent fewer keys than planned:
#   the hash tables grow in powers of two, and client buffers take their share. The budget
#   already counts the TTL's entry; leave it out and the server holds
#   {claim:ttl_budget_share:.0%} fewer keys.
# - **Redis's LRU is sampled, on a one-second clock.** Each eviction samples 5 keys
#   (`maxmemory-samples`) into a pool of the 16 best candidates seen so far and evicts the
#   idlest in the pool. Idleness is read from a clock that ticks once a second: in a replay of
#   100,000 requests in about a second every key looks equally recent, so the choice is close
#   to random. Random eviction at the planned keys gives {claim:random_floor:.1%}. At the keys
#   the server really held, the table's last two columns bracket the server: random eviction
#   below, exact LRU above.
#
# Which gap would production see? Replay the same trace through a simulator of Redis's
# sampled LRU whose clock tells every request apart (5 samples, without the pool, which only
# brings it closer): {claim:sampled_lru_ratio:.1%}, within a fraction of a point of exact LRU.
# Traffic spread over hours lets the 1 s clock resolve; it is this replay, squeezed into a
# second, that turns LRU into random eviction. The lesson is not "production lands below the
# model" but "test at the time scale of production, or you measure the test".
#
# The second table reads `OBJECT FREQ` on the `allkeys-lfu` run, the server's own LFU counter:
# the hottest key, read {claim:hottest_key_reads:,} times, sits at a few dozen of a possible 255
# (labkit's computed counter - the same coin flips, `lfu-log-factor` 10 - says
# {claim:hottest_lfu_counter}), and the server's value lands beside it.

# %% [markdown]
# ## 5 · Memory pressure: too small, or too short?
#
# A low hit ratio has two common causes with opposite fixes: the cache is too small (buy
# memory), or its TTL is too short (keys leave on their own, memory to spare). The server
# counts both: `evicted_keys` are keys it threw out to stay under `maxmemory`, `expired_keys`
# keys whose TTL ran out. The next cell runs three caches on the first 50,000 reads of
# section 4's workload, paced at 50,000 a second so TTLs run on the server's clock:
#
# - **cache 1**: twice the planned memory, TTL 0.05 s;
# - **cache 2**: the memory planned in section 4, TTL one hour;
# - **cache 3**: a quarter of that memory, TTL one hour.
#
# Each runs on a throwaway `redis-server` the lab starts with `maxmemory` set - never on your
# server - and the table gives its `INFO stats` counters (*server*) beside the same replay
# through exact LRU with TTLs (*computed*). fakeredis accepts `maxmemory` but never evicts,
# so without `redis-server` only the computed rows appear, and say so.

# %%
labkit.widgets.predict(
    "Cache 2 got exactly the memory planned for 90% hits. How many keys will it evict?",
    ["none - it has the memory it needs", "a few dozen", "thousands"],
    notebook="10", name="healthy-evictions",
)

# %%
pressure = obs.show_pressure(store)

# %% [markdown]
# **What to notice**: in the computed replay, cache 1 expires {claim:short_ttl_expired:,} keys and
# evicts none; cache 3 evicts {claim:small_cache_evicted:,} and expires none. Both hit far
# below target, and only the counters say which fix helps: more memory would change nothing
# for cache 1. Cache 2 evicts too - {claim:healthy_evicted:,} keys - while hitting
# {claim:healthy_hit_ratio:.0%} (the first reads of a cold cache included): a cache sized
# below its whole key space throws out its cold tail all the time, so evictions alone are no
# alarm. Read `evicted_keys` and `expired_keys` as rates beside the hit ratio, per second,
# as the dashboard of section 1 does. On the server, cache 3 lands a few points under the
# computed run: the replay is a second long, so Redis's LRU clock cannot tell its keys apart
# (section 4).

# %% [markdown]
# ## 6 · Is the cache right?
#
# Hit ratio says nothing about correctness. To measure staleness in production, take a
# random sample of cache hits, re-read their rows from the database, and compare versions:
# the share of stale hits in the sample estimates the share in all traffic. How good is the
# estimate? The Wilson interval says, for the sample size you paid for.
#
# One thing the lab does that production cannot: each hit here is judged against the
# database *at the moment it was served*. In production the re-read happens later, and a
# write between the hit and the re-read makes a hit that was fresh look stale - so re-read on
# the spot (or compare the version the hit served with the row's version history), or your
# estimate counts writes, not staleness.

# %%
labkit.widgets.predict(
    "A few percent of hits are stale. How many hits must you re-read from the database to pin that to ±2 points?",
    ["about 40", "about 400", "about 40,000"],
    notebook="10", name="sample-size",
)

# %%
obs.explore_sampling()

# %% [markdown]
# **What to notice**: in the shop's replay {claim:true_stale_share:.1%} of hits were stale (TTL
# alone, no invalidation on write). A sample of 400 hits estimated {claim:estimate_400:.1%},
# with a 95% interval from {claim:low_400:.1%} to {claim:high_400:.1%} that contains the truth.
# The interval is not symmetric: it reaches further up than down, because a share cannot fall
# below 0 - the reason to use Wilson's interval rather than the estimate ± a margin, which
# near 0 would run below zero. Across 200 such samples, {claim:coverage_400:.0%} of the
# intervals held the truth - what "95%" promises, or a little better. The interval shrinks
# like 1/√n: to pin staleness to ±0.5 percentage points takes about
# {claim:sample_for_half_point:,} re-reads. At the shop's 2,000 reads a second, re-reading one
# hit in a hundred collects 400 in {claim:seconds_for_400:.0f} seconds and adds
# {claim:sampling_db_load:.0%} to the database's load - cheap enough to run all the time.

# %% [markdown]
# ## Exercises
#
# Each check runs in the lab, says what it found, and records your progress (see notebook 00).

# %%
ex = obs.exercises(store)

# %% [markdown]
# ### Exercise 1 · Too small, or too short?
#
# Section 5's three caches, diagnosed from their counters (the table above). For each, say
# `"too small"`, `"TTL too short"` or `"healthy"`.

# %%
answer = {"cache 1": ..., "cache 2": ..., "cache 3": ...}
ex.too_small_or_too_short.check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = {"cache 1": "TTL too short",   # expired_keys high, evicted_keys 0
#           "cache 2": "healthy",         # at its target; its evictions are the cold tail
#           "cache 3": "too small"}       # evicted_keys high, expired_keys 0
# ```
# Reading the hit ratio alone sends both bad caches to "buy memory"; reading evictions alone
# calls the healthy cache too small.
# </details>

# %% [markdown]
# ### Exercise 2 · Size `maxmemory` for a 90% hit ratio
#
# Give the memory (in bytes, above the empty server's own use) that reaches 90% hits on the
# sizing workload of section 4. The check asks the model, then - when `redis-server` is
# installed - sets your budget on the lab's own server and replays the workload.
# `obs.sizing.sizing_curve()` is the exact LRU curve (`.hit_ratio(capacity)`), and
# `obs.sizing.key_bytes()` what one key costs, its TTL included.

# %%
curve = obs.sizing.sizing_curve()
answer = ...
ex.size_for_90.check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# capacity = next(c for c in range(1, curve.distinct_keys + 1) if curve.hit_ratio(c) >= 0.9)
# answer = capacity * obs.sizing.key_bytes()     # = obs.sizing.plan_for(0.9).budget_bytes
# ```
# Counting only the 200-byte values, using `MEMORY USAGE` (no hash table, no TTL entry), and
# buying room for every key are the classic errors. Up to 1.5 times the plan is accepted as
# headroom.
# </details>

# %% [markdown]
# ### Exercise 3 · Find the big key
#
# The cell below writes a shelf of keys: thirty products, a key with a very long name, a hot
# feature-flag key read 25,000 times, and two feeds - one stored compressed (`z:` + base64).
# Which key holds the most memory in Redis?

# %%
reads = obs.plant_shelf(store)
answer = ...
ex.big_key.check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = obs.mem_keys(store, 1, pattern="shelf:*")[0].key   # 'shelf:feed:deals'
# ```
# `shelf:feed:home` is bigger once decoded, but Redis holds its compressed form; rank by
# `MEMORY USAGE`, not by name length, reads or decoded size.
# </details>

# %% [markdown]
# ### Exercise 4 · Write the staleness sampler
#
# Section 6's estimate, as code you could run in production. `hits` is the shop's hits as they
# happen: a stream you walk once, with no `len()` and no index; `total` is how many it holds
# (your hit counter for the window). `is_stale(hit)` re-reads one hit from the database (a query,
# so the check counts them) and says whether the cached copy was stale. The lab replays your
# sampler 2,000 times on a 20-hit stream, to see that every hit is equally likely to be re-read
# and that your intervals hold the truth, then once on the shop's {claim:shop_hits:,} hits with n = 200
# against a budget of n + 4√n re-reads (room for a Bernoulli sample, whose count varies).

# %%
import random


def estimate_stale_share(hits, is_stale, n, total):
    """Estimate the share of stale cache hits by re-reading about n of them.

    Return (estimate, low, high): the stale share in the sample and its 95% interval
    (obs.wilson_interval(stale, sampled) computes one).
    """
    ...


ex.stale_sampler.check(estimate_stale_share)

# %% [markdown]
# <details><summary>Solution</summary>
#
# A reservoir of n hits (Algorithm R): hit number i (from 0) takes a random slot with probability n / (i + 1).
#
# ```python
# def estimate_stale_share(hits, is_stale, n, total):
#     reservoir = []
#     for seen, hit in enumerate(hits):
#         if seen < n:
#             reservoir.append(hit)
#         else:
#             slot = random.randrange(seen + 1)
#             if slot < n:
#                 reservoir[slot] = hit
#     stale = sum(1 for hit in reservoir if is_stale(hit))
#     low, high = obs.wilson_interval(stale, len(reservoir))
#     return stale / len(reservoir), low, high
# ```
# A Bernoulli sample is as right: keep each hit with probability n / total and re-read it on
# the spot - which in production is the better choice, because the re-read happens while the
# hit is fresh (a reservoir re-reads at the end of the window, when later writes can make a
# fresh hit look stale). Re-reading every hit costs the database a query per hit; the first
# or last n hits are not a sample of the window; re-reading each hit as it enters a reservoir
# re-reads hits it later drops; a bare percentage with no interval claims a certainty a sample
# does not give.
# </details>

# %% [markdown]
# ## Key takeaways
#
# - Export hit ratio **per key prefix**: a data set with a broken TTL hides inside a good average.
# - Watch four numbers: hit ratio, cache and DB latency percentiles, expirations and evictions
#   per second, memory. Redis's `INFO` counters are server-wide; the app's own are per prefix.
# - A key costs its value plus tens of bytes of overhead; small values are mostly overhead.
#   msgpack beats JSON a little, zlib a lot - for big, repetitive values only.
# - Size memory from the hit-ratio curve times the real bytes per key - the TTL's expires entry
#   included - add headroom, and verify on a server at the time scale of production: a replay
#   squeezed into a second makes Redis's LRU look like random eviction.
# - A low hit ratio with `expired_keys` climbing wants a longer TTL; with `evicted_keys`
#   climbing and the ratio under target, more memory. Evictions at target are the cold tail.
# - Staleness is measurable in production by re-reading a random sample of the stream of hits,
#   on the spot; Wilson's interval is asymmetric near 0 and shrinks like 1/√n.
#
# ## Further reading
#
# - Redis documentation: [`INFO`](https://redis.io/docs/latest/commands/info/),
#   [`MEMORY USAGE`](https://redis.io/docs/latest/commands/memory-usage/),
#   [Key eviction](https://redis.io/docs/latest/develop/reference/eviction/),
#   [Latency monitoring](https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency-monitor/),
#   [`SLOWLOG`](https://redis.io/docs/latest/commands/slowlog-get/).
# - C. A. Waldspurger, N. Park, A. Garthwaite, I. Ahmad: *Efficient MRC Construction with
#   SHARDS*, USENIX FAST 2015.
# - J. S. Vitter: *Random sampling with a reservoir*, ACM TOMS 11(1), 1985.
# - R. L. Mattson, J. Gecsei, D. R. Slutz, I. L. Traiger: *Evaluation techniques for storage
#   hierarchies*, IBM Systems Journal 9(2), 1970.
# - B. Beyer, C. Jones, J. Petoff, N. R. Murphy (eds.): *Site Reliability Engineering*,
#   O'Reilly 2016, chapter 6, "Monitoring Distributed Systems" (the four golden signals).
# - E. B. Wilson: *Probable inference, the law of succession, and statistical inference*,
#   JASA 22(158), 1927.

# %%
store.reset();
