"""Object and field mappings built from Salesforce's own metadata (describe)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from django.db import transaction

from connectors.engine.conversion import resolve_conversion
from connectors.engine.naming import SYNCABLE_TYPES, suggest_mongo_name
from connectors.models import FieldMapping, KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg
from connectors.mongo import sync_state

#: Kept in the `_sync` metadata or the key field rather than as mapped fields.
SYSTEM_FIELDS = {"Id", "IsDeleted", "SystemModstamp"}
#: MongoDB names the sync keeps for itself or that MongoDB refuses as a plain field name.
RESERVED_NAMES = {"_id", sync_state.FIELD}


def syncable_fields(describe: dict[str, Any]) -> list[dict[str, Any]]:
    """The describe entries a mapping can carry, in describe's order."""
    return [f for f in describe["fields"] if is_syncable(f)]


def is_syncable(field: dict[str, Any]) -> bool:
    return field["type"] in SYNCABLE_TYPES and field["name"] not in SYSTEM_FIELDS


def is_writable(field: dict[str, Any]) -> bool:
    """What a field mapping's `sf_writable` should say: Salesforce accepts the field on create or update."""
    return bool(field.get("createable") or field.get("updateable"))


def taken_mongo_names(mapping: ObjectMapping) -> set[str]:
    """MongoDB names a new field mapping of `mapping` cannot have."""
    return set(mapping.fields.values_list("mongo_field", flat=True)) | RESERVED_NAMES | {mapping.key_field}


def suggest_names(mapping: ObjectMapping, sf_fields: Iterable[str]) -> dict[str, str]:
    """A MongoDB name for each Salesforce field, clear of the mapping's names and of each other."""
    taken = taken_mongo_names(mapping)
    names: dict[str, str] = {}
    for sf_field in sf_fields:
        mongo_name = suggest_mongo_name(sf_field)
        while mongo_name in taken:
            mongo_name += "_"
        taken.add(mongo_name)
        names[sf_field] = mongo_name
    return names


def add_field_mappings(mapping: ObjectMapping, describe: dict[str, Any], chosen: dict[str, str]) -> list[FieldMapping]:
    """Create a field mapping for each `{sf_field: mongo_field}` in `chosen`, with the type and
    writability describe gives. Raises ValueError naming a field that describe does not have."""
    by_name = {f["name"]: f for f in describe["fields"]}
    missing = [name for name in chosen if name not in by_name]
    if missing:
        raise ValueError(f"{describe['name']} has no field named {', '.join(missing)}")
    return [
        FieldMapping.objects.create(
            mapping=mapping,
            sf_field=name,
            mongo_field=mongo_field,
            sf_type=by_name[name]["type"],
            sf_writable=is_writable(by_name[name]),
        )
        for name, mongo_field in chosen.items()
    ]


@transaction.atomic
def create_mapping_from_describe(
    describe: dict[str, Any],
    name: str,
    org: SalesforceOrg,
    kafka: KafkaCluster,
    mongo: MongoTarget,
    collection: str,
    **options: Any,
) -> ObjectMapping:
    """Create (or refresh the fields of) a mapping for the described object. Idempotent:
    existing field mappings keep their MongoDB names and conversions."""
    mapping, _ = ObjectMapping.objects.get_or_create(
        name=name,
        defaults={"org": org, "kafka": kafka, "mongo": mongo, "sf_object": describe["name"],
                  "collection": collection, **options},
    )
    existing = set(mapping.fields.values_list("sf_field", flat=True))
    new = [f["name"] for f in syncable_fields(describe) if f["name"] not in existing]
    add_field_mappings(mapping, describe, suggest_names(mapping, new))
    return mapping


@dataclass(frozen=True)
class ImportRow:
    """One describe field as the admin's import page shows it."""

    name: str
    label: str
    sf_type: str
    createable: bool
    updateable: bool
    nillable: bool
    mapped: bool
    syncable: bool
    suggested_mongo_field: str
    conversion: str | None  # what "auto" resolves to; None passes the JSON value through

    @property
    def selectable(self) -> bool:
        return self.syncable and not self.mapped


def import_rows(mapping: ObjectMapping, describe: dict[str, Any]) -> list[ImportRow]:
    """Every field of the described object, in describe's order, with what importing it would create."""
    mapped = set(mapping.fields.values_list("sf_field", flat=True))
    suggested = suggest_names(mapping, [f["name"] for f in describe["fields"] if f["name"] not in mapped])
    return [
        ImportRow(
            name=f["name"],
            label=f.get("label", ""),
            sf_type=f["type"],
            createable=bool(f.get("createable")),
            updateable=bool(f.get("updateable")),
            nillable=bool(f.get("nillable")),
            mapped=f["name"] in mapped,
            syncable=is_syncable(f),
            suggested_mongo_field=suggested.get(f["name"], ""),
            conversion=resolve_conversion("auto", f["type"]),
        )
        for f in describe["fields"]
    ]
