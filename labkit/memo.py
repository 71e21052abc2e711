"""One registry for labkit's memo caches, so one call forgets them all.

Sliders return to settings a learner has tried before, and claims and lessons
share expensive replays, so many engine functions remember their results.  Each
uses :func:`memo` instead of ``functools.lru_cache``; :func:`forget` (also
``labkit.forget()``) clears every one of them at once - what tests and a
notebook's "start again" cell need, without knowing which modules keep memos.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["memo", "forget", "registered"]

F = TypeVar("F", bound=Callable[..., Any])
_REGISTRY: dict[str, Any] = {}


def memo(maxsize: int | None = 128) -> Callable[[F], F]:
    """``functools.lru_cache(maxsize)``, registered so :func:`forget` can clear it.

    Results must be immutable (or never mutated by callers): a memo hands the same
    object to every caller.
    """

    def decorate(fn: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(fn)
        _REGISTRY[f"{fn.__module__}.{fn.__qualname__}"] = cached
        return cached  # type: ignore[return-value]

    return decorate


def forget() -> int:
    """Clear every registered memo; returns how many memos there are."""
    for cached in _REGISTRY.values():
        cached.cache_clear()
    return len(_REGISTRY)


def registered() -> list[str]:
    """The qualified names of every memo loaded so far."""
    return sorted(_REGISTRY)
