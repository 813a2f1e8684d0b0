"""Object and field mappings built from Salesforce's own metadata (describe)."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from connectors.engine.naming import SYNCABLE_TYPES, suggest_mongo_name
from connectors.models import FieldMapping, KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg

#: Kept in the `_sync` metadata or the key field rather than as mapped fields.
SYSTEM_FIELDS = {"Id", "IsDeleted", "SystemModstamp"}


def syncable_fields(describe: dict[str, Any]) -> list[dict[str, Any]]:
    """The describe entries a mapping can carry, in describe's order."""
    return [
        f for f in describe["fields"]
        if f["type"] in SYNCABLE_TYPES and f["name"] not in SYSTEM_FIELDS
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
    taken = set(mapping.fields.values_list("mongo_field", flat=True)) | {mapping.key_field, "_id", "_sync"}
    for field in syncable_fields(describe):
        if field["name"] in existing:
            continue
        mongo_name = suggest_mongo_name(field["name"])
        while mongo_name in taken:
            mongo_name += "_"
        taken.add(mongo_name)
        FieldMapping.objects.create(
            mapping=mapping,
            sf_field=field["name"],
            mongo_field=mongo_name,
            sf_type=field["type"],
            sf_writable=bool(field.get("createable") or field.get("updateable")),
        )
    return mapping
