"""Batched, version-guarded bulk writes of Salesforce changes into a collection.

Every document keyed by the Salesforce Id carries `_sync.sf_modstamp`; a write
matches only when the stored stamp is not newer, so a redelivered or reordered
older change can never overwrite a newer one. When the guard rejects an
upsert, the insert it falls back to hits the unique key index (E11000): that
is how "stale" is reported, and it is not an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import DeleteOne, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from connectors.mongo import meta

DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class DocumentChange:
    """One change to apply: `document` holds mapped, converted values (empty for deletes)."""

    key: str
    op: str  # "upsert" | "delete" | "mark_deleted"
    modstamp: datetime
    document: dict[str, Any]
    event_id: str
    #: The new last-synced values (and their hash) to store in `_sync`; None leaves them.
    base: dict[str, Any] | None = None
    base_hash: str = ""


@dataclass
class WriteOutcome:
    applied: int = 0
    stale: int = 0
    failures: list[tuple[DocumentChange, str, str]] = field(default_factory=list)  # change, code, message


def _guard(key_field: str, change: DocumentChange) -> dict[str, Any]:
    # "not newer than this change" (also true when there is no stamp yet), as one predicate
    # rather than an $or, so the server can stay on the key index.
    return {key_field: change.key, meta.SF_MODSTAMP: {"$not": {"$gt": change.modstamp}}}


def _operation(key_field: str, change: DocumentChange, now: datetime) -> UpdateOne | DeleteOne:
    guard = _guard(key_field, change)
    if change.op == "delete":
        return DeleteOne(guard)
    sync_meta = {
        meta.SF_MODSTAMP: change.modstamp,
        meta.SOURCE: "salesforce",
        meta.EVENT_ID: change.event_id,
        meta.SYNCED_AT: now,
    }
    if change.op == "mark_deleted":
        return UpdateOne(guard, {"$set": {**sync_meta, meta.DELETED: True}})
    if change.base is not None:
        sync_meta.update({meta.BASE: change.base, meta.HASH: change.base_hash})
    return UpdateOne(guard, {"$set": {**change.document, **sync_meta, meta.DELETED: False}}, upsert=True)


def write_changes(collection: Collection, key_field: str, changes: list[DocumentChange], now: datetime) -> WriteOutcome:
    """Apply `changes` in one unordered bulk write. Record-level failures are returned, not raised;
    transport failures (the server is down) raise pymongo errors for the caller to retry."""
    outcome = WriteOutcome()
    if not changes:
        return outcome
    operations = [_operation(key_field, c, now) for c in changes]
    try:
        collection.bulk_write(operations, ordered=False)
        outcome.applied = len(changes)
        return outcome
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
    for error in errors:
        change = changes[error["index"]]
        if error["code"] == DUPLICATE_KEY and key_field in (error.get("keyPattern") or {key_field: 1}):
            outcome.stale += 1
        else:
            outcome.failures.append((change, str(error["code"]), error.get("errmsg", "write failed")))
    outcome.applied = len(changes) - outcome.stale - len(outcome.failures)
    return outcome
