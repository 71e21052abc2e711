"""labkit: the bench behind Cache Lab's notebooks.

Small modules, one idea each:

==================  =====================================================
``clock``           wall and virtual clocks (everything time-aware takes one)
``store``           the cache store contract: memory, fakeredis, real Redis
``wrappers``        StoreWrapper (change a few commands), RecordingStore (command log)
``connection``      ``connect()``: fakeredis by default, ``REDIS_URL`` if set
``database``        the database of record: SQLite with latency and load
``workloads``       seeded traces (Zipf, scan, loop, ...) as numpy arrays
``metrics``         hit ratio, latency percentiles, the staleness meter
``charts``          one colour-blind-safe style; titles that state findings
``widgets``         live controls bound to a chart; predict-then-run
``exercises``       checks, hints, solutions, code graded by replays; the catalogue
``progress``        what a learner has done and who they are, kept on their machine
``room``            opt-in: a workshop room's live view of predictions and exercises
``claims``          the numbers the notebooks state, computed and checked
``course``          the map: every notebook and the concept package behind it
``memo``            memo caches behind one registry: ``labkit.forget()``
==================  =====================================================

Heavy modules (matplotlib, ipywidgets, fakeredis) load on first use, so
``import labkit`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .clock import Clock, VirtualClock, WallClock, wall_clock
from .errors import LabError, RedisUnavailable, install_notebook_handler

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "VirtualClock",
    "WallClock",
    "wall_clock",
    "LabError",
    "RedisUnavailable",
    "connect",
    "start",
    "Database",
    "Row",
    "MemoryStore",
    "StalenessMeter",
    "forget",
]

_LAZY = {
    "connect": ("connection", "connect"),
    "Database": ("database", "Database"),
    "Row": ("database", "Row"),
    "MemoryStore": ("store", "MemoryStore"),
    "StalenessMeter": ("metrics", "StalenessMeter"),
    "forget": ("memo", "forget"),
}

if TYPE_CHECKING:
    from .connection import connect
    from .database import Database, Row
    from .memo import forget
    from .metrics import StalenessMeter
    from .store import MemoryStore


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError:
        raise AttributeError(f"module 'labkit' has no attribute {name!r}") from None


def start(namespace: str, *, url: str | None = None, quiet: bool = False, learner: str | None = None):
    """Set a notebook up: one-line errors, the cache store, and a clean namespace.

    Deletes only this learner's keys of this notebook (``labkit:<learner>:<namespace>:*``;
    the learner id is ``$JUPYTERHUB_USER``, else ``$LABKIT_LEARNER``, else a random id
    kept in ``~/.cache-lab``), so notebooks run in any order and learners sharing one
    Redis never touch each other's keys; prints which cache backend is in use and,
    when a host set ``LABKIT_ROOM``, that the room sees this learner's progress.
    """
    from .connection import connect
    from .room import publisher as room

    install_notebook_handler()
    store = connect(url, namespace=namespace, learner=learner)
    store.reset()
    room.reached(namespace, "start")
    if not quiet:
        print(f"Cache Lab ready - cache: {store.describe()} - keys under {store.prefix!r}")
        if line := room.status_line():
            print(line)
    return store
