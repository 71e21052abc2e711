"""The numbers notebook 11's prose states, computed from the engines (seeded, virtual clock)."""

from __future__ import annotations

from ..claims import claim
from . import grading
from .attacks import DECEPTION, attack_outcomes, insecure_hit_ratio, replay_traffic, victims_per_copy
from .redis_side import RAN, pickle_readers
from .web import by_extension, insecure_key

ROOM_TRAFFIC, TTL = 10, 60


@claim("victims_at_60s", notebook="11",
       fact="one poisoned copy reaches about traffic x TTL visitors (10/s x 60 s = 600, within 10%)",
       holds=lambda v: 540 <= v <= 660)
def victims_at_60s() -> int:
    return victims_per_copy(ROOM_TRAFFIC, TTL)


@claim("victims_at_hour", notebook="11", fact="an hour-long TTL turns one request into tens of thousands of victims",
       holds=lambda v: 34_000 <= v <= 38_000)
def victims_at_hour() -> int:
    return victims_per_copy(ROOM_TRAFFIC, 3600)


@claim("victims_at_5s", notebook="11", fact="a 5 s TTL still hands one poisoned copy to dozens of visitors",
       holds=lambda v: 30 <= v <= 70)
def victims_at_5s() -> int:
    return victims_per_copy(ROOM_TRAFFIC, 5)


def _worked(cache_key, cacheable, kind: str) -> int:
    return sum(r.succeeded for r in attack_outcomes(cache_key, cacheable) if r.attack.kind == kind)


@claim("poisonings_shipped", notebook="11", fact="all three unkeyed inputs poison the shipped CDN",
       holds=lambda v: v == 3)
def poisonings_shipped() -> int:
    return _worked(insecure_key, by_extension, "poisoning")


@claim("deceptions_shipped", notebook="11", fact="every path trick steals Alice's page from the CDN that trusts "
       "the extension", holds=lambda v: v == len(DECEPTION))
def deceptions_shipped() -> int:
    return _worked(insecure_key, by_extension, "deception")


@claim("deceptions_by_extension_fixed_key", notebook="11",
       fact="keying every input does not stop deception while the extension decides",
       holds=lambda v: v == len(DECEPTION))
def deceptions_by_extension_fixed_key() -> int:
    return _worked(grading.cache_key, by_extension, "deception")


@claim("attacks_fixed", notebook="11", fact="with the fixed key and the rule by response headers no attack works",
       holds=lambda v: v == 0)
def attacks_fixed() -> int:
    runs = attack_outcomes(grading.cache_key, grading.cacheable)
    return sum(r.succeeded for r in runs)


@claim("hit_ratio_shipped", notebook="11", fact="the shipped CDN serves most of the room's traffic",
       holds=lambda v: 0.8 <= v <= 0.95)
def hit_ratio_shipped() -> float:
    return insecure_hit_ratio()


@claim("hit_ratio_fixed", notebook="11", fact="the fix keeps the hit ratio within a point of the shipped CDN's",
       holds=lambda v: abs(v - insecure_hit_ratio()) <= 0.01)
def hit_ratio_fixed() -> float:
    return replay_traffic(grading.cache_key, grading.cacheable).hit_ratio


@claim("hit_ratio_every_param", notebook="11",
       fact="keying every marketing parameter costs more than the few points allowed",
       holds=lambda v: v < insecure_hit_ratio() - grading.HIT_RATIO_SLACK)
def hit_ratio_every_param() -> float:
    return replay_traffic(grading._every_marketing_param, grading.cacheable).hit_ratio


@claim("pickle_runs", notebook="11", fact="one pickled write runs its code in every reader (3 of 3)",
       holds=lambda v: v == 3)
def pickle_runs() -> int:
    from ..store import MemoryStore

    before = len(RAN)
    pickle_readers(MemoryStore(), readers=3)
    return len(RAN) - before
