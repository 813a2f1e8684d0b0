"""Collection setup: the indexes a synced collection needs."""
from __future__ import annotations

from pymongo import ASCENDING
from pymongo.database import Database


def ensure_collection(database: Database, collection: str, key_field: str, indexed_fields: list[str]) -> None:
    """Create the unique key index (partial: documents born in MongoDB have no Id yet),
    the version index, and plain indexes on reference fields. Idempotent."""
    target = database[collection]
    target.create_index(
        [(key_field, ASCENDING)],
        unique=True,
        partialFilterExpression={key_field: {"$type": "string"}},
        name=f"{key_field}_unique",
    )
    target.create_index([("_sync.sf_modstamp", ASCENDING)], name="sync_modstamp")
    for name in indexed_fields:
        target.create_index([(name, ASCENDING)], name=f"{name}_1")
