# %% [markdown]
# # 11 · When the cache is the attack surface
#
# Every notebook so far treated the cache as something that can be stale, slow, full or
# down. It is also the most leveraged place for an attacker: a shared cache stores one
# response and hands it to everyone. Notebook 06 showed the accident (one user's page
# served to another through a missing `private`). Here it is done on purpose - on a real
# HTTP stack, a shop's origin server and a CDN in front of it, both running on
# `127.0.0.1` (nothing you do here leaves this machine) - and then on the Redis side.
#
# | | |
# |---|---|
# | **What you'll learn** | why the **cache key is a security boundary** and what an *unkeyed input* is; **web cache poisoning**: one request, every visitor until the copy expires; **web cache deception**: a private page stored as a "static file"; the Redis side: keys built from input, **pickle** in a shared cache, signed values, **ACL** users |
# | **What you need** | notebook 06 (the CDN, `Cache-Control`, the shared-cache leak); notebook 10 (pickle as a format) helps |
# | **Time** | 40 minutes (25 teaching + 15 exercises) |

# %%
import labkit
from labkit import security as sec

store = labkit.start("11")

# %% [markdown]
# ## 1 · The cache key is a security boundary
#
# A CDN answers a request from a stored copy when the request's **cache key** matches.
# The shop's CDN keys on the host, the path and the query string - minus the marketing
# parameters (`utm_source`, `utm_campaign`, ...), so that every campaign link shares one
# copy of the home page. That is the CDN's half. The other half is what the origin's
# answer *depends on*: any input that changes the response but is not in the key is an
# **unkeyed input**, and whoever sends it first decides what everyone else gets.
#
# The table asks the origin itself: for each input, two requests that differ only in it.
# Does the page change? Does the key?

# %%
sec.key_table()

# %% [markdown]
# **What to notice**: three inputs change the page without changing the key. The origin
# builds its script URL from `X-Forwarded-Scheme` and `X-Forwarded-Host` (a load balancer
# sets them - but so can anyone), and copies `utm_content` into a share link. The key's "harmless" normalisation dropped one
# parameter too many. Cookies and `Accept-Language` do not change this page, so leaving
# them out of the key is right.
#
# ## 2 · Web cache poisoning
#
# The attacker sends one request with `X-Forwarded-Host: evil.example` just as the home
# page's copy has expired. The origin builds the page with a script from `evil.example`,
# the CDN stores it under the ordinary key, and the next visitor - who sent nothing
# unusual - gets the attacker's script. Below, both requests travel over real HTTP:
# attacker → CDN → origin, then victim → CDN.

# %%
labkit.widgets.predict(
    "The home page is cached for 60 s and the room sends it 10 visitors a second. "
    "How many visitors does ONE poisoning request reach?",
    ["about 1 - the next visitor", "about 60", "about 600"],
    notebook="11", name="victims",
)

# %%
sec.attack_table("poisoning through X-Forwarded-Host")

# %% [markdown]
# The victim's row says `HIT`: the CDN served the attacker's copy. How far does that
# copy reach? The chart replays the attack on a virtual clock through the same CDN code:
# the attacker's request fills the cache, then visitors arrive at random (seeded) at the
# room's rate until the copy expires. Move the **visitors per second** slider to the
# traffic of your own site, and the **TTL (s)** slider to the home page's TTL (both
# respond to the arrow keys once focused).

# %%
sec.explore_poisoning()

# %% [markdown]
# **What to notice**: every visitor until expiry is a victim - the measured line sits on
# *visitors × TTL*. At 10 visitors a second one request reached {claim:victims_at_60s:,}
# visitors with a 60 s TTL, and {claim:victims_at_hour:,} had the copy lived an hour. A
# short TTL limits the damage, it does not prevent it: even 5 s hands the copy to
# {claim:victims_at_5s} people, and the attacker simply sends the request again when it
# expires. The same happens through the other two unkeyed inputs
# ({claim:poisonings_shipped} of 3 work against the shipped CDN): `X-Forwarded-Scheme: http`
# makes every visitor fetch the script unencrypted, where anyone on the network path can
# replace it, and `utm_content` caches the attacker's `<script>`.
#
# The fixes, in order of preference: **stop reflecting** the input (build URLs from
# configuration, not from headers); **key on it** (a request with the header gets its
# own copy); or **do not store** responses to requests that carry it. And normalise the
# key only by parameters the origin never reads.
#
# ## 3 · Web cache deception
#
# The opposite direction: the attacker wants a *private* page out of the shared cache.
# Many CDNs store "static files" by the URL's extension, whatever the origin says. And
# many origins route loosely: `/account/settings/x.css` is still the settings page.

# %%
labkit.widgets.predict(
    "Alice, signed in, follows a link to /account/settings/x.css. Then the attacker, with no cookie, "
    "opens the same URL. What does the attacker get?",
    ["a 404: there is no such file", "the login redirect: no session", "Alice's settings page, API key included"],
    notebook="11", name="deception",
)

# %%
sec.attack_table("deception through /account/settings/x.css")

# %% [markdown]
# The origin did its job: its answer said `Cache-Control: public, max-age=60, private` -
# the framework's default, and the settings view's `private` (the orders page adds
# `no-store` instead). The CDN ignored it, because the path ends in `.css`. Now every attack against the shipped CDN and against
# a fixed one: the key also holds the query parameters and forwarded headers the origin
# reads, and a 200 response is stored only when its own headers say `public` (never
# with `private` or `no-store`), whatever the URL ends with.

# %%
sec.attacks_summary()

# %% [markdown]
# **What to notice**: {claim:deceptions_shipped} of 4 path tricks (`/x.css`, `;x.js`,
# `%2Fx.png` on the settings page, `/x.css` on the orders page) steal Alice's page from
# the shipped CDN, and a better key alone stops none of them
# ({claim:deceptions_by_extension_fixed_key} of 4 still work): deception is
# about *what* is stored, poisoning about *which key* it is stored under. With both
# fixes {claim:attacks_fixed} attacks work. And it costs nothing: on the room's seeded
# traffic (3,000 requests, most visitors signed in, a third of home-page visits from
# campaign links) the shipped CDN hits {claim:hit_ratio_shipped:.1%} and the fixed one
# {claim:hit_ratio_fixed:.1%}. Keying on *every* marketing parameter would have cost
# more: {claim:hit_ratio_every_param:.1%}. The origin can defend itself too: a strict
# router that answers 404 to `/account/settings/x.css`, and `no-store` on private pages.
#
# ## 4 · The Redis side
#
# ### Keys built from input
#
# The invoice service caches under `f"invoice:{tenant}:{invoice_id}"`. Globex numbers its
# invoices `2024:17`. Someone signs up a new tenant called `globex:2024` and asks for
# invoice `17`.

# %%
sec.key_collisions(store)

# %% [markdown]
# **What to notice**: with the f-string both requests build the same key, so the new
# tenant reads Globex's payroll from the cache - the database's tenant check never
# runs on a hit. Percent-encoding each part (`%3A` for `:`) keeps the keys apart;
# checking tenant names when they are created refuses the trick before any key exists.
#
# ### Pickle in a shared cache
#
# Notebook 10 weighed pickle as a format. As a *security* question: whoever can write a
# key decides what every reader's `pickle.loads` does. The lab's payload below only
# appends a line to a list in the lab (`sec.redis_side.RAN`) to prove that it ran; a
# real one would run any code it likes, with the reader's credentials.

# %%
labkit.widgets.predict(
    "Someone writes a pickled 'product' to a shared cache key. Three services read it. "
    "In how many does the writer's code run?",
    ["none - pickle only stores data", "only the first reader", "all three"],
    notebook="11", name="pickle",
)

# %%
sec.pickle_table(store)

# %% [markdown]
# **What to notice**: the writer's code ran in {claim:pickle_runs} of 3 readers, and each
# still got a normal-looking product back - nothing in the value looks wrong. The fix is
# a format that holds only data (JSON, msgpack) and, where the writers are not all
# trusted, a **signature**: an HMAC over the value with a key only your services hold.

# %%
sec.signed_table(store)

# %% [markdown]
# **What to notice**: a forged value and a pickle are both refused before anything is
# decoded; the reader treats them as a miss and reads the database. A signature proves
# who wrote a value, not that it is fresh: keep the TTL.
#
# ### ACL users: one service, its own keys
#
# Redis 6 and later have users with key patterns and command lists. The next cell starts
# a throwaway `redis-server` of the lab's own (never yours), creates an `orders` user
# limited to `orders:*` and a `billing` user limited to `billing:*`, and tries a few
# commands as each.

# %%
sec.acl_table()

# %% [markdown]
# **What to notice**: the orders service cannot read billing's card key, list every key or
# flush the server - `NOPERM` from Redis itself, whatever bug the service has. (Where
# `redis-server` is not installed the cell says so and skips this part.)
#
# ## Exercises
#
# Each check runs in the lab, says what it found, and records your progress (see notebook 00).

# %%
ex = sec.exercises(store)

# %% [markdown]
# ### Exercise 1 · Write the CDN's rules
#
# Write the CDN's two rules. `request` has `.host`, `.path` (as sent, undecoded),
# `.query` (a dict) and `.headers` (a dict with lower-case names); `response` has
# `.status`, `.headers`, `.cache_control` (a dict of directives: `{"public": "",
# "max-age": "60"}`), `.content_type` and `.max_age`. The check replays the room's
# traffic (every visitor must get the right page, and the hit ratio must stay within 3
# points of the shipped CDN's), then every attack over real HTTP: all must fail. A
# failing attack is shown as the request sequence that worked.

# %%
def cache_key(request):
    """What identifies one stored copy: return a string or a tuple."""
    ...


def cacheable(request, response):
    """May this response be stored and served to everyone who sends the same key?"""
    ...


ex.cdn_rules.check(cache_key, cacheable);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# IGNORED_PARAMS = ("utm_source", "utm_medium", "utm_campaign")   # the origin never reads these
#
# def cache_key(request):
#     query = {k: v for k, v in request.query.items() if k not in IGNORED_PARAMS}
#     return (request.host, request.path, tuple(sorted(query.items())),
#             request.headers.get("x-forwarded-host"), request.headers.get("x-forwarded-scheme"))
#
# def cacheable(request, response):
#     cc = response.cache_control
#     return response.status == 200 and "public" in cc and "private" not in cc and "no-store" not in cc
# ```
# Refusing to store any response to a request that carries a forwarded header works as
# well as keying on it. Keying on the path only, trusting the extension, forgetting one
# of the headers, ignoring `private` or `no-store`, treating every signed-in visitor's
# request as private, or keying on every marketing parameter are each refused, with the
# replay that shows why.
# </details>

# %% [markdown]
# ### Exercise 2 · A TTL that bounds the damage
#
# The security team accepts that a poisoned copy might slip through, but it may reach at
# most 100 visitors. At 5 visitors a second, what is the longest TTL (in seconds) for the
# home page? Use the chart in section 2.

# %%
answer = ...
ex.poisoning_ttl.check(answer);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = 20   # 5 visitors/s x 20 s = 100 visitors
# ```
# The replay is random, so stay near the model rather than on its edge. A TTL caps the damage,
# not a defence - fix the key as well.
# </details>

# %% [markdown]
# ### Exercise 3 · A key no input can bend
#
# Write `invoice_key(tenant, invoice_id)` so that two different (tenant, invoice) pairs
# never share a key, whatever characters they hold.

# %%
def invoice_key(tenant, invoice_id):
    ...


ex.invoice_key.check(invoice_key);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from urllib.parse import quote
#
# def invoice_key(tenant, invoice_id):
#     return "invoice:" + ":".join(quote(part, safe="") for part in (tenant, invoice_id))
# ```
# Replacing `:` with `_` only moves the collision (`acme_eu` and `acme:eu` meet); encoding
# also escapes `%` itself, so no part can spell a separator.
# </details>

# %% [markdown]
# ## Key takeaways
#
# - The cache key is a security boundary: every input the response depends on must be in
#   the key, or the response must not be stored. Normalise only what the origin never reads.
# - One poisoned copy reaches every visitor until it expires - traffic × TTL. A short TTL
#   caps the damage; only the key (or not reflecting the input) prevents it.
# - Store what the **response** says is shareable, never what the URL looks like:
#   `private`/`no-store` from the origin, and a CDN that honours them.
# - Build Redis keys from input by encoding or validating every part.
# - Never unpickle what another party can write: use a data-only format, sign values
#   when writers are not all trusted, and give each service an ACL user with its own key pattern.
#
# ## Further reading
#
# - J. Kettle: *Practical Web Cache Poisoning*, PortSwigger Research, 2018; and
#   *Web Cache Entanglement: Novel Pathways to Poisoning*, PortSwigger Research, 2020.
# - S. A. Mirheidari, S. Arshad, K. Onarlioglu, B. Crispo, E. Kirda, W. Robertson:
#   *Cached and Confused: Web Cache Deception in the Wild*, USENIX Security 2020.
# - R. Fielding, M. Nottingham, J. Reschke: *HTTP Caching*, RFC 9111 (2022), §4
#   (constructing responses from caches) and §5.2 (`Cache-Control`).
# - Redis documentation: [ACL](https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/).
# - Python documentation: [`pickle`](https://docs.python.org/3/library/pickle.html) - the
#   warning at the top of the page.

# %%
store.reset();
