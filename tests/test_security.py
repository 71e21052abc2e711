"""Notebook 11: the unkeyed inputs, the attacks over real HTTP, the victims of one poisoned
copy, the CDN-rules grader, and the Redis side (keys, pickle, signatures, ACL users)."""

from __future__ import annotations

import http.client
from http.server import ThreadingHTTPServer

import pytest

from labkit.clock import VirtualClock
from labkit.errors import LabError
from labkit.exercises import Args, Implement
from labkit.redis_server import redis_server_binary
from labkit.security import grading, redis_side
from labkit.security.attacks import (
    ATTACKS,
    DECEPTION,
    POISONING,
    attack_outcomes,
    insecure_hit_ratio,
    normal_traffic,
    poisoned_visits,
    replay_traffic,
    run_attack,
    victims_per_copy,
)
from labkit.security.servers import Stack
from labkit.security.web import Cdn, Request, by_extension, insecure_key, key_audit, origin
from labkit.store import MemoryStore


def _unkeyed(cache_key) -> list[str]:
    return [row["input"] for row in key_audit(cache_key) if row["verdict"].startswith("UNKEYED")]


def test_the_shipped_key_leaves_out_exactly_the_three_inputs_the_origin_reflects():
    assert _unkeyed(insecure_key) == ["query: utm_content", "X-Forwarded-Host", "X-Forwarded-Scheme"]
    assert _unkeyed(grading.cache_key) == []
    assert _unkeyed(lambda request: request.path) == ["Host", "query: id (a product)", "query: utm_content",
                                                      "X-Forwarded-Host", "X-Forwarded-Scheme"]


def test_the_stack_is_the_standard_librarys_http_on_loopback_and_closes():
    with Stack() as stack:
        for server in (stack.cdn_server, stack.origin_server):
            assert isinstance(server, ThreadingHTTPServer) and server.server_address[0] == "127.0.0.1"
        first, second = stack.get("/product?id=3"), stack.get("/product?id=3")
        assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
        assert stack.cdn.hits == 1 and stack.cdn.misses == 1
        port = stack.port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    with pytest.raises(OSError):
        connection.request("GET", "/")
        connection.getresponse()


def test_every_attack_works_on_the_shipped_cdn_over_http_and_none_on_the_fixed_one():
    shipped = attack_outcomes(insecure_key, by_extension)
    assert [run.succeeded for run in shipped] == [True] * len(ATTACKS)
    assert not any(run.succeeded for run in attack_outcomes(grading.cache_key, grading.cacheable))
    poisoned = shipped[0].rows
    assert [row["X-Cache"] for row in poisoned] == ["MISS", "HIT"]
    assert "evil.example" in poisoned[1]["got"] and poisoned[1]["headers sent"] == "-"
    stolen = shipped[len(POISONING)].rows
    assert stolen[1]["X-Cache"] == "HIT" and "sk_live_alice" in stolen[1]["got"]


def test_a_better_key_alone_does_not_stop_deception_and_a_better_rule_alone_does_not_stop_poisoning():
    key_only = attack_outcomes(grading.cache_key, by_extension)
    rule_only = attack_outcomes(insecure_key, grading.cacheable)
    assert [r.succeeded for r in key_only] == [False] * len(POISONING) + [True] * len(DECEPTION)
    assert [r.succeeded for r in rule_only] == [True] * len(POISONING) + [False] * len(DECEPTION)


def test_the_origin_answers_every_path_trick_with_the_private_page():
    for attack in DECEPTION:
        page = origin(attack.steps[0].request)
        assert page.status == 200 and "Alice's" in page.body
        assert {"private", "no-store"} & set(page.cache_control)
        assert origin(attack.steps[1].request).status == 302  # no cookie: the login redirect


def test_victims_of_one_copy_are_traffic_times_ttl_within_poisson_noise():
    for visitors, ttl in ((1, 600), (10, 60), (20, 300)):
        expected = visitors * ttl
        assert abs(victims_per_copy(visitors, ttl) - expected) <= 4 * expected ** 0.5, (visitors, ttl)
    by_ttl = [victims_per_copy(10, t) for t in (5, 60, 600, 3600)]
    assert by_ttl == sorted(by_ttl) and by_ttl[0] < 100 < 30_000 < by_ttl[-1]


def test_one_hour_replay_gives_the_same_victims_as_a_replay_at_that_ttl():
    for ttl in (7, 60, 450):
        assert len(poisoned_visits(4, 1, ttl)) == victims_per_copy(4, ttl)


def test_the_cdn_refuses_an_unhashable_key_in_one_sentence():
    cdn = Cdn(origin, lambda request: {"path": request.path}, by_extension, clock=VirtualClock())
    with pytest.raises(LabError, match="hashable"):
        cdn.handle(Request("/"))


def test_the_room_traffic_is_seeded_and_the_fix_keeps_its_hit_ratio():
    assert normal_traffic()[:50] == normal_traffic()[:50]
    fixed = replay_traffic(grading.cache_key, grading.cacheable)
    assert fixed.wrong == () and abs(fixed.hit_ratio - insecure_hit_ratio()) <= 0.01
    assert 0.8 <= insecure_hit_ratio() <= 0.95
    leaky = replay_traffic(grading.cache_key, lambda request, response: response.status == 200)
    assert leaky.wrong and any("cart" in served.body for _, served, _ in leaky.wrong)


# -- the grader ---------------------------------------------------------------------------------


@pytest.fixture
def cdn_rules() -> Implement:
    return Implement("11", "cdn-rules", grading.scenarios(), hint="h",
                     reference=lambda: Args((grading.cache_key, grading.cacheable)),
                     mistakes=grading.MISTAKES, alternatives=grading.ALTERNATIVES)


def test_the_reference_and_each_alternative_pass(cdn_rules, capsys):
    assert cdn_rules.check(cdn_rules.reference())
    for name, answer in cdn_rules.alternatives().items():
        assert cdn_rules.check(answer), f"{name}: {cdn_rules.last_feedback}"


@pytest.mark.parametrize("name", sorted(grading.MISTAKES))
def test_each_listed_mistake_is_refused_by_name(cdn_rules, name, capsys):
    assert not cdn_rules.check(cdn_rules.mistakes()[name])
    assert name in cdn_rules.last_feedback


def test_a_failing_attack_shows_the_request_sequence_that_worked():
    scenario = next(s for s in grading.scenarios() if s.name == "deception through /account/settings;x.js")
    verdict = scenario.run(Args((grading.cache_key, by_extension)))
    assert not verdict.passed and "trusting the extension" in verdict.message
    assert [row["GET"] for row in verdict.evidence] == ["/account/settings;x.js"] * 2
    assert verdict.evidence[0]["headers sent"] == "cookie: session=alice"
    assert verdict.evidence[1]["X-Cache"] == "HIT" and "sk_live_alice" in verdict.evidence[1]["got"]


def test_caching_nothing_is_secure_but_refused_for_its_hit_ratio(cdn_rules, capsys):
    assert not cdn_rules.check(grading.cache_key, lambda request, response: False)
    assert "hit ratio fell to 0.0%" in cdn_rules.last_feedback


def test_the_attacks_replay_through_any_send_and_need_an_empty_cache():
    cdn = Cdn(origin, insecure_key, by_extension, clock=VirtualClock())
    runs = [run_attack(attack, lambda r: cdn.handle(r)[0]).succeeded for attack in POISONING]
    assert runs == [True, False, False]  # the first copy stays: the next attackers get a HIT
    for attack in POISONING:
        fresh = Cdn(origin, insecure_key, by_extension, clock=VirtualClock())
        assert run_attack(attack, lambda r, cdn=fresh: cdn.handle(r)[0]).succeeded


# -- the Redis side -------------------------------------------------------------------------------


def test_a_separator_in_a_tenant_name_reaches_another_tenants_key_unless_encoded_or_checked():
    store = MemoryStore()
    naive = redis_side.key_collision(store, redis_side.naive_key)
    assert naive.attacker_key == naive.victim_key and "payroll" in naive.attacker_read
    encoded = redis_side.key_collision(store, redis_side.encoded_key)
    assert encoded.attacker_key != encoded.victim_key and "payroll" not in encoded.attacker_read
    checked = redis_side.key_collision(store, redis_side.validated_key)
    assert checked.attacker_key == "(refused)" and "payroll" not in checked.attacker_read
    assert store.scan_keys() == []


def test_pickle_runs_the_writers_code_in_every_reader_and_a_signature_stops_it():
    store = MemoryStore()
    before = len(redis_side.RAN)
    rows = redis_side.pickle_readers(store, readers=4)
    assert len(redis_side.RAN) - before == 4 and [r["writer's code ran (total)"] for r in rows] == ["1", "2", "3", "4"]
    before = len(redis_side.RAN)
    signed = redis_side.signed_reads(store)
    assert len(redis_side.RAN) == before
    assert [r["the reader got"].startswith("refused") for r in signed] == [False, True, True]
    assert store.scan_keys() == []


def test_verify_refuses_a_value_signed_with_another_key():
    stored = redis_side.sign({"price": "19.99"}, b"k1")
    assert redis_side.verify(stored, b"k1") == {"price": "19.99"}
    with pytest.raises(LabError, match="not written by a holder of the key"):
        redis_side.verify(stored.replace("19.99", "0.01"), b"k1")


@pytest.mark.skipif(redis_server_binary() is None, reason="redis-server is not installed")
def test_acl_users_are_refused_outside_their_key_pattern_on_the_labs_own_server():
    rows = redis_side.acl_attempts()
    answers = {(r["user"], r["command"]): r["answer"] for r in rows}
    assert answers[("orders", "SET orders:1 kettle")] == "OK"
    assert answers[("orders", "GET billing:card:alice")].startswith("NOPERM")
    assert answers[("orders", "FLUSHALL")].startswith("NOPERM")
    assert "4242" in answers[("billing", "GET billing:card:alice")]


def test_without_redis_server_the_acl_part_says_so_in_one_sentence(monkeypatch):
    monkeypatch.setattr(redis_side, "redis_server_binary", lambda: None)
    said = redis_side.acl_attempts()
    assert isinstance(said, str) and said.count(". ") == 0 and "skipped" in said


# -- the lesson ------------------------------------------------------------------------------------


def test_the_victims_chart_states_its_finding_and_moves_with_its_sliders():
    from labkit.security import lesson

    plot = lesson.explore_poisoning()
    assert "with a 60 s TTL reached" in plot.axes[0].get_title()
    longest = 10 ** plot.controls["ttl_seconds"].max  # a log slider's max is an exponent
    plot.set(ttl_seconds=longest, visitors_per_second=3)
    assert f"reached {victims_per_copy(3, longest):,} visitors" in plot.axes[0].get_title()
    assert victims_per_copy(3, longest) > 9_000


def test_the_ttl_and_key_exercises_refuse_their_mistakes(capsys):
    from labkit.security import lesson

    ex = lesson.exercises()
    assert ex.poisoning_ttl.check(20) and not ex.poisoning_ttl.check(100) and not ex.poisoning_ttl.check(2)
    assert ex.invoice_key.check(redis_side.encoded_key)
    assert not ex.invoice_key.check(redis_side.naive_key)
    assert "both became the key" in ex.invoice_key.last_feedback


@pytest.mark.parametrize("module", ["web", "servers", "attacks", "redis_side"])
def test_the_engines_doctests_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"labkit.security.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_the_lessons_tables_state_their_finding_and_refuse_bad_names():
    from labkit.security import lesson

    assert lesson.key_table().caption.startswith("The shipped CDN's key: 3 inputs")
    assert lesson.key_table("fixed").caption.startswith("The fixed CDN's key: 0 inputs")
    assert lesson.attacks_summary().caption == "7 of 7 attacks work on the shipped CDN, 0 on the fixed one"
    with pytest.raises(LabError, match="no attack 'poisoning through Cookie'"):
        lesson.attack_table("poisoning through Cookie")
    with pytest.raises(LabError, match="'shipped' or 'fixed'"):
        lesson.key_table("safe")
