"""Step 2: the documents a batch's changes are about, for a two-way mapping to merge against
(one way, the version guard is enough and nothing is read)."""
from __future__ import annotations

from typing import Any

from connectors.mongo.reads import find_in
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_mongodb.target import Target, document_id


def current_documents(target: Target, items: Batch) -> dict[str, dict[str, Any]]:
    """The documents the changes are about, by Salesforce Id: by the `_id` the change names,
    else by the Salesforce Id a document holds. The second look is not only for a partial CDC
    update (no external-id field): a change read before or after the record's external id was
    set names another `_id` than the record's document has, and writing there would make a
    second document for the record (refused by the unique index, and parked)."""
    by_document_id = {document_id(target.spec, envelope): key for key, (envelope, _) in items.items()}
    found = {by_document_id[d["_id"]]: d for d in find_in(target.collection, "_id", list(by_document_id))}
    missing = [key for key in items if key not in found]
    if missing:
        key_field = target.spec.key_field
        found.update({d[key_field]: d for d in find_in(target.collection, key_field, missing)})
    return found
