"""Notebook 06's live charts and exercises: each ``explore_*`` draws a ``measure_*`` of
:mod:`labkit.layers.experiments`; the exercises are graded by replaying traffic through
every layer (:func:`~labkit.layers.experiments.grade_headers`).
"""

from __future__ import annotations

from typing import Any

from ..errors import LabError
from ..exercises import Exercise, ExerciseSet
from ..store import Store
from .experiments import (
    ACCOUNT_HEADER_CHOICES,
    PRODUCT_HEADER_CHOICES,
    grade_headers,
    measure_ahead,
    measure_leak,
    measure_revalidation,
    measure_staleness,
    measure_traffic,
    waterfall_scenario,
)
from .site import Lab, Visit
from .trace import LAYERS, NETWORKS

__all__ = [
    "describe",
    "explore_waterfall",
    "explore_traffic",
    "explore_revalidation",
    "explore_staleness",
    "explore_leak",
    "exercises",
]

# Hop layers in the order a request meets them, each with a fixed colour index.
_HOP_ORDER = ("browser", NETWORKS[0], "CDN", NETWORKS[1], "app cache", "query cache", "database", "origin")


def _ms(seconds: float) -> float:
    return seconds * 1000


def _wide():
    import ipywidgets

    return ipywidgets.Layout(width="460px")


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


# The app cache TTLs the traffic chart offers: each step changes what the chart shows.
APP_TTL_CHOICES = (1, 5, 15, 30, 60, 120, 300)
TRAFFIC_HEADER_CHOICES = ("public, max-age=60", "private, max-age=60", "public, no-cache", "no-store")


def explore_traffic(lab: Lab):
    """Shares and latency as shoppers grow. Every new setting is a fresh replay of
    780 requests, so after each draw the neighbouring TTLs and the other headers
    are measured ahead."""
    import ipywidgets as W

    from ..widgets import LivePlot, choice

    shown: list[Any] = []  # the LivePlot, once built

    def draw(fig: Any, product_headers: str, app_ttl_seconds: float) -> str:
        text = _draw_traffic(fig, product_headers, app_ttl_seconds, lab=lab)
        at = APP_TTL_CHOICES.index(app_ttl_seconds) if app_ttl_seconds in APP_TTL_CHOICES else 0
        ttls = [{"product_headers": product_headers, "app_ttl_seconds": t}
                for t in APP_TTL_CHOICES[at + 1:at + 2] + APP_TTL_CHOICES[max(0, at - 1):at]]
        h = TRAFFIC_HEADER_CHOICES.index(product_headers) if product_headers in TRAFFIC_HEADER_CHOICES else 0
        heads = [{"product_headers": TRAFFIC_HEADER_CHOICES[(h + k) % len(TRAFFIC_HEADER_CHOICES)],
                  "app_ttl_seconds": app_ttl_seconds} for k in range(1, len(TRAFFIC_HEADER_CHOICES))]
        # The next step of each control first (TTL up, the next header), then the rest.
        wanted = ttls[:1] + heads[:1] + ttls[1:] + heads[1:]
        measure_ahead(lab, measure_traffic, wanted, after=_once_shown(shown))
        return text

    return _keep(shown, LivePlot(
        draw,
        {
            "product_headers": choice("product & search Cache-Control", TRAFFIC_HEADER_CHOICES,
                                      layout=_wide()),
            "app_ttl_seconds": W.SelectionSlider(
                description="app cache TTL (s)", options=APP_TTL_CHOICES, value=30,
                continuous_update=False, style={"description_width": "initial"},
                layout=W.Layout(width="420px")),
        },
        ncols=2, width=11, height=3.8,
    ))


def _keep(holder: list[Any], plot: Any) -> Any:
    holder.append(plot)
    return plot


def _once_shown(holder: list[Any]):
    """True once the redraw under way has been shown (measuring ahead waits for it)."""
    shown = holder[0].redraws if holder else 0
    return lambda: not holder or holder[0].redraws > shown


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
    """Who showed the old price, and for how long. Each move replays 1,000 views, so
    after each draw the two sliders' next steps either way are measured ahead."""
    from ..widgets import LivePlot, int_slider, toggle

    limits = {"browser_max_age": (0, 300, 10), "cdn_s_maxage": (0, 900, 30)}

    shown: list[Any] = []  # the LivePlot, once built

    def draw(fig: Any, **values: Any) -> str:
        text = _draw_staleness(fig, lab=lab, **values)
        nearby = [{**values, name: values[name] + d} for name, (low, high, step) in limits.items()
                  for d in (step, -step) if low <= values[name] + d <= high]
        measure_ahead(lab, measure_staleness, nearby, after=_once_shown(shown))
        return text

    return _keep(shown, LivePlot(
        draw,
        {
            "browser_max_age": int_slider("browser max-age (s)", *limits["browser_max_age"][:2],
                                          limits["browser_max_age"][2], 60),
            "cdn_s_maxage": int_slider("CDN s-maxage (s)", *limits["cdn_s_maxage"][:2],
                                       limits["cdn_s_maxage"][2], 300),
            "purge_cdn_on_write": toggle("purge the CDN on write"),
            "invalidate_app_cache_on_write": toggle("delete the app cache key on write", True),
        },
        width=10, height=3.8,
    ))


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


_REFERENCE_ANSWER = {
    "asset": "public, max-age=31536000, immutable",
    "product": "public, max-age=60",
    "account": {"Cache-Control": "private, no-cache", "Vary": "Cookie"},
    "search": "public, max-age=60",
}


def exercises(store: Store | None = None, *, lab: Lab | None = None) -> ExerciseSet:
    """The notebook's exercises, graded on ``lab``'s origin (one is started on ``store``
    when first needed, if no lab is given)."""
    labs: list[Lab] = [lab] if lab is not None else []

    def graded_on_a_lab(answer: Any) -> tuple[bool, str]:
        if not labs:
            from ..connection import connect

            labs.append(Lab(store if store is not None else connect("fakeredis://", namespace="06-grading")))
        return grade_headers(answer, labs[0])

    headers = Exercise(
        "06", "headers-for-four-endpoints", check=graded_on_a_lab, kind="value",
        hint=("Ask of each page: is it the same for everyone (then the CDN may share it) or per "
              "user (then private, and Vary on what identifies the user)? Then: how stale may it "
              "be? A fingerprinted name never changes content."),
        solution=(
            "answer = {\n"
            "    'asset':   'public, max-age=31536000, immutable',\n"
            "    'product': 'public, max-age=60',\n"
            "    'account': {'Cache-Control': 'private, no-cache', 'Vary': 'Cookie'},\n"
            "    'search':  'public, max-age=60',\n"
            "}\n"
            "# account could also be 'private, max-age=30' with Vary: Cookie; product could use\n"
            "# 'public, max-age=30, s-maxage=60'. 'no-store' on account passes too, at the price\n"
            "# of sending the whole page every time."
        ),
        reference=lambda: dict(_REFERENCE_ANSWER),
        mistakes={
            "account page public": {**_REFERENCE_ANSWER, "account": "public, max-age=60"},
            "product kept past its 60 s": {**_REFERENCE_ANSWER, "product": "public, max-age=600"},
            "fingerprinted asset refetched": {**_REFERENCE_ANSWER, "asset": "no-cache"},
            "the app cache's 30 s forgotten": {**_REFERENCE_ANSWER, "search": "public, max-age=120"},
        },
    )
    staleness = Exercise(
        "06", "worst-case-staleness", check=_check_staleness, kind="value",
        hint=("The browser does not start its own clock at zero: the CDN tells it the copy's age "
              "in the Age header. Which cache holds the oldest copy, and for how long?"),
        solution=(
            "answer = 600\n"
            "# The CDN may keep the page 600 s (s-maxage). The browser counts the Age the CDN\n"
            "# sends, so its own 60 s run from when the origin made the page, not from when the\n"
            "# browser got it: the worst case is 600 s, not 660 s."
        ),
        reference=lambda: 600,
        mistakes={"adding the browser's 60 s on top": 660, "the browser's max-age alone": 60,
                  "subtracting the browser's 60 s": 540},
    )
    return ExerciseSet({"headers": headers, "staleness": staleness})


# The worst case is exactly 600 s.  Age travels in whole seconds (RFC 9111 section 5.1) and a
# cache may add the time a response spent in transit, so a copy can be counted up to a second
# older or younger than it is: answers within 1 s of 600 are the same answer.  The nearest
# slips (600 - 60 and 600 + 60) are a minute away.
_STALENESS_SLACK_SECONDS = 1


def _check_staleness(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise LabError(f"Answer with a number of seconds, like 120 (got {answer!r}).")
    if abs(answer - 600) <= _STALENESS_SLACK_SECONDS:
        return True, ("600 s: the CDN's copy lives 600 s, and the browser's 60 s count from when "
                      "the origin made the page, because the CDN reports its age.")
    if abs(answer - 660) <= _STALENESS_SLACK_SECONDS:
        return False, ("Close, but that is adding the browser's 60 s on top: the browser counts the Age "
                       "the CDN reports, so its copy expires when the CDN's would be 60 s old.")
    if abs(answer - 540) <= _STALENESS_SLACK_SECONDS:
        return False, ("That is subtracting the browser's 60 s: the browser's freshness does not shorten "
                       "the CDN's; a reader who fetches at 599 s gets a copy 599 s old.")
    if abs(answer - 60) <= _STALENESS_SLACK_SECONDS:
        return False, ("That is the browser's max-age alone: the browser's copy may come from the CDN "
                       "already old, and the CDN keeps it 600 s (s-maxage).")
    return False, (f"{answer:g} s: find the layer that may hold a copy longest, and remember the Age header "
                   "tells the browser how old a CDN copy already is.")
