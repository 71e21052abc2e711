"""Counters: named counts since the last reset, safe to add to from several threads.

The store, the database and the caching patterns each keep such counts.  A
subclass declares its counts as annotations - ``hits: int``, ``busy_seconds: float``
- and every one starts at zero; a reset is a new object.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, get_type_hints

__all__ = ["Counters"]


class Counters:
    """The counts a subclass declares (``int`` or ``float``), all starting at zero."""

    _zeros: ClassVar[dict[str, int | float]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hints = get_type_hints(cls)
        cls._zeros = {name: hints[name]() for name in hints if hints[name] in (int, float)}

    def __init__(self) -> None:
        self.__dict__.update(self._zeros)
        self._lock = threading.Lock()

    def add(self, **counts: float) -> None:
        """Add to several counts at once, under one lock."""
        fields = self.__dict__  # direct access: this runs on every command of a replay
        with self._lock:
            for name, n in counts.items():
                fields[name] += n

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self._zeros}

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._zeros)
        return f"{type(self).__name__}({counts})"
