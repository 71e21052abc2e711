# %% [markdown]
# # 03 · TTL tuning: hit ratio against staleness
#
# A TTL is a promise with two sides. To the database it says "I will not ask you for
# this key again for T seconds". To the reader it says "what you get may be up to T
# seconds behind". Pick T too short and the cache refetches before anyone reuses the
# copy; pick it too long and readers see old values long after a change. This notebook
# puts numbers on both sides, with a formula and a simulation that must agree.
#
# | | |
# |---|---|
# | **What you'll learn** | how hit ratio and stale reads both grow with the TTL, and the formula behind them; why **hot keys hit even at short TTLs** while the long tail needs minutes; the **break-even TTL** below which a cache only adds latency; how **TTL jitter** stops a bulk warm-up from expiring every key in the same second |
# | **What you need** | notebook 00 (hit ratio, the staleness meter); notebook 02 (TTL as the backstop) helps |
# | **Time** | 20 minutes (12 teaching + 8 exercises) |

# %%
import labkit
from labkit import ttl

store = labkit.start("03")

# %% [markdown]
# ## 1. One key, one formula
#
# Follow a single key that readers ask for at random, λ times per second on average
# (a Poisson stream), cached with cache-aside and a TTL of T seconds. Writes go to the
# database only; nobody tells the cache. The key's life repeats one pattern:
#
# 1. a read **misses**, fetches the row and stores a copy for T seconds;
# 2. every read in those T seconds **hits**: on average λT of them;
# 3. the copy expires, and the next read misses again.
#
# Each round holds one miss and λT hits, so the **hit ratio is λT / (1 + λT)**. A key
# read once a second with a 10 s TTL hits 10 times out of 11.
#
# Staleness follows from the same picture. A hit lands somewhere inside its copy's T
# seconds, equally likely anywhere. It is stale if the row was written since the copy
# was made. With writes at rate μ, the **stale share of hits is 1 − (1 − e^(−μT)) / (μT)**,
# about μT/2 while μT is small. It depends on how often the data changes and on T,
# but **not on how often it is read**. A busy key is not fresher than a quiet one.
#
# The lab's Zipf traffic spreads 50 reads/s over 1,000 keys (a few popular ones and a
# long tail). Adding the formula up over every key, weighted by its reads, gives the
# lines in the next chart. The dots come from a simulation: every read and write of
# hours of traffic, with hit, miss and stale decided read by read from the event times
# alone. (The formula only sets how full the cache is when the simulated window opens,
# as if it had already been running for a while.) If the dots sit on the lines, the
# formula holds.

# %%
labkit.widgets.predict(
    "With a 5-minute TTL and each key written twice an hour, what share of ALL reads return a stale value?",
    ["under 1%", "about 7%", "about 30%"],
    notebook="03", name="stale-at-5-min",
)

# %%
ttl.explore()

# %% [markdown]
# ### What to notice
#
# * At the default **5-minute TTL, about {claim:hit_ratio_5min:.0%} of reads hit and about {claim:stale_5min:.0%} are stale**. The
#   copy is served for five minutes, and a key written twice an hour changes during
#   many of those windows.
# * **The two curves rise together.** Every TTL longer than a few minutes buys a few
#   more hits and a lot more staleness. Once the hit ratio nears 100%, a longer TTL
#   mostly makes reads wrong.
# * The caption's "no stale read was older than" never exceeds the TTL. A TTL **bounds**
#   how old a value can be; it does not make stale reads rare.
# * The dots at a new setting are simulated in the background: the model lines move at
#   once, and the dots follow a moment later (the caption says "simulating…" meanwhile).
# * Move *writes per key per hour*: the stale curve slides sideways, the hit curve does
#   not move. Move *reads/s*: the hit curve slides, and the stale curve changes only
#   as much as the hit ratio does, because the share of hits that are stale does not
#   depend on the read rate.
# * At long TTLs the stale dots scatter a little around the line. In a few hours the
#   hottest keys are written only a handful of times, and the luck of when those
#   writes land shows. The simulation averages independent runs to keep that within a
#   percentage point of the line.
#
# ## 2. Hot keys and the long tail
#
# The formula works key by key, and keys differ enormously. Under Zipf popularity the
# top 10 keys take {claim:top10_read_share:.0%} of all reads, while each of the bottom 900 is read
# somewhere between every {claim:tail_fastest_read_seconds:.0f} seconds and every
# {claim:tail_slowest_read_seconds:.0f} seconds. For a hot key λT is large even at a short TTL. For a tail key
# the copy usually expires before anyone asks again.

# %%
labkit.widgets.predict(
    "At a 10 s TTL, what share of reads to the least popular 900 keys hit?",
    ["over 80%", "about half", "about 20%"],
    notebook="03", name="tail-at-10-s",
)

# %%
ttl.explore_bands()

# %% [markdown]
# ### What to notice
#
# * At 10 s the **top 10 keys hit {claim:top10_hit_10s:.0%}** of the time and **ranks 101-1,000 only {claim:tail_hit_10s:.0%}**.
#   Most of the misses the database sees come from the tail.
# * To get the tail to hit, the TTL has to reach minutes, which is long enough for the
#   hot keys to go visibly stale. One TTL for every key is a compromise. Nothing stops
#   you from giving hot keys and cold keys different TTLs.
#
# ## 3. When the cache is pure overhead
#
# A cache is not free. Every read pays a round trip to it, and a miss then pays the
# database query **and** a second round trip to store the copy. With a cache round
# trip of c ms and a query of d ms, the mean read costs c + (1 − h)(d + c) ms against d
# ms with no cache. The two are equal at a hit ratio of **h = 2c / (c + d)**. Below
# that, reads are slower *with* the cache. A shorter TTL means a lower hit ratio, so
# there is a **break-even TTL** under which the cache is pure overhead.

# %%
labkit.widgets.predict(
    "With a 0.5 ms cache and a 2 ms query, what hit ratio does the cache need just to break even?",
    ["10%", "40%", "75%"],
    notebook="03", name="break-even",
)

# %%
ttl.explore_cost()

# %% [markdown]
# ### What to notice
#
# * With a 0.5 ms cache and a 2 ms query the cache needs a **40% hit ratio** to break
#   even. For this traffic that takes a **TTL of about {claim:break_even_ttl_seconds:.0f} seconds**. In the grey region
#   every read pays for a cache that rarely answers.
# * Make the query slower (*DB query* 10 ms): the break-even TTL shrinks, because each
#   hit saves more. Make the cache slower (a cache across a network): it grows.
# * Latency is only half the story. Even in the grey region the cache takes some load
#   off the database, which can matter more when the database is the bottleneck.
#
# ## 4. Every key expires at once: jitter
#
# A deploy, a restart or a migration often warms the cache in bulk: a job loads every
# key in a few seconds, each with the same TTL. T seconds later all of them expire
# together, and every key that is read in the following second misses in that second.
# The refills all happen at about the same moment too, so the spike returns one TTL
# later, a little smaller each time.
#
# The fix is one line: give each copy a TTL drawn from a range, T × (1 ± x). The
# expiries spread over 2xT seconds instead of one. Here is a bulk warm-up of 8 keys on
# this notebook's own store, with ±10% jitter: the store keeps each key's own expiry.

# %%
for key, ttl_set, ttl_left in ttl.bulk_warm_up(store, 8, ttl_seconds=300, jitter_fraction=0.1):
    print(f"{key}: SET with TTL {ttl_set:7.3f} s -> store reports {ttl_left:7.3f} s left")

# %% [markdown]
# Now the effect on the database: 5,000 keys warmed at t = 0 with a 5-minute TTL, and
# 1,000 reads/s (simulated on a virtual clock, so fifteen minutes take milliseconds).

# %%
labkit.widgets.predict(
    "How much does ±10% jitter cut the peak number of DB queries in one second?",
    ["barely: the same keys still miss", "about 2x", "5x or more"],
    notebook="03", name="jitter",
)

# %%
ttl.explore_jitter()

# %% [markdown]
# ### What to notice
#
# * Without jitter the database takes **{claim:peak_without_jitter} queries in the single second after
#   the TTL**. With ±10% jitter the same misses spread over a minute, and the peak
#   falls **{claim:jitter_peak_cut:.0f}x**. Jitter does not remove misses (compare the mean loads in
#   the caption); it changes when they happen.
# * Without jitter the spike **echoes** one TTL later. The hot keys were all refilled in
#   the same second, so they expire together again. Jitter breaks that rhythm too.
# * Set jitter to 0% and then 50%. A wider range flattens the peak further, but some
#   copies now live 50% longer than you intended. That is 50% more staleness for them.
#
# ## Exercises
#
# Replace each `...` and run the cell. `ex[...].hint()` helps; `ex[...].solution()` shows
# one answer. `ttl.model(traffic, seconds)` gives the formula's numbers for any TTL,
# for example `ttl.model(traffic, 300).stale_read_share`.

# %%
ex = ttl.exercises()
traffic = ttl.EXERCISE_TRAFFIC   # the defaults above: 1,000 keys, 50 reads/s, 2 writes per key per hour
print(traffic)

# %% [markdown]
# **1. A staleness budget.** The product team accepts at most **2% stale reads**. What
# is the longest TTL, in seconds, that keeps stale reads within 2%?

# %%
answer = ...   # seconds
ex["longest_ttl"].check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# About **{claim:longest_ttl_2pct:.0f} s**. Stale reads rise steadily with the TTL, so search for the crossing:
# `max(t for t in range(1, 3600) if ttl.model(traffic, t).stale_read_share <= 0.02)`.
# At that TTL the hit ratio is still about {claim:hit_ratio_at_longest:.0%}, against
# {claim:hit_ratio_5min:.0%} at five minutes: cutting stale reads from
# {claim:stale_5min:.0%} to 2% costs far fewer hits than you might fear, because the
# hot keys carry most reads and hit at any TTL.
# </details>
#
# **2. Worth its cost.** With a 0.5 ms cache and a 2 ms query, what is the shortest TTL
# (in seconds) at which the cache is no longer pure overhead for this traffic?

# %%
answer = ...   # seconds
ex["shortest_ttl"].check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# About **{claim:break_even_ttl_seconds:.1f} s**: the TTL where the hit ratio reaches 2 × 0.5 / (0.5 + 2) = 40%.
# `min(t / 100 for t in range(1, 1000) if ttl.model(traffic, t / 100).hit_ratio >= 0.4)`.
# </details>
#
# **3. Which keys need more than a TTL?** Each data set below has its own traffic and
# its own tolerance for stale reads. A TTL alone works if some TTL is both **short
# enough** to stay within the budget and **long enough** to beat the break-even. Which
# data sets need **event-driven invalidation** (the writer deletes or updates the copy)?
# Each row in `ttl.DATA_SETS` has `longest_ttl_within_budget()` and
# `break_even_ttl(cache_ms, db_ms)`.

# %%
ttl.data_set_table()

# %%
answer = ...   # a set of names, e.g. {"stock level"}
ex["needs_events"].check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `{d.name for d in ttl.DATA_SETS if d.longest_ttl_within_budget() < d.break_even_ttl(0.5, 2.0)}`
# gives **account balance, exchange rate and user permissions**. The balance is read too
# rarely for a TTL short enough to be fresh to ever hit. The exchange rate changes every
# few seconds. Permissions tolerate no staleness at all. The stock level is the
# surprise: a TTL of {claim:stock_level_ttl_seconds:.1f} s keeps it within budget and still pays, because it
# is read often. The rule of thumb: start with a TTL everywhere, and add events only
# for the keys that demand accuracy.
# </details>
#
# ## Key takeaways
#
# * For a key read at rate λ with TTL T, the **hit ratio is λT / (1 + λT)**. The **stale
#   share of hits, 1 − (1 − e^(−μT)) / (μT)**, depends on the write rate and T, not on
#   the read rate. A simulation of every read agrees with both.
# * Hit ratio saturates while staleness keeps growing: past a few minutes, a longer
#   TTL mostly buys wrong answers. A TTL bounds how old a value can be; it does not
#   make stale reads rare.
# * **Hot keys hit at any TTL; the long tail needs long TTLs** to hit at all.
# * Below the **break-even TTL** (hit ratio 2c / (c + d)) the cache is pure overhead.
# * **Jitter every TTL** you set in bulk: ±10% turns a one-second spike into a
#   minute-long bump {claim:jitter_peak_cut:.0f}x lower.
# * Choose the TTL from the data's tolerance for staleness. Where no TTL is both fresh
#   enough and long enough to pay, add **event-driven invalidation** for those keys.
#
# ## Further reading
#
# * Jaeyeon Jung, Arthur W. Berger, Hari Balakrishnan, "Modeling TTL-based Internet
#   Caches", IEEE INFOCOM 2003: the renewal argument behind the hit-ratio formula.
# * Hao Che, Ye Tung, Zhijun Wang, "Hierarchical Web Caching Systems: Modeling,
#   Design and Experimental Results", IEEE JSAC 20(7), 2002: the "characteristic
#   time" view that links TTL caches to LRU.
# * Nicaise Choungmo Fofack, Philippe Nain, Giovanni Neglia, Don Towsley, "Performance
#   Evaluation of Hierarchical TTL-based Cache Networks", Computer Networks 65, 2014.
# * Rajesh Nishtala et al., "Scaling Memcache at Facebook", USENIX NSDI 2013: leases,
#   invalidations and what a TTL alone cannot do.
# * Redis documentation: `SET` (the `EX`/`PX` options) and `EXPIRE`, on how Redis
#   expires keys (redis.io/docs).
#
# The simulation behind the dots is `labkit/ttl/simulation.py`. `ttl.replay_through_store` replays
# the same events through the lab's `MemoryStore` and SQLite database, and the tests
# check that both agree on every read.

# %%
store.reset();
