"""The notebook's experiments: each ``measure_*`` returns numbers, each ``explore_*`` a live chart.

The measuring functions are what the tests assert on; the charts only draw them.
Every experiment builds a fresh site (cold caches, its own database and virtual
clock) on the lab's one origin server, and closes it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from .policy import ASSET_PATH, HeaderSet
from .site import Lab, Site, Visit, replay, traffic
from .trace import LAYERS, NETWORKS, LatencyModel

__all__ = [
    "waterfall_scenario",
    "measure_traffic",
    "measure_revalidation",
    "measure_staleness",
    "measure_leak",
    "describe",
    "explore_waterfall",
    "explore_traffic",
    "explore_revalidation",
    "explore_staleness",
    "explore_leak",
    "PRODUCT_HEADER_CHOICES",
    "ACCOUNT_HEADER_CHOICES",
]

PRODUCT_HEADER_CHOICES = (
    "public, max-age=60, s-maxage=300",
    "public, max-age=60",
    "public, no-cache",
    "private, max-age=60",
    "no-store",
)
ACCOUNT_HEADER_CHOICES = {
    "public, max-age=60": HeaderSet("public, max-age=60"),
    "private, max-age=60": HeaderSet("private, max-age=60"),
    "private, max-age=60 + Vary: Cookie": HeaderSet("private, max-age=60", "Cookie"),
    "private, no-cache + Vary: Cookie": HeaderSet("private, no-cache", "Cookie"),
    "no-store": HeaderSet("no-store"),
}
# Hop layers in the order a request meets them, each with a fixed colour index.
_HOP_ORDER = ("browser", NETWORKS[0], "CDN", NETWORKS[1], "app cache", "query cache", "database", "origin")


def _wide():
    import ipywidgets

    return ipywidgets.Layout(width="460px")


@contextmanager
def _site(lab: Lab, **options: Any) -> Iterator[Site]:
    site = lab.site(**options)
    try:
        yield site
    finally:
        lab.close_site(site)


def _ms(seconds: float) -> float:
    return seconds * 1000


# -- 1. the waterfall -----------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    label: str
    visit: Visit


def waterfall_scenario(lab: Lab, *, product_headers: str = PRODUCT_HEADER_CHOICES[0],
                       origin_rtt_ms: float = 60.0) -> list[Step]:
    """Five views of one product page that each stop at a different layer (with the defaults)."""
    latency = replace(LatencyModel(), cdn_origin_rtt_seconds=origin_rtt_ms / 1000)
    with _site(lab, headers={"product": product_headers}, latency=latency, app_ttl_seconds=30) as site:
        plan = [(0, 0, "shopper A, first view"), (1, 1, "shopper B, a second later"),
                (2, 0, "shopper A again"), (120, 0, "shopper A, 2 min later"),
                (420, 2, "shopper C, 7 min later")]
        steps = []
        start = site.clock.now()
        for at, user, label in plan:
            site.clock.set(max(site.clock.now(), start + at))
            steps.append(Step(label, site.get(user, "/product/7")))
        return steps


def _draw_waterfall(fig, product_headers: str, origin_rtt_ms: float, lab: Lab) -> str:
    from ..charts import finish, series_style

    steps = waterfall_scenario(lab, product_headers=product_headers, origin_rtt_ms=origin_rtt_ms)
    ax = fig.axes[0]
    seen: set[str] = set()
    for row, step in enumerate(steps):
        for hop in step.visit.hops:
            i = _HOP_ORDER.index(hop.layer)
            style = series_style(i)
            ax.barh(row, _ms(hop.seconds), left=_ms(hop.start_seconds), height=0.6,
                    color=style["color"], hatch="//" if hop.layer in NETWORKS else None, edgecolor="white",
                    label=hop.layer if hop.layer not in seen else None)
            seen.add(hop.layer)
        note = f" {_ms(step.visit.seconds):.1f} ms · {_short_answer(step.visit)}"
        ax.text(_ms(step.visit.seconds), row, note, va="center", fontsize=8)
    ax.set_yticks(range(len(steps)), [s.label for s in steps])
    ax.invert_yaxis()
    ax.set_xlim(0, max(_ms(s.visit.seconds) for s in steps) * 1.7)
    cold, browser = steps[0].visit, steps[2].visit
    network = sum(h.seconds for h in cold.hops if h.layer in NETWORKS)
    finish(ax, title=(f"A cold view takes {_ms(cold.seconds):.0f} ms, {network / cold.seconds:.0%} of it "
                      f"on the wire; a browser hit takes {_ms(browser.seconds):.1f} ms"),
           xlabel="time since the click (ms)", ylabel="page view")
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ("Each bar is one page view; each colour a layer or a network link (hatched). "
            "The label says which layer answered.")


def _answer_text(visit: Visit) -> str:
    if visit.revalidated:
        return f"the {visit.served_from}'s copy, confirmed by the {visit.answered_by} (304)"
    return f"answered by the {visit.answered_by}"


def _short_answer(visit: Visit) -> str:
    if visit.revalidated:
        return f"{visit.served_from} copy, 304 from {visit.answered_by}"
    return visit.answered_by


def explore_waterfall(lab: Lab):
    """Where a request's time goes at each layer; slide the CDN-to-origin distance."""
    from ..widgets import LivePlot, choice, slider

    return LivePlot(
        lambda fig, **v: _draw_waterfall(fig, lab=lab, **v),
        {
            "origin_rtt_ms": slider("CDN ↔ origin round trip (ms)", 5, 200, 5, 60),
            "product_headers": choice("product page Cache-Control", PRODUCT_HEADER_CHOICES,
                                      layout=_wide()),
        },
        width=10, height=3.8,
    )


# -- 2. hit ratios and latency as traffic grows ----------------------------------------------
USER_COUNTS = (1, 5, 25, 125)


@dataclass(frozen=True)
class TrafficPoint:
    users: int
    answered_share: dict[str, float]
    median_ms: float
    p95_ms: float
    origin_share: float

    @property
    def edge_share(self) -> float:
        """Requests answered before the origin: by a browser or the CDN."""
        return self.answered_share["browser"] + self.answered_share["CDN"]


def measure_traffic(lab: Lab, *, product_headers: str = "public, max-age=60",
                    app_ttl_seconds: float = 30.0, views_per_user: int = 5,
                    user_counts: tuple[int, ...] = USER_COUNTS) -> list[TrafficPoint]:
    """Ten minutes of shopping by more and more users, each making ``views_per_user`` views."""
    points = []
    for users in user_counts:
        events = traffic(users=users, requests=users * views_per_user, duration_seconds=600,
                         products=30, product_writes_per_minute=1, seed=users)
        with _site(lab, users=users, products=30, app_ttl_seconds=app_ttl_seconds,
                   headers={"product": product_headers, "search": product_headers}) as site:
            report = replay(site, events)
        points.append(TrafficPoint(users, report.answered_share(), report.latency_ms(50),
                                   report.latency_ms(95), report.origin_share))
    return points


def _draw_traffic(fig, product_headers: str, app_ttl_seconds: float, lab: Lab) -> str:
    from ..charts import finish, series_style

    points = measure_traffic(lab, product_headers=product_headers, app_ttl_seconds=app_ttl_seconds)
    ax_share, ax_ms = fig.axes
    users = [p.users for p in points]
    shares = [[p.answered_share[layer] * 100 for p in points] for layer in LAYERS]
    colors = [series_style(_HOP_ORDER.index(layer))["color"] for layer in LAYERS]
    ax_share.stackplot(users, shares, labels=LAYERS, colors=colors, alpha=0.85)
    ax_share.set_xscale("log")
    ax_share.set_ylim(0, 100)
    first, last = points[0], points[-1]
    finish(ax_share, title=(f"Browsers and the CDN answer {first.edge_share:.0%} for 1 user, "
                            f"{last.edge_share:.0%} for {last.users}"),
           xlabel="users, 5 views each in 10 min (log scale)", ylabel="requests answered (%)")
    ax_share.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for i, (name, key) in enumerate((("median", "median_ms"), ("95th percentile", "p95_ms"))):
        ax_ms.plot(users, [getattr(p, key) for p in points], label=name, **series_style(i))
    ax_ms.set_xscale("log")
    finish(ax_ms, title=f"Median view: {first.median_ms:.0f} ms alone, {last.median_ms:.0f} ms at {last.users}",
           xlabel="users (log scale)", ylabel="page view latency (ms)")
    return (f"With '{product_headers}' on product and search pages, the origin handled "
            f"{first.origin_share:.0%} of one user's requests and {last.origin_share:.0%} of "
            f"{last.users} users' requests.")


def explore_traffic(lab: Lab):
    from ..widgets import LivePlot, choice, slider

    return LivePlot(
        lambda fig, **v: _draw_traffic(fig, lab=lab, **v),
        {
            "product_headers": choice("product & search Cache-Control",
                                      ("public, max-age=60", "private, max-age=60", "public, no-cache",
                                       "no-store"), layout=_wide()),
            "app_ttl_seconds": slider("app cache TTL (s)", 1, 300, 1, 30),
        },
        ncols=2, width=11, height=3.8,
    )


# -- 3. revalidation -------------------------------------------------------------------------
@dataclass(frozen=True)
class Fetch:
    label: str
    seconds: float
    bytes_to_user: int


def measure_revalidation(lab: Lab, *, page: str = "product", bandwidth_mbit: float = 20.0) -> list[Fetch]:
    """Four ways to get one page: a fresh browser copy, a 304 from the CDN, the full page
    from the CDN, and the full page from the origin."""
    from ..errors import check_choice, check_positive

    check_choice("page", page, ("product", "asset"))
    check_positive("bandwidth_mbit", bandwidth_mbit, "Mbit/s")
    path = "/product/1" if page == "product" else ASSET_PATH
    latency = replace(LatencyModel(), user_bytes_per_second=bandwidth_mbit * 1e6 / 8)
    with _site(lab, headers={page: "public, max-age=10, s-maxage=600"}, latency=latency) as site:
        origin = site.get(0, path)
        fresh = site.get(0, path)
        full_cdn = site.get(1, path)
        site.clock.advance(30)
        not_modified = site.get(1, path)
    return [Fetch("fresh copy in the browser", fresh.seconds, fresh.bytes_to_user),
            Fetch("304 from the CDN", not_modified.seconds, not_modified.bytes_to_user),
            Fetch("full page from the CDN", full_cdn.seconds, full_cdn.bytes_to_user),
            Fetch("full page from the origin", origin.seconds, origin.bytes_to_user)]


def _draw_revalidation(fig, page: str, bandwidth_mbit: float, lab: Lab) -> str:
    from ..charts import finish, series_style

    fetches = measure_revalidation(lab, page=page, bandwidth_mbit=bandwidth_mbit)
    ax_ms, ax_kb = fig.axes
    labels = [f.label for f in fetches]
    colors = [series_style(i)["color"] for i in range(len(fetches))]
    ax_ms.barh(labels, [_ms(f.seconds) for f in fetches], color=colors)
    ax_kb.barh(labels, [f.bytes_to_user / 1000 for f in fetches], color=colors)
    for ax, values, unit in ((ax_ms, [_ms(f.seconds) for f in fetches], "ms"),
                             (ax_kb, [f.bytes_to_user / 1000 for f in fetches], "KB")):
        ax.invert_yaxis()
        for row, value in enumerate(values):
            ax.text(value, row, f" {value:.1f} {unit}", va="center", fontsize=8)
        ax.set_xlim(0, max(values) * 1.3)
    check, full = fetches[1], fetches[2]
    share = check.seconds / full.seconds
    finish(ax_ms, title=f"The 304 still takes {_ms(check.seconds):.0f} ms ({share:.0%} of a full fetch)",
           xlabel="time to show the page (ms)", ylabel="how the page arrived")
    kb, full_kb = check.bytes_to_user / 1000, full.bytes_to_user / 1000
    finish(ax_kb, title=f"...but carries {kb:.1f} KB instead of {full_kb:.0f} KB",
           xlabel="bytes over your connection (KB)", ylabel="how the page arrived")
    ax_kb.set_ylabel("")
    ax_kb.set_yticks(range(len(labels)), [""] * len(labels))
    return ("A 304 answers 'your copy is still good' with headers only: it saves the body, "
            "not the round trip. Slow links gain the most.")


def explore_revalidation(lab: Lab):
    from ..widgets import LivePlot, choice, log_slider

    return LivePlot(
        lambda fig, **v: _draw_revalidation(fig, lab=lab, **v),
        {
            "bandwidth_mbit": log_slider("your connection (Mbit/s)", 1, 1000, 20),
            "page": choice("page", ("product", "asset")),
        },
        ncols=2, width=11, height=3.4,
    )


# -- 4. staleness per layer ------------------------------------------------------------------
@dataclass(frozen=True)
class StalenessRun:
    visits: list[Visit]          # views of the product after the write, times relative to it
    write_at: float
    worst_by_layer: dict[str, float]


def measure_staleness(lab: Lab, *, browser_max_age: int = 60, cdn_s_maxage: int = 300,
                      purge_cdn_on_write: bool = False, invalidate_app_cache_on_write: bool = True,
                      app_ttl_seconds: float = 120.0) -> StalenessRun:
    """A price changes at t=0 while 30 shoppers keep viewing the product for 10 minutes."""
    headers = f"public, max-age={int(browser_max_age)}, s-maxage={int(cdn_s_maxage)}"
    before = traffic(users=30, requests=100, duration_seconds=100, mix={"product": 1.0},
                     products=1, seed=5)
    after = traffic(users=30, requests=900, duration_seconds=600, mix={"product": 1.0},
                    products=1, seed=6)
    with _site(lab, users=30, products=1, headers={"product": headers},
               purge_cdn_on_write=purge_cdn_on_write, app_ttl_seconds=app_ttl_seconds,
               invalidate_app_cache_on_write=invalidate_app_cache_on_write) as site:
        replay(site, before)
        write_at = site.clock.now() + 1
        site.clock.set(write_at)
        site.write("product", 0)
        shifted = [replace(e, t=e.t + write_at - 1_000.0) for e in after]
        visits = replay(site, shifted).visits
    worst: dict[str, float] = {}
    for v in visits:  # a browser copy confirmed by the CDN counts as the CDN's
        worst[v.answered_by] = max(worst.get(v.answered_by, 0.0), v.stale_seconds)
    return StalenessRun(visits, write_at, worst)


def _draw_staleness(fig, browser_max_age: int, cdn_s_maxage: int, purge_cdn_on_write: bool,
                    invalidate_app_cache_on_write: bool, lab: Lab) -> str:
    from ..charts import finish, series_style

    run = measure_staleness(lab, browser_max_age=browser_max_age, cdn_s_maxage=cdn_s_maxage,
                            purge_cdn_on_write=purge_cdn_on_write,
                            invalidate_app_cache_on_write=invalidate_app_cache_on_write)
    ax = fig.axes[0]
    for layer in LAYERS:
        mine = [v for v in run.visits if v.answered_by == layer]
        if mine:
            style = series_style(_HOP_ORDER.index(layer))
            ax.scatter([v.at_seconds - run.write_at for v in mine], [v.stale_seconds for v in mine],
                       s=12, color=style["color"], marker=style["marker"],
                       label=f"from the {layer}", alpha=0.8)
    worst_layer = max(run.worst_by_layer, key=run.worst_by_layer.get, default="browser")
    worst = run.worst_by_layer.get(worst_layer, 0.0)
    title = (f"After the change, shoppers saw the old price for up to {worst:.0f} s, longest from the {worst_layer}"
             if worst > 0 else "After the change, every shopper saw the new price at once")
    finish(ax, title=title, xlabel="seconds since the price changed",
           ylabel="how out of date the page was (s)")
    ax.legend(frameon=False, fontsize=8)
    return ("Each dot is one page view after the change. Dots above zero showed the old price; "
            "the colour says whose copy it was.")


def explore_staleness(lab: Lab):
    from ..widgets import LivePlot, int_slider, toggle

    return LivePlot(
        lambda fig, **v: _draw_staleness(fig, lab=lab, **v),
        {
            "browser_max_age": int_slider("browser max-age (s)", 0, 300, 10, 60),
            "cdn_s_maxage": int_slider("CDN s-maxage (s)", 0, 900, 30, 300),
            "purge_cdn_on_write": toggle("purge the CDN on write"),
            "invalidate_app_cache_on_write": toggle("delete the app cache key on write", True),
        },
        width=10, height=3.8,
    )


# -- 5. the leak -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LeakRun:
    visits: list[Visit]
    cdn_account_copies: int

    @property
    def cross_user(self) -> list[Visit]:
        return [v for v in self.visits if v.cross_user]

    @property
    def users_shown_someone_else(self) -> int:
        return len({v.user for v in self.cross_user})


def measure_leak(lab: Lab, *, account_headers: str = "public, max-age=60", users: int = 30,
                 shared_laptops: bool = False, seed: int = 1) -> LeakRun:
    """Every user checks their account page a few times in five minutes."""
    events = traffic(users=users, requests=users * 4, duration_seconds=300, mix={"account": 1.0}, seed=seed)
    headers = ACCOUNT_HEADER_CHOICES.get(account_headers, account_headers)
    with _site(lab, users=users, headers={"account": headers},
               users_per_browser=2 if shared_laptops else 1) as site:
        report = replay(site, events)
        copies = site.cdn.stored_count("/account")
    return LeakRun(report.visits, copies)


def _draw_leak(fig, account_headers: str, users: int, shared_laptops: bool, lab: Lab) -> str:
    from ..charts import finish, series_style

    run = measure_leak(lab, account_headers=account_headers, users=users, shared_laptops=shared_laptops)
    ax = fig.axes[0]
    own = [0] * users
    other = [0] * users
    for v in run.visits:
        (other if v.cross_user else own)[v.user] += 1
    ax.bar(range(users), own, color=series_style(2)["color"], label="their own page")
    ax.bar(range(users), other, bottom=own, color=series_style(3)["color"], hatch="xx",
           edgecolor="white", label="someone else's page")
    n, total = len(run.cross_user), len(run.visits)
    title = (f"{account_headers}: {n} of {total} account views showed another user's page"
             if n else f"{account_headers}: every user saw only their own page")
    finish(ax, title=title, xlabel="user", ylabel="account page views")
    where = {v.served_from for v in run.cross_user}
    caption = (f"{run.users_shown_someone_else} of {users} users saw someone else's account, served by the "
               f"{' and the '.join(sorted(where))}. " if n else "")
    copies = run.cdn_account_copies
    return caption + f"The CDN holds {copies} cop{'y' if copies == 1 else 'ies'} of /account."


def explore_leak(lab: Lab):
    from ..widgets import LivePlot, choice, int_slider, toggle

    return LivePlot(
        lambda fig, **v: _draw_leak(fig, lab=lab, **v),
        {
            "account_headers": choice("/account headers", tuple(ACCOUNT_HEADER_CHOICES), layout=_wide()),
            "users": int_slider("users", 2, 60, 1, 30),
            "shared_laptops": toggle("two users per laptop"),
        },
        width=10, height=3.4,
    )


def describe(visits: list[Visit]) -> None:
    """Print who asked for what and what came back, one line per view."""
    for v in visits:
        whose = "" if v.page_user is None else f" -> user {v.page_user}'s page"
        flag = "   <-- NOT THEIRS" if v.cross_user else ""
        print(f"user {v.user} GET {v.path}{whose}, {_answer_text(v)}, {_ms(v.seconds):.0f} ms{flag}")
