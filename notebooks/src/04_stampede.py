# %% [markdown]
# # 04 · Cache stampede: one expiry, two hundred queries
#
# A hot key is read by hundreds of requests a second. For its whole TTL the database
# never hears about it. Then the TTL runs out, and every request that arrives before
# someone puts a new copy back finds nothing, so each one asks the database for the
# *same row*. That burst is a **cache stampede** (or thundering herd). It lands on the
# database at the worst moment: when traffic is highest.
#
# The physical limit is easy to state: **one database query per expiry**. Anything
# above one is duplicate work. In this notebook you release a real herd of threads on
# a real cache, count the queries, and then measure each defense against that limit.
#
# | | |
# |---|---|
# | **What you'll learn** | why a herd overloads the database and slows *every* reader; how to build a lock that is actually correct (the usual pseudocode has two bugs you will watch fail); single-flight, XFetch (early recompute), stale-while-revalidate and TTL jitter, each measured; why protection belongs on hot keys only |
# | **What you need** | notebook 00 (the lab bench) and 03 (TTLs). Python threads help, but are not required. |
# | **Time** | 35 minutes (20 teaching and experimenting + 15 for the exercises) |

# %%
import labkit
from labkit import stampede

store = labkit.start("04")

# %% [markdown]
# ## The herd, undefended
#
# The setup: a hot key holds a product row. Its value **has just expired**. At that
# moment `readers` real Python threads are released together (a `threading.Barrier`)
# and each one does what ordinary cache-aside code does: GET the key, and on a miss,
# query the database and SET the result.
#
# The database is the lab's SQLite, made slow on purpose: a query takes 50 ms while
# up to 16 run at once, and longer when more pile up, the way a real server queues
# work it cannot do in parallel.

# %%
labkit.widgets.predict(
    "200 readers find the hot key expired at the same moment. How many database queries does that one expiry cause?",
    ["1: the first reader refills the cache for everyone", "about 10", "about 200: nearly one per reader"],
    notebook="04", name="herd",
)

# %%
herd = stampede.explore_herd(store)
herd

# %% [markdown]
# ### What to notice
#
# * **Left:** the number of queries in flight shoots up towards the number of readers
#   within a few milliseconds, then drains slowly. The first reader's refill
#   arrives after 50 ms, but by then almost the whole herd has already missed.
# * **Middle:** each dot is one reader. Every reader that missed queried the database
#   itself, and the later it joined the pile, the longer its own query took: the herd
#   makes *every* reader slow, not just the database.
# * **Right:** close to one query per reader for a single expiry, against a limit of one
#   (dashed).
# * Move **readers** down to 10: the herd shrinks but every reader still queries. Set
#   **DB latency** to 5 ms: the refill lands sooner, so only readers who arrive within
#   those 5 ms miss. Whether that is fewer depends on how quickly your machine starts
#   200 threads; on a fast one they all arrive inside 5 ms and all still query.
#   The herd is the number of readers who arrive *during one recompute*.
# * Try the **defense** menu now if you like; the rest of the notebook takes the
#   defenses one at a time.
#
# ## The usual lock, and its two bugs
#
# The standard advice: on a miss, take a lock in the cache; the winner queries the
# database and refills; everyone else waits a little and reads again. A typical
# sketch takes the lock with `SET lock NX` plus a TTL (5 s), releases it with a plain
# `DEL` in a `finally`, and has losers sleep 50 ms and call the whole function again.
#
# The idea is right, but the sketch has two bugs:
#
# 1. **It can free someone else's lock.** If the query outlives the lock's TTL, the
#    lock expires while its holder is still working, a second caller takes it and
#    starts a second refresh, and then the first caller's `DEL` deletes the *second*
#    caller's lock, letting a third one in.
# 2. **It can wait forever.** If the database stalls, the holder never returns, and
#    every other caller sleeps 50 ms and retries with no deadline: the herd becomes a
#    pile of requests that never answer.
#
# The lab's **correct lock** fixes both. It stores a random token as the lock's value
# and releases with an atomic *compare-and-delete* (a tiny Lua script on Redis), so it
# can only ever delete its own lock. While its query runs it renews its lease, so a
# slow query does not lose the lock. It re-reads the cache after winning the lock, in
# case someone refilled it a moment earlier. Its waiters poll with jittered backoff
# until a **deadline**, and then serve the stale copy, or fail fast with a clear error.
#
# Below, three callers arrive 60 ms apart at an empty cache; the query takes 150 ms and
# the lock's TTL is 50 ms.

# %%
labkit.widgets.predict(
    "With a 50 ms lock TTL and a 150 ms query, how many refreshes does the usual lock run at once?",
    ["1: that is what the lock is for", "2 or more", "0: the lock expires before anyone refreshes"],
    notebook="04", name="expired-lock",
)

# %%
stampede.explore_lock_ttl(store)

# %% [markdown]
# ### What to notice
#
# * The usual lock runs **several refreshes at once** (three, when the timing is as
#   planned), and A's release **frees C's lock** (the middle bar). Nothing raised an
#   error; the only sign is the extra load.
# * The correct lock runs **one** refresh; the two late callers wait and get the fresh value.
# * Slide the **lock TTL** above 150 ms: the usual lock now behaves. That is why the bug
#   survives code review. It only appears on the day a query is slower than usual, which
#   is exactly the day the database is already in trouble.
#
# The same scenario, step by step, with virtual time (this is what exercise 1 replays
# against your own code):

# %%
print(stampede.brief_lock_replay())

# %% [markdown]
# Now the second bug. The database **stalls**: every query hangs. Each reader has a
# deadline; we watch for a while longer, then stop watching.

# %%
stampede.explore_stall(store)

# %% [markdown]
# ### What to notice
#
# * **Usual lock: not one reader returned.** They are all still sleeping and retrying;
#   in a server each one would hold a worker thread and a client connection until the
#   database came back.
# * **Correct lock: every reader returned by its deadline**, plus a few milliseconds of
#   thread scheduling. With a stale copy in the cache they served it; without one they
#   failed fast, with a sentence that says why. A fast, explained failure lets the caller
#   retry elsewhere, degrade gracefully, or report it; a hang does none of that.
#
# ## The defenses, side by side
#
# * **lock**: the correct distributed lock above. One refresh for all app servers.
# * **single-flight**: no cache round trips at all; inside *one process*, concurrent
#   requests for the same key share one in-flight query (Go's `singleflight`). With
#   several app processes you get one query per process.
# * **xfetch**: *probabilistic early expiration*. Each read recomputes early with a
#   probability that rises as the expiry approaches, so under steady traffic someone
#   refreshes *before* the value expires (Vattani, Chierichetti and Lowenstein, VLDB 2015).
# * **swr**: *stale-while-revalidate*. Serve the expired copy at once and let one
#   background refresh replace it.
#
# To serve a stale copy you need one. The lab stores each value **with its logical
# expiry inside it** (and how long it took to compute), under a longer Redis TTL. After
# the logical expiry the value is stale but still readable for a grace period. One key
# rather than a value key plus a "stale" key: one GET returns the value and its
# freshness together, and the two can never disagree.

# %%
labkit.widgets.predict(
    "The same herd of 200 hits an expired key. Which defense does NOT get close to one query?",
    ["lock", "single-flight", "xfetch", "stale-while-revalidate"],
    notebook="04", name="which-defense",
)

# %%
stampede.compare_defenses(store)

# %% [markdown]
# ### What to notice
#
# * **Lock, single-flight and SWR reach the limit of exactly one query** (the tests check
#   this on fakeredis and on a real Redis server, run after run). The diamonds are the
#   virtual-clock simulation with the same parameters; it agrees.
# * **XFetch sends the herd straight through.** It works by refreshing *before* expiry;
#   once the value has already expired there is nothing left to do early. The next
#   section shows where it shines.
# * **Latency (middle):** single-flight and SWR keep every reader fast. Lock waiters pay
#   for the wait; SWR readers pay nothing but get the old value.
# * **Cost (right):** the lock pays in cache round trips (SET NX, polls, compare-and-delete,
#   lease renewals). Single-flight costs fewer commands than no defense at all, because
#   waiters never touch the cache again.
# * Raise **app processes** to 4: single-flight now sends up to 4 queries (one per
#   process); the distributed lock still sends 1.
#
# ## Steady traffic: XFetch
#
# Real hot keys are not hit by one burst but by a steady stream. Here 10,000 clients each
# read the key every 10 s on average (1,000 reads/s) for an hour, with a 30 s TTL and a
# 50 ms recompute. Threads cannot do this in a notebook; the **virtual-clock simulation**
# can, in well under two seconds per defense, with the same load model as the live database.
#
# XFetch's rule: a reader at time `t` recomputes if `t - δ·β·ln(rand) ≥ expiry`, where
# `δ` is how long the last recompute took and `rand` is uniform in (0, 1]. Early recomputes
# become likely only in the last few `δ·β` before expiry, so almost no TTL is wasted.

# %%
labkit.widgets.predict(
    "With XFetch at beta = 1 and 1,000 reads/s, in what share of expiries does some reader find the value expired?",
    ["about half", "about 10%", "almost never"],
    notebook="04", name="xfetch",
)

# %%
stampede.explore_xfetch()

# %% [markdown]
# ### What to notice
#
# * With no defense, each expiry costs about **51 queries** (one, plus the 50 readers that
#   arrive during the 50 ms recompute), every expiry.
# * **XFetch: readers never see the expiry**: someone always refreshed in time, a fraction
#   of a second early. It is not a lock, so a reader who arrives during the early refresh
#   may also decide to recompute: a few queries per expiry, not exactly one.
# * The lock and single-flight get down to one query (four for single-flight with four app
#   processes), but their readers *wait* at every expiry (right chart). SWR never makes
#   anyone wait, at the price of thousands of stale reads.
# * Move **beta** down to 0.1, or pick 200 **clients**: with only one read per recompute
#   time, nobody rolls the dice early enough, and misses come back. Early recompute needs
#   traffic; exercise 2 is about choosing beta when traffic is modest.
#
# ## Many keys, one moment: TTL jitter
#
# A stampede does not need a hot key. Fill a thousand keys at the same moment (a deploy,
# a cache warm-up, a nightly job) with the same TTL, and they all expire in the same
# second, every TTL, forever. The fix costs one line: add a random ±10% to each TTL.

# %%
stampede.explore_jitter()

# %% [markdown]
# ### What to notice
#
# * Same TTL for all: **1,000 refreshes in one second**, every five minutes, and the
#   pattern never fades.
# * With ±10% jitter, the first wave is spread over a minute (a few dozen refreshes per
#   second at most), and each later wave is spread wider.
#
# ## What protection costs, and why only hot keys need it
#
# A lock costs two extra commands per refresh (SET NX and compare-and-delete), on every
# key you protect. Below is a Zipf workload: 10,000 keys, 5,000 reads/s, a 30 s TTL and a
# 50 ms query. For each key: how many queries would its expiry cause, and what the lock
# costs it per read.

# %%
stampede.explore_protection()

# %% [markdown]
# ### What to notice
#
# * Only the **25 hottest keys** ever see two or more concurrent queries at expiry. For
#   every other key a "stampede" is one reader.
# * A cold key is read about once per TTL, so nearly every read is a refresh and pays the
#   lock's bookkeeping; a hot key pays it once per tens of thousands of reads.
# * Protecting the hottest 100 keys costs **+6.6 commands/s** and saves **4.4** duplicate
#   queries/s. Untick **protect hot keys only**: protecting all 10,000 costs **+513
#   commands/s** to save **7.9**. The extra 3.5 come as stray single duplicates spread
#   across thousands of cold keys, none of them a herd.
#
# ## Exercises
#
# Replace the `...` and run the cell. `.hint()` helps; `.solution()` shows one answer.

# %%
ex = stampede.exercises()

# %% [markdown]
# **1. Fix the usual lock.** Write `acquire(store, lock_key, ttl_seconds)`, which returns
# a token when it takes the lock and `None` when someone else holds it, and
# `release(store, lock_key, token)`. The check replays the expired-lock scenario: A takes
# the lock, the lock expires during A's query, B takes it, A finishes and releases. B's
# lock must survive. The store offers `set(key, value, ttl_seconds=..., nx=True)`, `get`,
# `delete` and `compare_and_delete(key, expected)`.

# %%
def acquire(store, lock_key, ttl_seconds):
    ...   # return a token if you took the lock, None if someone holds it


def release(store, lock_key, token):
    ...   # free the lock, but only if it is still yours


ex["fix-the-lock"].check(acquire, release)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# import uuid
#
# def acquire(store, lock_key, ttl_seconds):
#     token = uuid.uuid4().hex                     # only this caller knows it
#     if store.set(lock_key, token, ttl_seconds=ttl_seconds, nx=True):
#         return token
#     return None
#
# def release(store, lock_key, token):
#     store.compare_and_delete(lock_key, token)    # atomic: a Lua script on Redis
# ```
#
# A random token makes the lock *yours*; compare-and-delete makes the release check that
# and delete in one atomic step. A `GET` followed by a `DEL` would not do: the lock can
# change hands between the two commands.
# </details>
#
# **2. Pick beta.** A product page takes **0.4 s** to rebuild, is read **20 times a
# second**, and has a **60 s** TTL. Choose a beta for XFetch so that readers see no miss
# in at least 99% of expiries, while refreshing on average no more than 10 s early. The
# check simulates ten hours of traffic with your beta.

# %%
beta = ...
ex["pick-beta"].check(beta)

# %% [markdown]
# <details><summary>Solution</summary>
#
# Any beta from about 1.5 to 5 passes; `beta = 2` gives no miss in 100% of about 620
# expiries, refreshing about 3 s early. At beta = 1 only about 8 reads arrive per recompute
# time, and roughly one expiry in 25 slips through to readers. A rough guide: the chance
# that an expiry reaches readers is about `exp(-rate · δ · β · e^(-1/β))`, so beta has to
# grow as `rate · δ` shrinks. Too large, and you recompute many seconds early, which is
# just a shorter TTL.
# </details>
#
# **3. Choose a defense.** For each scenario pick one of `"lock"`, `"single-flight"`,
# `"xfetch"`, `"swr"`, `"jitter"`:
#
# * **A.** An account balance, shown after a payment. Readers must never see the old
#   balance. The query takes 50 ms, the app runs on 40 servers, and 300 readers may arrive
#   right after the key is invalidated.
# * **B.** Home-page recommendations, read 2,000 times a second. A few seconds of staleness
#   is fine; a rebuild takes 1.5 s and no reader should wait for it.
# * **C.** A nightly job loads 50,000 product descriptions into the cache at 02:00, all with
#   a 1-hour TTL. The database slows down at 03:00, 04:00, 05:00...

# %%
answers = {"A": ..., "B": ..., "C": ...}
ex["choose-defense"].check(answers)

# %% [markdown]
# <details><summary>Solution</summary>
#
# * **A: `lock`.** Stale is not allowed, so waiters must wait for the one refresh, and 40
#   servers must share it: single-flight alone would still send 40 queries.
# * **B: `swr`** (or `xfetch`). Staleness is acceptable and the rebuild is slow: serve the
#   old copy while one refresh runs, or refresh ahead of expiry.
# * **C: `jitter`.** The keys do not share readers, they share an expiry time. Spread the
#   TTLs (and the first load's TTLs too).
# </details>
#
# ## Key takeaways
#
# * A stampede is every reader that arrives **during one recompute**, and it makes all of
#   them slow, not just the database. The limit to aim for is one query per expiry.
# * A correct cache lock needs a **unique token**, an **atomic compare-and-delete** release,
#   a lease that outlives the work, and a **deadline** after which it serves stale data or
#   fails fast. The common sketch has none of the last three.
# * **Single-flight** is free and in-process (one query per process); a **distributed lock**
#   coordinates servers; **SWR** never makes anyone wait but serves stale data; **XFetch**
#   refreshes before expiry and needs steady traffic (raise beta when reads are sparse).
# * Keys filled together expire together: **jitter the TTL**.
# * Protection has a cost per refresh: put it on the **hot keys**, where herds actually form.
#
# ## Further reading
#
# * Andrea Vattani, Flavio Chierichetti and Keegan Lowenstein, "Optimal Probabilistic Cache
#   Stampede Prevention", *Proceedings of the VLDB Endowment* 8(8), 2015 - XFetch and why
#   its exponential rule is optimal.
# * Rajesh Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013 - leases against
#   thundering herds and stale sets.
# * Mark Nottingham, RFC 5861, "HTTP Cache-Control Extensions for Stale Content", 2010 -
#   `stale-while-revalidate` and `stale-if-error`.
# * Martin Kleppmann, "How to do distributed locking" (2016) - why a lock with a TTL also needs
#   fencing when correctness, not just load, depends on it.
# * Redis documentation: "Distributed Locks with Redis" and the `SET` command's `NX`/`PX`
#   options (redis.io/docs).
# * Go's `golang.org/x/sync/singleflight` package documentation.
# * Grant Jenks, python-diskcache, "Case Study: Landing Page Caching" - the two-panel
#   stampede charts this notebook builds on.

# %%
store.reset()
