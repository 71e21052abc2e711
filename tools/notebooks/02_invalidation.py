# %% [markdown]
# # 02 · Invalidation: how a copy learns it is wrong
#
# Every cached value is a copy, and the database can change without the copy being
# told. Choosing a caching pattern is the easy part. The design work is deciding how a
# stale copy gets found and corrected, and that should be settled before the first
# key is cached.
#
# | | |
# |---|---|
# | **What you'll learn** | why a **TTL** is the backstop every key needs, and what it promises; **event-driven** invalidation over Redis pub/sub, what one lost message costs, and how a near cache **notices a lost message** and flushes; **versioned keys**, which retire a whole tenant's keys with one command; the **stale-set race** in cache-aside and three ways to fix it |
# | **What you need** | notebook 00 (the staleness meter); notebook 01 (cache-aside) helps |
# | **Time** | 50 minutes (25 teaching + 25 exercises; in a workshop, do section 2 and one exercise in the room and the rest as homework) |

# %%
import labkit
from labkit import invalidation

store = labkit.start("02")

# %% [markdown]
# ## 1. TTL: the backstop
#
# The simplest invalidation is none at all. Every copy gets an expiry time, and a
# reader may see an old value until that copy expires. That sounds crude, but it is
# the only mechanism that still works when everything else fails: a message is lost,
# a deploy skips the invalidation code, or someone edits the database by hand.
#
# The experiment: 10 keys, each read every second and written about once a minute by
# a service that **never tells the cache**. It runs on a virtual clock, so four
# simulated minutes take a few milliseconds.

# %%
labkit.widgets.predict(
    "With a 30 s TTL and no invalidation at all, how old is the oldest value a reader sees?",
    ["a few seconds", "just under 30 s", "well over 30 s: copies pile up"],
    notebook="02", name="ttl-window",
)

# %%
invalidation.explore_ttl()

# %% [markdown]
# ### What to notice
#
# * In the left chart, each write opens a stale stretch (shaded) that closes the
#   moment the copy expires and a reader fetches the new row.
# * In the right chart, no read was ever older than the TTL, and the oldest came close
#   to it ({claim:ttl_oldest_read:.1f} s at the default 30 s). A TTL **bounds** staleness; it does not
#   reduce it to zero. At 30 s about **{claim:ttl_stale_share:.0%} of reads** were stale here, with a hit ratio
#   of {claim:ttl_hit_ratio:.0%}.
# * Drag the TTL down to 5 s and the dashed limit line drops with it. The cost shows in
#   the caption: the hit ratio falls. Notebook 03 measures that trade in detail.
#
# ## 2. Event-driven: tell every copy
#
# To do better than the TTL, the writer has to announce each change. Here the writer
# commits, deletes the shared Redis copy, and **publishes** the key on a Redis pub/sub
# channel. Every app instance keeps a small in-process *near cache* (a dict with a
# TTL, the fastest layer there is) and drops a key when it hears about it.
#
# Try it by hand with two instances on this notebook's store:

# %%
db = labkit.Database(rows=10, latency_seconds=0.002)
bus = invalidation.InvalidationBus(store)
a, b = (invalidation.AppInstance(name, store, db, bus, near_ttl_seconds=30) for name in "AB")
print("before:", a.read(3).version, b.read(3).version)        # both now hold v1 in their near cache
invalidation.write_and_publish(store, db, bus, 3, "new price")
print("dropped:", a.drain(until_seq=bus.published), b.drain(until_seq=bus.published))
print("after: ", a.read(3).version, b.read(3).version)

# %% [markdown]
# Redis pub/sub delivers a message **at most once**. A subscriber that is disconnected
# for a moment (a restart, a network blip, a slow consumer that Redis cuts off) never
# receives the messages published while it was away. The next experiment runs three
# instances that each read one key every second, with writes at t = 10 s and t = 40 s.
# Instance C's connection drops at t = 9 s and comes back at t = 12 s, so it **misses
# the first message** (the subscription really is closed and reopened on this
# notebook's store).

# %%
labkit.widgets.predict(
    "Instance C missed the invalidation at t = 10 s. How long does it keep serving the old row?",
    ["until the next write reaches it (t = 40 s)", "until its near-cache copy expires", "forever"],
    notebook="02", name="lost-message",
)

# %%
invalidation.explore_events(store)

# %% [markdown]
# ### What to notice
#
# * A and B dropped their copies the moment each write was published and were never
#   stale. Only C, the instance that lost a message, served the old row.
# * C cached the row at t = 1 s, so with a 20 s TTL its copy expired at
#   t = {claim:lost_message_stale_until:g} s. It was stale from 10 s until then
#   ({claim:lost_message_stale_reads} reads). The TTL, not the next message, is what
#   rescued it. Move the TTL slider and C's stale stretch follows it exactly.
# * That is why event-driven invalidation goes **on top of** a TTL, never instead of
#   one. The events make the common case fresh; the TTL bounds the rare lost message.
#
# ### Noticing a lost message
#
# C did not have to wait for its TTL. A lost message leaves two traces a near cache
# can see:
#
# * **a reconnect.** Everything published while the subscriber was away is gone, so on
#   reconnecting the near cache cannot know which of its copies are still good: it
#   **flushes**. Watch out: a client library may reconnect for you. redis-py's `PubSub`
#   re-subscribes its channels by itself after a dropped connection, so unless your code
#   hooks the reconnect, it never hears about it.
# * **a gap in the numbers.** The bus here numbers its messages 1, 2, 3, ... (the text
#   of each is `"<number> <key>"`). A near cache that remembers the newest number it has
#   seen notices when one is skipped, even when the reconnect was hidden from it, and
#   flushes. A message that arrives late (number 4 after 5) is no gap: drop its key and
#   do not move the count back. Gaps are only noticed when the next message comes, so
#   busy systems also publish a small heartbeat carrying the latest number every second.
#   Here one writer numbers its own messages; with several writers, take each number
#   from one shared counter (an `INCR` on the server) or track one count per writer.
#
# A flush costs one refill per key from the shared cache, which is cheap next to
# serving a wrong price for 20 seconds. Switch *C's near cache* in the chart above to
# **also flushes on a reconnect or a gap**: C is stale only while it is away
# ({claim:flushed_stale_reads} reads instead of {claim:lost_message_stale_reads}). In
# exercise 3 you write that near cache yourself. When a lost message is unacceptable
# even for a moment, send invalidations through a log that remembers them (Redis
# Streams, Kafka, the database's change log) rather than through pub/sub.
#
# ## 3. Versioned keys: retire a whole namespace at once
#
# Sometimes a change touches thousands of keys: a tenant changes its plan, a price
# list is re-imported, a template changes every rendered page. Finding those keys
# means `SCAN`, which walks the **whole keyspace**, not only the keys that match.
# Versioned keys avoid the walk. Every key embeds a generation number read from one
# counter, and bumping the counter makes every old key unreachable at once. The old
# keys are never deleted; their TTL removes them later.

# %%
tenant = invalidation.VersionedNamespace(store, "tenant:7")
tenant.set("user:42", "Ada, plan=free")
print(tenant.key("user:42"), "->", tenant.get("user:42"))
tenant.bump()                                  # one INCR on tenant:7:gen
print(tenant.key("user:42"), "->", tenant.get("user:42"))

# %% [markdown]
# The price: every read costs one more round trip (first the generation, then the
# key), and every old generation sits in memory until it expires, so a TTL is
# mandatory. Compare the two ways to invalidate 2,000 keys on this notebook's store:

# %%
labkit.widgets.predict(
    "Invalidating 2,000 keys: how many commands does SCAN + DEL send, compared with one generation bump?",
    ["about the same", "a handful more", "one or more per key"],
    notebook="02", name="bump-vs-scan",
)

# %%
invalidation.explore_versioned(store)

# %% [markdown]
# ### What to notice
#
# * The bump is **one command**, whatever the namespace holds, and it never scans.
#   `SCAN + DEL` walks *the whole database* (not only the matching keys) and then
#   deletes every match, so its cost grows with both. labkit asks SCAN for
#   `COUNT 1000`, so each call covers about a thousand keys; with Redis's default
#   (`COUNT 10`) the same walk takes a hundred times as many calls. On a big shared
#   Redis it is slower still.
# * Right after the bump the old keys are unreachable, but they still occupy memory
#   until they expire.
# * On fakeredis, timings are in-process; set `REDIS_URL` to see the round trips of a
#   real server. `benchmarks/bench_invalidation.py` compares the two over 20,000 keys.
#
# ## 4. The stale-set race in cache-aside
#
# Cache-aside invalidation looks airtight: readers fill the cache on a miss, writers
# update the database and then delete the key. Yet one ordering of those steps leaves
# an old value in the cache **after** the delete:
#
# 1. the reader misses;
# 2. the reader reads the row from the database (version 1);
# 3. the writer commits version 2;
# 4. the writer deletes the key (which is already absent);
# 5. the reader, still holding version 1, sets it into the cache.
#
# Nothing will correct that entry until its TTL runs out. A stepper makes the race
# reproducible: the reader and the writer each run one operation at a time, in exactly
# this order, against this notebook's store.

# %%
labkit.widgets.predict(
    "After those five steps with plain cache-aside and a 300 s TTL, what does the cache hold?",
    ["nothing: the writer deleted the key", "version 2", "version 1, for up to 300 s"],
    notebook="02", name="race",
)

# %%
invalidation.explore_race(store)

# %% [markdown]
# ### What to notice
#
# * With **naive** cache-aside, the DEL came too early: it deleted a key that did not
#   exist yet. The reader's SET of version 1 then lands after it and stays for the full
#   300 s TTL. Press **Reset**, then **Step**, to watch it happen one operation at a time.
# * Switch to **lease**. On a miss the reader first claims the key with a placeholder
#   (`SET NX`). The writer's DEL removes the placeholder, so the reader's final set,
#   a compare-and-set that succeeds only if its placeholder is still there (a Lua
#   script on Redis), is refused. This is a client-side imitation of the *leases* in
#   Facebook's memcache, where the **server** hands out the lease token on a miss and
#   itself refuses a set whose token a delete has invalidated; Redis has no such
#   command, so the lab builds it from `SET NX` and a compare-and-set.
# * **write-through** has the writer set version 2 itself, and every set is checked
#   on the server: it succeeds only if it is newer than what the cache holds. The late
#   version 1 is refused.
# * **delete after commit + short TTL** does not close the race. It caps it: the stale
#   entry lives {claim:short_ttl_stale_seconds:.0f} s instead of 300 s.
# * Of the 10 possible orders of these five steps, {claim:orders_that_break_naive} is the
#   only one that breaks naive cache-aside. A race this narrow passes tests and then
#   turns up under production load.
#
# The stepper replays one order. Real threads pick their own, so here the same four
# strategies run with three reader threads and one writer thread. Each reader pauses
# for a few milliseconds between its database read and its SET (a GC pause, a slow
# serializer), and the writer edits each key twice in quick succession.

# %%
labkit.widgets.predict(
    "With real threads, which strategies leave keys stale once the writes have stopped?",
    ["none: the race is too rare to matter", "only naive", "naive and short-TTL"],
    notebook="02", name="threads",
)

# %%
invalidation.compare_fixes(store)

# %% [markdown]
# ### What to notice
#
# * Left: under the scripted interleaving the naive entry lives for its whole TTL, the
#   short TTL caps it at 5 s, and the lease and write-through leave nothing stale.
# * Right: with real threads, **naive** usually leaves one or more keys stale after the
#   writes stop. The exact count changes from run to run, as races do. Run the cell
#   again. The lease and write-through leave **none**, and so does the short TTL once it
#   has run out.
#
# ## 5. Which data gets which mechanism
#
# | the data | what it can tolerate | mechanism |
# |---|---|---|
# | product descriptions, profiles, rendered fragments | minutes of staleness | cache-aside + a **TTL** sized to that tolerance |
# | prices, stock, permissions | seconds at most | cache-aside + **delete after commit** + **lease** + short TTL backstop; numbered pub/sub messages to drop near-cache copies, with a flush on a gap or a reconnect |
# | balances, anything a user just changed and re-reads | nothing older than their own last write | **write-through** with a version check (or read from the database) |
# | one tenant's or one release's whole keyspace | must all change together | **versioned keys** (a generation counter) + TTL to reclaim memory |
# | everything | (there is always a failure you did not plan for) | **a TTL**. Never cache a key without one. |
#
# ## Exercises
#
# Replace each `...`, run the cell, and read the verdict. `.hint()` helps;
# `.solution()` shows one answer. The checks replay the lab's own scenarios against
# your code, and name the one that broke it.

# %%
ex = invalidation.exercises(store)

# %% [markdown]
# **1. Invalidate one tenant without scanning.** Tenant 7's keys are built with
# `invalidation.VersionedNamespace(store, "tenant:7")`. Write `invalidate_tenant` so
# that every key of the given tenant becomes unreachable, with no `SCAN`, and other
# tenants are untouched. The check records the commands you send, lands a second
# invalidation in the middle of yours (two must count as two), and starts from a tenant
# invalidated before (its retired keys must stay retired).

# %%
def invalidate_tenant(store, tenant_id):
    ...   # your code: one line is enough

ex.tenant.check(invalidate_tenant);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def invalidate_tenant(store, tenant_id):
#     invalidation.VersionedNamespace(store, f"tenant:{tenant_id}").bump()
# ```
# One `INCR` on `tenant:7:gen`. Every key of the tenant was built from the old
# generation, so no reader will ask for it again, and its TTL frees the memory.
# </details>
#
# **2. Find and fix the race.** This is the naive cache-aside reader. Run the cell as
# it is: the check replays the bad interleaving against it (a writer commits and
# deletes the key right after your database read) and shows the commands your reader
# sent. Then fix it so that no stale entry survives and the cache is still filled (with
# its 300 s TTL) when nobody is writing. The check also sends readers in while another
# is filling the key, and kills one mid-query to see what it leaves behind on the store.
# `store.set(..., nx=True)` and `store.compare_and_set(key, expected, value,
# ttl_seconds=...)` are all you need.

# %%
import uuid
from labkit.database import Row
from labkit.invalidation import LEASE_PREFIX

def read_item(store, db, row_id):
    key = f"item:{row_id}"
    cached = store.get(key)
    if cached is not None:
        return Row.from_cache(cached)
    row = db.read(row_id)
    store.set(key, row.to_cache(), ttl_seconds=300)
    return row

ex.race.check(read_item);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def read_item(store, db, row_id):
#     key = f"item:{row_id}"
#     cached = store.get(key)
#     if cached is not None and not cached.startswith(LEASE_PREFIX):
#         return Row.from_cache(cached)
#     token = LEASE_PREFIX + uuid.uuid4().hex
#     leased = cached is None and store.set(key, token, ttl_seconds=10, nx=True)
#     row = db.read(row_id)
#     if leased:  # refused if a writer deleted the key (and our lease) meanwhile
#         store.compare_and_set(key, token, row.to_cache(), ttl_seconds=300)
#     return row
# ```
# The lease's own TTL (10 s) frees the key if a reader dies while holding it. A
# reader that finds someone else's lease reads the database without filling the
# cache; a production version might wait a few milliseconds and retry instead.
# </details>
#
# **3. A near cache that survives lost messages.** Write the near cache from section 2:
# `on_invalidation(seq, key)` is called for every message that arrives (numbers 1, 2,
# 3, ... in publishing order, though a message may be lost or arrive late), and
# `on_reconnect()` when the subscription comes back after a drop. The base class gives
# you `self.drop(key)` and `self.clear()`. The check replays six scenarios against
# your class: messages in order, a lost message, messages out of order, a disconnect,
# normal traffic after a gap, and a late message followed by an in-order one. It refuses
# a cache that serves an old row when it could have known better, and also one that
# flushes when nothing was lost.

# %%
class LossSafeNearCache(invalidation.NearCache):
    """A near cache that stays correct when invalidation messages are lost."""
    last_seq = 0   # the newest message number seen so far

    def on_invalidation(self, seq, key):
        """Message number `seq` (1, 2, 3, ...) says `key` changed."""
        ...

    def on_reconnect(self):
        """The subscription dropped and came back: messages published meanwhile are lost."""
        ...

ex.loss_safe.check(LossSafeNearCache);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# class LossSafeNearCache(invalidation.NearCache):
#     last_seq = 0
#
#     def on_invalidation(self, seq, key):
#         if seq > self.last_seq + 1:   # numbers skipped: a message was lost
#             self.clear()
#         else:
#             self.drop(key)
#         self.last_seq = max(self.last_seq, seq)   # a late message never moves it back
#
#     def on_reconnect(self):
#         self.clear()
# ```
# The flush is the only safe answer to "something changed, I do not know what". The
# `max` matters: a cache that forgets to advance its count after a gap sees every
# later message as another gap and flushes forever.
# `invalidation.AppInstance(..., near_cache=LossSafeNearCache)` runs it over real pub/sub.
# </details>
#
# **4. A TTL backstop for a staleness budget.** Prices may be at most **60 s** out of
# date. Redis copies expire after **45 s**, and each app instance keeps a near-cache
# copy on top. Invalidations normally arrive, but you must plan for one that is lost
# at both layers. What is the longest near-cache TTL, in seconds, that keeps every
# read within budget? The check measures the worst case by simulation.

# %%
near_ttl_seconds = ...   # seconds
ex.budget.check(near_ttl_seconds);

# %% [markdown]
# <details><summary>Solution</summary>
#
# 15 s. In the worst case a near cache copies the Redis entry just before it expires,
# after it has already been stale for almost 45 s, and keeps that copy for its own
# TTL: 45 + 15 = 60 s. **Staleness adds up across layers.**
# (`invalidation.stacked_worst_case(45, 15)` runs the simulation.)
# </details>
#
# ## Key takeaways
#
# * Decide how each kind of data gets corrected **before** caching it. Every key gets a
#   **TTL**, because the TTL is the only mechanism that still works when the others fail.
# * A TTL bounds staleness at the TTL, no better. Event-driven invalidation makes the
#   common case fresh, but pub/sub loses messages, so keep the TTL behind it, number
#   the messages, and **flush the near cache on a gap or a reconnect**.
# * **Versioned keys** turn "invalidate thousands of keys" into one `INCR` with no scan,
#   at the price of a second lookup per read and old keys waiting out their TTL.
# * Cache-aside has a **stale-set race**. Close it with a lease (a token checked at set
#   time) or version-checked write-through. A short TTL only limits the damage.
# * Staleness **adds up** across layers: a near cache on top of Redis can be as stale as
#   both TTLs together.
#
# ## Further reading
#
# * Rajesh Nishtala et al., "Scaling Memcache at Facebook", USENIX NSDI 2013: leases
#   (tokens the memcache server issues on a miss and checks on the set) against stale
#   sets and thundering herds; invalidations driven by the database's commit log.
# * Cary Gray and David Cheriton, "Leases: An Efficient Fault-Tolerant Mechanism for
#   Distributed File Cache Consistency", ACM SOSP 1989: where the lease idea comes from.
# * Martin Kleppmann, *Designing Data-Intensive Applications* (O'Reilly, 2017), ch. 11:
#   caches as derived data kept current from a change log.
# * Redis documentation (redis.io/docs): "Pub/Sub" (at-most-once delivery), "Client-side
#   caching" (server-assisted invalidation with `CLIENT TRACKING`; its clients flush
#   their local cache when the invalidation connection drops), `SCAN` (the `COUNT`
#   option, default 10), and "Scripting with Lua".

# %%
for instance in (a, b):
    instance.close()
bus.close()
db.close()
store.reset();
