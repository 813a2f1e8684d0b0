"""Under the `manual` policy, a MongoDB change never overwrites a Salesforce edit nobody has seen.

sf-apply may handle a MongoDB change before mongo-apply has seen a Salesforce edit of the
same field (both sides edited within a second, or within a poll interval): a blind write
would put MongoDB's value in Salesforce before anyone decided. So, for a `manual` mapping,
sf-apply reads the fields it is about to update (one query per 200 records) and compares them
with the last synced values: a field Salesforce changed to something else is a conflict,
recorded here with both values and both change times, and the change waits behind it.
What is left is the few milliseconds between that read and the write.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simple_salesforce.format import format_soql

from connectors.engine.canonical import canonical
from connectors.engine.conversion import ConversionError, parse_sf_datetime
from connectors.engine.mapping import MappingSpec
from connectors.models import Conflict, ObjectMapping
from connectors.operations.conflict_queue import open_conflict
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.record_ids import chunks


@dataclass(frozen=True)
class Write:
    """One record's update as the guard needs it."""

    salesforce_id: str
    mongo_id: str
    base: dict[str, Any]  # last synced canonical values
    sent: dict[str, Any]  # canonical values about to be written
    changed_at: datetime  # when the MongoDB change happened


def current_values(client: SalesforceClient, spec: MappingSpec, writes: list[Write]) -> dict[str, dict[str, Any]]:
    """Salesforce's current values of the fields about to be written, by record Id."""
    fields = sorted({name for w in writes for name in w.sent})
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks([w.salesforce_id for w in writes]):
        soql = format_soql("SELECT {:literal} FROM {:literal} WHERE Id IN {}",
                           ", ".join(["Id", "SystemModstamp", *fields]), spec.sf_object, chunk)
        for page in client.query_pages(soql):
            found.update({r["Id"]: r for r in page.records})
    return found


def disputed_fields(spec: MappingSpec, write: Write, record: dict[str, Any]) -> dict[str, Any]:
    """The fields Salesforce changed since the last sync to a value other than the one being
    sent, with Salesforce's value (canonical)."""
    types = {f.sf_field: f.sf_type for f in spec.fields}
    disputed = {}
    for name, value in write.sent.items():
        if name not in record or name == spec.sf_external_id_field:
            continue
        try:
            theirs = canonical(name, types.get(name, "string"), record[name])
        except ConversionError:
            continue
        if theirs != write.base.get(name) and theirs != value:
            disputed[name] = theirs
    return disputed


def record_conflict(mapping: ObjectMapping, write: Write, disputed: dict[str, Any],
                    record: dict[str, Any]) -> Conflict:
    """Open (or join) the record's one conflict: mongo-apply may find the same dispute at once."""
    names = sorted(disputed)
    stamp = record.get("SystemModstamp")
    conflict, _ = open_conflict(
        mapping, write.salesforce_id, write.mongo_id, names,
        base_values={n: write.base.get(n) for n in names},
        salesforce_values={n: disputed[n] for n in names},
        mongo_values={n: write.sent[n] for n in names},
        salesforce_changed_at=parse_sf_datetime(stamp) if stamp else None,
        mongo_changed_at=write.changed_at,
    )
    return conflict
