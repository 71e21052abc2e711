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
# - How to pick a policy from the shape of your own workload, and how much memory to give it
#   from a hit-ratio curve estimated on a *sample* of the keys (SHARDS' sampling, and a
#   scaled-down "miniature" simulation).
# - You will **write SIEVE yourself** and have the lab replay it against its own simulator.
#
# **What you need**: [00 · Start here](00_start_here.ipynb) (hits, misses, hit ratio). No Redis
# server of your own: the real-Redis part starts a throwaway one when `redis-server` is installed.
#
# **Time**: 45 minutes (20 teaching + 25 exercises: you write SIEVE and size a cache).

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
labkit.widgets.predict(
    "The cache holds 100 of the loop's 101 keys (99%). What hit ratio does LRU get?",
    ["about 99%", "about half", "about 1%", "zero"],
    notebook="05", name="lru-loop-hits",
)

# %%
loop_trace = list(range(101)) * 50
eviction.table(loop_trace, capacity=100)

# %% [markdown]
# **What to notice**: LRU, FIFO and SIEVE hit *nothing* (LRU: {claim:loop_lru_hit_ratio:.0%}),
# although the cache holds 99% of the keys. LRU throws out the key used longest ago - in a
# loop, exactly the next one needed. FIFO throws out the oldest entry, which in a loop is the
# same key. SIEVE spares only keys that were hit since its hand last passed, and in this loop
# no key is ever hit while cached, so it behaves like FIFO. S3-FIFO and W-TinyLFU refuse to let
# every newcomer push out a key that already proved itself, so most of the loop stays cached
# (W-TinyLFU: {claim:loop_tinylfu_hit_ratio:.0%}). OPT (Belady, 1966) evicts the key needed
# furthest in the future; no real cache can know that, so it is the ceiling every chart below
# draws as a dashed line.
#
# | policy | evicts | remembers |
# |---|---|---|
# | FIFO | the oldest entry | nothing |
# | LRU | the least recently used entry | the order of last use |
# | LFU | the entry with the fewest hits | a hit count per entry |
# | CLOCK | the oldest entry not hit since the hand last passed; survivors go round again as if moved to the head | one bit per entry |
# | SIEVE (NSDI 2024) | like CLOCK, but survivors stay in place as the hand sweeps past them, so new entries face the hand sooner | one bit per entry |
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
# - No policy reaches OPT. At 5% of the keys {claim:best_at_5} is best and still
#   {claim:best_at_5_gap_points:.0f} points below it: the remaining gap is what knowing the future is worth.
#   The bar chart's title names the best policy at the slider's size only; the leader can change
#   with the size.
# - Move the slider: the gap between policies is widest when the cache is small, and shrinks
#   as the cache grows - with enough memory, the policy matters less.
# - Switch the trace to **loop** (LRU, FIFO, CLOCK, SIEVE, ARC and LFU score 0 at every size
#   below 100%) and to **zipf**; switch the policy set to **redis** to see Redis's sampled LRU
#   and LFU next to the exact ones. The Zipf alpha slider sets how skewed the popularity is.

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
# last quarter it hits {claim:lfu_last_over_first:.0%} as often as in the first. LRU only looks at recency, so
# it adapts at once (but was never good). ARC and S3-FIFO dip and recover within a few
# windows; W-TinyLFU halves its counts every ten cache-sizes of requests, which is why it
# recovers, more slowly. "Frequency" is only useful if it also forgets.

# %% [markdown]
# ## 4 · Redis: `maxmemory` and `maxmemory-policy`
#
# Redis does not keep an exact LRU order: on each eviction it samples a handful of keys
# (`maxmemory-samples`, default 5) and evicts the worst of those. Since Redis 3.0 it also keeps
# an *eviction pool* of the 16 best candidates across samples, so a good victim seen once is not
# forgotten; the lab's simulated Redis policies leave the pool out, which makes them slightly
# worse than the real thing. Its LFU keeps an 8-bit
# logarithmic counter per key that grows more slowly the higher it gets and decays over
# time. The `volatile-*` policies only ever evict keys that have a TTL; `noeviction` evicts
# nothing and rejects writes once memory is full.
#
# The experiment below runs on a **real** redis-server that the lab starts for this purpose
# (it never touches your own server's settings). It writes 200 hot keys and reads each 20
# times, then writes 2,000 cold keys once each into a memory limit that holds only a few hundred
# of them (the printout says how many). fakeredis accepts `CONFIG SET maxmemory` but never evicts, so without a
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
# lifted their counters above a newcomer's. `allkeys-random` kept a few dozen: each of well over
# a thousand evictions picks any key at all, and few early keys survive that many draws.
# `noeviction` kept everything and answered the extra writes with OOM errors instead. The
# simulator, replaying the same requests, predicts the same outcome. (Redis's LRU clock ticks once a second, so the demo pauses a second before the cold
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
# S3-FIFO are within {claim:defaults_gap_points:.1f} points of the best on all three, which is why they are popular
# defaults. Stable popularity and one-off scans both reward a policy that makes newcomers
# prove themselves (LRU and FIFO do not); a moving hot set needs one that also forgets, which
# rules out plain LFU.
# </details>

# %% [markdown]
# ### Exercise 2 · Write SIEVE
# Write SIEVE as a policy class. A hit sets the key's *visited* bit. On a miss with a full
# cache, a hand walks from the oldest key towards the newest: a visited key is spared - its
# bit cleared, and it **stays where it is** - and the first unvisited key is evicted. New keys
# join at the newest end; when the hand passes the newest key it starts again at the oldest.
# (Prefer CLOCK? Write that and set `name = "clock"`.)
#
# The check replays your class and the lab's SIEVE on four traces and compares every request's
# hit or miss; if they differ it shows the first request where they part, and what the lab's
# SIEVE did with that key.

# %%
class MySieve(eviction.Policy):
    """SIEVE: new keys join at the head; a hand walks from the tail (oldest) towards
    the head, sparing keys visited since it last passed (clearing their bit, leaving
    them in place) and evicting the first unvisited key."""

    name = "sieve"   # or "clock" if you write CLOCK instead

    def __init__(self, capacity, *, seed=0):
        ...

    def access(self, key):
        """Return True on a hit; on a miss, evict if full, then admit the key."""
        ...


ex.sieve.check(MySieve)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# class MySieve(eviction.Policy):
#     name = "sieve"
#
#     def __init__(self, capacity, *, seed=0):
#         super().__init__(capacity, seed=seed)
#         self.queue = []      # index 0 is the oldest; new keys are appended
#         self.visited = {}
#         self.hand = 0        # index of the next key the hand looks at
#
#     def access(self, key):
#         if key in self.visited:
#             self.visited[key] = True
#             return True
#         if len(self.queue) >= self.capacity:
#             self.evict()
#         self.queue.append(key)
#         self.visited[key] = False
#         return False
#
#     def evict(self):
#         while True:
#             if self.hand >= len(self.queue):    # past the newest: back to the oldest
#                 self.hand = 0
#             key = self.queue[self.hand]
#             if self.visited[key]:
#                 self.visited[key] = False       # spared, and it stays where it is
#                 self.hand += 1
#             else:
#                 del self.queue[self.hand]       # the hand now points at the next newer key
#                 del self.visited[key]
#                 if self.hand >= len(self.queue):
#                     self.hand = 0               # so the newcomer is looked at last
#                 return
# ```
#
# A doubly linked list with the hand as a key (as the SIEVE paper writes it), or a list kept
# newest first, passes just as well: the check compares hits, not code. The common slips, each
# of which the check names when your hits match it request for request: moving a spared key to
# the newest end (that is CLOCK), never clearing the visited bit (the hand then goes round
# forever once every key is visited), starting the hand at the oldest key on every eviction
# instead of where it stopped, marking new keys as visited, stepping the hand on after a
# deletion (skipping the key that slid into the gap), leaving the hand past the end so the
# newcomer faces it first, moving a hit key to the newest end as LRU does, and evicting only
# once the cache is over capacity. Whatever the slip, the check says what the lab's SIEVE did
# with the key where your hits first differ.
# </details>

# %% [markdown]
# ### Exercise 3 · How much memory for a 70% hit ratio?
# Simulating every candidate size on a full trace is slow when the trace is a day of traffic.
# **SHARDS** (Waldspurger et al., FAST 2015) samples keys instead of requests: it keeps every
# request for about 10% of the keys (chosen by a hash), so each sampled key keeps its whole
# history. For LRU, SHARDS reads the hit ratio at every size from that sample's reuse
# distances, scaled up by ten; on this trace its curve lies within
# {claim:shards_lru_error_points:.1f} points of the exact one, at a tenth of the work.
#
# S3-FIFO has no reuse distances to read, so its curve comes from a **miniature simulation**
# (Waldspurger et al., USENIX ATC 2017): a real S3-FIFO cache a tenth the size replays the same
# 10% sample. The cell below estimates S3-FIFO's hit ratio that way at eleven sizes. Choose the
# **smallest** that reaches a 70% hit ratio. The check runs the full simulation and accepts
# the sizes a 10% sample can honestly point to: over 12 hash seeds, the estimate near 70% read
# up to {claim:sizing_reads_low_points:.1f} points low and {claim:sizing_reads_high_points:.1f}
# high, so a right answer gives 69.5% to 71.5% in full.

# %%
trace = eviction.sizing_trace()
sizes = list(range(5_000, 10_001, 500))
estimate = eviction.hit_ratio_curve(trace, "s3fifo", sizes, sample_rate=0.1)
for size, hits in zip(sizes, estimate):
    print(f"{size:>7,} objects: about {hits:.1%} hits")

# %%
my_capacity = ...
ex.sizing.check(my_capacity)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `my_capacity = {claim:sizing_capacity}`: the first size whose estimate reaches 70%. A size
# the sample puts under 70% falls short in the full simulation too, and a round 10,000 buys
# {claim:round_size_extra_points:.0f} points of hit ratio nobody asked for. In production the trace is billions of requests,
# and a 1% or 0.1% sample still gives a usable curve; its error shrinks as the sample grows.
# </details>

# %% [markdown]
# ### Exercise 4 · Keys that must never be evicted
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
#   cheaper fix. Size the memory from a hit-ratio curve, estimated from a small sample of the
#   keys (SHARDS for LRU, a miniature simulation for any other policy).
# - SIEVE is CLOCK with one change - survivors stay in place - and that one change is what
#   lets it drop one-hit wonders quickly.
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
#   SHARDS", *USENIX FAST*, 2015 (sample the keys by a hash; LRU's curve from the sample's
#   reuse distances: `eviction.hit_ratio_curve(trace, "lru", ..., sample_rate=0.1)`).
# - C. A. Waldspurger, T. Saemundsson, I. Ahmad, N. Park, "Cache Modeling and Optimization
#   using Miniature Simulations", *USENIX ATC*, 2017 (any policy's curve from a scaled-down
#   cache replaying such a sample, as Exercise 3 does for S3-FIFO).
# - Redis documentation, "Key eviction" (sampling, `maxmemory-samples`, the approximated LRU and LFU):
#   https://redis.io/docs/latest/develop/reference/eviction/
# - S. Sanfilippo, "Random notes on improving the Redis LRU algorithm" (the 16-key eviction pool of
#   Redis 3.0): http://antirez.com/news/109
# - libCacheSim, the simulator the tests compare against: https://github.com/1a1a11a/libCacheSim
# - Caffeine wiki, "Efficiency": https://github.com/ben-manes/caffeine/wiki/Efficiency

# %%
store.reset()
print("Cleaned up: notebook 05's keys deleted; the demo's redis-server (if any) was already stopped.")
