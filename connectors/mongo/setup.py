"""Collection setup: the indexes a synced collection needs."""
from __future__ import annotations

from pymongo import ASCENDING
from pymongo.database import Database


def ensure_collection(database: Database, collection: str, indexed_fields: list[str]) -> None:
    """Create the collection and plain indexes on its reference fields. Idempotent.

    Documents are keyed on `_id` (the Salesforce Id for records born there), so no
    other index is needed to sync; every extra index costs each write.
    """
    if collection not in database.list_collection_names():
        database.create_collection(collection)
    target = database[collection]
    for name in indexed_fields:
        target.create_index([(name, ASCENDING)], name=f"{name}_1")

