"""Tombstones of documents the sync removed: what keeps a removed record removed, and the sync's
own deletes from coming back to Salesforce.

A mapping that removes documents on delete leaves no `_sync.sf_modstamp` to guard against.
Live changes of one record are applied in order, so that does not matter to them; a re-read's
rows come on their own topic, and a row read before the record was deleted can be applied
after the delete. Each delete the sync makes therefore leaves `{_id: "<collection>:<Salesforce
Id>", modstamp}` in the database's `_sync_tombstones` collection, and a re-read row that would
create a document is dropped when a tombstone at least as new exists (`deleted_at`).

A delete's change event carries no document, so nothing in it says the sync made it (inserts
and updates carry `_sync.synced_at`). The tombstone says it instead: it is written before the
delete and keeps the cluster-time window the sync's delete ran in (`windows`, `open` while it
runs); a delete event of that document inside a window is the sync's own (`own_deletes`). The
window is a fact about the oplog, so the answer is the same when capture reads the event again
after a restart or a broker loss, and a later delete (an application's, after the record was
undeleted and its document came back) falls outside it and is sent on.

Tombstones expire `KEEP` after the sync last deleted the document (a TTL index on `at`): both
uses only need them while an older row or event can still arrive, a re-read's duration and the
oplog's window (capture never resumes from further back: it restarts from now and asks for a
reconcile, see `MongoCapture._open_stream`).
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Iterator

from bson import Timestamp
from pymongo import ASCENDING, UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database

from connectors.mongo.reads import IN_CHUNK

COLLECTION = "_sync_tombstones"
KEEP = timedelta(days=30)
#: Closed windows kept per tombstone: one per time the sync removed that record's document.
KEPT_WINDOWS = 8


def _key(collection: Collection, record_id: str) -> str:
    return f"{collection.name}:{record_id}"


def ensure_indexes(database: Database) -> None:
    """The lookup of a deleted document's tombstone, and the expiry. Idempotent."""
    stones = database[COLLECTION]
    stones.create_index([("document", ASCENDING)], name="document_1")
    stones.create_index([("at", ASCENDING)], name="at_ttl", expireAfterSeconds=int(KEEP.total_seconds()))


@contextmanager
def deleting(collection: Collection, deletes: list[tuple[str, Any, datetime]], now: datetime
             ) -> Iterator[ClientSession | None]:
    """Around writes that delete documents, given (Salesforce Id, document `_id`, the delete's
    SystemModstamp) for each: bury them first, yield the session the writes must run in, and
    close each tombstone's window at the session's last operation.

    Should the writes fail, the windows stay open and a retry keeps their start, so the first
    attempt's deletes stay inside; the retry closes them.
    """
    if not deletes:
        yield None
        return
    stones = collection.database[COLLECTION]
    keys = [_key(collection, record_id) for record_id, _, _ in deletes]
    with collection.database.client.start_session() as session:
        stones.bulk_write([UpdateOne({"_id": key}, {"$max": {"modstamp": stamp},
                                                    "$set": {"at": now, "document": document_id}}, upsert=True)
                           for key, (_, document_id, stamp) in zip(keys, deletes, strict=True)],
                          ordered=False, session=session)
        opened = session.operation_time  # the tombstones' write: before any of the deletes
        stones.update_many({"_id": {"$in": keys}, "open": {"$exists": False}}, {"$set": {"open": opened}},
                           session=session)
        yield session
        closed = session.operation_time  # the writes' last operation: after every delete
        held = list(stones.find({"_id": {"$in": keys}, "open": {"$exists": True}}, {"open": 1}, session=session))
        if held:
            stones.bulk_write([UpdateOne({"_id": stone["_id"], "open": stone["open"]}, {
                "$push": {"windows": {"$each": [{"from": stone["open"], "to": closed}], "$slice": -KEPT_WINDOWS}},
                "$unset": {"open": ""}}) for stone in held], ordered=False, session=session)


def own_deletes(collection: Collection, deletes: list[tuple[Any, Timestamp]]) -> set[tuple[str, Timestamp]]:
    """Which of these delete events, given as (document `_id`, cluster time), the sync made:
    each as (`str(_id)`, cluster time)."""
    if not deletes:
        return set()
    prefix = f"{collection.name}:"
    windows: dict[str, list[tuple[Timestamp, Timestamp | None]]] = {}
    ids = list({document_id for document_id, _ in deletes})
    for start in range(0, len(ids), IN_CHUNK):
        for stone in collection.database[COLLECTION].find({"document": {"$in": ids[start:start + IN_CHUNK]}}):
            if not stone["_id"].startswith(prefix):
                continue  # the same `_id` in another collection
            spans = windows.setdefault(str(stone["document"]), [])
            spans += [(w["from"], w["to"]) for w in stone.get("windows", [])]
            if "open" in stone:
                spans.append((stone["open"], None))
    return {(str(document_id), time) for document_id, time in deletes
            if any(start < time and (end is None or time <= end) for start, end in windows.get(str(document_id), []))}


def deleted_at(collection: Collection, record_ids: list[str]) -> dict[str, datetime]:
    """The delete stamp of each of these records that has a tombstone."""
    found: dict[str, datetime] = {}
    keys = [_key(collection, record_id) for record_id in record_ids]
    prefix = len(collection.name) + 1
    for start in range(0, len(keys), IN_CHUNK):
        for stone in collection.database[COLLECTION].find({"_id": {"$in": keys[start:start + IN_CHUNK]}}):
            found[stone["_id"][prefix:]] = stone["modstamp"]
    return found
