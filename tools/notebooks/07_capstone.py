# %% [markdown]
# # 07 · Capstone: design the caching of a whole service
#
# Each notebook so far looked at one decision on its own. A real service makes all of
# them at once, for data that needs different things: a session must die the moment
# its user logs out, a view counter can be an hour behind, a balance must never be
# shown to the wrong person, and the home page is read by everybody in the same
# second. Here you choose, **per data set**, a pattern, a TTL and an invalidation
# mechanism, a stampede defense, an eviction policy and a memory budget, and the HTTP
# headers. Then you run the service's day and read a scorecard with seven budgets.
#
# | | |
# |---|---|
# | **What you'll learn** | how the choices of notebooks 01-06 combine and conflict inside one service; why one setting for everything fails several budgets at once; how to read a scorecard and fix one axis at a time; that the best design has a *lower* hit ratio than the naive one, and why that is fine |
# | **What you need** | notebooks 01 (patterns), 02 (invalidation), 03 (TTL), 04 (stampede), 05 (eviction) and 06 (layers). A quick look back at each helps. |
# | **Time** | 45 minutes (15 teaching + 30 for the exercises) |

# %%
import labkit
from labkit import capstone

store = labkit.start("07")

# %% [markdown]
# ## The service and its day
#
# A small shop with six data sets. Each has its own traffic and its own idea of "good
# enough". The stale budget is the oldest value a reader may ever be shown, and the
# lost-write budget is how many acknowledged writes may vanish in a crash:

# %%
capstone.service_table()

# %% [markdown]
# One run replays a whole day, 00:00 to 24:00, on a virtual clock, so it takes about a
# second. Traffic follows the hours: quiet at night, busy at lunch, peaking between
# 19:00 and 21:00. Five things happen on top of the traffic:
#
# | when | event | which budget it tests |
# |---|---|---|
# | 03:00 | a partner's crawler reads every product once | memory: 600 reads, one per product, popular or not |
# | 06:00 | a deploy warms every catalogue key in the same second | DB load: do those keys all expire together? |
# | 19:30 | every data set's hottest key expires, at the peak | stampede and p99 latency |
# | 20:00 | the cache node restarts, empty | DB load and latency while the cache refills |
# | 21:00 | the write-behind worker hangs; it is killed at 21:10 | lost writes |
#
# The 20:00 restart is the cache failing in the most ordinary way: it comes back empty,
# at peak. Notebook 08 takes that failure apart (and a cache that is down, slow, or
# asked for ids that do not exist), with the warming strategies that keep the
# database under its capacity.
#
# Every number on the scorecard comes from the labkit code you used in the earlier
# notebooks. Nothing is a new formula:
#
# | axis | measured by |
# |---|---|
# | staleness, lost writes, latency, DB queries | each sampled request, one at a time, through `patterns.make_pattern` (notebook 01) on an in-process store and the SQLite database, judged by the staleness meter (notebook 00) |
# | deploy warm-up | `stampede.synchronized_expiry` (notebooks 03 and 04) |
# | hot key at peak | `stampede.simulate_traffic` and `simulate_herd` at the key's full traffic (notebook 04) |
# | memory | `eviction.simulate` on the day's reads, at your budget (notebook 05); during the replay the same policy decides which keys the node still holds, so a small budget also costs misses |
# | leaks | a shared CDN cache that follows RFC 9111, `layers.HttpCache` (notebook 06) |
#
# The day runs on its own virtual clock and in-process store, because a Redis TTL
# follows the wall clock and a day would take a day. The store you connected above is
# only cleaned up at the end.
#
# ## What you choose, per data set
#
# A design gives each data set a **plan**:
#
# | field | choices | taught in |
# |---|---|---|
# | `pattern` | `cache-aside`, `read-through`, `write-through`, `write-behind` | 01 |
# | `ttl_seconds`, `invalidation` | any TTL; `ttl-only` (writers never tell the cache) or `on-write` (writes go through the pattern) | 02, 03 |
# | `defense`, `ttl_jitter` | `none`, `lock`, `single-flight`, `xfetch`, `swr`; jitter as a share of the TTL | 04 |
# | `policy`, `memory_objects` | `lru`, `s3fifo`, `sieve`, `tinylfu`, ...; objects out of the node's 600 | 05 |
# | `headers`, `vary` | the `Cache-Control` and `Vary` sent with the page | 06 |
# | `flush_interval_seconds` | how often a write-behind worker writes its queue to the database | 01 |
#
# ## 1. The naive design
#
# The design most services start with: cache-aside everywhere, one TTL of an hour,
# nobody tells the cache about writes, no stampede defense, LRU with the memory split
# evenly, and `public, max-age=300` on every page so the CDN "helps".

# %%
capstone.NAIVE_DESIGN

# %%
labkit.widgets.predict(
    "How many of the seven budgets does the naive design meet?",
    ["all seven: an hour-long TTL is generous", "about half", "one or two"],
    notebook="07", name="naive",
)

# %%
capstone.run_day(capstone.NAIVE_DESIGN)

# %% [markdown]
# ### What to notice
#
# * The naive design meets **{claim:naive_budgets_met} of the seven budgets**: lost writes, and only
#   because it never queues a write.
# * **Staleness**: with `ttl-only`, a copy can be as old as its TTL. An hour is fine
#   for view counters and far too long for sessions, balances and "my orders" pages,
#   whose budgets are 0-30 s.
# * **Leaks**: hundreds of page views showed one user another user's balance or
#   orders. `/account` and `/me` are the same URL for everybody, so a shared cache
#   that is told `public` stores the first user's page and serves it to the next.
# * **Stampede and p99**: when the home page expires at peak, **{claim:naive_landing_queries}** requests
#   rebuild it at once. The database slows down under that load, and the readers who
#   arrive meanwhile wait for seconds.
# * **DB load**: the deploy filled 600 catalogue keys in one second with the same TTL,
#   so they expire together, every hour, all day.
# * **Memory**: an even split gives every data set 100 objects: 99 more than the
#   landing page's single key needs, and too few for the catalogue.
#
# ## 2. Fix it one knob at a time
#
# The controls below change the naive design. Each move replays only the data sets it
# touches and redraws the scorecard next to the reference design (squares), with the
# database's load through the day underneath. Try them one at a time and watch which
# marker crosses the dashed budget line.

# %%
labkit.widgets.predict(
    "The naive design's busiest second is the warmed catalogue expiring all at once. "
    "What does a 5-minute catalogue TTL do to it?",
    ["it shrinks: fewer keys expire at once", "the same spike, twelve times as often", "it disappears"],
    notebook="07", name="shorter-ttl",
)

# %%
capstone.explore()

# %% [markdown]
# The same knobs, each on its own, and four of them together:

# %%
capstone.knob_table()

# %% [markdown]
# ### What to notice
#
# * **A shorter catalogue TTL does not shrink the spike.** The 600 warmed keys still
#   expire together, now every five minutes, and at 19:30 they meet the hot keys' expiry:
#   {claim:short_ttl_peak_queries} queries in one second. (The shorter TTL does fix the catalogue's staleness.)
# * **Jitter** (try 0.2) spreads the warmed keys out. The busiest second is then the
#   hot keys' expiry at 19:30, still over capacity, until the landing page has a defense.
# * A **lock** (or single-flight) on the landing page fixes the stampede axis (one
#   query per expiry) but not p99: {claim:lock_waiters} readers wait behind it, and the
#   p99 is {claim:lock_p99_ms:,.0f} ms. **swr** fixes both. **xfetch** keeps readers fast, but at 200 reads/s several
#   readers decide to refresh early at the same moment, so each expiry costs the
#   database more than the budget of 2 queries.
# * `private` headers end the leaks, and `on-write` invalidation ends the staleness:
#   every write now deletes its key.
# * With jitter, swr, private headers and on-write, only **memory** still fails, and
#   it is not on these controls. That is exercise 3.
#
# ## 3. The reference design, against the naive one
#
# One good answer, with a one-line reason for each plan in its "why" column. Before
# you look, what do you expect of its hit ratios?

# %%
labkit.widgets.predict(
    "Compared with the naive design, the reference design's cache hit ratios are...",
    ["higher on every data set", "about the same", "lower on most data sets"],
    notebook="07", name="hit-ratio",
)

# %%
capstone.REFERENCE_DESIGN

# %%
capstone.compare(capstone.NAIVE_DESIGN, capstone.REFERENCE_DESIGN)

# %%
capstone.run_day(capstone.REFERENCE_DESIGN)

# %% [markdown]
# ### What to notice
#
# * The reference design meets all seven budgets. In the lower chart, naive's
#   catalogue warm-up hits the database with **{claim:naive_peak_queries} queries in one second**,
#   every hour from 07:00, {claim:naive_peak_ratio:.0f} times its capacity. The reference design's
#   busiest second is {claim:reference_peak_queries} queries.
# * **Its hit ratios are lower** on most data sets, and it sends the database a little
#   more work over the whole day. The naive design's extra hits were stale copies:
#   correct answers cost some hits. A hit ratio is a means; the budgets are the goal.
# * Memory follows need. Sessions are read on every request, so all 150 fit; balances
#   and "my orders" get 100 each; the landing page needs one object. The catalogue gets
#   200, with TinyLFU, which keeps more of its popular products than LRU can in the
#   same space (notebook 05).
# * View counters use write-behind and lost some increments when the worker was
#   killed ({claim:reference_lost_counter_writes} at this seed), within their budget of 100. The same choice for balances
#   fails: there the budget is 0.
#
# ## Exercises
#
# Replace each `...`, run the cell and read the verdict. `.hint()` helps;
# `.solution()` shows one answer.

# %%
ex = capstone.exercises()

# %% [markdown]
# **1. Stop the leaks.** Keep the naive design, and change only the `Cache-Control`
# of the two per-user pages, `/account` (balances) and `/me` (user_pages), so that no
# page reaches the wrong user. The check runs the day, counts the leaks, and looks at what
# the CDN kept: a per-user page stored in a shared cache is refused even if no one saw it.

# %%
balances_headers = ...     # Cache-Control for /account
user_pages_headers = ...   # Cache-Control for /me
ex["leaks"].check(balances_headers, user_pages_headers)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# balances_headers = "private, no-store"
# user_pages_headers = "private, no-cache"
# ```
# `private` forbids shared caches (the CDN) from storing the response; the user's own
# browser may still keep it. `no-store` goes further and keeps money out of every cache,
# which also helps on a shared computer. `no-cache` lets the browser store the page and
# revalidate it each time; on its own, without `private`, it lets the CDN store it too (it
# only has to revalidate), which is why the check refuses it. Adding `Vary: Cookie` to a `public` response stops the leak
# in this lab's CDN, but that CDN then keeps one copy per user and almost never reuses
# one (only {claim:vary_cookie_cdn_hit_ratio:.0%} of those page views were CDN hits here). Real CDNs differ: some
# ignore `Vary: Cookie` or strip cookies before the cache key is made, and would leak.
# Never rely on it to keep users apart; `private` is the header every shared cache obeys.
# </details>
#
# **2. Fix the stampede, and the latency.** Choose the landing page's stampede defense
# so that **both** the stampede and the p99 budgets pass. Everything else stays naive.

# %%
defense = ...   # one of capstone.DEFENSES
ex["stampede"].check(defense)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# defense = "swr"
# ```
# Stale-while-revalidate serves the previous page to everyone at once while one request
# rebuilds it: one query per expiry, no waiting. A lock or single-flight protects the
# database just as well, but the readers behind it wait for the whole 0.5 s rebuild,
# and that is the p99. XFetch refreshes early without a lock, so at 200 reads/s a few
# readers refresh at once. The landing page may be up to 120 s stale, so a page a
# fraction of a second old costs nothing.
# </details>
#
# **3. All green, your way.** Build a design from the naive one that meets every
# budget. Start with the axes the table shows failing; `capstone.run_day(my_design)`
# shows where you are. Copying the reference does not count.

# %%
my_design = ...   # e.g. capstone.NAIVE_DESIGN.change(name="mine", landing={"defense": "swr"}, ...)
ex["all-green"].check(my_design)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# my_design = capstone.NAIVE_DESIGN.change(
#     name="mine",
#     sessions={"pattern": "write-through", "invalidation": "on-write", "memory_objects": 150},
#     catalogue={"invalidation": "on-write", "defense": "lock", "ttl_jitter": 0.2, "policy": "s3fifo",
#                "memory_objects": 200, "headers": "public, max-age=60"},
#     balances={"pattern": "write-through", "invalidation": "on-write", "ttl_seconds": 600,
#               "memory_objects": 100, "headers": "private, no-store"},
#     view_counters={"pattern": "write-behind", "invalidation": "on-write",
#                    "flush_interval_seconds": 5, "memory_objects": 49},
#     landing={"ttl_seconds": 60, "defense": "swr", "memory_objects": 1, "headers": "public, max-age=30"},
#     user_pages={"invalidation": "on-write", "memory_objects": 100, "headers": "private, no-cache"},
# )
# ```
# Sessions and balances must never be stale, so writes update the cache
# (write-through). The catalogue's import now invalidates what it changes, so its TTL
# can stay long, and jitter spreads the deploy's warm-up. The landing page may be 120 s
# stale: a 60 s TTL with no invalidation and swr is enough. Memory goes where the reads
# are. There are many other all-green designs: try `read-through`, or a shorter TTL
# instead of `on-write` for the "my orders" pages.
# </details>
#
# ## Key takeaways
#
# * **One setting for everything fails several budgets at once.** Decide per data set,
#   starting from what it can tolerate: how stale, how much loss, who may see it.
# * **Correctness costs hits.** The design that meets every budget has a lower hit
#   ratio than the naive one. Judge a cache by budgets (staleness, load, latency,
#   loss, leaks), not by its hit ratio.
# * **Failures come from events, not averages.** Keys warmed together expire together,
#   a hot key expires at the peak, a cache restarts, a worker dies. Design for the
#   event: jitter, swr or a lock, a database that survives a cold cache, and
#   write-behind only where a loss is acceptable. Notebook 08 is about those events:
#   a cache that is down, slow, cold or asked for what does not exist.
# * **A shared cache must never store per-user responses.** `private` (or `no-store`)
#   on every personal page, whatever the CDN's hit ratio says.
# * **Memory follows need.** Small per-user data sets fit whole; skewed data sets get
#   the rest, with a policy that survives scans.
#
# ## Further reading
#
# * Rajesh Nishtala et al., "Scaling Memcache at Facebook", USENIX NSDI 2013: leases,
#   invalidation from the commit log, and cold-cluster warm-up, all in one system.
# * Andrea Vattani, Flavio Chierichetti and Keegan Lowenstein, "Optimal Probabilistic
#   Cache Stampede Prevention", PVLDB 8(8), 2015: XFetch.
# * Jeffrey Dean and Luiz André Barroso, "The Tail at Scale", Communications of the
#   ACM 56(2), 2013: why p99 is the number to watch.
# * Juncheng Yang et al., "FIFO Queues are All You Need for Cache Eviction", ACM SOSP
#   2023 (S3-FIFO); Gil Einziger, Roy Friedman and Ben Manes, "TinyLFU: A Highly
#   Efficient Cache Admission Policy", ACM Transactions on Storage 13(4), 2017.
# * Roy Fielding, Mark Nottingham and Julian Reschke, RFC 9111 "HTTP Caching", 2022:
#   sections 3 (storing responses) and 5.2.2.7 (`private`).
# * The Redis documentation (redis.io/docs): "Key eviction" and "Client-side caching".

# %%
store.reset();
