"""Cache layers: who answered, who was shown whose page, and how stale it was.

Every test that touches the application cache runs on fakeredis and a real
redis-server (the ``redis_store`` fixture); the HTTP caches' decisions are
checked against hishel's own RFC 9111 functions where hishel covers the rule.
"""

from __future__ import annotations

import gc
import os
import socket
import threading

import pytest
from hishel import CacheMiss, Headers, Request, Response, StoreAndUse
from hishel._core._spec import get_freshness_lifetime

import labkit
from labkit.clock import VirtualClock
from labkit.database import Database
from labkit.errors import LabError
from labkit.layers import (
    ASSET_PATH,
    DEFAULT_POLICY,
    LEAKY_ACCOUNT,
    Event,
    HeaderSet,
    Lab,
    QueryCache,
    header_policy,
    header_set,
    replay,
    traffic,
)
from labkit.layers.experiments import REFERENCE_POLICY, grade_headers
from labkit.layers.lesson import exercises
from labkit.layers.origin import AppCache, etag_of
from labkit.layers.trace import HEADER_BYTES


@pytest.fixture
def lab(redis_store):
    lab = Lab(redis_store)
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def fake_lab():
    """One fakeredis lab for the slower grading tests."""
    store = labkit.connect("fakeredis://", namespace="test-layers-grading")
    lab = Lab(store)
    yield lab
    lab.close()
    store.reset()


# -- the leak -------------------------------------------------------------------------------
def test_public_account_page_leaks_to_the_next_user_through_the_cdn(lab):
    site = lab.site(headers={"account": LEAKY_ACCOUNT})
    alice = site.get(0, "/account")
    bob = site.get(1, "/account")
    assert alice.page_user == 0 and alice.answered_by == "database"
    assert bob.page_user == 0 and bob.cross_user
    assert bob.served_from == "CDN"
    assert site.cdn.stored_count("/account") == 1
    assert site.shop.stats.requests["account"] == 1  # bob never reached the origin


def test_private_never_leaks_across_a_randomized_replay_of_many_users(lab):
    events = traffic(users=40, requests=800, duration_seconds=600, account_writes_per_minute=2,
                     mix={"account": 0.6, "product": 0.4}, seed=11)
    leaky = replay(lab.site(users=40, headers={"account": LEAKY_ACCOUNT}), events)
    assert len(leaky.cross_user_visits) > 100  # the replay does exercise the leak
    for account in ("private, max-age=60", "private, no-cache", "private, max-age=600"):
        report = replay(lab.site(users=40, headers={"account": account}), events)
        assert report.cross_user_visits == []
        assert report.account_pages_in_cdn == 0
        assert report.views("account") > 400


def test_a_shared_laptop_needs_vary_cookie_not_just_private(lab):
    """Two users on one browser: `private` keeps the page out of the CDN, not out of the laptop;
    `Vary: Cookie` makes the browser's one copy per URL answer only its own user."""
    kiosk = {"users": 10, "users_per_browser": 2}
    site = lab.site(headers={"account": "private, max-age=60"}, **kiosk)
    site.get(0, "/account")
    second = site.get(1, "/account")
    assert second.cross_user and second.served_from == "browser"
    fixed = lab.site(headers={"account": {"Cache-Control": "private, max-age=60", "Vary": "Cookie"}}, **kiosk)
    fixed.get(0, "/account")
    assert fixed.get(1, "/account").page_user == 1
    # A browser keeps one response per URL: user 1's page replaced user 0's, so user 0's
    # next view is a miss (a Vary mismatch), fetched again - never the other user's page.
    back = fixed.get(0, "/account")
    assert back.served_from != "browser" and back.page_user == 0
    assert fixed.browsers[0].stored_count("/account") == 1
    events = traffic(users=10, requests=400, duration_seconds=300, mix={"account": 1.0}, seed=3)
    safe = replay(lab.site(headers={"account": {"Cache-Control": "private, max-age=60", "Vary": "Cookie"}},
                           **kiosk), events)
    assert safe.cross_user_visits == []


def test_authorization_keeps_a_response_out_of_the_shared_cache_unless_it_says_public(lab):
    """RFC 9111 section 3.5, decided by hishel."""
    plain = lab.site(identity="authorization", headers={"account": "max-age=60"})
    plain.get(0, "/account")
    assert plain.get(1, "/account").page_user == 1
    assert plain.cdn.stored_count("/account") == 0
    public = lab.site(identity="authorization", headers={"account": "public, max-age=60"})
    public.get(0, "/account")
    assert public.get(1, "/account").cross_user
    request = Request("GET", "/account", Headers({"authorization": "Bearer user-0"}))
    decision = CacheMiss(request=request, options={"shared": True}).next(
        Response(200, Headers({"cache-control": "public, max-age=60"})))
    assert isinstance(decision, StoreAndUse)


# -- revalidation ---------------------------------------------------------------------------
def test_etag_revalidation_gets_a_304_without_a_body_and_the_browser_serves_its_copy(lab):
    site = lab.site(headers={"product": "public, no-cache"})
    first = site.get(0, "/product/3")
    site.clock.advance(5)
    again = site.get(0, "/product/3")
    assert first.status == again.status == 200
    assert again.revalidated and again.served_from == "browser"
    assert again.bytes_to_user == HEADER_BYTES  # only headers crossed the user's link
    assert first.bytes_to_user > 40_000
    links = [h for h in again.hops if h.layer == "user ↔ CDN"]
    assert links[-1].note.startswith("304")
    # The origin built the page and said 304: the body stayed home, the round trips did not.
    assert site.shop.stats.not_modified == 1
    assert again.seconds > site.latency.user_cdn_rtt_seconds + site.latency.cdn_origin_rtt_seconds
    status, _, body = site.client.send("GET", "/product/3", {"if-none-match": '"nope"'})
    assert status == 200 and len(body) == 40_000


def test_a_304_saves_the_body_not_the_round_trip(lab):
    site = lab.site(headers={"product": "public, max-age=10, s-maxage=600"})
    site.get(0, "/product/1")
    full_from_cdn = site.get(1, "/product/1")
    site.clock.advance(30)
    revalidated = site.get(1, "/product/1")
    assert full_from_cdn.answered_by == "CDN" and revalidated.answered_by == "CDN"
    assert revalidated.revalidated
    rtt = site.latency.user_cdn_rtt_seconds
    assert revalidated.seconds > rtt
    assert full_from_cdn.seconds - revalidated.seconds == pytest.approx(40_000 / 2.5e6, rel=0.05)


def test_without_etags_revalidation_resends_the_whole_page(lab):
    site = lab.site(headers={"product": "public, no-cache"}, etags=False)
    site.get(0, "/product/3")
    again = site.get(0, "/product/3")
    assert not again.revalidated and again.bytes_to_user > 40_000


# -- freshness rules ------------------------------------------------------------------------
def test_s_maxage_applies_only_in_the_shared_cache(lab):
    headers = "public, max-age=10, s-maxage=300"
    site = lab.site(headers={"product": headers})
    site.get(0, "/product/5")
    site.clock.advance(100)
    other = site.get(1, "/product/5")
    same = site.get(0, "/product/5")
    assert other.answered_by == "CDN" and not other.revalidated
    assert same.revalidated and same.answered_by == "CDN"  # the browser's 10 s were over
    assert site.shop.stats.requests["product"] == 1
    response = Response(200, Headers({"cache-control": headers}))
    assert get_freshness_lifetime(response, is_cache_shared=True) == 300
    assert get_freshness_lifetime(response, is_cache_shared=False) == 10


def test_no_store_is_never_stored_anywhere(lab):
    site = lab.site(headers={e: "no-store" for e in ("asset", "product", "account", "search")})
    report = replay(site, traffic(users=20, requests=300, duration_seconds=120, seed=2))
    assert site.cdn.stored_count() == 0
    assert all(b.stored_count() == 0 for b in site.browsers)
    assert sum(report.origin_requests.values()) == len(report.visits) == 300


def test_the_browser_counts_the_age_the_cdn_reports(lab):
    """Exercise 2's claim: with max-age=60, s-maxage=600 the worst case is 600 s, not 660 s."""
    site = lab.site(headers={"product": "public, max-age=60, s-maxage=600"})
    site.get(0, "/product/2")             # the CDN's copy is made now
    site.clock.advance(1)
    site.write("product", 2)              # the price changes a second later
    site.clock.advance(597)
    late = site.get(1, "/product/2")      # user 1's browser gets a 598 s old copy...
    assert late.served_from == "CDN" and late.stale_seconds == pytest.approx(597, abs=1)
    site.clock.advance(2)
    after = site.get(1, "/product/2")     # ...and does not keep it another 60 s
    assert after.stale_seconds == 0
    assert after.answered_by in ("app cache", "query cache", "database")


@pytest.mark.parametrize(
    ("cache_control", "fresh_after_10s"),
    [
        ("public, max-age=abc", False),          # invalid -> stale (RFC 9111 4.2.1)
        ("public, max-age=-5", False),           # delta-seconds has no sign (1.2.2)
        ("public, max-age=0, max-age=600", False),  # duplicate -> stale (4.2.1)
        ("public, max-age=600, max-age=0", False),
        ("public, max-age=99999999999", True),   # too big -> 2^31 (1.2.2)
        ("PUBLIC, MAX-AGE=600", True),           # directive names are case-insensitive (5.2)
        ("public,, max-age=600 ,", True),        # empty list members are ignored (RFC 9110 5.6.1)
    ],
)
def test_malformed_cache_control_is_treated_as_the_rfc_says(lab, cache_control, fresh_after_10s):
    site = lab.site()
    site.shop.headers["product"] = HeaderSet(cache_control)  # bypass the learner-facing checks
    site.get(0, "/product/4")
    site.clock.advance(10)
    again = site.get(0, "/product/4")
    assert (again.served_from == "browser" and not again.revalidated) is fresh_after_10s


def test_hishel_alone_would_trust_the_last_of_two_max_ages():
    """Why the lab adds its own rule: hishel keeps the last value, the RFC says first or stale."""
    response = Response(200, Headers({"cache-control": "max-age=0, max-age=600"}))
    assert get_freshness_lifetime(response, is_cache_shared=False) == 600


# -- the server-side layers -----------------------------------------------------------------
def test_query_cache_answers_repeats_and_any_write_empties_it():
    db = Database(VirtualClock(), rows=10, latency_seconds=0.01)
    qc = QueryCache(db, capacity=4)
    assert qc.read(1)[1] is False and qc.read(1)[1] is True
    qc.read(2)
    qc.write(7, "other row")                     # a write to any row clears every result
    assert len(qc) == 0 and qc.read(1)[1] is False
    assert db.stats.reads == 3 and (qc.hits, qc.misses, qc.invalidations) == (1, 3, 1)


def test_app_cache_expires_on_the_sites_clock(redis_store):
    clock = VirtualClock()
    cache = AppCache(redis_store, clock, prefix="t:", ttl_seconds=30)
    cache.set("k", "v")
    clock.advance(29)
    assert cache.get("k") == "v"
    clock.advance(2)
    assert cache.get("k") is None
    with pytest.raises(LabError, match="app_ttl_seconds must be > 0"):
        AppCache(redis_store, clock, prefix="t:", ttl_seconds=-1)
    forever = AppCache(redis_store, clock, prefix="t:", ttl_seconds=None)
    forever.set("k", "v w")
    clock.advance(10**6)
    assert forever.get("k") == "v w"


def test_each_layer_answers_in_turn_and_every_hop_is_timed(lab):
    site = lab.site(headers={"product": "public, max-age=60, s-maxage=300"}, app_ttl_seconds=30)
    cold = site.get(0, "/product/3")
    cdn = site.get(1, "/product/3")
    browser = site.get(0, "/product/3")
    site.clock.advance(400)
    query_cache = site.get(2, "/product/3")      # the CDN and app cache expired; the result did not
    site.write("product", 4)                     # any write empties the query cache
    site.clock.advance(400)
    assert [v.answered_by for v in (cold, cdn, browser, query_cache)] == [
        "database", "CDN", "browser", "query cache"]
    assert site.get(3, "/product/3").answered_by == "database"
    layers = [h.layer for h in cold.hops]
    assert layers[:4] == ["browser", "user ↔ CDN", "CDN", "CDN ↔ origin"]
    assert {"app cache", "query cache", "database", "origin"} <= set(layers)
    assert cold.seconds == pytest.approx(sum(h.seconds for h in cold.hops))
    assert browser.seconds < 0.001 < cdn.seconds < cold.seconds


def test_product_writes_invalidate_the_app_cache_but_not_the_cdn_unless_purged(lab):
    for purge in (False, True):
        site = lab.site(headers={"product": "public, max-age=60, s-maxage=600"},
                        purge_cdn_on_write=purge)
        site.get(0, "/product/1")
        site.write("product", 1)
        site.clock.advance(10)
        seen = site.get(1, "/product/1")
        assert (seen.stale_seconds > 0) is (not purge)


# -- the origin server ----------------------------------------------------------------------
def test_origin_listens_on_loopback_only_and_stops_cleanly(redis_store):
    lab = Lab(redis_store)
    host, port = lab.origin.bound_address
    assert host == "127.0.0.1" and port > 0
    site = lab.site()
    assert site.get(0, ASSET_PATH).status == 200
    outside = _non_loopback_address()
    if outside:
        with pytest.raises(OSError):
            socket.create_connection((outside, port), timeout=0.5).close()
    lab.close()
    assert not lab.origin.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    # A chart moved after the clean-up cell starts the origin again, on loopback again.
    assert lab.site().get(0, "/product/1").status == 200
    assert lab.origin.bound_address[0] == "127.0.0.1"
    lab.close()
    lab.close()  # idempotent
    assert not lab.origin.running


def test_each_page_carries_the_etag_of_its_whole_body(lab):
    site = lab.site()
    for path in (ASSET_PATH, "/product/1", "/product/1", "/account", "/search?q=lamp"):
        status, headers, body = site.client.send("GET", path, {"cookie": "session=user-2"})
        assert status == 200 and headers["etag"] == etag_of(body)
    site.write("product", 1)
    status, headers, body = site.client.send("GET", "/product/1", {})
    assert b'"version": 2' in body and headers["etag"] == etag_of(body)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a system that pins threads to CPUs, with two or more")
def test_a_replay_runs_client_and_origin_on_one_cpu_and_then_lets_both_go(lab):
    site = lab.site()
    allowed = os.sched_getaffinity(0)
    seen = []

    def events():
        yield Event(0.0, 0, "/product/1")
        origin_threads = [t for t in threading.enumerate() if "process_request" in t.name]
        seen.append((os.sched_getaffinity(0), [os.sched_getaffinity(t.native_id) for t in origin_threads]))
        yield Event(1.0, 1, "/product/1")

    report = replay(site, events())
    assert [v.answered_by for v in report.visits] == ["database", "CDN"]
    client_cpus, origin_cpus = seen[0]
    assert len(client_cpus) == 1 and client_cpus in origin_cpus
    assert os.sched_getaffinity(0) == allowed and not lab.origin._server.cpus
    site.client.send("GET", "/product/1", {})  # the origin's thread lets go at its next request
    origin_threads = [t for t in threading.enumerate() if "process_request" in t.name]
    assert all(len(os.sched_getaffinity(t.native_id)) > 1 for t in origin_threads)


def test_a_replay_pauses_the_cycle_collector_and_restarts_it(lab):
    seen = []

    def events():
        yield Event(0.0, 0, "/product/1")
        seen.append(gc.isenabled())
        yield Event(1.0, 1, "/product/1")

    assert gc.isenabled()
    replay(lab.site(), events())
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        replay(lab.site(), events())
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()


def test_a_replay_runs_where_threads_cannot_be_pinned(lab, monkeypatch):
    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    report = replay(lab.site(), traffic(users=3, requests=20, seed=2))
    assert len(report.visits) == 20


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("public, max_age=60", "did you mean 'max-age'"),
        ("public, max-age=1h", "needs a whole number of seconds, like max-age=60"),
        ("public, private", "both public and private"),
        ("no-store, max-age=60", "drop one side"),
        ("max-age=60, max-age=30", "names max-age twice"),
        ({"Expires": "0"}, "Only Cache-Control and Vary"),
        ({"Cache-Control": "private", "Vary": "Coo kie"}, "not a header name"),
        (42, "must be a Cache-Control string or a dict"),
    ],
)
def test_invalid_header_sets_get_one_clear_sentence(spec, message):
    with pytest.raises(LabError) as err:
        header_set("account", spec)
    text = str(err.value)
    assert message in text and "\n" not in text and text.count(". ") == 0


def test_bad_requests_and_settings_are_one_sentence(lab):
    site = lab.site()
    with pytest.raises(LabError, match="user must be a whole number from 0 to 19"):
        site.get(20, "/account")
    with pytest.raises(LabError, match="is not a page of this shop"):
        site.get(0, "/admin")
    with pytest.raises(LabError, match="Unknown endpoint 'cart'"):
        header_policy({"cart": "no-store"})
    with pytest.raises(LabError, match="Unknown identity"):
        lab.site(identity="ip")
    with pytest.raises(LabError, match="There is no product 999"):
        site.write("product", 999)
    assert header_policy() == DEFAULT_POLICY


# -- the exercises --------------------------------------------------------------------------
def test_reference_headers_pass_the_grader(fake_lab):
    passed, message = grade_headers(REFERENCE_POLICY, fake_lab)
    assert passed, message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"account": "public, max-age=60"}, "served by the CDN"),
        ({"account": "private, max-age=60"}, "shared laptop"),
        ({"account": {"Cache-Control": "public, max-age=60", "Vary": "Cookie"}}, "the CDN kept"),
        ({"product": "public, max-age=300"}, "product pages were up to"),
        ({"asset": "public, max-age=600"}, "fingerprinted asset was fetched"),
        ({"product": "private, max-age=60"}, "product pages reached the origin"),
        ({"search": "public, no-cache"}, "search pages reached the origin"),
    ],
)
def test_the_grader_fails_leaks_stale_pages_and_needless_origin_load(fake_lab, change, expected):
    passed, message = grade_headers({**REFERENCE_POLICY, **change}, fake_lab)
    assert not passed and expected in message


def test_exercise_checks_never_raise(fake_lab, capsys):
    ex = exercises(lab=fake_lab)
    assert not ex["headers"].check(...)
    assert not ex["headers"].check({"asset": "public"})
    assert "missing: product, account, search" in capsys.readouterr().out
    assert not ex["headers"].check({**REFERENCE_POLICY, "product": "public, maxage=60"})
    assert "did you mean 'max-age'" in capsys.readouterr().out
    assert not ex["staleness"].check(660)
    assert ex["staleness"].check(600)
    assert not ex["staleness"].check("ten")


# -- what the notebook's prose says -----------------------------------------------------------
def test_notebook_waterfall_claims(fake_lab):
    from labkit.layers.experiments import waterfall_scenario

    steps = waterfall_scenario(fake_lab)
    cold, cdn, browser, revalidated, later = (s.visit for s in steps)
    assert 0.110 < cold.seconds < 0.130                     # "about 120 ms"
    wire = sum(h.seconds for h in cold.hops if "↔" in h.layer)
    assert 0.70 < wire / cold.seconds < 0.80                # "three quarters on the wire"
    server = [h for h in cold.hops if h.layer in ("app cache", "query cache", "database", "origin")]
    assert max(server, key=lambda h: h.seconds).layer == "database"
    assert cdn.answered_by == "CDN" and not any(h.layer == "CDN ↔ origin" for h in cdn.hops)
    assert browser.answered_by == "browser" and browser.seconds < 0.001
    assert revalidated.revalidated and revalidated.answered_by == "CDN"
    assert revalidated.bytes_to_user == HEADER_BYTES
    assert later.answered_by == "query cache" and later.revalidated
    far = [s.visit for s in waterfall_scenario(fake_lab, origin_rtt_ms=200)]
    assert far[0].seconds > cold.seconds + 0.13 and far[4].seconds > later.seconds + 0.13
    assert far[1].seconds == pytest.approx(cdn.seconds)
    no_store = [s.visit for s in waterfall_scenario(fake_lab, product_headers="no-store")]
    assert all(v.answered_by in ("app cache", "query cache", "database") for v in no_store)


def test_notebook_traffic_claims(fake_lab):
    from labkit.layers.experiments import measure_traffic

    public = measure_traffic(fake_lab)
    one, many = public[0], public[-1]
    assert one.users == 1 and many.users == 125
    assert one.edge_share < 0.05 and many.edge_share > 0.5     # "over half"
    assert 140 < one.median_ms < 160 and 70 < many.median_ms < 90
    assert many.answered_share["browser"] < 0.2                 # "the browser band stays thin"
    growth = {layer: many.answered_share[layer] - one.answered_share[layer] for layer in ("browser", "CDN")}
    assert growth["CDN"] > 2 * growth["browser"]
    private = measure_traffic(fake_lab, product_headers="private, max-age=60", user_counts=(125,))[0]
    assert private.answered_share["CDN"] < many.answered_share["CDN"] / 2
    assert private.origin_share > many.origin_share


def test_notebook_revalidation_claims(fake_lab):
    from labkit.layers.experiments import measure_revalidation

    fresh, not_modified, full_cdn, origin = measure_revalidation(fake_lab)
    assert not_modified.bytes_to_user == 300 and full_cdn.bytes_to_user == 40_300
    assert 0.45 < not_modified.seconds / full_cdn.seconds < 0.65   # "roughly half"
    assert fresh.seconds < 0.001 < not_modified.seconds
    slow = measure_revalidation(fake_lab, bandwidth_mbit=2)
    fast = measure_revalidation(fake_lab, bandwidth_mbit=1000)
    assert slow[2].seconds > 4 * full_cdn.seconds                      # the full page crawls
    assert slow[1].seconds == pytest.approx(not_modified.seconds, rel=0.1)  # the 304 barely changes
    assert fast[1].seconds / fast[2].seconds > 0.9                     # they converge
    asset = measure_revalidation(fake_lab, page="asset")
    assert asset[2].seconds - asset[1].seconds > 3 * (full_cdn.seconds - not_modified.seconds)


def test_notebook_staleness_claims(fake_lab):
    from labkit.layers.experiments import measure_staleness

    run = measure_staleness(fake_lab)  # its speed is measured in benchmarks/bench_layers.py
    assert 190 < run.worst_by_layer["CDN"] <= 201              # "up to 200 s"
    assert run.worst_by_layer.get("browser", 0.0) <= run.worst_by_layer["CDN"]
    for layer in ("app cache", "query cache", "database"):
        assert run.worst_by_layer.get(layer, 0.0) == 0.0
    purged = measure_staleness(fake_lab, purge_cdn_on_write=True)
    assert max(purged.worst_by_layer.values()) == 0.0          # the browsers' copies were too old
    short = measure_staleness(fake_lab, purge_cdn_on_write=True, cdn_s_maxage=30)
    assert short.worst_by_layer.get("CDN", 0.0) == 0.0
    assert 0 < short.worst_by_layer["browser"] <= 60
    lazy = measure_staleness(fake_lab, purge_cdn_on_write=True, invalidate_app_cache_on_write=False)
    # The purge refilled the CDN from a stale app cache, and the copy got a fresh s-maxage.
    assert lazy.worst_by_layer["CDN"] > 290 > run.worst_by_layer["CDN"]
    assert lazy.worst_by_layer["app cache"] > 0


def test_notebook_leak_claims(fake_lab):
    from labkit.layers.experiments import measure_leak

    leaky = measure_leak(fake_lab)
    assert leaky.users_shown_someone_else == 29                 # "29 of the 30 users"
    for headers in ("private, max-age=60", "private, max-age=60 + Vary: Cookie",
                    "private, no-cache + Vary: Cookie", "no-store"):
        run = measure_leak(fake_lab, account_headers=headers)
        assert run.cross_user == [] and run.cdn_account_copies == 0
    laptop = measure_leak(fake_lab, account_headers="private, max-age=60", shared_laptops=True)
    assert laptop.cross_user and {v.served_from for v in laptop.cross_user} == {"browser"}
    for headers in ("private, max-age=60 + Vary: Cookie", "private, no-cache + Vary: Cookie"):
        assert measure_leak(fake_lab, account_headers=headers, shared_laptops=True).cross_user == []


def test_notebook_solution_alternatives_pass(fake_lab):
    for account in ({"Cache-Control": "private, max-age=30", "Vary": "Cookie"}, "no-store",
                    {"Cache-Control": "private, no-cache", "Vary": "Cookie"}):
        passed, message = grade_headers({**REFERENCE_POLICY, "account": account}, fake_lab)
        assert passed, message


def test_the_numbers_the_notebook_quotes_for_its_set_up():
    from labkit.layers import LatencyModel
    from labkit.layers.experiments import _SITE, grading_traffic

    model = LatencyModel()
    assert model.user_cdn_rtt_seconds / 2 == 0.010             # "10 ms from the CDN edge"
    assert model.cdn_origin_rtt_seconds / 2 == 0.030           # "the origin 30 ms further"
    assert model.db_query_seconds == 0.020                     # "a 20 ms query"
    assert _SITE["users"] == 24 and _SITE["users_per_browser"] == 2
    events = grading_traffic()
    assert 1700 < events[-1].t <= 1800                         # "half an hour of traffic"
    assert {e.write for e in events} == {None, "product", "account"}


# -- measuring ahead: the traffic slider's next steps ---------------------------------------

def _wait_for(condition, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_traffic_slider_measures_its_neighbouring_ttls_ahead():
    from labkit.layers.experiments import measure_traffic
    from labkit.layers.lesson import APP_TTL_CHOICES, explore_traffic

    store = labkit.connect("fakeredis://", namespace="test-layers-ahead")
    with Lab(store) as lab:
        plot = explore_traffic(lab)
        assert plot.controls["app_ttl_seconds"].options == APP_TTL_CHOICES
        key = lambda ttl: ("measure_traffic", (("app_ttl_seconds", ttl),  # noqa: E731
                                               ("product_headers", "public, max-age=60")))
        assert _wait_for(lambda: key(60) in lab.memo and key(15) in lab.memo)
        ahead = lab.memo[key(60)]
        plot.set(app_ttl_seconds=60)
        assert ahead is measure_traffic(lab, product_headers="public, max-age=60", app_ttl_seconds=60)
        assert "origin handled" in plot.last_result


def test_measuring_ahead_stops_with_the_lab():
    from labkit.layers.experiments import measure_ahead, measure_traffic

    store = labkit.connect("fakeredis://", namespace="test-layers-ahead-stop")
    lab = Lab(store)
    lab.close()
    measure_ahead(lab, measure_traffic, [{"app_ttl_seconds": 7}]).join(timeout=30)
    assert not lab.origin.running and not lab.memo   # the clean-up cell's stop holds


def test_staleness_sliders_measure_their_next_steps_ahead():
    from labkit.layers.lesson import explore_staleness

    store = labkit.connect("fakeredis://", namespace="test-layers-ahead-stale")
    with Lab(store) as lab:
        explore_staleness(lab)
        keys = lambda: {dict(k[1])["browser_max_age"] for k in lab.memo  # noqa: E731
                        if k[0] == "measure_staleness" and dict(k[1])["cdn_s_maxage"] == 300}
        assert _wait_for(lambda: {50, 60, 70} <= keys())
