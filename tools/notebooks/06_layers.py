# %% [markdown]
# # 06 · Cache layers: browser, CDN, application, database
#
# A page view can be answered by four caches before it reaches the database: the
# shopper's **browser**, a **CDN** edge shared by everyone nearby, the **application
# cache** (Redis) inside the origin, and the database's own **query cache**. The nearer
# a layer sits to the user, the faster it answers and the less control you keep over
# what it holds. In this notebook every one of those layers is real code on a real
# request path: the origin is an HTTP server on your machine, and the browser and CDN
# caches decide what to store and reuse by the HTTP caching standard (RFC 9111).
#
# | | |
# |---|---|
# | **What you'll learn** | where a page view's time goes at each layer, and why the wire dominates; how `Cache-Control` (`max-age`, `s-maxage`, `public`, `private`, `no-store`, `no-cache`), `ETag` and `Vary` steer each layer; what a `304 Not Modified` saves and what it does not; how stale each layer can be and who can purge it; the **shared-cache leak** that shows one user's account page to another, and its fix |
# | **What you need** | notebook 00 (the staleness meter); notebook 02 (invalidation) helps |
# | **Time** | 25 minutes (15 teaching + 10 exercises) |

# %%
import labkit
from labkit import layers

store = labkit.start("06")
lab = layers.Lab(store)
print(lab.describe())

# %% [markdown]
# The last line names the origin server the lab just started: a small shop on
# `127.0.0.1` (this machine only, never a public interface) and a free port. It serves
# four kinds of page:
#
# | page | what it is | the same for everyone? |
# |---|---|---|
# | `/static/app.3f9a2c1e.js` | the site's script; the hash in the name changes whenever the file does | yes |
# | `/product/7` | a product page with its price | yes |
# | `/account` | the signed-in user's orders (the session cookie says who) | **no** |
# | `/search?q=lamp` | search results | yes |
#
# Each experiment builds a fresh copy of the whole path: one browser cache per
# shopper, one CDN, the origin with its Redis application cache and a SQLite database
# with a result cache in front of it (see below for what that layer is today). Bytes travel over real HTTP; the time each hop takes comes from a
# latency model (a shopper 10 ms from the CDN edge, the origin 30 ms further, a 20 ms
# query) on a virtual clock, so ten simulated minutes replay in about a second.
#
# ## 1. One page view, four layers
#
# Five page views of the same product page, each answered by a different layer. The
# product page sends `Cache-Control: public, max-age=60, s-maxage=300`: browsers may
# keep it 60 s, shared caches 300 s.

# %%
labkit.widgets.predict(
    "The first view of a page nobody has opened yet takes about 120 ms. Where does most of that time go?",
    ["the database query", "rendering the page", "the network between shopper, CDN and origin"],
    notebook="06", name="waterfall",
)

# %%
layers.explore_waterfall(lab)

# %% [markdown]
# ### What to notice
#
# * The cold view crosses every layer ({claim:cold_view_ms:.0f} ms). {claim:cold_wire_share:.0%} of its time is **on the wire**
#   (hatched): two round trips and the 40 KB body. The 20 ms query is the largest
#   single piece on the server, yet a cache at the origin can only ever remove that part.
# * Shopper B, a second later, is answered by the **CDN**: no origin work at all, one
#   short round trip plus the body. Shopper A's second view never leaves the
#   **browser**: well under a millisecond.
# * Two minutes later A's browser copy is past its 60 s, so the browser asks the CDN
#   "is my copy still good?" with `If-None-Match` and gets a **304**: a round trip with
#   no body.
# * Seven minutes later even the CDN's copy is past 300 s; the CDN revalidates with the
#   origin. The app cache's 30 s have long passed too, but the **query cache** still
#   holds the row, because nothing has written to the table since.
# * Drag the **CDN ↔ origin round trip** to 200 ms (an origin on another continent): the
#   cold view and the CDN's revalidation grow, the CDN hit does not. Set the product
#   headers to `no-store` and every view pays the full trip.
#
# ## 2. Hit ratios and latency as traffic grows
#
# A shared cache only pays off when people share. Here 1 to 125 shoppers each make five
# page views in ten minutes (products, the script, their account, searches) while
# prices change about once a minute.

# %%
labkit.widgets.predict(
    "Going from 1 shopper to 125, what happens to the share of requests the browsers and the CDN answer?",
    ["it stays about the same: each shopper's views are their own",
     "it rises: more shoppers reuse the same copies",
     "it falls: more shoppers, more misses"],
    notebook="06", name="traffic",
)

# %%
layers.explore_traffic(lab)

# %% [markdown]
# ### What to notice
#
# * One shopper gets almost nothing from the caches: five views, five different pages.
#   With 125 shoppers, the browsers and the CDN answer **{claim:edge_share_many_users:.0%}** of all requests,
#   and the median view gets faster, from {claim:median_ms_one_user:.0f} ms to {claim:median_ms_many_users:.0f} ms.
# * The **CDN** band grows the most: it is the one layer whose copies are shared. The
#   **browser** band stays thin, because each browser only reuses its own views.
# * Switch product and search pages to `private, max-age=60`: the CDN may no longer
#   share them, its band shrinks and the origin's share climbs. `private` is the right
#   header for per-user pages and an expensive one for public pages.
#
# ## 3. Revalidation: a 304 saves the body, not the round trip
#
# When a stored copy is too old to use as it is, a cache does not have to throw it
# away. If the response carried an `ETag` (a fingerprint of the body), the cache asks
# the next layer with `If-None-Match: <etag>`. If the page has not changed, the answer
# is `304 Not Modified`: headers only, and the cache serves the copy it already has.

# %%
labkit.widgets.predict(
    "On a 20 Mbit/s line, a 304 from the CDN compared with the full 40 KB page from the CDN is...",
    ["about as slow: the round trip dominates",
     "about half the time: it skips the transfer, not the round trip",
     "almost free, like a browser hit"],
    notebook="06", name="revalidation",
)

# %%
layers.explore_revalidation(lab)

# %% [markdown]
# ### What to notice
#
# * The 304 carries about 0.3 KB instead of 40 KB, but it still takes a full round trip
#   to the CDN: **{claim:not_modified_share_of_full:.0%}** of the time of a full fetch on this line. Only a fresh copy
#   in the browser is (nearly) free.
# * Drag **your connection** down to 2 Mbit/s: the full page crawls and the 304 barely
#   changes. Drag it up to 1000 Mbit/s: the two converge, because only the round trip is
#   left. Switch to the 150 KB **asset** to see the body matter more.
# * A 304 from the origin saves origin *work* only when the ETag is cheap to know. If
#   the origin must build the page to fingerprint it, the 304 saves bandwidth, not
#   server work. Store a hash (or a version number) with the data when it is written,
#   and the origin can answer `If-None-Match` from that alone. Caching at the layers in
#   front saves both.
#
# ## 4. The price of each layer: how stale, and who can purge it
#
# A price changes at time 0. Thirty shoppers keep looking at that product for ten
# minutes. Each dot below is one page view; its height is how long ago the price it
# showed had stopped being true.

# %%
labkit.widgets.predict(
    "The page is `public, max-age=60, s-maxage=300` and the origin deletes its own Redis key on the write. Who shows the old price longest?",
    ["the browsers: up to 60 s", "the CDN: up to 300 s", "nobody: the write invalidates everything"],
    notebook="06", name="staleness",
)

# %%
layers.explore_staleness(lab)

# %% [markdown]
# ### What to notice
#
# * The origin deleted its Redis key and the database emptied its query cache at the
#   moment of the write, so those layers were never stale. The **CDN** kept serving its
#   copy until it expired: here for up to **{claim:cdn_worst_stale_seconds:.0f} s**, because its copy was already 100 s
#   old when the price changed. In the worst case it is the full `s-maxage`.
# * The browsers were never staler than the CDN. A CDN reports each copy's age in the
#   `Age` header, and a browser counts its `max-age` from when the origin made the page,
#   not from when the browser received it.
# * Tick **purge the CDN on write**: the CDN's dots drop to zero, and here every dot
#   does, because the browsers' copies came from a CDN copy that was already more than
#   60 s old. Now drag **CDN s-maxage** down to 30 s: the browsers hold younger copies,
#   and they show the old price for up to 60 s. No purge can reach a browser.
# * Keep the purge, put s-maxage back to 300 s and untick **delete the app cache key on
#   write**: the old price now lasts up to **{claim:purge_without_app_invalidation_seconds:.0f} s**, longer than with no purge at all.
#   The purge made the CDN refetch at once, from an origin whose Redis copy was still
#   the old one, and that refetched copy started a fresh 300 s. Invalidate from the
#   inside out: the origin's cache first, then the CDN.
#
# Who can correct each layer:
#
# | layer | shared? | how stale it can be | who can purge it |
# |---|---|---|---|
# | browser | no, one user | its `max-age` (counted from when the origin made the page) | nobody but the user; you can only wait, or change the URL |
# | CDN | yes, everyone near an edge | its `s-maxage` (else `max-age`) | you, with the CDN's purge API, at every edge |
# | app cache (Redis) | yes, all app servers | its TTL | you: delete the key on write |
# | query cache | yes | none: any write to the table empties it | the database, automatically |
#
# A word on that last row. MySQL's query cache worked exactly like this, and it was
# removed in MySQL 8.0 (its global lock and its all-or-nothing invalidation cost more
# than it saved); PostgreSQL never had one. Today the database layer is the buffer pool
# (pages in memory, always correct) and, where people want results cached, a
# **result cache they run themselves** in front of the database: a proxy such as
# ProxySQL, or a read replica with a materialised view. The lab's query cache plays
# that role: correct because every write to the table empties it, useful only for
# tables that are read far more often than written.
#
# Use the layer closest to the user **that can still serve a correct answer**. A price
# that must be right within a minute can sit in browsers for 30 s and in the CDN for
# 60 s, or longer in the CDN if every price change purges it.
#
# ## 5. The leak: one user's page, served to another
#
# Suppose someone makes the account page faster by giving it the headers that work so
# well for product pages: `Cache-Control: public, max-age=60`. `public` tells every
# cache, including the shared CDN, that one copy may serve everyone. Here is what two
# users see:

# %%
site = lab.site(headers={"account": layers.LEAKY_ACCOUNT})
layers.describe([site.get(0, "/account"), site.get(1, "/account")])

# %% [markdown]
# User 1 asked for *their* account and received user 0's orders, straight from the
# CDN, without the origin ever hearing about it. Nothing errored and nothing was
# logged: the CDN did exactly what the header allowed. Now the same mistake with
# thirty users:

# %%
labkit.widgets.predict(
    "Thirty users each open their account page a few times in five minutes, with `public, max-age=60`. How many see someone else's page?",
    ["one or two, by bad luck", "about half", "nearly all of them"],
    notebook="06", name="leak",
)

# %%
layers.explore_leak(lab)

# %% [markdown]
# ### What to notice
#
# * With `public, max-age=60`, **{claim:leaked_users} of the 30 users** saw another user's account: the
#   first user's page is served to everyone for the next minute, then the next one's.
# * Choose `private, max-age=60`: every user sees only their own page. `private` means
#   "only the user's own browser may store this", so the CDN passes it through. The
#   caption confirms the CDN holds **no** copy of `/account`.
# * Now tick **two users per laptop** (a family computer). With `private, max-age=60`,
#   the second person on a laptop is shown the first one's page, from the **browser**.
#   `Vary: Cookie` tells the browser the stored page only answers a request with the
#   same cookie. A browser keeps **one** response per URL: when the cookie differs, the
#   lookup is a miss and the new user's page replaces the old one. It is not one copy
#   per user, but it is never the wrong user's. `no-cache` (always revalidate) also fixes it.
# * Never rely on `Vary: Cookie` to keep users apart at a **CDN**: vendors differ. Some
#   refuse to cache such responses, some ignore `Vary` on cookies, some strip cookies
#   before the cache key is made. `private` is the header every shared cache must obey.
# * An `Authorization` header protects a response from shared caches by default
#   (RFC 9111, section 3.5). Three directives lift that protection: `public`,
#   `s-maxage` and `must-revalidate` each let a shared cache store a response to a
#   request that carried `Authorization`. A session cookie is not protected at all.
#
# ## Exercises
#
# Replace each `...` and run the cell. `.hint()` gives a nudge, `.solution()` one answer.

# %%
ex = layers.exercises(lab=lab)
for endpoint, requirement in layers.REQUIREMENTS.items():
    print(f"{endpoint:8} {requirement}")

# %% [markdown]
# **1. Headers for four endpoints.** Write the response headers for the four pages
# above. Each value is a `Cache-Control` string, or a dict with `Cache-Control` and
# `Vary`. The check replays half an hour of traffic (24 users, two to a laptop,
# prices and accounts changing) through every layer. It fails on any cross-user
# response, on per-user pages stored in the CDN, on pages staler than allowed (seen in the
# replay, or allowed by the headers on a day when a write lands at the worst moment), and on
# needless origin load.

# %%
answer = ...   # {"asset": "...", "product": "...", "account": {"Cache-Control": "...", "Vary": "..."}, "search": "..."}
ex["headers"].check(answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = {
#     "asset":   "public, max-age=31536000, immutable",   # the name changes when it does
#     "product": "public, max-age=60",                     # shared, fresh within 60 s
#     "account": {"Cache-Control": "private, no-cache", "Vary": "Cookie"},
#     "search":  "public, max-age=60",                     # 60 s + the app cache's 30 s < 120 s (90 s at most)
# }
# ```
#
# The account page may also be `private, max-age=30` with `Vary: Cookie`, or `no-store`
# (which passes, but resends the whole page on every view).
# </details>
#
# **2. The worst case.** A product page sends `Cache-Control: public, max-age=60,
# s-maxage=600`. The CDN does not purge on writes. After a price change, at most how many
# seconds can pass until every shopper sees the new price?

# %%
seconds = ...
ex["staleness"].check(seconds)

# %% [markdown]
# <details><summary>Solution</summary>
#
# **600 s.** The CDN may keep its copy for 600 s. Its `Age` header tells each browser
# how old that copy already is, so a browser's 60 s count from when the origin made the
# page: the browser never extends the CDN's staleness. Without `Age` it would be 660 s.
# </details>
#
# ## Key takeaways
#
# * Each layer nearer the user is faster and harder to correct. Use the nearest layer
#   **that can still serve a correct answer**, and decide up front how each one learns
#   about a change: TTL, purge, or deleting the key.
# * `public` + `max-age`/`s-maxage` lets a CDN share one copy among everyone: the biggest
#   win for public pages, and a data leak for per-user ones.
# * Per-user pages are `private` (and `Vary` on whatever identifies the user); sensitive
#   ones `no-store`. Never let a shared layer hold user-specific data.
# * An `ETag` turns "expired" into a cheap 304: it saves the body, not the round trip.
# * A fingerprinted asset never changes under its name, so every layer may keep it for a
#   year (`immutable`).
#
# ## Further reading
#
# * R. Fielding, M. Nottingham, J. Reschke, "HTTP Caching", **RFC 9111**, IETF, 2022 - the rules every layer here follows (sections 3.5 and 4.2 especially).
# * R. Fielding, M. Nottingham, J. Reschke, "HTTP Semantics", **RFC 9110**, IETF, 2022 - `ETag`, `If-None-Match` and `304` (sections 8.8, 13.1.2, 15.4.5).
# * Omer Gil, "Web Cache Deception Attack", Black Hat USA, 2017 - private pages cached by a CDN in the wild.
# * Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013 - the application cache layer at scale.
# * MDN Web Docs, "HTTP caching" and "Cache-Control" (developer.mozilla.org) - a practical reference for every directive used here.
# * hishel documentation (hishel.com) - the RFC 9111 state machine the lab's browser and CDN caches are built on.

# %%
lab.close()
store.reset();
