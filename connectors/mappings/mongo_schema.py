"""A synced collection's `$jsonSchema` validator and indexes, from describe and the field mappings.

The validator describes what the sync writes (each mapped field's BSON type after conversion,
null allowed where Salesforce allows it), so applications writing into the collection are held
to the same types; it never requires a field and allows any other, so apps can add their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError

from connectors.engine.conversion import resolve_conversion
from connectors.mappings.describe_cache import fields_by_name
from connectors.models import ObjectMapping
from connectors.mongo import sync_state
from connectors.mongo.client import MongoUnavailable, connect
from connectors.mongo.setup import business_references, ensure_collection
from connectors.wiring import mapping_spec

#: BSON type(s) a value has after each conversion; None (passed through) is a JSON string.
BSON_TYPES: dict[str | None, list[str]] = {
    None: ["string"],
    "string": ["string"],
    "integer": ["int", "long"],
    "double": ["double"],
    "decimal": ["decimal"],
    "boolean": ["bool"],
    "date": ["date"],
    "datetime": ["date"],
}
#: "moderate": documents already in the collection that do not fit (written before the validator,
#: or under an older mapping) can still be updated, so turning it on never strands old data.
VALIDATION_LEVEL = "moderate"
#: "error": a wrong type is refused where it is written, with MongoDB saying which rule it broke,
#: instead of failing later and less clearly at the Salesforce write. The sync's own writes fit by
#: construction; one that does not (a type changed in Salesforce, drift not yet accepted) is
#: parked as a MongoDB write error a person can retry after accepting the change, never lost.
VALIDATION_ACTION = "error"


def bson_types(sf_type: str, conversion: str) -> list[str]:
    """The BSON type names a mapped field's values have (`conversion` as stored: "auto" or a name)."""
    return list(BSON_TYPES[resolve_conversion(conversion, sf_type)])


def json_schema(mapping: ObjectMapping, describe: dict[str, Any]) -> dict[str, Any]:
    """The `$jsonSchema` for the mapping's collection. Fields no longer in describe are left out."""
    described = fields_by_name(describe)
    properties: dict[str, Any] = {
        "_id": {"description": "the Salesforce Id, or an ObjectId for a document born in MongoDB"},
        sync_state.FIELD: {"bsonType": "object", "description": "the sync's own state; do not edit"},
        mapping.key_field: {"bsonType": ["string", "null"], "description": "the Salesforce Id"},
    }
    for field in mapping.fields.filter(enabled=True):
        entry = described.get(field.sf_field.lower())
        if entry is None:
            continue
        types = bson_types(entry["type"], field.conversion)
        if entry.get("nillable"):
            types.append("null")
        _place(properties, field.mongo_field.split("."),
               {"bsonType": types if len(types) > 1 else types[0],
                "description": f"Salesforce {mapping.sf_object}.{entry['name']} ({entry['type']})"})
    return {"bsonType": "object", "properties": properties, "additionalProperties": True}


def _place(properties: dict[str, Any], path: list[str], schema: dict[str, Any]) -> None:
    # A dotted MongoDB name is a field of a sub-document: nest the schema to match.
    head, *rest = path
    if not rest:
        properties[head] = schema
        return
    parent = properties.setdefault(head, {"bsonType": ["object", "null"], "properties": {}})
    _place(parent.setdefault("properties", {}), rest, schema)


def indexed_fields(mapping: ObjectMapping) -> list[str]:
    """The fields the sync indexes (the same rule its apply worker uses)."""
    return business_references(mapping_spec(mapping))


@dataclass(frozen=True)
class SchemaPlan:
    collection: str
    validator: dict[str, Any]
    indexes: list[str]
    validation_level: str = VALIDATION_LEVEL
    validation_action: str = VALIDATION_ACTION


def plan(mapping: ObjectMapping, describe: dict[str, Any]) -> SchemaPlan:
    return SchemaPlan(mapping.collection, {"$jsonSchema": json_schema(mapping, describe)}, indexed_fields(mapping))


class SchemaApplyError(RuntimeError):
    """MongoDB refused the validator; the message says what it answered."""


def apply_to_mapping(mapping: ObjectMapping, plan: SchemaPlan) -> str:
    """`apply` on the mapping's own database; MongoDB not answering is a SchemaApplyError too."""
    try:
        client = connect(mapping.mongo.uri)
    except MongoUnavailable as exc:
        raise SchemaApplyError(str(exc)) from None
    try:
        return apply(client[mapping.mongo.database], plan)
    finally:
        client.close()


def apply(database: Database, schema: SchemaPlan) -> str:
    """Create the collection with the validator, or set it with collMod; then the indexes.
    Reads the options back, so a server that accepts but ignores validators is caught.
    Returns one line for a person; raises SchemaApplyError."""
    options: dict[str, Any] = {"validator": schema.validator, "validationLevel": schema.validation_level,
               "validationAction": schema.validation_action}
    try:
        if schema.collection in database.list_collection_names():
            database.command("collMod", schema.collection, **options)
            verb = "updated the validator of"
        else:
            database.create_collection(schema.collection, **options)
            verb = "created"
        ensure_collection(database, schema.collection, schema.indexes)
        stored = next(iter(database.list_collections(filter={"name": schema.collection})), {}).get("options", {})
    except OperationFailure as exc:
        raise SchemaApplyError(f"mongodb refused the validator for {schema.collection!r}: "
                               f"{exc.details.get('errmsg', exc) if exc.details else exc} "
                               f"(code {exc.code})") from exc
    except PyMongoError as exc:
        raise SchemaApplyError(f"mongodb: could not set up {schema.collection!r}: {type(exc).__name__}: {exc}") from exc
    if stored.get("validator") != schema.validator:
        raise SchemaApplyError(f"mongodb accepted the validator for {schema.collection!r} but does not keep it "
                               "(listCollections shows none): this server does not support validators")
    indexes = ", ".join(schema.indexes) or "none needed"
    return (f"{verb} {database.name}.{schema.collection}: $jsonSchema validator in force "
            f"(validationLevel {schema.validation_level}, validationAction {schema.validation_action}); "
            f"indexes: {indexes}")
