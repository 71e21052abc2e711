"""Cache security: the cache key as a boundary, poisoning, deception, and the Redis side.

==================  ==========================================================
``web``             the shop's origin (it reflects unkeyed inputs), the CDN, its shipped rules
``servers``         both on real HTTP on 127.0.0.1 (``http.server`` and ``http.client``)
``attacks``         the attacks, the room's normal traffic, victims of one poisoned copy
``grading``         the CDN-rules exercise: reference, alternatives, mistakes, replays
``redis_side``      keys from input, pickle in a shared cache, signed values, ACL users
``lesson``          the notebook's tables, live chart and exercises (loaded on use)
``claims``          the numbers notebook 11's prose states
==================  ==========================================================
"""

from __future__ import annotations

from ..course import lesson_attributes
from .attacks import (
    ATTACKS,
    DECEPTION,
    POISONING,
    Attack,
    attack_outcomes,
    insecure_hit_ratio,
    normal_traffic,
    replay_traffic,
    run_attack,
    victims_per_copy,
)
from .redis_side import encoded_key, naive_key, sign, validated_key, verify
from .servers import Stack
from .web import Cdn, Request, Response, by_extension, insecure_key, key_audit, origin

__all__ = [
    "ATTACKS", "DECEPTION", "POISONING", "Attack", "attack_outcomes", "insecure_hit_ratio", "normal_traffic",
    "replay_traffic", "run_attack", "victims_per_copy", "encoded_key", "naive_key", "sign", "validated_key",
    "verify", "Stack", "Cdn", "Request", "Response", "by_extension", "insecure_key", "key_audit", "origin",
]

__getattr__ = lesson_attributes(__name__, {
    "lesson", "key_table", "attack_table", "attacks_summary", "explore_poisoning", "key_collisions",
    "pickle_table", "signed_table", "acl_table", "exercises",
})
