# %% [markdown]
# # 05 · Eviction: what a full cache throws away
#
# A cache has a memory limit. Once it is full, every new entry pushes an old one out,
# and the rule that picks the victim - the *eviction policy* - decides whether the
# cache keeps the data your users are about to ask for, or the data they just finished with.
# A policy that suits one traffic shape can be the worst choice for another.
#
# **What you'll learn**
# - How LRU, FIFO, LFU, CLOCK, SIEVE, S3-FIFO, ARC and W-TinyLFU choose a victim, and
#   how far each one stays below the clairvoyant optimum (Belady's OPT).
# - Which traffic shapes break which policies: one-off scans, loops, moving hot sets.
# - How Redis approximates LRU and LFU by sampling, and what `maxmemory-policy` does on a real server.
# - How to pick a policy from the shape of your own workload.
#
# **What you need**: [00 · Start here](00_start_here.ipynb) (hits, misses, hit ratio). No Redis
# server of your own: the real-Redis part starts a throwaway one when `redis-server` is installed.
#
# **Time**: 40 minutes (25 teaching + 15 exercises).

# %%
import labkit
from labkit import eviction

store = labkit.start("05")

# %% [markdown]
# ## 1 · A cache that holds 100 keys, and a job that reads 101
#
# The simulator replays a list of key requests through a cache of a given size and
# counts hits. Start with the smallest possible trap: a job that reads keys 0 to 100
# in order, fifty times over, through a cache with room for 100 of them.

# %%
loop_trace = list(range(101)) * 50
eviction.table(loop_trace, capacity=100)

# %% [markdown]
# **What to notice**: LRU, FIFO and SIEVE hit *nothing*, although the cache holds 99% of
# the keys. Each of them throws out the key that was used longest ago - which, in a loop, is
# exactly the next one needed. S3-FIFO and W-TinyLFU refuse to let every newcomer push out
# a key that already proved itself, so most of the loop stays cached. OPT (Belady, 1966)
# evicts the key needed furthest in the future; no real cache can know that, so it is the
# ceiling every chart below draws as a dashed line.
#
# | policy | evicts | remembers |
# |---|---|---|
# | FIFO | the oldest entry | nothing |
# | LRU | the least recently used entry | the order of last use |
# | LFU | the entry with the fewest hits | a hit count per entry |
# | CLOCK | the oldest entry not hit since the hand last passed | one bit per entry |
# | SIEVE (NSDI 2024) | like CLOCK, but new entries join at the head | one bit per entry |
# | S3-FIFO (SOSP 2023) | new entries first, from a small probation queue | a 2-bit counter and a ghost list |
# | ARC (FAST 2003) | from a recency list or a frequency list, adapting the split | two ghost lists |
# | W-TinyLFU (Caffeine) | whoever is asked for less often: the newcomer or the old entry | aged request counts |

# %% [markdown]
# ## 2 · Policies against each other, and against the optimum
#
# The next chart replays 50,000 requests. The default trace is Zipf traffic (a few keys are
# very popular) with a batch job mixed in that reads a wide range of keys once each - the
# shape of a product catalogue with a nightly export. The left panel shows hit ratio against
# cache size; the right panel shows every policy at the size the slider picks.

# %%
labkit.widgets.predict(
    "Zipf traffic plus a one-off batch scan, cache = 5% of the keys: which policy hits most?",
    ["LRU", "SIEVE", "ARC", "W-TinyLFU", "they all land within a point of each other"],
    notebook="05", name="best-on-scan",
)

# %%
eviction.explore()

# %% [markdown]
# **What to notice**
# - LRU is last at every size: every key the batch job touches becomes "most recently used"
#   and pushes out a popular key. Policies that make a newcomer earn its place (S3-FIFO,
#   W-TinyLFU) or remember frequency (ARC, SIEVE's visited bit) keep the popular keys.
# - No policy reaches OPT. At 5% of the keys W-TinyLFU is best and still about ten points
#   below it: the remaining gap is what knowing the future is worth.
# - Move the slider: the gap between policies is widest when the cache is small, and shrinks
#   as the cache grows - with enough memory, the policy matters less.
# - Switch the trace to **loop** (LRU, FIFO, CLOCK, SIEVE, ARC and LFU score 0 at every size
#   below 100%) and to **zipf**; switch the policy set to **redis** to see Redis's sampled LRU
#   and LFU next to the exact ones.

# %% [markdown]
# ## 3 · When the hot set moves
#
# A news site's popular pages change every few hours. The trace below is Zipf traffic whose
# hot keys are replaced by other keys three times (the dotted lines). Each point is the hit
# ratio over 2,500 requests.

# %%
labkit.widgets.predict(
    "After the hot set moves, which policy takes longest to recover?",
    ["LRU", "LFU", "ARC", "W-TinyLFU"],
    notebook="05", name="who-adapts",
)

# %%
eviction.explore_timeline()

# %% [markdown]
# **What to notice**: plain LFU never recovers. Its counts for yesterday's stories never
# fade, so the new hot keys, starting at one hit, are evicted before they can catch up; by the
# last quarter it hits less than half as often as in the first. LRU only looks at recency, so
# it adapts at once (but was never good). ARC and S3-FIFO dip and recover within a few
# windows; W-TinyLFU halves its counts every ten cache-sizes of requests, which is why it
# recovers, more slowly. "Frequency" is only useful if it also forgets.

# %% [markdown]
# ## 4 · Redis: `maxmemory` and `maxmemory-policy`
#
# Redis does not keep an exact LRU order: on each eviction it samples a handful of keys
# (`maxmemory-samples`, default 5) and evicts the worst of those. Its LFU keeps an 8-bit
# logarithmic counter per key that grows more slowly the higher it gets and decays over
# time. The `volatile-*` policies only ever evict keys that have a TTL; `noeviction` evicts
# nothing and rejects writes once memory is full.
#
# The experiment below runs on a **real** redis-server that the lab starts for this purpose
# (it never touches your own server's settings). It writes 200 hot keys and reads each 20
# times, then writes 2,000 cold keys once each into a memory limit that holds about 700 of
# them. fakeredis accepts `CONFIG SET maxmemory` but never evicts, so without a
# `redis-server` program the cell says so and you rely on the simulator above.

# %%
labkit.widgets.predict(
    "Under allkeys-lru, how many of the 200 hot keys survive the cold fill?",
    ["all 200", "about half", "almost none"],
    notebook="05", name="redis-lru-hot-keys",
)

# %%
eviction.show_redis_demo(store)

# %% [markdown]
# **What to notice**: `allkeys-lru` kept almost none of the hot keys - the cold fill was more
# recent, so it looked more valuable. `allkeys-lfu` kept nearly all of them, because 20 reads
# lifted their counters above a newcomer's. `allkeys-random` kept a few dozen: each of some
# 1,500 evictions picks any key at all, and few early keys survive that many draws.
# `noeviction` kept everything and answered the extra writes with OOM errors instead. The simulator, replaying the same requests, predicts the same
# outcome. (Redis's LRU clock ticks once a second, so the demo pauses a second before the cold
# fill; keys touched within the same second look equally idle to it.)

# %% [markdown]
# ## Exercises
#
# ### Exercise 1 · One policy per workload
# Pick a policy for each workload, from `lru fifo random lfu clock sieve s3fifo arc tinylfu`.
# The check simulates each one with a cache of 5% of the keys and accepts any pick within
# 2 points of the best.
# - `catalogue`: product pages; the same best-sellers all day (stable Zipf).
# - `nightly-report`: the same pages, plus a report job reading every row once.
# - `news`: the top stories change every few hours.

# %%
ex = eviction.exercises()
# answer = {"catalogue": "...", "nightly-report": "...", "news": "..."}
answer = ...
ex.workloads.check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `{"catalogue": "tinylfu", "nightly-report": "tinylfu", "news": "arc"}`. W-TinyLFU and
# S3-FIFO are within two points of the best on all three, which is why they are popular
# defaults. Stable popularity and one-off scans both reward a policy that makes newcomers
# prove themselves (LRU and FIFO do not); a moving hot set needs one that also forgets, which
# rules out plain LFU.
# </details>

# %% [markdown]
# ### Exercise 2 · Break LRU with a trace of your own
# Build a trace on which an LRU cache of **100** keys gets (almost) no hits, although
# Belady's OPT, with the same cache, hits at least half the requests. Then explain to a
# neighbour why LRU fails on it.

# %%
my_trace = ...
ex.loop.check(my_trace)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `my_trace = list(range(101)) * 50`. A loop one key longer than the cache: when key *k* is
# needed again, the 100 other keys have been used since, so LRU has just evicted it - and it
# evicts the next key needed, every time. OPT instead keeps most of the loop and sacrifices
# one slot.
# </details>

# %% [markdown]
# ### Exercise 3 · Keys that must never be evicted
# Your Redis holds cached pages (with a TTL) and feature flags that must never disappear
# (no TTL). Which `maxmemory-policy` do you set?

# %%
answer = ...
ex.redis_policy.check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `volatile-lfu` (or `volatile-lru`): only keys with a TTL are eviction candidates, so the
# flags stay; among the cached pages the rarely used ones go first. `allkeys-*` may evict a
# flag; `noeviction` keeps the flags but makes every write fail once memory is full. If the
# volatile keys run out, Redis also answers writes with OOM errors - data that must never be
# lost belongs in its own instance, or in the database.
# </details>

# %% [markdown]
# ## Key takeaways
# - Eviction is a bet on the future. Match the policy to the shape of your traffic: stable
#   popularity, one-off scans, loops and moving hot sets each break a different policy.
# - LRU's weakness is that every newcomer counts as valuable. Scans flush it and loops one key
#   longer than the cache defeat it completely.
# - Modern policies (S3-FIFO, SIEVE, W-TinyLFU, ARC) make new keys earn their place and get much
#   closer to the optimum, at the cost of a little bookkeeping. Frequency must fade, or it
#   clings to yesterday's hot keys.
# - Measure against OPT: the gap tells you whether a better policy or more memory is the
#   cheaper fix.
# - In Redis, `maxmemory-policy` is a choice per instance: `allkeys-lfu` for skewed caches,
#   `volatile-*` when some keys must stay, never `noeviction` for a cache.
#
# ## Further reading
# - L. A. Belady, "A study of replacement algorithms for a virtual-storage computer", *IBM Systems Journal*, 1966.
# - R. L. Mattson, J. Gecsei, D. R. Slutz, I. L. Traiger, "Evaluation techniques for storage
#   hierarchies", *IBM Systems Journal*, 1970 (one pass gives LRU's hit ratio at every size).
# - N. Megiddo, D. S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", *USENIX FAST*, 2003.
# - G. Einziger, R. Friedman, B. Manes, "TinyLFU: A Highly Efficient Cache Admission Policy",
#   *ACM Transactions on Storage*, 2017.
# - J. Yang, Y. Zhang, Z. Qiu, Y. Yue, K. V. Rashmi, "FIFO queues are all you need for cache
#   eviction" (S3-FIFO), *ACM SOSP*, 2023.
# - Y. Zhang, J. Yang, Y. Yue, Y. Vigfusson, K. V. Rashmi, "SIEVE is Simpler than LRU: an
#   Efficient Turn-Key Eviction Algorithm for Web Caches", *USENIX NSDI*, 2024.
# - C. A. Waldspurger, N. Park, A. Garthwaite, I. Ahmad, "Efficient MRC Construction with
#   SHARDS", *USENIX FAST*, 2015 (estimate hit-ratio curves from a sample of keys:
#   `eviction.hit_ratio_curve(..., sample_rate=0.1)`).
# - Redis documentation, "Key eviction": https://redis.io/docs/latest/develop/reference/eviction/
# - libCacheSim, the simulator the tests compare against: https://github.com/1a1a11a/libCacheSim
# - Caffeine wiki, "Efficiency": https://github.com/ben-manes/caffeine/wiki/Efficiency

# %%
store.reset()
print("Cleaned up: notebook 05's keys deleted; the demo's redis-server (if any) was already stopped.")
