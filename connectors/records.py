"""A mapping's records on the MongoDB side, shaped by its field mappings.

The REST API reads and writes documents through this module: names are the mapped
MongoDB fields, values are checked and converted by each field's conversion, and a
write is a plain MongoDB write that change-stream capture then carries to Salesforce.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection

from connectors.engine.canonical import to_salesforce_json
from connectors.engine.conversion import ConversionError, convert_value
from connectors.engine.mapping import FieldSpec, MappingSpec
from connectors.mongo import meta
from connectors.mongo.changes import id_text, id_value

#: JSON Schema types a conversion accepts on input (Salesforce's JSON shapes).
_JSON_TYPES = {
    None: {}, "string": {"type": "string"}, "integer": {"type": "integer"}, "double": {"type": "number"},
    "decimal": {"type": ["number", "string"]}, "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"}, "datetime": {"type": "string", "format": "date-time"},
}
MAX_PAGE = 500


class RecordError(ValueError):
    """A payload that does not fit the mapping; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ReadOnlyMapping(RuntimeError):
    """The mapping does not carry MongoDB changes to Salesforce, so a write here would go nowhere."""


@dataclass
class Page:
    total: int
    items: list[dict[str, Any]]


def record_schema(spec: MappingSpec) -> dict[str, Any]:
    """The JSON Schema of one record, generated from the field mappings."""
    properties = {
        f.mongo_field: {**_JSON_TYPES.get(f.conversion, {}), "title": f.sf_field, "readOnly": not f.sf_writable}
        for f in spec.fields
    }
    properties[spec.key_field] = {"type": ["string", "null"], "title": "Salesforce Id", "readOnly": True}
    return {"title": f"{spec.sf_object} ({spec.collection})", "type": "object", "properties": properties,
            "additionalProperties": False}


def _by_mongo_name(spec: MappingSpec) -> dict[str, FieldSpec]:
    return {f.mongo_field: f for f in spec.fields}


def to_values(spec: MappingSpec, payload: dict[str, Any]) -> dict[str, Any]:
    """Checked, converted MongoDB values for a create or update. Raises RecordError."""
    fields = _by_mongo_name(spec)
    values: dict[str, Any] = {}
    for name, value in payload.items():
        field = fields.get(name)
        if field is None:
            raise RecordError(name, f"{name!r} is not a mapped field of {spec.name} "
                                    f"(mapped: {', '.join(sorted(fields))})")
        if not field.sf_writable:
            raise RecordError(name, f"{name!r} ({field.sf_field}) is read-only in Salesforce")
        if isinstance(value, (dict, list)):
            raise RecordError(name, f"{name!r} takes a single value, not {type(value).__name__} {value!r}")
        try:
            values[name] = convert_value(field.sf_field, value, field.conversion)
        except ConversionError as exc:
            raise RecordError(name, str(exc)) from exc
    return values


def to_json(spec: MappingSpec, document: dict[str, Any]) -> dict[str, Any]:
    """A document as the API shows it: `_id` as text, mapped fields in JSON, sync state in brief."""
    out: dict[str, Any] = {"_id": id_text(document["_id"]), spec.key_field: document.get(spec.key_field)}
    for field in spec.fields:
        if field.mongo_field in document:
            out[field.mongo_field] = _json_value(field, document[field.mongo_field])
    state = meta.sync_state(document)
    out["_sync"] = {"synced_at": state.get("synced_at"), "source": state.get("source"),
                    "deleted": bool(state.get("deleted"))}
    return out


def _json_value(field: FieldSpec, value: Any) -> Any:
    try:
        return to_salesforce_json(field.sf_field, field.sf_type, value)
    except ConversionError:
        return str(value)  # a value of the wrong shape is shown as it is; its sync error says why


def filters(spec: MappingSpec, query: dict[str, str]) -> dict[str, Any]:
    """Equality filters on mapped fields (and the Salesforce Id) from query-string values."""
    fields = _by_mongo_name(spec)
    found: dict[str, Any] = {}
    for name, text in query.items():
        if name == spec.key_field:
            found[name] = text
            continue
        field = fields.get(name)
        if field is None:
            raise RecordError(name, f"cannot filter on {name!r}: not a mapped field of {spec.name}")
        try:
            found[name] = convert_value(field.sf_field, _query_value(text, field), field.conversion)
        except ConversionError as exc:
            raise RecordError(name, str(exc)) from exc
    return found


def _query_value(text: str, field: FieldSpec) -> Any:
    if field.conversion == "boolean":
        return text.lower() in ("true", "1", "yes")
    return text


def list_records(collection: Collection, spec: MappingSpec, query: dict[str, str], limit: int, offset: int) -> Page:
    selector = filters(spec, query)
    cursor = collection.find(selector).sort("_id", 1).skip(offset).limit(min(limit, MAX_PAGE))
    return Page(total=collection.count_documents(selector), items=[to_json(spec, d) for d in cursor])


def get_record(collection: Collection, spec: MappingSpec, record_id: str) -> dict[str, Any] | None:
    document = collection.find_one({"_id": id_value(record_id)})
    return to_json(spec, document) if document is not None else None


def writable(spec: MappingSpec, direction_to_salesforce: bool) -> None:
    if not direction_to_salesforce:
        raise ReadOnlyMapping(f"mapping {spec.name} only carries Salesforce changes to MongoDB; "
                              f"change {spec.sf_object} records in Salesforce")


def create_record(collection: Collection, spec: MappingSpec, payload: dict[str, Any]) -> dict[str, Any]:
    document = {"_id": ObjectId(), **to_values(spec, payload)}
    collection.insert_one(document)
    return to_json(spec, document)


def update_record(collection: Collection, spec: MappingSpec, record_id: str,
                  payload: dict[str, Any]) -> dict[str, Any] | None:
    values = to_values(spec, payload)
    document = collection.find_one_and_update({"_id": id_value(record_id)}, {"$set": values}, return_document=True)
    return to_json(spec, document) if document is not None else None


def delete_record(collection: Collection, record_id: str) -> bool:
    return collection.delete_one({"_id": id_value(record_id)}).deleted_count == 1
