# %% [markdown]
# # 00 · Start here: the lab bench
#
# A cache trades **freshness** for **speed**. In this lab you do not read about that
# trade: you run it, move a slider, and watch both sides of it change.
#
# | | |
# |---|---|
# | **What you'll learn** | how the lab works (predict, run, notice); the toy system every notebook uses; why you **measure first** - where a request's time goes and whether a cache can help at all; the **staleness meter**, the number that tells a fast system from a fast *wrong* system |
# | **What you need** | Python basics. No Redis: the lab brings its own. |
# | **Time** | 15 minutes (10 reading and experimenting, 5 for the exercises) |
#
# **How to use a notebook.** Run each cell with **Shift-Enter**, top to bottom.
# Sliders redraw their chart when you let go. Before every experiment you are asked
# to **predict** the result: pick an answer and lock it in *before* you run. Being
# wrong in a notebook is cheap; being surprised in production is not.

# %%
import labkit
from labkit import tour, progress

store = labkit.start("00")

# %% [markdown]
# The line above tells you which cache you are using. By default it is
# **fakeredis**, a Redis that lives inside this Python process. If `REDIS_URL` is
# set (as it is on Binder), every notebook talks to that real Redis server instead,
# unchanged. The lab only ever touches keys that start with `labkit:`; resetting a
# notebook deletes its own keys and nothing else.
#
# ## The toy system
#
# Every notebook uses the same three parts:
#
# * an **app** that does some work of its own for each request (templates, JSON, business rules);
# * a **database of record**: real SQLite, made slow on purpose (each query waits a few
#   milliseconds, and longer when many queries run at once, like a real server's queue);
# * a **cache** in front of it: the store you just connected to.
#
# A cache holds a *copy*. Here is one round trip by hand: read a row from the database,
# keep a copy in the cache for 30 s, then let someone change the row in the database.

# %%
labkit.widgets.predict(
    "After the database row changes, what does the cache hold for that row?",
    ["the new value: the cache follows the database",
     "the old value, until its 30 s run out",
     "nothing: the change removed the copy"],
    notebook="00", name="copy",
)

# %%
db = labkit.Database(rows=10, latency_seconds=0.008)
row = db.read(7)                                     # the slow way: ~8 ms
store.set("item:7", row.to_cache(), ttl_seconds=30)  # keep a copy for 30 s
cached = labkit.Row.from_cache(store.get("item:7"))  # the fast way
db.write(7, "a new price")                           # the truth changes...
left = store.ttl_seconds("item:7")
print(f"database: version {db.current_version(7)}; "
      f"cache: version {cached.version} -> stale for up to {left:.0f} s more")

# %% [markdown]
# That copy is now **stale**: the database moved on and the cache does not know.
# Nothing failed, nothing logged an error. This is the failure mode the whole lab is
# about, so the lab measures it on every chart.
#
# **The staleness meter** compares every value a reader receives with what the
# database held *at that moment*. It reports the **share of reads that were stale**
# and **how far behind** they were, in seconds. A cache with a 95% hit ratio and 20%
# stale reads is not a fast system; it is a fast wrong system.
#
# ## Measure first
#
# Before adding a cache, ask where a request's time actually goes. The experiment below
# replays 3,000 requests (6 per second for about eight minutes, popular items asked
# for far more often than the rest) twice: straight to the database, and through a cache with a TTL. Writes come
# from another service that does not tell the cache, so only the TTL corrects a copy.

# %%
labkit.widgets.predict(
    "With the defaults (2 ms of app work, an 8 ms query, a 30 s TTL), "
    "how much faster is an average request with the cache?",
    ["about 1.5x", "about 4x", "about 50x"],
    notebook="00", name="speedup",
)

# %%
tour.explore()

# %% [markdown]
# Before you touch a slider, one more guess. The next *What to notice* asks you to drag
# the TTL from 30 s to 300 s.

# %%
labkit.widgets.predict(
    "With a 300 s TTL instead of 30 s, "
    "roughly how many reads are out of date?",
    ["none: the database is the same", "about one in a hundred",
     "about one in seven", "about half"],
    notebook="00", name="long-ttl",
)

# %% [markdown]
# ### What to notice
#
# * At the defaults the cache wins only about **{claim:speedup_default:.1f}x**: more than half the
#   reads ({claim:miss_share_default:.0%}) still miss, because most items are asked for rarely and
#   their copy expires before the next reader.
# * The **app work never shrinks**. Drag *app work per request* to 40 ms: the cache
#   still saves the same milliseconds, but they no longer matter ({claim:speedup_app_40:.2f}x).
#   That is the *measure first* lesson: cache the part that is slow.
# * Drag the **TTL** to 300 s: {claim:speedup_ttl_300:.1f}x as fast, and about one read in
#   {claim:stale_one_in_ttl_300} is now out of date. Drag it to 1 s: fresh, and the cache barely
#   helps. The TTL is a dial between the two.
# * Push **writes** up: stale reads climb at the same TTL. How often data changes decides how long you can keep a copy.
#
# **Is a cache even the right fix?** Only if (1) the slow part is a read that repeats,
# (2) readers can tolerate the copy being a little old - and you know how old is too
# old - and (3) you know how a stale copy gets corrected. If the database is slow
# because of one missing index, an index beats a cache: no copy, nothing stale.
#
# ## Using a real Redis
#
# Everything here runs on a real Redis unchanged. Start one and point the lab at it:
#
# ```bash
# redis-server --port 6379 --save "" &          # or use one you already run
# REDIS_URL=redis://127.0.0.1:6379/0 jupyter lab notebooks/00_start_here.ipynb
# ```
#
# If the URL does not answer, the notebook says so in one line and carries on with
# fakeredis. The lab never runs `FLUSHDB`/`FLUSHALL` and never changes a server's
# settings unless the lab started that server itself.
#
# ## Exercises
#
# Each exercise has a check. Replace the `...` with your answer and run the cell. Call
# `.hint()` if stuck; `.solution()` shows one answer. Your progress is saved on this
# machine only.

# %%
ex = tour.exercises()

# %% [markdown]
# **1. The average read.** A cache answers 90% of reads. A hit costs one cache round
# trip (0.2 ms). A miss costs a cache GET (0.2 ms), the database query (8 ms) and a SET
# to fill the cache (0.2 ms). What is the mean read latency in milliseconds?

# %%
answer_ms = ...   # your answer, in ms
ex["mean_latency"].check(answer_ms)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `0.9 × 0.2 + 0.1 × (0.2 + 8 + 0.2) = 1.02 ms`. The misses are 10% of reads but
# more than 80% of the time: improving the hit ratio from 90% to 95% halves the
# misses and cuts the mean by about {claim:mean_cut_90_to_95:.0%} (to
# `0.95 × 0.2 + 0.05 × 8.4 = 0.61 ms`). The hits' 0.2 ms stays.
# </details>
#
# **2. Measure first.** A product page spends 40 ms rendering templates and 8 ms in the
# database. What is the best speedup a perfect cache of the database results could give?

# %%
answer = ...   # e.g. 2.5 for "2.5 times faster"
ex["best_speedup"].check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `(40 + 8) / 40 = 1.2x`. Even a cache with a 100% hit ratio leaves the 40 ms of
# rendering. This is Amdahl's law; the fix here is in the templates (or caching the
# rendered page, a different layer - see notebook 06).
# </details>
#
# **3. A staleness budget.** Product managers agree that at most **5%** of reads may
# show an out-of-date item. With the other controls at their defaults, what is the
# longest TTL (in seconds) that stays within that budget?

# %%
ttl_answer = ...   # seconds
ex["ttl_budget"].check(ttl_answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# About {claim:longest_ttl_5pct:.0f} s (the check accepts any TTL within budget from one slider
# step, 12%, below the longest: the stale share does not rise smoothly, so the slider may stop
# a step short). Use the slider, or search: `tour.longest_ttl_under(0.05)`.
# </details>
#
# ## Your progress
#
# Every check in every notebook records a pass or a miss here (in
# `~/.cache-lab/progress.json`). It is sent nowhere, unless your workshop's host set up a
# room: then the first line of each notebook says that the facilitator sees your passes
# and predictions (never your code). Run this cell again at any time.

# %%
progress.show()

# %% [markdown]
# ## Key takeaways
#
# * A cache holds a **copy**; every copy can be stale. The staleness meter makes that a number.
# * **Measure first**: a cache only removes the time spent fetching data it already has.
# * The **TTL** is a dial between speed (long) and freshness (short); how often the data
#   changes sets where the dial can go.
# * The lab runs on fakeredis by default and on a real Redis with `REDIS_URL`, unchanged.
#
# ## The lab's map
#
# Where to go next: every notebook, what you will run in it and how long it takes.

# %%
tour.course_map()

# %% [markdown]
# ## Further reading
#
# * Martin Kleppmann, *Designing Data-Intensive Applications* (O'Reilly, 2017), ch. 5 and 11 - replicas, derived data and their lag.
# * Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013 - caching at scale and what goes wrong.
# * Gene Amdahl, "Validity of the single processor approach...", AFIPS 1967 - why you measure the slow part first.
# * Redis documentation: "Client-side caching" and "Key eviction" (redis.io/docs).

# %%
store.reset()
db.close();
