"""Changing an object's fields at run time, as an admin does in Setup (for schema-drift tests).

A change replaces the :class:`~sfemulator.schema.SObject` in :data:`schema.OBJECTS`, so
describe, SOQL and record writes see it at once (they look objects up per request). The
record table keeps the column of a removed field (Salesforce keeps a deleted field's data
for a while too); an added field gets a new, empty column. Changes live in the process
only: :func:`reset_fields` (or a restart) brings back the built-in schema.
"""
from __future__ import annotations

import dataclasses

from . import schema
from .errors import ApiError
from .schema import SOAP_TYPES, Field, SObject
from .store import Store

#: The schema as built in, to put back by :func:`reset_fields`.
_BUILT_IN: dict[str, SObject] = dict(schema.OBJECTS)


def alter_field(store: Store, object_name: str, field_name: str, field_type: str | None) -> dict:
    """Add ``field_name`` (when missing) or retype it to ``field_type``; remove it when
    ``field_type`` is None. Raises ApiError 400/404 for an unknown object or type, a
    missing field to remove, or a system field. Returns ``{object, field, type}``."""
    obj = schema.get_object(object_name)
    if obj is None:
        raise ApiError(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{object_name}'")
    if field_type is not None and field_type not in SOAP_TYPES:
        raise ApiError(400, "INVALID_INPUT", f"unknown field type {field_type!r}; one of {sorted(SOAP_TYPES)}")
    current = obj.field(field_name)
    if current is not None and (current.system or current.name == "Id"):
        raise ApiError(400, "INVALID_INPUT", f"{obj.name}.{current.name} is a system field and cannot change")
    if field_type is None:
        if current is None:
            raise ApiError(404, "NOT_FOUND", f"No such field {obj.name}.{field_name}")
        schema.install(obj.with_fields(tuple(f for f in obj.fields if f is not current)))
        return {"object": obj.name, "field": current.name, "type": None}
    if current is None:
        added = Field(field_name, field_name.removesuffix("__c").replace("_", " "), field_type,
                      length=255 if field_type in schema.TEXT_TYPES else 0)
        changed = obj.with_fields((*obj.fields, added))
        schema.install(changed)
        store.add_columns(changed, [added.name])
        return {"object": obj.name, "field": added.name, "type": field_type}
    retyped = dataclasses.replace(current, type=field_type)
    schema.install(obj.with_fields(tuple(retyped if f is current else f for f in obj.fields)))
    return {"object": obj.name, "field": current.name, "type": field_type}


def reset_fields() -> None:
    """Put back the built-in fields of every object."""
    for obj in _BUILT_IN.values():
        schema.install(obj)
