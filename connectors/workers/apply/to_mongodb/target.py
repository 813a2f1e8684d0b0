"""What mongo-apply's steps share: a mapping as it writes MongoDB, and where a record's document is."""
from __future__ import annotations

import logging
import time
from typing import Any

from pymongo import MongoClient

from connectors import events
from connectors.engine.mapping import MappingSpec
from connectors.models import ObjectMapping
from connectors.mongo import keys
from connectors.mongo.setup import DuplicateKeys, business_references, ensure_collection
from connectors.wiring import mapping_spec

log = logging.getLogger(__name__)

#: Inserting is tried first while most new changes are for records MongoDB does not hold yet
#: (a backfill); once inserts mostly hit existing documents, updates go straight to upserts
#: for a while before inserting is tried again.
INSERT_MISS_SHARE = 0.1
UPSERT_ONLY_SECONDS = 60.0


def document_id(spec: MappingSpec, envelope: events.ChangeEnvelope) -> Any:
    """The `_id` of the document a Salesforce change is about (`connectors.mongo.keys`)."""
    assert envelope.salesforce_id is not None
    return keys.document_id(spec, envelope.salesforce_id, envelope.fields)


class Target:
    """A mapping as the apply side needs it: spec plus where to write."""

    def __init__(self, mapping: ObjectMapping, client: MongoClient) -> None:
        self.row = mapping
        self.spec: MappingSpec = mapping_spec(mapping)
        self.collection = client[mapping.mongo.database][mapping.collection]
        try:
            ensure_collection(client[mapping.mongo.database], mapping.collection, business_references(self.spec),
                              key_field=self.spec.key_field)
        except DuplicateKeys as exc:  # the sync goes on; reconcile reports and merges them
            log.warning("mongo-apply: %s", exc)
        self._upserts_only_until = 0.0

    def inserting(self) -> bool:
        return time.monotonic() >= self._upserts_only_until

    def inserts_tried(self, attempted: int, already_there: int) -> None:
        if attempted and already_there > attempted * INSERT_MISS_SHARE:
            self._upserts_only_until = time.monotonic() + UPSERT_ONLY_SECONDS
