"""Which document holds a Salesforce record: the one rule every writer of synced documents
(mongo-apply, reconcile) keys by, so that no two of them create one record's document twice."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.engine.mapping import MappingSpec
from connectors.mongo.changes import id_value


def document_id(spec: MappingSpec, salesforce_id: str, fields: Mapping[str, Any]) -> Any:
    """The `_id` of a Salesforce record's document: on a two-way mapping, the MongoDB id that the
    record's external-id field (in `fields`, Salesforce names) holds when the record was born in
    MongoDB; else its Salesforce Id."""
    born_in_mongo = fields.get(spec.sf_external_id_field) if spec.two_way else None
    return id_value(born_in_mongo) if born_in_mongo else salesforce_id
