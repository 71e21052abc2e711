# %% [markdown]
# # 09 · Scaling out: a real Redis Cluster
#
# When one cache server is not enough, you shard: many servers, each holding part of the
# keys, most of them with a replica. That buys capacity and availability, and it brings a
# new set of failures. A multi-key command stops working. One hot key saturates one shard
# while the others idle. A replica answers with a value older than the write that just
# succeeded. A failover stops the whole cluster for a moment and quietly drops writes that
# were acknowledged, deletes included. This notebook causes each of them on a **real Redis
# Cluster started on your machine**.
#
# | | |
# |---|---|
# | **What you'll learn** | how a key finds its node (16,384 **hash slots**, **hash tags**) and why a multi-key command fails with `CROSSSLOT`; what moves when a node joins: modulo, hash slots, a hash ring, rendezvous and jump hashing, and the **miss storm** of client-side sharding; how `MOVED` and `ASK` redirects let clients follow moving data; how to find and fix a **hot key** (near cache with `CLIENT TRACKING`, copies, replica reads); stale reads from **replicas**, `WAIT`, and **read-your-writes** routing; what a **failover** costs: a `CLUSTERDOWN` window on every node, lost writes, and a lost `DEL` that brings old values back |
# | **What you need** | notebook 01 (cache-aside) and notebook 02 (invalidation, the stale-set race) |
# | **Time** | 45 minutes (30 teaching and experimenting + 15 for the exercises) |
#
# **The cluster.** The next cell starts 3 masters and 3 replicas (plus one spare node for
# section 2) from the `redis-server` program: loopback only, free ports, no data on disk
# (each node's `nodes.conf` and log sit in one folder under `/tmp`). They stop, and the
# folder is deleted, when the last cell runs or the kernel stops, even if it is killed: each
# server is started to die with the kernel's process. Where `redis-server` is not
# installed, the notebook runs the same experiments on **simulated shards**: one fakeredis
# server per node, keys routed with Redis's own slot function, replication lag and failover
# on a virtual clock. Every chart drawn from them says "simulated". Your own Redis
# (`REDIS_URL`) is not touched; all keys live under this notebook's prefix.

# %%
import labkit
from labkit import cluster

store = labkit.start("09", quiet=True)
lab = cluster.start_lab(store)

# %% [markdown]
# ## 1. Where a key lives
#
# Redis Cluster does not map keys to nodes directly. It maps every key to one of **16,384
# hash slots**, with `CRC16(key) mod 16384`, and each master owns a range of slots. A client
# library (here redis-py's `RedisCluster`) keeps the slot-to-node map, so a command goes
# straight to the right node.
#
# A key can choose what gets hashed, with a **hash tag**: take the first `{` in the key and
# the first `}` after it; if at least one character sits between them, only those characters
# are hashed. Otherwise (no braces, or `{}`) the whole key is. That is how related keys are
# kept together.

# %%
labkit.widgets.predict(
    "Do user:42:name and user:42:email land in the same slot?",
    ["yes: they share the prefix user:42", "only by luck: the whole key is hashed", "always on the same node, not the same slot"],
    notebook="09", name="same-slot",
)

# %%
cluster.show_keys(lab)

# %% [markdown]
# ### What to notice
#
# * `user:42:name` and `user:42:email` hash as whole strings: two unrelated slots. A shared
#   prefix means nothing to the hash.
# * With the tag, `{user:42}:name`, `{user:42}:email` and `{user:42}:cart` all hash only
#   `user:42`, so they share one slot and therefore one node.
# * The notebook's key prefix (`labkit:...:09:`) sits outside the braces, so it changes nothing.
#
# Why it matters: a command that touches several keys (`MGET`, `MSET`, a transaction, a
# Lua script) runs on one node, so **all its keys must be in one slot**. The server checks:

# %%
cluster.show_crossslot(lab)

# %% [markdown]
# The first `MGET` was refused by the server with `CROSSSLOT`. The fix is in the key
# design: give keys that are read or written together the same hash tag. (redis-py also
# offers `mget_nonatomic`, which splits the keys by slot and sends one `MGET` **per slot**,
# pipelined per node. It works, but with keys spread over many slots it is many commands,
# and it is not atomic.) Do not put everything under one
# tag either: a tag is one slot, so it all lands on one node, which is the hot-key
# problem of section 3.
#
# Try your own keys: `cluster.key_slot("any key")` returns the slot.

# %%
print(cluster.key_slot("{user:42}:name"), cluster.key_slot("user:42:name"))

# %% [markdown]
# ## 2. Adding a node
#
# Five ways to decide which of N nodes holds a key:
#
# * **modulo**: `hash(key) % N`, the first thing everyone writes;
# * **hash slots** (Redis Cluster): keys to 16,384 slots, slots to nodes. A new node is given
#   a share of the slots;
# * **consistent hashing** (Karger et al., 1997; memcached clients such as ketama): nodes own
#   arcs of a ring, each placed at many *virtual* points;
# * **rendezvous hashing** (Thaler and Ravishankar, 1998): every node scores every key with a
#   hash of (key, node), and the highest score wins. No ring, no virtual nodes; a lookup
#   costs one hash per node;
# * **jump hashing** (Lamping and Veach, 2014): ten lines of arithmetic and no table at all,
#   but the nodes are numbered, so only the last one can leave.
#
# With **client-side sharding** (memcached style) the servers know nothing of each other. A
# key that changes owner is simply a miss on its new node, and the database pays for it.

# %%
labkit.widgets.predict(
    "With hash(key) % N, going from 3 to 4 nodes: what share of keys change node?",
    ["about 25%: the new node's share", "about 50%", "about 75%"],
    notebook="09", name="modulo",
)

# %%
cluster.explore_rehash()

# %% [markdown]
# ### What to notice
#
# * Left: modulo moves **{claim:modulo_moved_share:.0%}** of the keys from 3 to 4 nodes, the
#   formula `n/(n+1)`. Nearly every key changes owner, because `h % 3` and `h % 4` rarely agree.
#   The four others move only the new node's share, `1/(n+1)`, and only *to* the new node.
# * Set **virtual nodes** to 1: with one point per node the ring is lopsided. Here the
#   newcomer took **{claim:ring_one_vnode_share:.1%}** of the keys instead of 25%. Many points per node
#   even it out.
# * Right: with modulo sharding, the join sends **{claim:modulo_storm_reads}** extra reads to the
#   database, most of them in the first seconds. The cache was warm, and the keys just ended
#   up on nodes that do not have them. Redis Cluster has no storm, because it moves the data.
#
# Moving few keys is half of the job; the other half is spreading them evenly, so that no
# node fills up first.

# %%
labkit.widgets.predict(
    "10,000 keys on 4 nodes: which scheme leaves its busiest node with the most keys?",
    ["modulo", "a ring with one point per node", "rendezvous hashing"],
    notebook="09", name="spread",
)

# %%
cluster.show_spread()

# %% [markdown]
# ### What to notice
#
# * With one point per node the ring's arcs are as uneven as the points fell: the busiest
#   node holds **{claim:ring_one_point_spread:.1f}×** a fair share. With 160 points it is
#   {claim:ring_spread:.2f}×, still the least even of the rest.
# * Rendezvous hashing is within {claim:rendezvous_spread:.2f}× of even with no virtual nodes, and jump
#   hashing moved {claim:jump_moved_share:.1%} of the keys, exactly the newcomer's fifth. Modulo spreads
#   evenly too: its problem is only what it moves.
# * Hash slots are even because each master got an equal range of slots. A real cluster
#   drifts (a resharding moves whole slots, and keys are not spread evenly over slots), which
#   is why `redis-cli --cluster rebalance` exists.
#
# Now do it for real: add a fourth master and move it a quarter of the slots. Each slot that
# holds keys is marked *migrating* on the old owner and *importing* on the new one, its keys
# move (`MIGRATE`), and then the slot is handed over (`CLUSTER SETSLOT ... NODE`); an empty
# slot is simply handed over. A client that read the slot map before the change reads every
# key twice: once when the keys of half of those slots have moved, and once after.

# %%
cluster.show_reshard(lab)

# %% [markdown]
# ### What to notice
#
# * **{claim:slots_moved_share:.1%}** of the keys moved: the keys of the quarter of slots that
#   changed hands, within a point of `1/(n+1)` = 25%.
# * Mid-migration, the old owner answered `ASK` for each key that had already left
#   ({claim:ask_redirects} times): "ask over there, this once". The client sends `ASKING` plus
#   the command to the new node, and keeps its map.
# * After the handover the old owner answered `MOVED` ({claim:moved_redirects} times): "this slot
#   lives there now". Each user's four keys share a slot, and this lab's reader updates its
#   map for the whole slot, so it got one `MOVED` per slot that moved, not one per key. Every
#   read returned the right value, and none went to a database.
# * redis-py's `RedisCluster` does a little more: it patches the one slot on a `MOVED`, and
#   after every fifth (`reinitialize_steps=5`) it re-reads the whole slot map, as the cluster
#   specification advises, since one moved slot usually means others moved too.
#
# ## 3. The hot key
#
# Slots spread *keys* evenly, but not *traffic*. Here 10,000 reads hit 1,000 products with a
# Zipf popularity (alpha 1.2), so product 0 alone takes about **{claim:hot_key_share:.0%}** of
# them. Each master's own `INFO commandstats` counts what it served (on simulated shards, a
# counter per node does). Two fixes are measured:
#
# * a **near cache** in the app: hot values kept in process memory. To stay correct, the
#   app turns on **server-assisted invalidation** (`CLIENT TRACKING`): each node remembers
#   which keys this client read and sends an invalidation message when one changes.
#   (redis-py's built-in client-side cache needs Redis 7.4+. Here a small client does the same
#   over RESP2, with one connection subscribed to `__redis__:invalidate` per node.)
# * **copies** of the hot key under different tags (`{product:0#0}` ... `{product:0#5}`), so
#   they land in different slots; each read picks one copy, and each write must update all.

# %%
labkit.widgets.predict(
    "A quarter of all reads are for one product. What share of all commands does its master serve?",
    ["a fair share, like the others", "well over a fair share", "nearly all of them"],
    notebook="09", name="hot-share",
)

# %%
cluster.explore_hot_key(lab)

# %% [markdown]
# ### What to notice
#
# * Without a fix, one master served **{claim:hot_node_share:.0%}** of all commands; a fair
#   share among the four masters is a quarter (the dashed line). Under real load that master runs
#   out of CPU first while the others still have room, and adding nodes does not help: the
#   hot key is in one slot, and a slot is never split.
# * With the near cache, **{claim:near_cache_hits}** of 10,000 reads never left the app, and the
#   busiest master's share fell to **{claim:near_cache_node_share:.0%}**.
# * Copies brought it to **{claim:copies_node_share:.0%}** at the default of six, not to a fair share. A
#   copy's slot comes from hashing its name, so nothing spreads the copies one per master: the
#   labels under the bars count the copies each master holds, and the busiest one holds two of
#   the six (with more copies than masters, some master must). Drag the slider and watch.
#   Copies are not free either: each update is now six writes. They suit a key that is read
#   far more than written.
# * A third fix is already running: the **replicas**. A client may read from them (`READONLY`
#   on the connection; `read_from_replicas=True` in redis-py), which doubles the nodes that can
#   serve the hot key, at the price of the stale reads of section 4.
# * The chart opened on runs measured on the cluster. On a real cluster, moving the slider
#   shows a **preview** at once: the same experiment on simulated shards shaped like your
#   cluster (same masters, same slot map, so the same counts), labelled "simulated preview".
#   **Run live** measures the current setting on the real cluster (about half a second).
#
# The near cache is only safe because the server tells it about changes. Watch one change
# arrive:

# %%
cluster.show_near_cache(lab)

# %% [markdown]
# The second read never reached the cluster. When another client changed the key, the node
# sent one invalidation message, the near cache dropped its copy, and the third read fetched
# the new value. Without tracking, that copy would have stayed wrong until a TTL ran out.
#
# The near cache is safe only while its invalidation connection is up: a message sent while
# it is down is lost, and the node forgets what this client read. So on every reconnect the
# near cache must drop everything it holds, as notebook 02 teaches for any invalidation
# channel (and a failover, section 5, is such a reconnect).
#
# ## 4. Replicas and lag
#
# Each master streams its writes to its replica, **asynchronously**. A write is acknowledged
# as soon as the master has it, and the replica applies it a little later: microseconds on a
# quiet laptop, seconds on a busy or distant server. Reading from replicas scales reads,
# and it can return a value older than a write that already succeeded.
#
# The experiment: a user saves their profile, then reloads it three times within 0.2 s, and
# once more at 0.7 s. The replica lags (on the real cluster it is paused with `CLIENT PAUSE
# WRITE`: it still answers reads, but applies nothing). Three routers serve the reloads:
# always the **replica**, always the **primary**, and **read-your-writes**, which sends *this
# user's* reads of a key to the primary for 0.6 s after their own write. The staleness meter
# compares every read with the database.

# %%
labkit.widgets.predict(
    "The replica lags 0.4 s. Of the user's three quick reloads from the replica, how many show the old profile?",
    ["none: 0.4 s is nothing", "some of them", "all three"],
    notebook="09", name="replica-lag",
)

# %%
cluster.explore_replicas(lab)

# %% [markdown]
# ### What to notice
#
# * Every reload inside the lag read the old profile from the replica: **{claim:replica_stale_reads}
#   of the 8** reloads it served (two rounds of four) were stale. The user saved, reloaded and saw the save undone.
# * Read-your-writes had **{claim:ryw_stale_reads}** stale reads. Only this user's reads of a
#   key they had just written went to the primary; the reload at 0.7 s, after the window, went
#   back to the replica, which had caught up, and so would every other user's reads. The
#   window must be longer than the worst lag you expect; move the slider and watch the counts.
# * On a real cluster the chart opened on a real run (the replica paused for 0.4 s). Another
#   lag is previewed at once on simulated shards, on a virtual clock (the title says
#   "simulated preview"); **Run live** pauses the real replica for it, which takes about 1.5 s
#   of real time.
#
# The first round, read by read:

# %%
cluster.show_replica_timeline(lab)

# %% [markdown]
# `WAIT n timeout` makes a writer block until `n` replicas have the write (or the timeout
# passes) and says how many did. It does not make replication synchronous, but it tells the
# writer whether the write is on a second machine yet:

# %%
cluster.show_wait(lab)

# %% [markdown]
# **The stale-set race, across machines.** Notebook 02's race needs an unlucky interleaving
# of a few milliseconds. A lagging *database* replica widens it to the whole lag. The writer
# commits and deletes the cached row, a reader misses 50 ms later, and it refills the cache
# from a replica that has not applied the commit yet. The old row is back, for a whole TTL.
# This one is **simulated**: the lab's database and its replica run on a virtual clock (no
# real database replica is started), so the count is the same on every run:

# %%
cluster.show_replica_fill()

# %% [markdown]
# Filling from the lagging replica left **{claim:replica_fill_stale_reads}** stale reads in the next
# minute. Two fixes: fill from the primary, or delete the key again once the lag has
# passed. Facebook's memcache (NSDI 2013) meets the same race between regions and marks
# such keys so readers go to the primary region.
#
# ## 5. Failover
#
# Crash a master and the cluster finds out in steps. Each node marks it *PFAIL* ("possibly
# failing") once it has not answered for the **node timeout** (1.5 s here, 15 s by default),
# and *FAIL* when a majority of masters agree. The dead master's replica then waits
# 500 ms + a random 0-500 ms (+ 1 s for each replica ahead of it), asks the masters for
# votes, and takes over the slots. This lab runs with `cluster-require-full-coverage yes`,
# the default: while a slot's owner is marked FAIL, a node refuses **every** command with
# `CLUSTERDOWN`, whichever slot it asks for.
#
# The experiment: 80 writes that reached the replica, then 20 more that the master
# acknowledged while its replica lagged, then the master crashes (`SIGKILL`). Every 50 ms a
# client asks each master for one of its own keys (the crashed master's key through another
# master, following `MOVED`).

# %%
labkit.widgets.predict(
    "One master of four crashed. What do clients get for keys on the other three masters?",
    ["normal answers: their slots are fine", "errors for a moment, then normal answers",
     "errors until the crashed master is restarted"],
    notebook="09", name="clusterdown",
)

# %%
cluster.explore_failover(lab)

# %% [markdown]
# ### What to notice
#
# * At first only the crashed master's keys failed (no answer). Once the others marked it
#   FAIL, all **{claim:masters_refusing}** masters answered `CLUSTERDOWN`: for that window the
#   whole cluster was down, not only a quarter of it. Then the replica was promoted and every
#   key answered again. The times are in the title (on simulated shards they replay those
#   measured on this lab's local cluster).
# * A cache client needs a short timeout and a fallback for that window (notebook 08).
#   `cluster-require-full-coverage no` keeps the healthy slots serving, at the price of a
#   cluster that answers some keys and not others.
#
# The crashed master had also acknowledged things its replica never applied. Among them was a
# `DEL`: the writer had updated a price in the database and deleted the cached copy, as
# cache-aside does (notebooks 01 and 02).

# %%
labkit.widgets.predict(
    "The cache's DEL of a price was acknowledged, then the master crashed before its replica applied it. After the failover the key is...",
    ["gone: the DEL was acknowledged", "back, with the old price, until its TTL ends", "back, but expired at once"],
    notebook="09", name="lost-del",
)

# %%
cluster.show_failover_losses(lab)

# %% [markdown]
# ### What to notice
#
# * **{claim:lost_acknowledged_writes} of 20** acknowledged writes were lost: they were on the
#   master only. For a cache, a lost `SET` is usually harmless: the next read misses and
#   refills from the database.
# * A lost `DEL` is not harmless. The invalidation is undone, and the promoted replica serves
#   the old price with its old TTL ({claim:deleted_key_ttl:,} seconds left here), exactly the stale
#   value notebook 02's race leaves behind, with no race needed. Defences: a TTL short enough
#   to bound the damage; `WAIT 1` after an invalidation that matters (it narrows the window,
#   but a failover can still pick a replica that missed it); or deleting again later, like the
#   delayed second delete of section 4.
# * The same holds for a database of record: Redis replication is asynchronous, so an
#   acknowledged write is not a durable one.
#
# ## Exercises
#
# Replace each `...`, run the cell, and read the verdict. `.hint()` helps; `.solution()`
# shows one answer.

# %%
ex = cluster.exercises(store)

# %% [markdown]
# **1. Write a read-your-writes router.** `wrote(key)` is called after this client's
# write to `key` is acknowledged; `route(key)` must return `"primary"` or `"replica"` for
# its next read. The check replays a user's writes and reloads against a replica that lags
# 0.5 s, with `window_seconds = 1.0`: no reload may see an old value (a second write to a
# key counts too), and reads that any replica could serve must go to the replica. Time in
# the replay is the `clock` you are given: `clock.now()`.

# %%
class MyRouter:
    def __init__(self, clock, window_seconds):
        ...

    def wrote(self, key):
        """This client's write to key was acknowledged by the primary."""
        ...

    def route(self, key):
        """Return "primary" or "replica" for this client's next read of key."""
        ...

ex.read_your_writes.check(MyRouter);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# class MyRouter:
#     def __init__(self, clock, window_seconds):
#         self.clock, self.window_seconds = clock, window_seconds
#         self.last_write = {}
#
#     def wrote(self, key):
#         self.last_write[key] = self.clock.now()
#
#     def route(self, key):
#         written = self.last_write.get(key)
#         if written is not None and self.clock.now() - written < self.window_seconds:
#             return "primary"
#         return "replica"
# ```
#
# The replays catch the routers people really write, and say what they saw: one that
# **forgets after the first read** (two tabs reloading at once get different answers), a
# **window shorter than the replica lag** (a hard-coded 100 ms), one that **records only the
# first write** (`setdefault`: a second save does not restart the window), **one time for all
# keys** (every read goes to the primary after any write), and one that **measures time with
# the wall clock** (`time.time()` instead of the `clock` it was given). Storing the moment
# the window ends (`now + window_seconds`) works just as well.
# </details>
#
# **2. Size the copies of a hot key.** A key gets **200,000 reads/s**. Each master serves
# at most **50,000 commands/s**, and the other keys already take **15,000/s** of each. With
# each copy on its own master, how many copies do you need?

# %%
copies = ...
ex.hot_key_copies.check(copies);

# %% [markdown]
# <details><summary>Solution</summary>
#
# Each master has 50,000 - 15,000 = 35,000 reads/s to spare, and 200,000 / 35,000 = 5.7, so
# **6 copies** (each then takes about 33,000/s). Four ignores the other keys' load, and five
# rounds down. Each copy also multiplies the cost of every update of the key.
# </details>
#
# ## Key takeaways
#
# * A cluster maps keys to **16,384 slots** and slots to masters. Keys used together need one
#   **hash tag**, or multi-key commands fail with `CROSSSLOT`; one tag for everything
#   makes one hot slot.
# * Adding a node moves `1/(n+1)` of the keys with slots or a ring (with many virtual
#   nodes), but `n/(n+1)` with modulo. With client-side sharding every moved key is a
#   database read. Redis Cluster moves the data and redirects clients (`ASK`, then `MOVED`).
# * A **hot key** is a single-node problem that more nodes cannot fix. Cache it in the app
#   with server-assisted invalidation (`CLIENT TRACKING`), or spread copies over slots and
#   pay for each write several times.
# * Replicas return **old values**. Route a user's reads to the primary for a window after
#   their writes, use `WAIT` when a write must be on two machines, and never refill a cache
#   from a lagging replica right after an invalidation.
# * Slots and rings move `1/(n+1)` of the keys when a node joins; a ring needs many virtual
#   nodes to spread them evenly, rendezvous and jump hashing do not.
# * A **failover** means a window in which the whole cluster answers `CLUSTERDOWN`, and the
#   acknowledged writes the replica had not applied are lost. A lost `SET` costs a miss; a lost
#   `DEL` serves the old value for a whole TTL. Keep TTLs as a safety net.
#
# ## Further reading
#
# * Redis Cluster specification (redis.io/docs/reference/cluster-spec): slots, hash tags,
#   `MOVED`/`ASK`, failure detection and replica election.
# * redis-py documentation: "Clustering" (`RedisCluster`, `read_from_replicas`,
#   `load_balancing_strategy`) and "Client-side caching" (needs Redis 7.4+); Redis docs,
#   "Client-side caching in Redis" (`CLIENT TRACKING`, RESP2 `REDIRECT`).
# * David Karger, Eric Lehman, Tom Leighton, Rina Panigrahy, Matthew Levine and Daniel Lewin,
#   "Consistent Hashing and Random Trees", STOC 1997.
# * David Thaler and Chinya Ravishankar, "Using Name-Based Mappings to Increase Hit Rates",
#   IEEE/ACM Transactions on Networking, 1998 (rendezvous hashing); John Lamping and Eric Veach,
#   "A Fast, Minimal Memory, Consistent Hash Algorithm", 2014 (jump hashing).
# * Rajesh Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013: regions, replicas and
#   remote markers, hot keys.
# * Martin Kleppmann, *Designing Data-Intensive Applications*, O'Reilly 2017: chapter 5
#   (replication, replication lag, read-your-writes) and chapter 6 (partitioning, rebalancing).

# %%
lab.close()
store.reset();
