"""A MongoDB delete deletes its Salesforce record only when no other document still holds it.

Two documents for one Salesforce record (a duplicate, e.g. merged by `reconcile
--merge-duplicates` or removed by hand) must not take the record with them when one goes:
the one that stays still stands for it.
"""
from __future__ import annotations

from typing import Any

from pymongo.collection import Collection

from connectors.mongo.changes import id_text
from connectors.mongo.reads import find_in


def still_held(collection: Collection, key_field: str, deleted: dict[str, str]) -> dict[str, Any]:
    """Of the deleted documents given (`_id` text -> their Salesforce Id), those whose Salesforce
    record another document still holds, each with that document's `_id`."""
    holders: dict[str, Any] = {}
    for document in find_in(collection, key_field, sorted(set(deleted.values()))):
        holders[document[key_field]] = document["_id"]
    return {mongo_id: holders[sf_id] for mongo_id, sf_id in deleted.items()
            if sf_id in holders and id_text(holders[sf_id]) != mongo_id}
