"""The course map: every notebook, the concept package behind it, and its minutes.

One table that notebook 00's map, the README, the exercise catalogue, the claims
filled into the notebooks at build time and the reading copy all read, so a new
notebook is added in one place.  ``minutes`` is the honest self-paced time with the
exercises, as the notebook itself states it (a test keeps the two in step).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import LabError

__all__ = ["Lesson", "NOTEBOOKS", "lesson", "numbers", "lesson_attributes"]


@dataclass(frozen=True)
class Lesson:
    number: str  # "04"
    slug: str  # file stem: notebooks/<slug>.ipynb
    title: str
    package: str  # labkit.<package> holds the engine, lesson.py and claims.py
    minutes: int
    summary: str

    @property
    def notebook_file(self) -> str:
        return f"{self.slug}.ipynb"

    @property
    def claims_module(self) -> str:
        return f"labkit.{self.package}.claims"

    @property
    def lesson_module(self) -> str:
        return f"labkit.{self.package}.lesson"


NOTEBOOKS: tuple[Lesson, ...] = (
    Lesson("00", "00_start_here", "Start here", "tour", 15,
           "the lab bench; measure first; the staleness meter"),
    Lesson("01", "01_patterns", "Patterns", "patterns", 45,
           "cache-aside, read-through, write-through, write-behind - and a crash"),
    Lesson("02", "02_invalidation", "Invalidation", "invalidation", 50,
           "TTL, events over pub/sub, versioned keys, the stale-set race"),
    Lesson("03", "03_ttl_tuning", "TTL tuning", "ttl", 20,
           "hit ratio against staleness: closed-form model vs simulation"),
    Lesson("04", "04_stampede", "Stampede", "stampede", 45,
           "200 threads, one expiring key, locks, single-flight, XFetch"),
    Lesson("05", "05_eviction", "Eviction", "eviction", 45,
           "LRU, LFU, SIEVE, S3-FIFO, ARC, TinyLFU against Belady's optimum"),
    Lesson("06", "06_layers", "Layers", "layers", 25,
           "browser, CDN, app, database over real HTTP - and a cross-user leak"),
    Lesson("07", "07_capstone", "Capstone", "capstone", 45,
           "design a service's caching, replay a day, read the scorecard"),
    Lesson("08", "08_failures", "When the cache fails", "failures", 45,
           "down, slow, cold, penetrated, metastable, partial: cause each failure and fix it"),
    Lesson("09", "09_scaling_out", "Scaling out", "cluster", 45,
           "a real Redis Cluster: slots, hash tags, hot keys, replicas, failover"),
    Lesson("10", "10_observability", "Watching and sizing", "observability", 45,
           "what to measure, how to read Redis, how much memory to buy"),
    Lesson("11", "11_cache_security", "When the cache is the attack surface", "security", 40,
           "cache poisoning, cache deception, keys from input, pickle, signed values, ACL users"),
)

_BY_NUMBER = {lesson.number: lesson for lesson in NOTEBOOKS}


def numbers() -> list[str]:
    return [lesson.number for lesson in NOTEBOOKS]


def lesson(number: str | int) -> Lesson:
    """The course entry of notebook ``number`` ("04" or 4)."""
    key = f"{int(number):02d}" if isinstance(number, int) or str(number).isdigit() else str(number)
    if key not in _BY_NUMBER:
        raise LabError(f"There is no notebook {number!r}; the course has {', '.join(_BY_NUMBER)}.")
    return _BY_NUMBER[key]


def lesson_attributes(package: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A package's module ``__getattr__`` that loads its lesson layer on first use.

    Every concept package exports its engine and lists the lesson's names here, so
    importing the engine (claims, the capstone, tests) never loads widgets or charts::

        __getattr__ = lesson_attributes(__name__, {"explore", "exercises"})
    """
    lazy = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name in lazy:
            module = importlib.import_module(".lesson", package)
            return module if name == "lesson" else getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
