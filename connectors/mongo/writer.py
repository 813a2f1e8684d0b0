"""Batched, version-guarded bulk writes of Salesforce changes into a collection.

A record born in Salesforce is stored with its Salesforce Id as `_id` (and in the
mapping's key field); one born in MongoDB keeps its own `_id` and gets the key field
on its first write-back. Every document carries `_sync.sf_modstamp`; a write matches
only when the stored stamp is not newer, so a redelivered or reordered older change
never overwrites a newer one. When the guard rejects an upsert, the insert it falls
back to hits the `_id` index (E11000): that is how "stale" is reported, not an error.
Keying on `_id` keeps the write path as cheap as a plain bulk upsert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import DeleteOne, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from connectors.mongo import sync_state, tombstones

DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class DocumentChange:
    """One change to apply: `document` holds mapped, converted values (empty for deletes)."""

    key: str  # the Salesforce Id
    op: str  # "upsert" | "delete" | "mark_deleted"
    modstamp: datetime
    document: dict[str, Any]
    event_id: str
    #: Last-synced values to store in `_sync`, each entry set on its own (None leaves them all).
    #: Only the entries a change settles: sf-apply's write-back may have stored others since the
    #: document was read, and writing the base whole would put the older values back.
    base: dict[str, Any] | None = None
    base_hash: str = ""
    #: The document's `_id` when it is not the Salesforce Id (a record born in MongoDB).
    document_id: Any = None
    #: Ask capture to send this write on to Salesforce (a conflict settled for one side).
    republish: bool = False

    @property
    def target_id(self) -> Any:
        return self.key if self.document_id is None else self.document_id


@dataclass
class WriteOutcome:
    applied: int = 0
    stale: int = 0
    failures: list[tuple[DocumentChange, str, str]] = field(default_factory=list)  # change, code, message

    def add(self, other: WriteOutcome) -> WriteOutcome:
        self.applied += other.applied
        self.stale += other.stale
        self.failures += other.failures
        return self


def _guard(change: DocumentChange) -> dict[str, Any]:
    return {"_id": change.target_id, **sync_state.not_newer_than(change.modstamp)}


def _sync_meta(change: DocumentChange, now: datetime, deleted: bool) -> dict[str, Any]:
    return sync_state.update(sf_modstamp=change.modstamp, source="salesforce", event_id=change.event_id,
                             synced_at=now, deleted=deleted)


def _whole_document(key_field: str, change: DocumentChange, now: datetime) -> dict[str, Any]:
    """A one-way upsert's fields with `_sync` whole: nothing else lives in it one way, and one
    path instead of five is measurably cheaper for the server on a large backfill."""
    return {**change.document, key_field: change.key, **sync_state.whole(_sync_meta(change, now, deleted=False))}


def _operation(key_field: str, change: DocumentChange, now: datetime) -> UpdateOne | DeleteOne:
    guard = _guard(change)
    if change.op == "delete":
        return DeleteOne(guard)
    if change.op == "mark_deleted":
        return UpdateOne(guard, {"$set": _sync_meta(change, now, deleted=True)})
    if change.base is None:
        return UpdateOne(guard, {"$set": _whole_document(key_field, change, now)}, upsert=True)
    sync_meta = _sync_meta(change, now, deleted=False)
    sync_meta.update(sync_state.update(base_values=change.base, base_hash=change.base_hash))
    if change.republish:
        sync_meta.update(sync_state.update(resolution=change.event_id))
    document = {**change.document, key_field: change.key, **sync_meta}
    return UpdateOne(guard, {"$set": document}, upsert=True)


def _outcome_of(collection: Collection, key_field: str, errors: list[dict[str, Any]],
                changes: list[DocumentChange], outcome: WriteOutcome) -> None:
    on_key_field: list[tuple[DocumentChange, dict[str, Any]]] = []
    for error in errors:
        change = changes[error["index"]]
        pattern = error.get("keyPattern") or {"_id": 1}
        if error["code"] == DUPLICATE_KEY and "_id" in pattern:
            outcome.stale += 1
        elif error["code"] == DUPLICATE_KEY and key_field in pattern:
            on_key_field.append((change, error))
        else:
            outcome.failures.append((change, str(error["code"]), error.get("errmsg", "write failed")))
    if not on_key_field:
        return
    # The insert a guarded upsert falls back to may be refused by the unique index on the key field
    # rather than by `_id` (SecantusDB checks that one first): when the target document holds this
    # very Salesforce Id, the change is stale. Otherwise another document holds it: a duplicate refused.
    held = {d["_id"]: d.get(key_field) for d in collection.find(
        {"_id": {"$in": [c.target_id for c, _ in on_key_field]}}, {key_field: 1})}
    for change, error in on_key_field:
        if change.target_id in held and held[change.target_id] == change.key:
            outcome.stale += 1
        else:
            outcome.failures.append((change, str(error["code"]), error.get("errmsg", "write failed")))


def write_changes(collection: Collection, key_field: str, changes: list[DocumentChange], now: datetime) -> WriteOutcome:
    """Apply `changes` in one unordered bulk write. Record-level failures are returned, not raised;
    transport failures (the server is down) raise pymongo errors for the caller to retry.
    Deletes leave tombstones, which also tell capture they are the sync's own."""
    outcome = WriteOutcome()
    if not changes:
        return outcome
    deletes = [(c.key, c.target_id, c.modstamp) for c in changes if c.op == "delete"]
    with tombstones.deleting(collection, deletes, now) as session:
        try:
            collection.bulk_write([_operation(key_field, c, now) for c in changes], ordered=False, session=session)
        except BulkWriteError as exc:
            _outcome_of(collection, key_field, exc.details.get("writeErrors", []), changes, outcome)
    outcome.applied = len(changes) - outcome.stale - len(outcome.failures)
    return outcome


def insert_new(collection: Collection, key_field: str, changes: list[DocumentChange], now: datetime
               ) -> tuple[WriteOutcome, list[DocumentChange]]:
    """Insert one-way upserts as new documents (a backfill's case, much cheaper for the server
    than upserts). Returns what was inserted or failed, and the changes whose document
    already exists, to be written by `write_changes` under the version guard."""
    outcome = WriteOutcome()
    documents = [{"_id": c.target_id, **_whole_document(key_field, c, now)} for c in changes]
    existing: list[DocumentChange] = []
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        for error in exc.details.get("writeErrors", []):
            change = changes[error["index"]]
            if error["code"] == DUPLICATE_KEY:
                existing.append(change)
            else:
                outcome.failures.append((change, str(error["code"]), error.get("errmsg", "write failed")))
    outcome.applied = len(changes) - len(existing) - len(outcome.failures)
    return outcome, existing
