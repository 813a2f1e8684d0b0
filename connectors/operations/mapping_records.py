"""One mapping's records, for the REST API: the operations of connectors.operations.records
bound to the mapping's field mappings and MongoDB collection.

MongoDB is reached only by the operations that read or write documents (a schema needs none);
a system that does not answer is ServiceUnavailable.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

from pymongo.collection import Collection

from connectors.engine.mapping import MappingSpec
from connectors.models import ObjectMapping
from connectors.mongo.client import shared_client
from connectors.operations import records
from connectors.operations.unavailable import translated
from connectors.wiring import mapping_spec


class MappingRecords:
    """Raises records.RecordError / InvalidRecord for values that do not fit, ReadOnlyMapping for a
    write the mapping would not carry to Salesforce, ServiceUnavailable for MongoDB or Salesforce."""

    def __init__(self, mapping: ObjectMapping) -> None:
        self.mapping = mapping
        self.spec: MappingSpec = mapping_spec(mapping)

    @cached_property
    def _collection(self) -> Collection:
        mongo = self.mapping.mongo
        with translated():
            return shared_client(mongo.uri)[mongo.database][self.mapping.collection]

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of a record, from the field mappings."""
        return records.record_schema(self.spec)

    @translated()
    def write_schemas(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON Schemas of a create and an update body, from Salesforce's describe (cached)."""
        described = records.described(self.mapping.org, self.spec)
        return (records.input_schema(self.spec, described, creating=True),
                records.input_schema(self.spec, described, creating=False))

    def undescribed_schema(self, reason: str) -> dict[str, Any]:
        """What a create or update body may name while Salesforce cannot describe the object."""
        return records.input_schema_undescribed(self.spec, reason)

    @translated()
    def page(self, query: dict[str, str], limit: int, offset: int) -> records.Page:
        return records.list_records(self._collection, self.spec, query, limit, offset)

    @translated()
    def get(self, record_id: str) -> dict[str, Any] | None:
        return records.get_record(self._collection, self.spec, record_id)

    @translated()
    def create(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Checked against the mapping and Salesforce's describe first (nothing written if not)."""
        self._check_writable()
        return records.create_record(self._collection, self.spec, payload, self._described())

    @translated()
    def update(self, record_id: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        self._check_writable()
        return records.update_record(self._collection, self.spec, record_id, payload, self._described())

    @translated()
    def delete(self, record_id: str) -> bool:
        self._check_writable()
        return records.delete_record(self._collection, record_id)

    def _check_writable(self) -> None:
        records.writable(self.spec, self.mapping.direction != ObjectMapping.Direction.SF_TO_MONGO)

    def _described(self) -> records.Described:
        return records.described(self.mapping.org, self.spec)

