"""Collection setup: the indexes a synced collection needs."""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import OperationFailure

from connectors.engine.mapping import MappingSpec
from connectors.mongo import tombstones

DUPLICATE_KEY = 11000
#: Duplicates named in a DuplicateKeys message; the rest are counted.
NAMED_DUPLICATES = 10


class DuplicateKeys(RuntimeError):
    """The unique index on the Salesforce Id key field cannot be built: some Salesforce records
    have more than one document. `duplicates` maps each such Salesforce Id to their `_id`s."""

    def __init__(self, collection: str, key_field: str, duplicates: dict[str, list[Any]]) -> None:
        self.collection = collection
        self.key_field = key_field
        self.duplicates = duplicates
        first = list(duplicates.items())[:NAMED_DUPLICATES]
        named = ", ".join(f"{sf_id} ({len(ids)} documents)" for sf_id, ids in first)
        more = f" and {len(duplicates) - NAMED_DUPLICATES} more" if len(duplicates) > NAMED_DUPLICATES else ""
        super().__init__(
            f"{collection}: {len(duplicates)} Salesforce records have more than one document ({named}{more}), so "
            f"the unique index on {key_field!r} cannot be built; `manage.py reconcile <mapping> --merge-duplicates` "
            "merges them (the Salesforce records stay)")


def business_references(spec: MappingSpec) -> list[str]:
    """Reference fields worth an index: not the users (owner, audit) every record points at,
    since each index costs every write."""
    return [f.mongo_field for f in spec.fields
            if f.sf_type == "reference" and not f.sf_field.endswith("ById") and f.sf_field != "OwnerId"]


def key_index_name(key_field: str) -> str:
    return f"{key_field}_unique"


def key_lookup_index_name(key_field: str) -> str:
    return f"{key_field}_lookup"


def ensure_collection(database: Database, collection: str, indexed_fields: list[str],
                      key_field: str | None = None) -> None:
    """Create the collection, plain indexes on its reference fields and, given `key_field`, the
    unique index on it (and the database's tombstone indexes). Idempotent. Raises DuplicateKeys when
    documents already break that index.

    Documents are keyed on `_id` (the Salesforce Id for records born there); the unique index on
    the key field guards against a second document for one Salesforce record whoever writes it.
    It is partial (only string values): a document born in MongoDB has no Salesforce Id until
    its record is created and the Id written back. Reads by Salesforce Id use a second, plain index
    (see `ensure_key_index`).
    """
    if collection not in database.list_collection_names():
        database.create_collection(collection)
    target = database[collection]
    tombstones.ensure_indexes(database)
    for name in indexed_fields:
        target.create_index([(name, ASCENDING)], name=f"{name}_1")
    if key_field:
        ensure_key_index(database, collection, key_field)


def ensure_key_index(database: Database, collection: str, key_field: str) -> None:
    """The partial unique index on the Salesforce Id key field, and a plain one to read by it.
    Raises DuplicateKeys.

    A query by Salesforce Id (`{key: {$in: ids}}`) does not name the partial index's filter, so
    the planner may not use that index (SecantusDB never does: it scanned the whole collection for
    every 50 ids, and a two-way initial load slowed down as the collection grew). The lookup index
    has its own key pattern ({key, _id}), which MongoDB accepts beside the unique one."""
    database[collection].create_index([(key_field, ASCENDING), ("_id", ASCENDING)],
                                      name=key_lookup_index_name(key_field))
    try:
        database[collection].create_index([(key_field, ASCENDING)], name=key_index_name(key_field), unique=True,
                                          partialFilterExpression={key_field: {"$type": "string"}})
    except OperationFailure as exc:
        if exc.code != DUPLICATE_KEY:
            raise
        raise DuplicateKeys(collection, key_field, find_duplicates(database, collection, key_field)) from exc


def find_duplicates(database: Database, collection: str, key_field: str) -> dict[str, list[Any]]:
    """Salesforce Ids held by more than one document, each with those documents' `_id`s."""
    groups = database[collection].aggregate([
        {"$match": {key_field: {"$type": "string"}}},
        {"$group": {"_id": f"${key_field}", "ids": {"$push": "$_id"}, "n": {"$sum": 1}}},
        {"$match": {"n": {"$gt": 1}}},
    ])
    return {group["_id"]: group["ids"] for group in groups}
