"""The Redis side: keys built from input, pickle in a shared cache, signed values, ACL users.

Keys: ``f"invoice:{tenant}:{invoice_id}"`` lets a tenant named ``globex:2024`` read
invoice ``17`` - which is globex's invoice ``2024:17``.  Quoting each part (or refusing
ids outside ``[A-Za-z0-9_-]``) keeps every tenant's keys apart.

>>> naive_key("globex:2024", "17") == naive_key("globex", "2024:17")
True
>>> encoded_key("globex:2024", "17") == encoded_key("globex", "2024:17")
False

Pickle: whoever can write a pickled value chooses code that every reader runs.  The
lab's payload only appends a line to :data:`RAN` - the proof that it ran, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import LabError
from ..redis_server import LocalRedis, redis_server_binary

__all__ = ["naive_key", "encoded_key", "validated_key", "key_collision", "RAN", "Payload", "write_pickle",
           "read_pickle", "pickle_readers", "sign", "verify", "signed_reads", "acl_attempts", "NO_SERVER"]

# -- keys built from input ------------------------------------------------------------------


def naive_key(tenant: str, invoice_id: str) -> str:
    return f"invoice:{tenant}:{invoice_id}"


def encoded_key(tenant: str, invoice_id: str) -> str:
    """Each part percent-encoded, so a ':' inside a part can never act as a separator."""
    return "invoice:" + ":".join(quote(part, safe="") for part in (tenant, invoice_id))


_TENANT = re.compile(r"[a-z0-9-]{1,40}")


def validated_key(tenant: str, invoice_id: str) -> str:
    """The plain key, once the tenant passes a strict pattern.  The id is the last part,
    so a ':' inside it cannot reach another tenant; a ':' in the tenant could."""
    if not _TENANT.fullmatch(tenant):
        raise LabError(f"The tenant name {tenant!r} may hold only lower-case letters, digits and '-'; "
                       "check it when the tenant signs up, not when the key is built.")
    return naive_key(tenant, invoice_id)


@dataclass(frozen=True)
class Collision:
    builder: str
    victim_key: str
    attacker_key: str
    attacker_read: str


def key_collision(store, build) -> Collision:
    """Globex caches its invoice 2024:17; a tenant that signed up as 'globex:2024' asks for
    invoice 17.  What does it read?"""
    victim = build("globex", "2024:17")
    store.set(victim, "globex payroll, 2024:17: EUR 182,000")
    try:
        attacker = build("globex:2024", "17")
        read = store.get(attacker) or "(a miss: the database is asked, and says no)"
    except LabError as refused:
        attacker, read = "(refused)", str(refused)
    store.delete(victim)
    return Collision(build.__name__, victim, attacker, read)


# -- pickle in a shared cache -----------------------------------------------------------------

RAN: list[str] = []  # the payload's only effect, so the lab can count the readers it reached


def _ran_in_reader(note: str) -> dict[str, str]:
    RAN.append(note)
    return {"name": "Blue kettle", "price": "19.99"}  # and the reader sees a normal-looking value


class Payload:
    """What an attacker writes: unpickling it calls ``_ran_in_reader`` - any function could go there."""

    def __reduce__(self):
        return _ran_in_reader, ("code chosen by whoever wrote the cache ran in this reader",)


def write_pickle(store, key: str, value: Any) -> None:
    store.set(key, base64.b64encode(pickle.dumps(value)).decode())


def read_pickle(store, key: str) -> Any:
    return pickle.loads(base64.b64decode(store.get(key) or ""))  # noqa: S301 - the lesson's point


def pickle_readers(store, readers: int = 3) -> list[dict[str, str]]:
    """One poisoned write, ``readers`` services reading it: how many ran the writer's code?"""
    key, before = "product:17", len(RAN)
    write_pickle(store, key, Payload())
    rows = []
    for i in range(1, readers + 1):
        value = read_pickle(store, key)
        rows.append({"reader": f"service {i}", "got": json.dumps(value),
                     "writer's code ran (total)": str(len(RAN) - before)})
    store.delete(key)
    return rows


# -- a safe format, signed -------------------------------------------------------------------


def sign(value: Any, secret: bytes) -> str:
    """JSON (data only: reading it runs nothing) behind an HMAC-SHA256 tag."""
    text = json.dumps(value, sort_keys=True)
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest() + "." + text


def verify(stored: str, secret: bytes) -> Any:
    """The value, if its tag matches; else a :class:`LabError` (treat it as a miss)."""
    tag, _, text = stored.partition(".")
    expected = hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(tag, expected):
        raise LabError("This cached value was not written by a holder of the key; ignore it and read the database.")
    return json.loads(text)


def signed_reads(store) -> list[dict[str, str]]:
    """The service writes signed JSON; someone who can write Redis but lacks the key replaces it."""
    secret, key = secrets.token_bytes(32), "product:17"
    tries = [("the service's own write", sign({"name": "Blue kettle", "price": "19.99"}, secret)),
             ("attacker: the price changed", sign({"name": "Blue kettle", "price": "0.01"}, b"guessed")),
             ("attacker: a pickle", base64.b64encode(pickle.dumps(Payload())).decode())]
    rows, before = [], len(RAN)
    for who, stored in tries:
        store.set(key, stored)
        try:
            got = json.dumps(verify(store.get(key) or "", secret))
        except LabError:
            got = "refused: the tag does not match - read the database instead"
        rows.append({"written by": who, "the reader got": got, "code ran": str(len(RAN) - before)})
    store.delete(key)
    return rows


# -- ACL users, on the lab's own server -------------------------------------------------------

NO_SERVER = ("ACL users are set up only on a redis-server the lab starts itself, and redis-server is not "
             "installed here (apt-get install redis-server), so this part is skipped.")


def acl_attempts() -> list[dict[str, str]] | str:
    """Two services with their own ACL users on a throwaway server: what may each do?"""
    if redis_server_binary() is None:
        return NO_SERVER
    import redis

    with LocalRedis() as server:
        admin = redis.Redis.from_url(server.url, decode_responses=True)
        passwords = {name: secrets.token_hex(12) for name in ("orders", "billing")}
        rules = {"orders": "~orders:* +get +set +del", "billing": "~billing:* +get +set +del"}
        for name, rule in rules.items():
            admin.execute_command("ACL", "SETUSER", name, "reset", "on", f">{passwords[name]}", *rule.split())
        admin.set("billing:card:alice", "4242 4242 4242 4242")
        clients = {name: redis.Redis(host="127.0.0.1", port=server.port, username=name,
                                     password=passwords[name], decode_responses=True) for name in rules}
        attempts = [("orders", "SET orders:1 kettle", ("SET", "orders:1", "kettle")),
                    ("orders", "GET billing:card:alice", ("GET", "billing:card:alice")),
                    ("orders", "KEYS *", ("KEYS", "*")),
                    ("orders", "FLUSHALL", ("FLUSHALL",)),
                    ("billing", "GET billing:card:alice", ("GET", "billing:card:alice"))]
        rows = []
        for user, shown, command in attempts:
            try:
                result = clients[user].execute_command(*command)
                answer = "OK" if result is True else repr(result)
            except redis.exceptions.NoPermissionError as refused:
                answer = "NOPERM: " + str(refused).split(" has no permissions")[-1].strip() or "refused"
            rows.append({"user": user, "ACL": rules[user], "command": shown, "answer": answer})
        for client in (*clients.values(), admin):
            client.close()
    return rows
