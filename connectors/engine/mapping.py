"""Field mapping: Salesforce field names and values to a MongoDB document. Pure; no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from connectors.engine.conversion import ConversionError, convert_value, resolve_conversion


@dataclass(frozen=True)
class FieldSpec:
    sf_field: str
    mongo_field: str
    conversion: str | None  # already resolved: None passes the value through
    sf_type: str = "string"
    sf_writable: bool = True


@dataclass(frozen=True)
class MappingSpec:
    """What the apply side needs to know of one object mapping, detached from the ORM."""

    name: str
    sf_object: str
    collection: str
    key_field: str
    delete_mode: str
    fields: tuple[FieldSpec, ...]
    conflict_policy: str = "manual"
    two_way: bool = False
    sf_external_id_field: str = "Mongo_Id__c"
    propagate_mongo_deletes: bool = True

    @property
    def sf_field_names(self) -> list[str]:
        return [f.sf_field for f in self.fields]


def build_field_specs(rows: Iterable[tuple[str, str, str, str, bool]]) -> tuple[FieldSpec, ...]:
    """From (sf_field, mongo_field, sf_type, conversion, sf_writable) rows to resolved specs."""
    return tuple(
        FieldSpec(sf_field, mongo_field, resolve_conversion(conversion, sf_type), sf_type, sf_writable)
        for sf_field, mongo_field, sf_type, conversion, sf_writable in rows
    )


def to_document(spec: MappingSpec, sf_values: dict[str, Any]) -> dict[str, Any]:
    """Mapped and converted values for the fields present in `sf_values`.

    Fields absent from `sf_values` are left out (not nulled), so a partial change
    never erases what it did not carry. Raises ConversionError on the first bad
    value, naming the field.
    """
    document: dict[str, Any] = {}
    for field in spec.fields:
        if field.sf_field in sf_values:
            document[field.mongo_field] = convert_value(field.sf_field, sf_values[field.sf_field], field.conversion)
    return document


__all__ = ["ConversionError", "FieldSpec", "MappingSpec", "build_field_specs", "to_document"]
