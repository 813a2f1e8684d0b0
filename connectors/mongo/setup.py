"""Collection setup: the indexes a synced collection needs."""
from __future__ import annotations

from pymongo import ASCENDING
from pymongo.database import Database

from connectors.mongo import meta


def ensure_collection(database: Database, collection: str, key_field: str, indexed_fields: list[str]) -> None:
    """Create the unique key index (sparse: documents born in MongoDB have no Id until their
    first write-back), the version index, and plain indexes on reference fields. Idempotent."""
    target = database[collection]
    # Sparse rather than partial: query planners use a sparse index for plain equality,
    # while a partial one is skipped unless the query repeats its filter.
    target.create_index([(key_field, ASCENDING)], unique=True, sparse=True, name=f"{key_field}_unique")
    target.create_index([(meta.SF_MODSTAMP, ASCENDING)], name="sync_modstamp")
    for name in indexed_fields:
        target.create_index([(name, ASCENDING)], name=f"{name}_1")


def enable_pre_images(database: Database, collection: str) -> None:
    """Keep each document's last image on delete, so a delete still names its Salesforce Id."""
    if collection not in database.list_collection_names():
        database.create_collection(collection)
    database.command("collMod", collection, changeStreamPreAndPostImages={"enabled": True})
