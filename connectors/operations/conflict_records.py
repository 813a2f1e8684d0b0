"""A conflict's record as it is now, for the person deciding it: its mapped fields, the values
MongoDB holds and last synced, and whether a resolution has reached both sides."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import PyMongoError

from connectors.engine.plan import mongo_values
from connectors.models import Conflict, ObjectMapping
from connectors.mongo import sync_state
from connectors.mongo.changes import id_value
from connectors.mongo.client import MongoUnavailable, connect
from connectors.wiring import mapping_spec

#: A person is waiting for the page: give up on MongoDB quickly.
READ_TIMEOUT_MS = 1500


@dataclass(frozen=True)
class MappedField:
    name: str  # the Salesforce field
    mongo_field: str
    sf_type: str


@dataclass(frozen=True)
class RecordNow:
    """The record's MongoDB document now, in Salesforce field names and canonical values."""

    values: dict[str, Any] | None  # every mapped field; None when the document could not be read
    synced: dict[str, Any] = field(default_factory=dict)  # the values last synced
    unread: str = ""  # why `values` is None, in one line


def mapped_fields(mapping: ObjectMapping) -> list[MappedField]:
    """The mapping's enabled field mappings, in order."""
    return [MappedField(f.sf_field, f.mongo_field, f.sf_type) for f in mapping_spec(mapping).fields]


def record_now(conflict: Conflict) -> RecordNow:
    """Reads the document (by `_id`, else by Salesforce Id); never raises for MongoDB: an
    unreadable or missing document is a RecordNow without values, saying why."""
    mapping = conflict.mapping
    try:
        client = connect(mapping.mongo.uri, timeout_ms=READ_TIMEOUT_MS)
    except MongoUnavailable as exc:
        return RecordNow(None, unread=str(exc))
    try:
        collection = client[mapping.mongo.database][mapping.collection]
        if conflict.mongo_id:
            document = collection.find_one({"_id": id_value(conflict.mongo_id)})
        else:
            document = collection.find_one({mapping.key_field: conflict.salesforce_id})
    except PyMongoError as exc:
        return RecordNow(None, unread=f"mongodb: {exc}")
    finally:
        client.close()
    if document is None:
        return RecordNow(None, unread="the MongoDB document no longer exists")
    values = mongo_values(mapping_spec(mapping), document, writable_only=False)
    return RecordNow(values, synced=sync_state.read(document).base)


def applied_state(conflict: Conflict, now: RecordNow) -> dict[str, bool]:
    """Whether the resolution is in MongoDB now, and whether the sync has since recorded it as
    synced (its last synced values hold it, which happens once Salesforce accepted it)."""
    chosen = conflict.resolution or {}
    if now.values is None:
        return {"mongodb": False, "both": False}
    in_mongodb = all(now.values.get(name) == value for name, value in chosen.items())
    return {"mongodb": in_mongodb, "both": in_mongodb and all(now.synced.get(n) == v for n, v in chosen.items())}
