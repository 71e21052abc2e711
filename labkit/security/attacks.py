"""The attacks, the room's normal traffic, and how far one poisoned copy reaches.

An :class:`Attack` is a short request sequence - who sends what - and a test of the
last response: did the victim get the attacker's page, or the attacker the victim's?
:func:`run_attack` replays one through any ``send(request) -> response`` (the HTTP
stack, or a :class:`~labkit.security.web.Cdn` in process) and returns the rows the
notebook and the grader show.

>>> from labkit.security.web import Cdn, origin, insecure_key, by_extension
>>> cdn = Cdn(origin, insecure_key, by_extension)
>>> run_attack(POISONING[0], lambda r: cdn.handle(r)[0]).succeeded
True
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..clock import VirtualClock
from ..memo import memo
from .web import Cdn, Request, Response, by_extension, insecure_key, origin

__all__ = ["Step", "Attack", "AttackRun", "POISONING", "DECEPTION", "ATTACKS", "run_attack", "attack_outcomes",
           "normal_traffic", "Replay", "replay_traffic", "insecure_hit_ratio", "poisoned_visits", "victims_per_copy"]

ALICE = {"host": "shop.example", "cookie": "session=alice"}
ANYONE = {"host": "shop.example"}
EVIL_SCRIPT = "<script>steal()</script>"


@dataclass(frozen=True)
class Step:
    who: str
    request: Request


@dataclass(frozen=True)
class Attack:
    name: str
    kind: str         # "poisoning" or "deception"
    unkeyed: str      # the input or the path trick it relies on
    steps: tuple[Step, ...]
    succeeded: Callable[[Response], bool]  # judged on the last step's response


def _poison(unkeyed: str, attacker: Request, marker: Callable[[Response], bool]) -> Attack:
    victim = Step("victim (no special headers)", Request("/", headers=dict(ANYONE)))
    return Attack(f"poisoning through {unkeyed}", "poisoning", unkeyed,
                  (Step("attacker", attacker), victim), marker)


def _deceive(path: str) -> Attack:
    lure = Step("Alice, signed in, follows the attacker's link", Request(path, headers=dict(ALICE)))
    fetch = Step("attacker, no cookie", Request(path, headers=dict(ANYONE)))
    return Attack(f"deception through {path}", "deception", path, (lure, fetch),
                  lambda r: "Alice's" in r.body)


POISONING = (
    _poison("X-Forwarded-Host", Request("/", headers={**ANYONE, "x-forwarded-host": "evil.example"}),
            lambda r: "evil.example" in r.body),
    _poison("X-Forwarded-Scheme", Request("/", headers={**ANYONE, "x-forwarded-scheme": "http"}),
            lambda r: "src='http://" in r.body),
    _poison("utm_content", Request("/", {"utm_content": EVIL_SCRIPT}, dict(ANYONE)),
            lambda r: EVIL_SCRIPT in r.body),
)
DECEPTION = tuple(_deceive(p) for p in ("/account/settings/x.css", "/account/settings;x.js",
                                        "/account/settings%2Fx.png", "/account/orders/x.css"))
ATTACKS = POISONING + DECEPTION


def _headers_shown(request: Request) -> str:
    return ", ".join(f"{k}: {v}" for k, v in request.headers.items() if k != "host") or "-"


def _got(response: Response) -> str:
    if response.status == 302:  # the login redirect
        return f"{response.status} redirect to {response.headers.get('location', '?')}"
    return response.body[:90] or f"{response.status}, empty"


@dataclass(frozen=True)
class AttackRun:
    attack: Attack
    succeeded: bool
    rows: tuple[dict[str, str], ...]


def run_attack(attack: Attack, send: Callable[[Request], Response]) -> AttackRun:
    """Send the attack's steps in order; did it work, and what did each step get?"""
    rows, response = [], None
    for i, step in enumerate(attack.steps, start=1):
        response = send(step.request)
        rows.append({"step": str(i), "who": step.who, "GET": step.request.url,
                     "headers sent": _headers_shown(step.request),
                     "X-Cache": response.headers.get("x-cache", "-"), "got": _got(response)})
    assert response is not None
    return AttackRun(attack, bool(attack.succeeded(response)), tuple(rows))


def attack_outcomes(cache_key, cacheable) -> list[AttackRun]:
    """Every attack over real HTTP, each against an empty CDN with these rules."""
    from .servers import Stack

    runs = []
    with Stack(cache_key, cacheable) as stack:
        for attack in ATTACKS:
            stack.cdn.copies.clear()
            runs.append(run_attack(attack, stack.send))
    return runs


# -- the room's normal traffic ---------------------------------------------------------------


def normal_traffic(n_requests: int = 3000, rate_per_second: float = 20.0,
                   seed: int = 11) -> list[tuple[float, Request]]:
    """Seeded visits: home pages (a third from campaign links), products, assets, account pages.

    Most visitors (85%) are signed in and send their session cookie with every request.
    """
    rng = random.Random(seed)
    t, visits = 0.0, []
    for _ in range(n_requests):
        t += rng.expovariate(rate_per_second)
        headers = {"host": "shop.example"}
        if rng.random() < 0.85:
            headers["cookie"] = f"session={rng.choice(('alice', 'bob'))}"
        kind = rng.random()
        if kind < 0.45:
            headers["host"] = "blog.example" if rng.random() < 0.2 else "shop.example"
            query = {}
            if rng.random() < 0.3:
                query = {"utm_source": rng.choice(("newsletter", "ads", "social")),
                         "utm_campaign": f"dec-{rng.randint(1, 31)}"}
            request = Request("/", query, headers)
        elif kind < 0.75:
            product = min(int(rng.paretovariate(1.2)), 40)
            request = Request("/product", {"id": str(product)}, headers)
        elif kind < 0.9:
            request = Request(rng.choice(("/static/app.js", "/static/style.css", "/static/logo.png")),
                              headers=headers)
        else:
            request = Request(rng.choice(("/account/settings", "/account/orders", "/cart")), headers=headers)
        visits.append((t, request))
    return visits


@dataclass(frozen=True)
class Replay:
    hit_ratio: float
    wrong: tuple[tuple[Request, Response, Response], ...]  # (request, served, what the origin says)
    requests: int


def replay_traffic(cache_key, cacheable, visits: list[tuple[float, Request]] | None = None) -> Replay:
    """The room's traffic through a CDN with these rules, on a virtual clock: its hit ratio,
    and every visitor who got another page than the origin would have given them."""
    clock = VirtualClock()
    cdn = Cdn(origin, cache_key, cacheable, clock=clock)
    wrong = []
    for t, request in visits if visits is not None else _default_traffic():
        clock.set(t)
        served, _ = cdn.handle(request)
        truth = origin(request)
        if (served.status, served.body) != (truth.status, truth.body):
            wrong.append((request, served, truth))
    return Replay(cdn.hit_ratio, tuple(wrong), cdn.hits + cdn.misses)


@memo(maxsize=1)
def _default_traffic() -> tuple[tuple[float, Request], ...]:
    return tuple(normal_traffic())


@memo(maxsize=1)
def insecure_hit_ratio() -> float:
    """The shipped CDN's hit ratio on the room's traffic: the bar a fix must keep."""
    return replay_traffic(insecure_key, by_extension).hit_ratio


# -- how far one poisoned copy reaches -------------------------------------------------------------


MAX_TTL_SECONDS = 3600


@memo(maxsize=64)
def poisoned_visits(visitors_per_second: float, seed: int = 1,
                    ttl_seconds: float = MAX_TTL_SECONDS) -> np.ndarray:
    """When each visitor was served one poisoned copy of the home page.

    The attacker's request fills the CDN (its TTL an hour unless told); then seeded
    visitors arrive at ``visitors_per_second`` through the same CDN, and every one it
    answers from that copy is recorded, until the copy expires.  A shorter TTL ends the
    list earlier and changes nothing before that, so the hour's replay serves every TTL.
    """
    clock = VirtualClock()
    cdn = Cdn(origin, insecure_key, by_extension, clock=clock, ttl_seconds=ttl_seconds)
    attacker, visitor = POISONING[0].steps[0].request, Request("/", headers=dict(ANYONE))
    cdn.handle(attacker)
    rng, served_at = random.Random(seed * 7919 + round(visitors_per_second * 100)), []
    while True:
        clock.advance(rng.expovariate(visitors_per_second))
        served, cache_status = cdn.handle(visitor)
        if cache_status != "HIT":
            times = np.array(served_at)
            times.flags.writeable = False  # a memo hands the same array to every caller
            return times
        if POISONING[0].succeeded(served):
            served_at.append(clock.now())


def victims_per_copy(visitors_per_second: float, ttl_seconds: float, seed: int = 1) -> int:
    """Visitors one poisoned copy reaches when it lives ``ttl_seconds``.

    >>> victims_per_copy(10, 60) > 500
    True
    """
    return int(np.searchsorted(poisoned_visits(visitors_per_second, seed), min(ttl_seconds, MAX_TTL_SECONDS)))
