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
# | **What you'll learn** | why a herd overloads the database and slows *every* reader; how to build a loader that is actually correct (the common lock recipe fails five ways, and you will watch each fail); single-flight, XFetch (early recompute), stale-while-revalidate and TTL jitter, each measured; why protection belongs on hot keys only |
# | **What you need** | notebook 00 (the lab bench) and 03 (TTLs). Python threads help, but are not required. |
# | **Time** | 45 minutes (20 teaching and experimenting + 25 for the exercises: you write a complete loader) |

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
#
# The sliders answer at once because they run the same readers and the same defense
# code on a **virtual clock** that jumps ahead whenever every reader is waiting
# (`labkit.clock.AutoClock`): the same herd in a few milliseconds, the same numbers every
# run. **Run live** releases the real threads on the real cache and database, and draws
# what they did.

# %%
labkit.widgets.predict(
    "200 readers find the hot key expired at the same moment. How many database queries does that one expiry cause?",
    ["1: the first reader refills the cache for everyone", "about 10", "about 200: nearly one per reader"],
    notebook="04", name="herd",
)

# %%
stampede.explore_herd(store)

# %% [markdown]
# And once for real, right here: 200 threads on the cache you connected above.

# %%
print(stampede.run_herd("none", 200, store).summary())

# %% [markdown]
# ### What to notice
#
# * **Left:** the number of queries in flight shoots up towards the number of readers
#   within a few milliseconds, then drains slowly. The first reader's refill
#   arrives after 50 ms, but by then almost the whole herd has already missed.
# * **Middle:** each dot is one reader. Every reader that missed queried the database
#   itself, and the later it joined the pile, the longer its own query took: the herd
#   makes *every* reader slow, not just the database.
# * **Right:** {claim:herd_queries} queries for a single expiry of 200 readers, against a limit
#   of one (dashed). The live run above agrees, give or take a few readers who arrived
#   after the refill.
# * Move **readers** down to 10: the herd shrinks but every reader still queries. Set
#   **DB latency** to 5 ms and press **Run live**: the refill lands sooner, so only readers
#   who arrive within those 5 ms miss. Whether that is fewer depends on how quickly your
#   machine starts 200 threads; on a fast one they all arrive inside 5 ms and all still
#   query. The herd is the number of readers who arrive *during one recompute*.
# * Try the **defense** menu now if you like; the rest of the notebook takes the
#   defenses one at a time.
#
# ## The common lock recipe, and how it fails
#
# The standard advice: on a miss, take a lock in the cache; the winner queries the
# database and refills; everyone else waits a little and reads again. The common
# recipe takes the lock with `SET lock 1 NX` plus a TTL (5 s), releases it with a plain
# `DEL` in a `finally`, and has losers sleep 50 ms and call the whole function again.
#
# The idea is right. A correct lock needs four properties: it is **owned** (a unique
# token says whose it is), it is **released only by its owner** (atomically), it
# **outlives the work** (a lease renewed while the query runs), and its waiters have a
# **deadline**. The recipe has none of the four: every holder writes the same value, so
# not even the lock itself knows whose it is. That shows up as five failures:
#
# 1. **It can free someone else's lock.** If the query outlives the lock's TTL, the
#    lock expires while its holder is still working, a second caller takes it and
#    starts a second refresh, and then the first caller's `DEL` deletes the *second*
#    caller's lock, letting a third one in.
# 2. **It can wait forever.** If the database stalls, the holder never returns, and
#    every other caller sleeps 50 ms and retries with no deadline: the herd becomes a
#    pile of requests that never answer.
# 3. **It never caches "not found".** A lookup of an id that does not exist returns
#    `null`, caches nothing, and the next lookup asks the database again: every request
#    for a missing id reaches the database (notebook 08 shows what that does at scale).
# 4. **A failing database is retried by every waiter.** When the holder's query errors,
#    it releases the lock and returns the error; the next waiter takes the lock and tries
#    the failing database again, then the next, one by one.
# 5. **It never serves the stale copy**, so every waiter waits for the refresh even when
#    an answer a moment old would do.
#
# The lab's **correct lock** fixes the first two here. It stores a random token as the
# lock's value and releases with an atomic *compare-and-delete*, so it can only ever
# delete its own lock. That needs a tiny Lua script on Redis 7 (`GET`, compare, `DEL` in
# one step); Redis 8.4 has it as one command (`DELEX key IFEQ token`) and Valkey 9 as
# `DELIFEQ`. While its query runs it renews its lease, so a slow query does not lose the
# lock. It re-reads the cache after winning the lock, in case someone refilled it a moment
# earlier. Its waiters poll with jittered backoff until a **deadline**, and then serve the
# stale copy, or fail fast with a clear error. The other three are exercise 1: you write
# the complete loader.
#
# Below, three callers arrive 60 ms apart at an empty cache; the query takes 150 ms and
# the lock's TTL is 50 ms.

# %%
labkit.widgets.predict(
    "With a 50 ms lock TTL and a 150 ms query, how many refreshes does the common lock recipe run at once?",
    ["1: that is what the lock is for", "2 or more", "0: the lock expires before anyone refreshes"],
    notebook="04", name="expired-lock",
)

# %%
stampede.explore_lock_ttl(store)

# %% [markdown]
# ### What to notice
#
# * The common recipe runs **{claim:recipe_refreshes_at_once} refreshes at once**, and A's release
#   **frees C's lock** (the middle bar). Nothing raised an error; the only sign is the
#   extra load. Press **Run live** to see the same with real threads and real time.
# * The correct lock runs **one** refresh; the two late callers wait and get the fresh value.
# * Slide the **lock TTL** above 150 ms: the recipe now behaves. That is why the bug
#   survives code review. It only appears on the day a query is slower than usual, which
#   is exactly the day the database is already in trouble.
#
# The same scenario, step by step, with virtual time (exercise 1 checks your own loader
# against it, with real threads):

# %%
print(stampede.common_lock_replay())

# %% [markdown]
# Now the second bug. The database **stalls**: every query hangs. Each reader has a
# deadline; we watch for a while longer, then stop watching.

# %%
stampede.explore_stall(store)

# %% [markdown]
# ### What to notice
#
# * **The recipe: not one reader returned.** They are all still sleeping and retrying;
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
# * With one app process, **lock, single-flight and SWR reach the limit of exactly one
#   query** (the tests check this on fakeredis and on a real Redis server, run after
#   run). The first chart is a live herd per defense; the diamonds are the expiry-window
#   simulation with the same parameters (the model the next section scales up), and it agrees.
# * **XFetch sends the herd straight through.** It works by refreshing *before* expiry;
#   once the value has already expired there is nothing left to do early. The next
#   section shows where it shines.
# * **Latency (middle):** single-flight and SWR keep every reader fast. Lock waiters pay
#   for the wait; SWR readers pay nothing but get the old value.
# * **Cost (right):** the lock pays in cache round trips (SET NX, polls, compare-and-delete,
#   lease renewals). Single-flight costs fewer commands than no defense at all, because
#   waiters never touch the cache again.
# * Raise **app processes** to 4: single-flight now sends up to 4 queries (one per
#   process); the distributed lock still sends 1. The slider previews on the virtual
#   clock; **Run live** releases the real herds at that process count.
#
# ## Steady traffic: XFetch
#
# Real hot keys are not hit by one burst but by a steady stream. Here 10,000 clients each
# read the key every 10 s on average (1,000 reads/s) for an hour, with a 30 s TTL and a
# 50 ms recompute. Threads cannot do this in a notebook; the **expiry-window simulation**
# can, in well under two seconds per defense: it jumps from one expiry to the next, with the
# same load model as the live database and XFetch's own `refresh_early` rule
# (`labkit.stampede.xfetch`).
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
# * With no defense, each expiry costs about **{claim:steady_none_queries_per_expiry:.0f} queries** (one, plus the
#   50 readers that arrive during the 50 ms recompute), every expiry.
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
# * Same TTL for all: **{claim:jitter_flat_peak:,} refreshes in one second**, every five minutes, and the
#   pattern never fades.
# * With ±10% jitter, the first wave is spread over a minute ({claim:jitter_peak} refreshes per
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
# * Only the **{claim:herd_keys} hottest keys** ever see two or more concurrent queries at expiry. For
#   every other key a "stampede" is one reader.
# * A cold key is read about once per TTL, so nearly every read is a refresh and pays the
#   lock's bookkeeping; a hot key pays it once per tens of thousands of reads.
# * Protecting the hottest 100 keys costs **+{claim:hot_protection_commands:.1f} commands/s** and saves
#   **{claim:hot_protection_saves:.1f}** duplicate queries/s. Untick **protect hot keys only**: protecting
#   all 10,000 costs **+{claim:all_protection_commands:,.0f} commands/s** to save **{claim:all_protection_saves:.1f}**. The extra
#   savings come as stray single duplicates spread across thousands of cold keys, none
#   of them a herd.
#
# ## Exercises
#
# Replace the `...` and run the cell. `.hint()` helps; `.solution()` shows one answer.

# %%
ex = stampede.exercises()

# %% [markdown]
# **1. Write a complete loader.** Every request for a row goes through `read(...)`. Make
# it correct in all five ways the common recipe fails: a lock that is **owned** (a unique
# token, released with `store.compare_and_delete`), the **stale copy served** at once while
# someone else refreshes, **"not found" cached** for `not_found_ttl_seconds`, a **failing
# database shared** (when your refresh fails, cache `DB_DOWN` for a second so waiters fail
# fast instead of each retrying), and a **deadline** for the query and the wait. The check
# first steps in at exact moments on a virtual clock and reads what your loader leaves on
# the store (the TTLs the copy and the lock carry, a reader killed mid-query, a lock that
# expires and changes hands, a fill just before your lock, a wait), then replays five
# scenarios on real threads (the expired lock, a 200-reader herd, a missing id, a failing
# database, a stalled database); it shows the first one your loader fails, with what
# happened. The helpers: `pack(value, fresh_for_seconds, clock)` and
# `unpack(raw, clock) -> (value, fresh)` keep a value with its logical expiry, so an expired
# copy stays readable as *stale*; `NOT_FOUND` and `DB_DOWN` are the two sentinels to cache.

# %%
import uuid

from labkit.database import DatabaseError, DatabaseTimeout
from labkit.stampede import DB_DOWN, NOT_FOUND, pack, unpack


def read(store, db, row_id, clock, *, ttl_seconds=30.0, not_found_ttl_seconds=5.0,
         lock_ttl_seconds=1.0, wait_seconds=0.5):
    """Return row_id's value through the cache, or None if the row does not exist.

    Cache key f"item:{row_id}", lock key f"lock:item:{row_id}" (held for lock_ttl_seconds).
    Store values with pack(value, fresh_for_seconds, clock) and keep the key longer (10x),
    so an expired copy can still be served stale; unpack(raw, clock) gives (value, fresh).
    A failed refresh is shared: DB_DOWN, fresh for 1 s.
    db.read(row_id, timeout_seconds=...) returns a Row (.value) or None, and raises
    DatabaseError / DatabaseTimeout. clock.now() and clock.sleep(s) tell and pass time.
    """
    ...


ex["complete-loader"].check(read)

# %% [markdown]
# <details><summary>Solution</summary>
#
# Run `ex["complete-loader"].solution()` to see the reference loader. Its shape:
#
# 1. GET the key. Fresh: return it (`None` for `NOT_FOUND`; raise for a fresh `DB_DOWN`).
#    Expired: remember it as the stale copy.
# 2. Try the lock with a fresh `uuid4` token (`SET NX` with `lock_ttl_seconds`).
# 3. **Won:** query with `timeout_seconds` = what is left of the deadline; cache the row
#    (or `NOT_FOUND` for `not_found_ttl_seconds`); on a database error return the stale
#    copy if there is one, else cache `DB_DOWN` for a second and raise; always release
#    with `compare_and_delete(lock, token)`.
# 4. **Lost:** return the stale copy at once if there is one; else sleep 10 ms and go back
#    to 1, until the deadline, then raise.
#
# Each line is checked by a replay: remove one and a replay fails, saying what it saw.
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
# Any beta from about 1.5 to 5 passes; `beta = 2` gives no miss in 100% of {claim:beta_task_expiries}
# expiries, refreshing {claim:beta_two_lead_seconds:.1f} s early on average. At beta = 1 only about 8 reads
# arrive per recompute time, and {claim:beta_one_slips:.0%} of expiries slip through to readers. A rough guide: the chance
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
#   fails fast. The common recipe has none of the four.
# * A complete loader also caches **"not found"** (briefly) and **shares a failure** for a
#   moment, so absent ids and a failing database do not turn every request into a query.
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
store.reset();
