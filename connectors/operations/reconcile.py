"""Reconcile: compare both sides of a mapping by a hash of the mapped fields and repair drift.

Catches what capture cannot see: records purged from Salesforce's recycle bin (found by
comparing the sets of Ids), documents changed behind the sync's back, a capture gap, and
duplicate documents for one Salesforce record. Repairs follow the mapping's conflict policy;
with `manual`, a drifted record becomes a conflict for a person.

Safe at any moment, while the workers run (an initial load included):

- a missing document is created under the `_id` mongo-apply would give it
  (`connectors.mongo.keys`) and only if it is still missing when written: a document the
  workers wrote meanwhile is left to them, and the unique index on the key field refuses a
  second document for one record whoever writes it;
- a document is removed only after Salesforce is asked again, by Id, whether its record is
  deleted or purged (not merely created after the snapshot was read);
- a document the workers updated after the snapshot (newer `_sync.sf_modstamp`) is not compared;
- a record never gets a second open conflict (`conflict_queue.open_conflict`);
- a dry run writes nothing anywhere: no documents, no conflicts, no Salesforce calls but reads.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError
from simple_salesforce.format import format_soql

from connectors.engine.canonical import to_salesforce_json, values_hash
from connectors.engine.conversion import ConversionError, parse_sf_datetime
from connectors.engine.mapping import MappingSpec, to_document
from connectors.engine.plan import mongo_values, salesforce_values
from connectors.models import ObjectMapping
from connectors.mongo import keys, sync_state
from connectors.mongo.changes import id_text, id_value
from connectors.mongo.client import connect
from connectors.mongo.setup import DuplicateKeys, ensure_key_index
from connectors.mongo.writer import DocumentChange, write_changes
from connectors.operations.conflict_queue import open_conflict
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.polling import SYSTEM_FIELDS
from connectors.salesforce.record_ids import chunks
from connectors.salesforce.writer import SalesforceWriter
from connectors.wiring import mapping_spec, salesforce_client

#: Findings listed in full; beyond this they are only counted.
DETAIL_LINES = 50


@dataclass
class ReconcileReport:
    compared: int = 0
    dry_run: bool = False
    changes: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def note(self, kind: str, detail: str) -> None:
        self.changes[kind] += 1
        if len(self.details) < DETAIL_LINES:
            self.details.append(f"{kind}: {detail}")


@dataclass
class _Plan:
    """What one run found to do, applied only when it is not a dry run."""

    to_remove: list[DocumentChange] = field(default_factory=list)  # deletes and marks
    to_update: list[DocumentChange] = field(default_factory=list)  # existing documents only
    to_create: list[DocumentChange] = field(default_factory=list)  # new documents, insert-only
    to_link: list[tuple[Any, str]] = field(default_factory=list)  # (_id, Salesforce Id) to write back
    to_salesforce: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)  # open_conflict arguments
    merged_away: list[tuple[Any, str]] = field(default_factory=list)  # duplicate (_id, Salesforce Id)


def _writable_hash(spec: MappingSpec, values: dict[str, Any]) -> str:
    return values_hash({f.sf_field: values.get(f.sf_field) for f in spec.fields if f.sf_writable})


def reconcile(mapping: ObjectMapping, progress: Callable[[Iterable[Any], int], Iterable[Any]] = lambda it, n: it,
              dry_run: bool = False, merge_duplicates: bool = False) -> ReconcileReport:
    """Compare one mapping's records and documents and repair what differs (nothing when
    `dry_run`: the report then says what would be done). Duplicate documents of one record are
    always reported; with `merge_duplicates` all but one are removed, the Salesforce record kept."""
    spec = mapping_spec(mapping)
    client = salesforce_client(mapping.org)
    report = ReconcileReport(dry_run=dry_run)
    names = [*SYSTEM_FIELDS, *spec.sf_field_names, *([spec.sf_external_id_field] if spec.two_way else [])]
    soql = f"SELECT {', '.join(dict.fromkeys(names))} FROM {spec.sf_object}"
    records = {r["Id"]: r for page in client.query_pages(soql) for r in page.records}
    mongo = connect(mapping.mongo.uri)
    try:
        collection = mongo[mapping.mongo.database][mapping.collection]
        plan = _Plan()
        keyed, unkeyed = _read_documents(spec, collection, progress, report)
        documents = {sf_id: _one_document(spec, sf_id, found, records.get(sf_id), plan, report, merge_duplicates)
                     for sf_id, found in keyed.items()}
        _plan_existing(spec, mapping, client, records, documents, keyed, report, plan)
        _plan_missing(spec, client, records, documents, unkeyed, report, plan)
        if mapping.captures_mongodb:
            _plan_born_in_mongodb(spec, unkeyed, report, plan)
        if not dry_run:
            _apply(spec, mapping, SalesforceWriter(client), collection, plan, report)
    finally:
        mongo.close()
    report.changes = +report.changes  # drop kinds that came to nothing (all left to the workers)
    return report


def _read_documents(spec: MappingSpec, collection: Collection, progress: Callable[[Iterable[Any], int], Iterable[Any]],
                    report: ReconcileReport) -> tuple[dict[str, list[dict[str, Any]]], dict[Any, dict[str, Any]]]:
    """The collection's documents by the Salesforce Id they carry (several: duplicates), and
    those that carry none yet, by `_id`."""
    keyed: dict[str, list[dict[str, Any]]] = {}
    unkeyed: dict[Any, dict[str, Any]] = {}
    for document in progress(collection.find({}), collection.estimated_document_count()):
        report.compared += 1
        sf_id = document.get(spec.key_field)
        if isinstance(sf_id, str) and sf_id:
            keyed.setdefault(sf_id, []).append(document)
        else:
            unkeyed[document["_id"]] = document
    return keyed, unkeyed


def _plan_existing(spec: MappingSpec, mapping: ObjectMapping, client: SalesforceClient,
                   records: dict[str, dict[str, Any]], documents: dict[str, dict[str, Any]],
                   keyed: dict[str, list[dict[str, Any]]], report: ReconcileReport, plan: _Plan) -> None:
    """Documents of records still in Salesforce are compared; those of records Salesforce says
    are deleted or purged are removed (with their duplicates)."""
    gone = _gone_from_salesforce(client, spec.sf_object, [i for i in documents if i not in records])
    for sf_id, document in documents.items():
        record = records.get(sf_id)
        if record is not None:
            _compare(spec, mapping, record, document, report, plan)
        elif sf_id in gone:
            _remove(spec, sf_id, [document, *(d for d in keyed[sf_id] if d is not document)], gone[sf_id],
                    report, plan)


def _plan_missing(spec: MappingSpec, client: SalesforceClient, records: dict[str, dict[str, Any]],
                  documents: dict[str, dict[str, Any]], unkeyed: dict[Any, dict[str, Any]],
                  report: ReconcileReport, plan: _Plan) -> None:
    """Records without a document get one, unless deleted since the snapshot was read."""
    missing = [sf_id for sf_id in records if sf_id not in documents]
    deleted_since = _gone_from_salesforce(client, spec.sf_object, missing)  # not to be brought back
    for sf_id in missing:
        if sf_id not in deleted_since:
            _missing_document(spec, records[sf_id], unkeyed, report, plan)


def _plan_born_in_mongodb(spec: MappingSpec, unkeyed: dict[Any, dict[str, Any]], report: ReconcileReport,
                          plan: _Plan) -> None:
    """Documents with no Salesforce record (and not just linked to one) are created there."""
    linked = {document_id for document_id, _ in plan.to_link}
    for document_id, document in unkeyed.items():
        if document_id not in linked:
            report.note("created_in_salesforce", id_text(document_id))
            plan.to_salesforce.append(_record(spec, document))


def _one_document(spec: MappingSpec, sf_id: str, found: list[dict[str, Any]], record: dict[str, Any] | None,
                  plan: _Plan, report: ReconcileReport, merge: bool) -> dict[str, Any]:
    """The document that stands for a record; its duplicates are reported (and, when merging,
    planned for removal). The survivor is the one mongo-apply addresses, so later changes
    keep landing in it; failing that, the one the sync wrote last."""
    if len(found) == 1:
        return found[0]
    wanted = keys.document_id(spec, sf_id, record or {})
    survivor = next((d for d in found if d["_id"] == wanted), None) or max(
        found, key=lambda d: sync_state.read(d).synced_at or datetime.min.replace(tzinfo=timezone.utc))
    others = [d for d in found if d is not survivor]
    kept = mongo_values(spec, survivor)
    lost = sorted({n for d in others for n, v in mongo_values(spec, d).items() if kept.get(n) != v})
    differing = f"; they differ from it in {', '.join(lost)}" if lost else ""
    report.note("duplicate_documents", f"{sf_id} is held by {len(found)} documents "
                f"({', '.join(id_text(d['_id']) for d in found)}); {id_text(survivor['_id'])} stays"
                f"{differing}" + ("" if merge else " (--merge-duplicates removes the others)"))
    if merge:
        plan.merged_away += [(d["_id"], sf_id) for d in others]
    return survivor


def _gone_from_salesforce(client: SalesforceClient, sf_object: str, ids: list[str]) -> dict[str, str]:
    """Of Ids missing from the snapshot, those Salesforce confirms gone now (queryAll by Id:
    'deleted' in the recycle bin, or 'gone (purged)'); a record created after the snapshot
    was read is not among them."""
    live: set[str] = set()
    deleted: set[str] = set()
    for chunk in chunks(ids):
        soql = format_soql("SELECT Id, IsDeleted FROM {:literal} WHERE Id IN {}", sf_object, chunk)
        for page in client.query_pages(soql, include_deleted=True):
            for row in page.records:
                (deleted if row["IsDeleted"] else live).add(row["Id"][:18])
    return {i: "deleted" if i in deleted else "gone (purged)" for i in ids if i not in live}


def _remove(spec: MappingSpec, sf_id: str, documents: list[dict[str, Any]], why: str, report: ReconcileReport,
            plan: _Plan) -> None:
    report.note("removed_from_mongodb", f"{sf_id} {why} in Salesforce")
    if spec.delete_mode == "ignore":
        return
    op = "delete" if spec.delete_mode == "remove" else "mark_deleted"
    now = datetime.now(timezone.utc)
    plan.to_remove += [DocumentChange(sf_id, op, now, {}, "reconcile", document_id=d["_id"]) for d in documents]
    plan.merged_away = [(i, s) for i, s in plan.merged_away if s != sf_id]  # removed with the rest


def _missing_document(spec: MappingSpec, record: dict[str, Any], unkeyed: dict[Any, dict[str, Any]],
                      report: ReconcileReport, plan: _Plan) -> None:
    """A record with no document holding its Id: either a document born in MongoDB whose
    Salesforce Id is not written back yet (link them), or none at all (create it)."""
    wanted = keys.document_id(spec, record["Id"], record)
    if wanted in unkeyed:
        report.note("linked", f"{record['Id']} to document {id_text(wanted)} (its Salesforce Id written back)")
        plan.to_link.append((wanted, record["Id"]))
        return
    report.note("created_in_mongodb", record["Id"])
    plan.to_create.append(_from_salesforce(spec, record, wanted))


def _compare(spec: MappingSpec, mapping: ObjectMapping, record: dict[str, Any], document: dict[str, Any],
             report: ReconcileReport, plan: _Plan) -> None:
    modstamp = parse_sf_datetime(record["SystemModstamp"])
    state = sync_state.read(document)
    applied = state.sf_modstamp
    if applied is not None and applied.replace(tzinfo=applied.tzinfo or timezone.utc) > modstamp:
        return  # the workers applied a newer version after the snapshot was read
    sf_values = salesforce_values(spec, record)
    mongo_now = mongo_values(spec, document)
    if _writable_hash(spec, sf_values) == _writable_hash(spec, mongo_now):
        return
    differing = sorted(n for n in mongo_now if mongo_now[n] != sf_values.get(n))
    # One way, the source side is the truth.
    policies: dict[str, str] = {ObjectMapping.Direction.BOTH: spec.conflict_policy,
                                ObjectMapping.Direction.SF_TO_MONGO: "salesforce_wins"}
    policy = policies.get(mapping.direction, "mongodb_wins")
    if policy == "newest_wins":
        synced = state.synced_at
        policy = "salesforce_wins" if not synced or modstamp >= synced else "mongodb_wins"
    if policy == "salesforce_wins":
        report.note("updated_in_mongodb", f"{record['Id']} ({', '.join(differing)})")
        plan.to_update.append(_from_salesforce(spec, record, document["_id"]))
    elif policy == "mongodb_wins":
        report.note("updated_in_salesforce", f"{record['Id']} ({', '.join(differing)})")
        plan.to_salesforce.append({**_record(spec, document, differing), "id": record["Id"]})
    else:
        report.note("conflict", f"{record['Id']} ({', '.join(differing)})")
        plan.conflicts.append(dict(
            salesforce_id=record["Id"], mongo_id=id_text(document["_id"]), fields=differing,
            base_values={n: state.base.get(n) for n in differing},
            salesforce_values={n: sf_values.get(n) for n in differing},
            mongo_values={n: mongo_now.get(n) for n in differing},
            salesforce_changed_at=modstamp,
        ))


def _from_salesforce(spec: MappingSpec, record: dict[str, Any], document_id: Any) -> DocumentChange:
    values = {n: record.get(n) for n in spec.sf_field_names}
    base = salesforce_values(spec, values)
    return DocumentChange(record["Id"], "upsert", parse_sf_datetime(record["SystemModstamp"]),
                          to_document(spec, values), "reconcile", base=base, base_hash=values_hash(base),
                          document_id=None if document_id == record["Id"] else document_id)


def _record(spec: MappingSpec, document: dict[str, Any], names: list[str] | None = None) -> dict[str, Any]:
    record = {spec.sf_external_id_field: id_text(document["_id"])}
    for f in spec.fields:
        if f.sf_writable and (names is None or f.sf_field in names) and f.mongo_field in document:
            try:
                record[f.sf_field] = to_salesforce_json(f.sf_field, f.sf_type, document[f.mongo_field])
            except ConversionError:
                continue  # reported by the normal pipeline's error queue, not repaired blindly
    return record


def _apply(spec: MappingSpec, mapping: ObjectMapping, writer: SalesforceWriter, collection: Collection,
           plan: _Plan, report: ReconcileReport) -> None:
    now = datetime.now(timezone.utc)
    for document_id, sf_id in plan.merged_away:
        # The survivor still holds `sf_id`, so sf-apply does not delete the record for this.
        collection.delete_one({"_id": document_id, spec.key_field: sf_id})
    if plan.to_remove:
        write_changes(collection, spec.key_field, plan.to_remove, now)
    if plan.to_update:
        # Not an upsert: a document deleted meanwhile (its record deleted since) stays deleted.
        collection.bulk_write([UpdateOne({"_id": c.target_id, **sync_state.not_newer_than(c.modstamp)},
                                         {"$set": _document_fields(spec, c, now)}) for c in plan.to_update],
                              ordered=False)
    _create_documents(spec, collection, plan.to_create, now, report)
    for document_id, sf_id in plan.to_link:
        collection.update_one({"_id": document_id, spec.key_field: {"$exists": False}},
                              {"$set": {spec.key_field: sf_id, **sync_state.update(synced_at=now)}})
    for values in plan.conflicts:
        open_conflict(mapping, **values)
    _write_salesforce(spec, writer, collection, plan.to_salesforce)
    try:
        ensure_key_index(collection.database, collection.name, spec.key_field)
    except DuplicateKeys as exc:
        report.note("unique_index_missing", str(exc))


def _document_fields(spec: MappingSpec, change: DocumentChange, now: datetime) -> dict[str, Any]:
    """A Salesforce record's values as a document holds them, with the sync state of a sync write."""
    return {**change.document, spec.key_field: change.key, **sync_state.update(
        sf_modstamp=change.modstamp, source="salesforce", event_id=change.event_id, synced_at=now,
        base=change.base or {}, base_hash=change.base_hash, deleted=False)}


def _create_documents(spec: MappingSpec, collection: Collection, changes: list[DocumentChange], now: datetime,
                      report: ReconcileReport) -> None:
    """Insert the missing documents, each only if no document has its `_id` by now (the workers
    may have written it since the snapshot: theirs stands). One holding the same Salesforce Id
    under another `_id` is refused by the unique index and reported."""
    if not changes:
        return
    operations = [UpdateOne({"_id": c.target_id}, {"$setOnInsert": _document_fields(spec, c, now)}, upsert=True)
                  for c in changes]
    try:
        result = collection.bulk_write(operations, ordered=False)
        created = len(result.upserted_ids or {})
    except BulkWriteError as exc:
        created = exc.details.get("nUpserted", 0)
        for error in exc.details.get("writeErrors", []):
            report.note("not_created", f"{changes[error['index']].key}: {error.get('errmsg', error['code'])}")
    left = len(changes) - created - report.changes["not_created"]
    if left > 0:  # written by the workers since the snapshot: theirs stands
        report.changes["created_in_mongodb"] -= left
        report.changes["left_to_the_workers"] += left


def _write_salesforce(spec: MappingSpec, writer: SalesforceWriter, collection: Collection,
                      records: list[dict[str, Any]]) -> None:
    updates = [r for r in records if "id" in r]
    creates = [r for r in records if "id" not in r]
    if updates:
        writer.update(spec.sf_object, updates)
    if creates:
        results = writer.upsert(spec.sf_object, spec.sf_external_id_field, creates)
        for record, result in zip(creates, results, strict=True):
            if result.success and result.id:
                linked = {spec.key_field: result.id, **sync_state.update(synced_at=datetime.now(timezone.utc))}
                collection.update_one({"_id": id_value(record[spec.sf_external_id_field])}, {"$set": linked})
