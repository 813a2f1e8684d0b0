"""Who is writing, and the append-only change log every write feeds.

Every record write (create, update, delete, undelete) appends one row to
``change_log`` in the same transaction as the write, so the log holds exactly
the committed changes, in commit order: ``seq`` is an AUTOINCREMENT key and
is never reused, even after a rollback.  Collection calls insert their rows
with one ``executemany``.  Seeding does not log.  Change Data Capture
(:mod:`sfemulator.pubsub`) is built on this table: ``origin`` is the
``ChangeEventHeader.changeOrigin``, ``txn`` (one key per :func:`append` call,
i.e. per transaction) the ``transactionKey`` and ``data`` the written values.
"""
from __future__ import annotations

import builtins
import json
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .store import Store

CREATE, UPDATE, DELETE, UNDELETE = "CREATE", "UPDATE", "DELETE", "UNDELETE"


def client_from_call_options(header: str | None) -> str | None:
    """``Sforce-Call-Options: client=NAME[, defaultNamespace=ns]`` -> ``NAME``."""
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "client" and value.strip():
            return value.strip()
    return None


@dataclass(frozen=True)
class Caller:
    """The user, API version and client name (``Sforce-Call-Options``) behind a write."""

    user_id: str
    version: str = "62.0"
    client: str | None = None

    @property
    def origin(self) -> str:
        """CDC ``changeOrigin``: ``com/salesforce/api/rest/62.0;client=NAME``."""
        base = f"com/salesforce/api/rest/{self.version}"
        return f"{base};client={self.client}" if self.client else base


@dataclass(frozen=True)
class Change:
    record_id: str
    object: str
    change_type: str
    fields: tuple[str, ...]
    caller: Caller
    commit_ts: str
    #: The values written (stored form), for CDC event bodies; None when nothing but IsDeleted changed.
    values: Mapping[str, builtins.object] | None = None  # `object` is a field of this class


_INSERT = ("INSERT INTO change_log (record_id, object, change_type, fields, client, origin, user_id, commit_ts,"
           " txn, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def append(c: sqlite3.Connection, changes: Sequence[Change]) -> None:
    """Log ``changes`` inside the caller's open write transaction."""
    if not changes:
        return
    txn = str(uuid.uuid4())
    c.executemany(_INSERT, [(ch.record_id, ch.object, ch.change_type, json.dumps(list(ch.fields)),
                             ch.caller.client, ch.caller.origin, ch.caller.user_id, ch.commit_ts, txn,
                             json.dumps(dict(ch.values)) if ch.values is not None else None)
                            for ch in changes])


def read(store: Store, after_seq: int = 0, limit: int = 1000, record_id: str | None = None) -> list[dict]:
    """Log entries with ``seq > after_seq`` in order (optionally for one record)."""
    sql = ("SELECT seq, record_id, object, change_type, fields, client, origin, user_id, commit_ts "
           "FROM change_log WHERE seq > ?")
    params: list = [after_seq]
    if record_id:
        sql += " AND record_id = ?"
        params.append(record_id)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    keys = ("seq", "recordId", "object", "changeType", "fields", "client", "changeOrigin", "userId", "commitTimestamp")
    out = []
    for row in store.read(sql, params):
        entry = dict(zip(keys, row, strict=True))
        entry["fields"] = json.loads(entry["fields"])
        out.append(entry)
    return out


def changed_fields(values: Mapping[str, object], hidden: Iterable[str] = ()) -> tuple[str, ...]:
    skip = set(hidden)
    return tuple(k for k in values if k not in skip)
