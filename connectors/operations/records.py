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
from connectors.mappings.describe_cache import DescribeUnavailable, describe_object, fields_by_name
from connectors.mappings.field_rules import (
    Described,
    finite_problem,
    is_blank,
    required_on_create,
    text_problem,
    value_schema,
    write_problem,
)
from connectors.models import SalesforceOrg
from connectors.mongo import sync_state
from connectors.mongo.changes import id_text, id_value

#: JSON Schema types a conversion accepts on input (Salesforce's JSON shapes).
_JSON_TYPES = {
    None: {}, "string": {"type": "string"}, "integer": {"type": "integer"}, "double": {"type": "number"},
    "decimal": {"type": "number"}, "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"}, "datetime": {"type": "string", "format": "date-time"},
}
#: Largest page the records API returns (`limit`); a larger one is refused, not silently shortened.
MAX_PAGE = 500
#: Largest `offset`: MongoDB's skip is a 64-bit integer.
MAX_OFFSET = 2**63 - 1


class RecordError(ValueError):
    """A value that does not fit the mapping; `field` names the culprit, `rule` the rule it breaks."""

    def __init__(self, field: str, message: str, rule: str = "value_error") -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


class InvalidRecord(ValueError):
    """A create or update payload with one or more values that do not fit (`errors`, in payload order)."""

    def __init__(self, errors: list[RecordError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


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


def input_schema(spec: MappingSpec, describe: Described, creating: bool) -> dict[str, Any]:
    """JSON Schema of a create (`creating`) or update body: exactly what `to_values` accepts, from
    the same describe entries and rules (connectors.mappings.field_rules.value_schema)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in spec.fields:
        entry = describe.fields.get(field.sf_field.lower())
        if entry is None or not field.sf_writable or not entry.get("createable" if creating else "updateable"):
            continue
        properties[field.mongo_field] = value_schema(entry, describe.key_prefixes.get(field.sf_field.lower(),
                                                                                       frozenset()))
        if creating and required_on_create(entry):
            required.append(field.mongo_field)
    if creating:
        # A required field that is not mapped makes every create fail (`to_values` says so): requiring
        # it here, where it is no property, leaves no valid body, which is the truth.
        mapped = {f.sf_field.lower() for f in spec.fields}
        required += [e["name"] for key, e in describe.fields.items() if required_on_create(e) and key not in mapped]
    verb = "create" if creating else "update"
    schema: dict[str, Any] = {"title": f"{spec.sf_object} {verb} ({spec.name})", "type": "object",
                              "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def input_schema_undescribed(spec: MappingSpec, reason: str) -> dict[str, Any]:
    """What a create or update body may name while Salesforce cannot describe the object: the
    mapped fields written to Salesforce, values unchecked here (the server checks them, or answers
    503 while describe stays unavailable); `reason` says why the values are not spelled out."""
    properties: dict[str, Any] = {field.mongo_field: {} for field in spec.fields if field.sf_writable}
    return {"title": f"{spec.sf_object} record ({spec.name})", "type": "object", "properties": properties,
            "additionalProperties": False, "description": reason}


def _by_mongo_name(spec: MappingSpec) -> dict[str, FieldSpec]:
    return {f.mongo_field: f for f in spec.fields}


def described(org: SalesforceOrg, spec: MappingSpec) -> Described:
    """Salesforce's describe of the mapping's object (cached), with the key prefixes of the objects
    its mapped reference fields point to. Raises DescribeUnavailable."""
    fields = fields_by_name(describe_object(org, spec.sf_object))
    prefixes: dict[str, frozenset[str]] = {}
    for mapped in spec.fields:
        targets = fields.get(mapped.sf_field.lower(), {}).get("referenceTo") or []
        found = {_key_prefix(org, target) for target in targets}
        if targets and None not in found:  # a target we cannot describe: check the Id's form only
            prefixes[mapped.sf_field.lower()] = frozenset(p for p in found if p)
    return Described(spec.sf_object, fields, prefixes)


def _key_prefix(org: SalesforceOrg, sf_object: str) -> str | None:
    try:
        return describe_object(org, sf_object).get("keyPrefix") or None
    except DescribeUnavailable:
        return None


def to_values(spec: MappingSpec, payload: dict[str, Any], describe: Described | None = None,
              creating: bool = False) -> dict[str, Any]:
    """Checked, converted MongoDB values for a create (`creating`) or an update.

    With `describe`, each value is also checked against its Salesforce field (type, length,
    precision and scale, restricted picklist values, Id form, required on create), so that what
    MongoDB keeps is what Salesforce will hold. Raises InvalidRecord naming every value at fault.
    """
    fields = _by_mongo_name(spec)
    values: dict[str, Any] = {}
    errors: list[RecordError] = []
    for name, value in payload.items():
        try:
            values[name] = _value(spec, fields.get(name), name, value, describe, creating)
        except RecordError as exc:
            errors.append(exc)
    if creating and describe is not None:
        reported = {e.field for e in errors}
        errors.extend(e for e in _missing_on_create(spec, describe, values) if e.field not in reported)
    if errors:
        raise InvalidRecord(errors)
    return values


def _value(spec: MappingSpec, field: FieldSpec | None, name: str, value: Any, describe: Described | None,
           creating: bool) -> Any:
    if field is None:
        raise RecordError(name, f"{name!r} is not a mapped field of {spec.name} "
                                f"(mapped: {', '.join(sorted(_by_mongo_name(spec)))})", "mapped")
    if not field.sf_writable:
        raise RecordError(name, f"{name!r} ({field.sf_field}) is read-only in Salesforce", "updateable")
    if isinstance(value, (dict, list)):
        raise RecordError(name, f"{name!r} takes a single value, not {type(value).__name__} {value!r}", "type")
    problem = None
    if describe is not None:
        entry = describe.fields.get(field.sf_field.lower())
        if entry is None:
            raise RecordError(name, f"{name!r}: Salesforce's {spec.sf_object} has no field {field.sf_field} "
                                    "any more (accept the schema change in the admin)", "describe")
        problem = write_problem(entry, value, creating, describe.key_prefixes.get(field.sf_field.lower(), frozenset()))
    # Whatever describe says, MongoDB must be able to store the value as the sync would.
    problem = problem or finite_problem(value) or (text_problem(value, None) if isinstance(value, str) else None)
    if problem is not None:
        raise RecordError(name, f"{name!r} ({spec.sf_object}.{field.sf_field}) {problem.message}", problem.rule)
    try:
        return convert_value(field.sf_field, value, field.conversion)
    except ConversionError as exc:
        raise RecordError(name, str(exc), "type") from exc


def _missing_on_create(spec: MappingSpec, describe: Described, values: dict[str, Any]) -> list[RecordError]:
    mapped = {f.sf_field.lower(): f for f in spec.fields}
    missing = []
    for key, entry in describe.fields.items():
        if not required_on_create(entry):
            continue
        field = mapped.get(key)
        if field is None:
            missing.append(RecordError(entry["name"], f"{spec.sf_object}.{entry['name']} is required to create a "
                                                      f"record but is not mapped in {spec.name}", "required"))
        elif field.mongo_field not in values or is_blank(entry, values[field.mongo_field]):
            missing.append(RecordError(field.mongo_field, f"{field.mongo_field!r} ({spec.sf_object}.{entry['name']}) "
                                                          "is required to create a record", "required"))
    return missing


def to_json(spec: MappingSpec, document: dict[str, Any]) -> dict[str, Any]:
    """A document as the API shows it: `_id` as text, mapped fields in JSON, sync state in brief."""
    out: dict[str, Any] = {"_id": id_text(document["_id"]), spec.key_field: document.get(spec.key_field)}
    for field in spec.fields:
        if field.mongo_field in document:
            out[field.mongo_field] = _json_value(field, document[field.mongo_field])
    state = sync_state.read(document)
    out[sync_state.FIELD] = {"synced_at": state.synced_at, "source": state.source, "deleted": state.deleted}
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
            raise RecordError(name, f"cannot filter on {name!r}: not a mapped field of {spec.name}", "mapped")
        try:
            found[name] = convert_value(field.sf_field, _query_value(text, field), field.conversion)
        except ConversionError as exc:
            raise RecordError(name, str(exc), "type") from exc
        problem = finite_problem(found[name])
        if problem is not None:
            raise RecordError(name, f"cannot filter on {name!r}: {problem.message}", problem.rule)
    return found


def _query_value(text: str, field: FieldSpec) -> Any:
    if field.conversion == "boolean":
        return text.lower() in ("true", "1", "yes")
    return text


def list_records(collection: Collection, spec: MappingSpec, query: dict[str, str], limit: int, offset: int) -> Page:
    """One page in `_id` order: `limit` from 1 to MAX_PAGE (0 would mean "all" to MongoDB), `offset`
    from 0 to MAX_OFFSET; the caller checks both. Raises RecordError for a filter that does not fit."""
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


def create_record(collection: Collection, spec: MappingSpec, payload: dict[str, Any],
                  describe: Described | None = None) -> dict[str, Any]:
    document = {"_id": ObjectId(), **to_values(spec, payload, describe, creating=True)}
    collection.insert_one(document)
    return to_json(spec, document)


def update_record(collection: Collection, spec: MappingSpec, record_id: str, payload: dict[str, Any],
                  describe: Described | None = None) -> dict[str, Any] | None:
    values = to_values(spec, payload, describe)
    document = collection.find_one_and_update({"_id": id_value(record_id)}, {"$set": values}, return_document=True)
    return to_json(spec, document) if document is not None else None


def delete_record(collection: Collection, record_id: str) -> bool:
    return collection.delete_one({"_id": id_value(record_id)}).deleted_count == 1
