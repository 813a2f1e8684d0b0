"""Reconcile: compare both sides of a mapping by a hash of the mapped fields and repair drift.

Catches what capture cannot see: records purged from Salesforce's recycle bin (found by
comparing the sets of Ids, and reported by getDeleted while Salesforce still keeps them),
documents changed behind the sync's back, a capture gap. Repairs follow the mapping's
conflict policy; with `manual`, a drifted record becomes a conflict for a person.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from connectors.engine.canonical import to_salesforce_json, values_hash
from connectors.engine.conversion import ConversionError, parse_sf_datetime
from connectors.engine.mapping import MappingSpec, to_document
from connectors.engine.plan import mongo_values, salesforce_values
from connectors.models import Conflict, ObjectMapping
from connectors.mongo import meta
from connectors.mongo.changes import id_value
from connectors.mongo.client import connect
from connectors.mongo.writer import DocumentChange, write_changes
from connectors.salesforce.polling import SYSTEM_FIELDS
from connectors.salesforce.writer import SalesforceWriter
from connectors.wiring import mapping_spec, salesforce_client

#: How far back getDeleted is asked (Salesforce keeps deleted records about 15 days).
DELETED_WINDOW = timedelta(days=14)


@dataclass
class ReconcileReport:
    compared: int = 0
    changes: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def note(self, kind: str, detail: str) -> None:
        self.changes[kind] += 1
        if len(self.details) < 50:
            self.details.append(f"{kind}: {detail}")


def _writable_hash(spec: MappingSpec, values: dict[str, Any]) -> str:
    return values_hash({f.sf_field: values.get(f.sf_field) for f in spec.fields if f.sf_writable})


def reconcile(mapping: ObjectMapping, progress: Callable[[Iterable[Any], int], Iterable[Any]] = lambda it, n: it,
              dry_run: bool = False) -> ReconcileReport:
    """Compare and repair one mapping; returns what was found and done."""
    spec = mapping_spec(mapping)
    client = salesforce_client(mapping.org)
    writer = SalesforceWriter(client)
    report = ReconcileReport()
    fields = ", ".join(dict.fromkeys([*SYSTEM_FIELDS, *spec.sf_field_names]))
    records = {r["Id"]: r for page in client.query_pages(f"SELECT {fields} FROM {spec.sf_object}")
               for r in page.records}
    deleted = _recently_deleted(client, spec.sf_object)
    mongo = connect(mapping.mongo.uri)
    try:
        collection = mongo[mapping.mongo.database][mapping.collection]
        documents = list(collection.find({}))
        now = datetime.now(timezone.utc)
        to_mongo: list[DocumentChange] = []
        to_salesforce: list[dict[str, Any]] = []
        seen: set[str] = set()
        for document in progress(documents, len(documents)):
            report.compared += 1
            sf_id = document.get(spec.key_field)
            if not sf_id:
                if mapping.captures_mongodb:
                    report.note("created_in_salesforce", str(document["_id"]))
                    to_salesforce.append(_record(spec, document))
                continue
            seen.add(sf_id)
            record = records.get(sf_id)
            if record is None:
                why = "deleted" if sf_id in deleted else "gone (purged)"
                report.note("removed_from_mongodb", f"{sf_id} {why} in Salesforce")
                if spec.delete_mode != "ignore":
                    op = "delete" if spec.delete_mode == "remove" else "mark_deleted"
                    to_mongo.append(DocumentChange(sf_id, op, now, {}, "reconcile", document_id=document["_id"]))
                continue
            _compare(spec, mapping, record, document, report, to_mongo, to_salesforce)
        for sf_id, record in records.items():
            if sf_id not in seen:
                report.note("created_in_mongodb", sf_id)
                to_mongo.append(_from_salesforce(spec, record))
        if not dry_run:
            if to_mongo:
                write_changes(collection, spec.key_field, to_mongo, now)
            _write_salesforce(spec, writer, collection, to_salesforce)
    finally:
        mongo.close()
    return report


def _compare(spec: MappingSpec, mapping: ObjectMapping, record: dict[str, Any], document: dict[str, Any],
             report: ReconcileReport, to_mongo: list[DocumentChange], to_salesforce: list[dict[str, Any]]) -> None:
    sf_values = salesforce_values(spec, record)
    mongo_now = mongo_values(spec, document)
    if _writable_hash(spec, sf_values) == _writable_hash(spec, mongo_now):
        return
    differing = sorted(n for n in mongo_now if mongo_now[n] != sf_values.get(n))
    # One way, the source side is the truth.
    policy = {ObjectMapping.Direction.BOTH: spec.conflict_policy,
              ObjectMapping.Direction.SF_TO_MONGO: "salesforce_wins"}.get(mapping.direction, "mongodb_wins")
    if policy == "newest_wins":
        synced = meta.sync_state(document).get("synced_at")
        policy = "salesforce_wins" if not synced or parse_sf_datetime(record["SystemModstamp"]) >= synced \
            else "mongodb_wins"
    if policy == "salesforce_wins":
        report.note("updated_in_mongodb", f"{record['Id']} ({', '.join(differing)})")
        to_mongo.append(_from_salesforce(spec, record, document["_id"]))
    elif policy == "mongodb_wins":
        report.note("updated_in_salesforce", f"{record['Id']} ({', '.join(differing)})")
        to_salesforce.append({**_record(spec, document, differing), "id": record["Id"]})
    else:
        report.note("conflict", f"{record['Id']} ({', '.join(differing)})")
        Conflict.objects.create(
            mapping=mapping, salesforce_id=record["Id"], mongo_id=str(document["_id"]), fields=differing,
            base_values={n: (meta.sync_state(document).get("base") or {}).get(n) for n in differing},
            salesforce_values={n: sf_values.get(n) for n in differing},
            mongo_values={n: mongo_now.get(n) for n in differing},
            salesforce_changed_at=parse_sf_datetime(record["SystemModstamp"]),
        )


def _from_salesforce(spec: MappingSpec, record: dict[str, Any], document_id: Any = None) -> DocumentChange:
    values = {n: record.get(n) for n in spec.sf_field_names}
    base = salesforce_values(spec, values)
    return DocumentChange(record["Id"], "upsert", parse_sf_datetime(record["SystemModstamp"]),
                          to_document(spec, values), "reconcile", base=base, base_hash=values_hash(base),
                          document_id=None if document_id in (None, record["Id"]) else document_id)


def _record(spec: MappingSpec, document: dict[str, Any], names: list[str] | None = None) -> dict[str, Any]:
    record = {spec.sf_external_id_field: str(document["_id"])}
    for f in spec.fields:
        if f.sf_writable and (names is None or f.sf_field in names) and f.mongo_field in document:
            try:
                record[f.sf_field] = to_salesforce_json(f.sf_field, f.sf_type, document[f.mongo_field])
            except ConversionError:
                continue  # reported by the normal pipeline's error queue, not repaired blindly
    return record


def _write_salesforce(spec: MappingSpec, writer: SalesforceWriter, collection: Any,
                      records: list[dict[str, Any]]) -> None:
    updates = [r for r in records if "id" in r]
    creates = [r for r in records if "id" not in r]
    if updates:
        writer.update(spec.sf_object, updates)
    if creates:
        for record, result in zip(creates, writer.upsert(spec.sf_object, spec.sf_external_id_field, creates)):
            if result.success and result.id:
                collection.update_one({"_id": id_value(record[spec.sf_external_id_field])},
                                      {"$set": {spec.key_field: result.id, meta.SYNCED_AT: datetime.now(timezone.utc)}})


def _recently_deleted(client: Any, sf_object: str) -> set[str]:
    """Ids Salesforce reports deleted in the last DELETED_WINDOW (getDeleted)."""
    end = datetime.now(timezone.utc)
    start = end - DELETED_WINDOW
    answer = client.call(lambda sf: getattr(sf, sf_object).deleted(start, end))
    return {item["id"] for item in answer.get("deletedRecords", [])}

