"""Choosing the lab's cache: fakeredis by default, a real Redis when one is named.

``connect()`` with nothing set gives fakeredis in this process.  ``REDIS_URL`` (or
``url=``) names a real server; it is pinged once with a short timeout, and if it
does not answer (or is not a Redis URL at all) the error is one sentence that says
which URL failed and what to do.  Inside a notebook the lab then falls back to
fakeredis, visibly, so a lesson never stops on a missing server.

A server counts as the lab's own (``store.lab_owned_server``: the eviction lesson may
reconfigure it) only when its ``run_id`` equals ``$LABKIT_OWNS_REDIS_RUN_ID``, which
``binder/start`` and :class:`labkit.redis_server.LocalRedis` set for the server they
started.  Any other server, whatever the environment says, is never touched.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import LabError, RedisUnavailable, one_sentence
from .store import RedisStore

__all__ = ["connect", "resolve_url", "safe_url", "server_run_id", "FAKE_URL", "OWNED_RUN_ID_VAR"]

OWNED_RUN_ID_VAR = "LABKIT_OWNS_REDIS_RUN_ID"
FALLBACK_NOTE = "so this notebook falls back to the built-in fakeredis"
_RESTART_HINT = (
    "changing REDIS_URL needs a kernel restart, with Jupyter started from a shell where it is set"
)


class _NotAUrl(LabError):
    """A REDIS_URL that is not a Redis URL (``clause`` names it for the fallback note)."""

    def __init__(self, shown: str) -> None:
        self.clause = f"REDIS_URL {shown!r} is not a Redis URL such as redis://127.0.0.1:6379/0"
        super().__init__(
            f"REDIS_URL {shown!r} is not a Redis URL; use the form "
            "redis://127.0.0.1:6379/0, or unset REDIS_URL to use the built-in fakeredis."
        )

FAKE_URL = "fakeredis://"
_SCHEMES = ("redis", "rediss", "unix")
_fake_server: Any = None
_fake_lock = threading.Lock()


def _shared_fake_server() -> Any:
    """One FakeServer per process, so every fakeredis store sees the same data,
    as every client of one real server does."""
    global _fake_server
    with _fake_lock:
        if _fake_server is None:
            import fakeredis

            _fake_server = fakeredis.FakeServer()
        return _fake_server


def safe_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and reprs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password:
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{user}:***@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def resolve_url(url: str | None = None) -> str:
    """The URL the lab will use: ``url``, else ``$REDIS_URL``, else fakeredis."""
    chosen = url if url is not None else os.environ.get("REDIS_URL", "").strip()
    if not chosen:
        return FAKE_URL
    if chosen == FAKE_URL:
        return chosen
    if not isinstance(chosen, str):
        raise LabError(f"A Redis URL must be a string such as 'redis://127.0.0.1:6379/0' (got {chosen!r}).")
    try:
        parts = urlsplit(chosen)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in _SCHEMES or (parts.scheme != "unix" and not parts.hostname):
        raise _NotAUrl(safe_url(chosen))
    return chosen


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def server_run_id(client: Any) -> str | None:
    """The server's ``run_id`` (random per server process), or None if INFO is not served."""
    try:
        return str(client.info("server").get("run_id") or "") or None
    except Exception:  # fakeredis and restricted servers do not answer INFO
        return None


def _fall_back(what_failed: str, namespace: str, learner: str | None) -> RedisStore:
    """One sentence, wrapped without breaking a word, then fakeredis."""
    print(one_sentence(f"⚠️  {what_failed}, {FALLBACK_NOTE}; {_RESTART_HINT}.", indent="   "))
    return _fake(namespace, learner)


def connect(
    url: str | None = None,
    *,
    namespace: str = "lab",
    fallback: bool | None = None,
    timeout_seconds: float = 1.0,
    learner: str | None = None,
) -> RedisStore:
    """Return the lab's cache store.

    Parameters
    ----------
    url:
        ``redis://host:port/db`` for a real server, ``"fakeredis://"`` to force the
        in-process one; default ``$REDIS_URL``, else fakeredis.
    namespace:
        Keys go under ``labkit:<namespace>:``; each notebook uses its own.
    fallback:
        If the URL is malformed or the server does not answer, use fakeredis (with a
        printed warning) instead of raising.  Default: yes inside a notebook, no elsewhere.
    learner:
        Whose keys: default :func:`labkit.progress.learner_id`.
    """
    use_fallback = fallback if fallback is not None else _in_notebook()
    try:
        chosen = resolve_url(url)
    except _NotAUrl as exc:
        if use_fallback:
            return _fall_back(exc.clause, namespace, learner)
        raise
    if chosen == FAKE_URL:
        return _fake(namespace, learner)
    import redis

    shown = safe_url(chosen)
    try:
        client = redis.Redis.from_url(
            chosen,
            decode_responses=True,
            socket_connect_timeout=timeout_seconds,
            socket_timeout=max(5.0, timeout_seconds),
            protocol=2,
        )
        client.ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        reason = " ".join(str(exc).split()).rstrip(".").replace(". ", ": ") or type(exc).__name__
        message = (
            f"Cannot reach Redis at {shown} ({reason}). Start redis-server there, fix "
            "REDIS_URL, or unset REDIS_URL to use the built-in fakeredis."
        )
        if use_fallback:
            return _fall_back(f"Cannot reach Redis at {shown} ({reason})", namespace, learner)
        raise RedisUnavailable(message) from None
    store = RedisStore(client, backend="redis", namespace=namespace, url=shown, learner=learner)
    # Only the server the lab started itself (Binder's, LocalRedis) may be reconfigured
    # by the eviction lesson: its run_id must match the one recorded when it started.
    owned_run_id = os.environ.get(OWNED_RUN_ID_VAR, "").strip()
    store.lab_owned_server = bool(owned_run_id) and server_run_id(client) == owned_run_id
    return store


def _fake(namespace: str, learner: str | None = None) -> RedisStore:
    import fakeredis

    client = fakeredis.FakeRedis(server=_shared_fake_server(), decode_responses=True)
    store = RedisStore(client, backend="fakeredis", namespace=namespace, learner=learner)
    store.lab_owned_server = True
    return store
