"""MongoDB apply: Kafka batches of Salesforce changes -> version-guarded bulk writes -> commit."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from confluent_kafka import Message
from pymongo import MongoClient

from connectors import events
from connectors.engine.conversion import ConversionError
from connectors.engine.mapping import MappingSpec, to_document
from connectors.engine.plan import ConflictDraft, modstamp_of, plan_salesforce_upsert
from connectors.kafka.config import salesforce_topic
from connectors.models import Conflict, ObjectMapping, SyncError
from connectors.mongo.changes import id_value
from connectors.mongo.reads import find_in
from connectors.mongo.setup import ensure_collection
from connectors.mongo.writer import DocumentChange, WriteOutcome, insert_new, write_changes
from connectors.timeline import Outcome
from connectors.wiring import mapping_spec
from connectors.workers.apply_base import ApplyWorker, Batch
from connectors.workers.conflict_gate import hold, open_conflicts
from connectors.workers.errors import park_message

log = logging.getLogger(__name__)

_DELETE_OPS = {"remove": "delete", "mark": "mark_deleted"}
_SKIPPED = {"echo": Outcome.ECHO, "stale": Outcome.STALE}


def document_id(spec: MappingSpec, envelope: events.ChangeEnvelope) -> Any:
    """The `_id` of a Salesforce record's document: the MongoDB id its external-id field holds
    when it was born in MongoDB, else its Salesforce Id."""
    born_in_mongo = envelope.fields.get(spec.sf_external_id_field) if spec.two_way else None
    return id_value(born_in_mongo) if born_in_mongo else envelope.salesforce_id


def business_references(spec: MappingSpec) -> list[str]:
    """Reference fields worth an index: not the users (owner, audit) every record points at,
    since each index costs every write."""
    return [f.mongo_field for f in spec.fields
            if f.sf_type == "reference" and not f.sf_field.endswith("ById") and f.sf_field != "OwnerId"]


#: Inserting is tried first while most new changes are for records MongoDB does not hold yet
#: (a backfill); once inserts mostly hit existing documents, updates go straight to upserts
#: for a while before inserting is tried again.
INSERT_MISS_SHARE = 0.1
UPSERT_ONLY_SECONDS = 60.0


class _Target:
    """A mapping as the apply side needs it: spec plus where to write."""

    def __init__(self, mapping: ObjectMapping, client: MongoClient) -> None:
        self.row = mapping
        self.spec: MappingSpec = mapping_spec(mapping)
        self.collection = client[mapping.mongo.database][mapping.collection]
        ensure_collection(client[mapping.mongo.database], mapping.collection, business_references(self.spec))
        self._upserts_only_until = 0.0

    def inserting(self) -> bool:
        return time.monotonic() >= self._upserts_only_until

    def inserts_tried(self, attempted: int, already_there: int) -> None:
        if attempted and already_there > attempted * INSERT_MISS_SHARE:
            self._upserts_only_until = time.monotonic() + UPSERT_ONLY_SECONDS


class MongoApply(ApplyWorker[_Target]):
    """Applies Salesforce changes to MongoDB."""

    kind = "mongo-apply"
    source_label = "Salesforce"

    def _build_target(self, mapping: ObjectMapping) -> _Target | None:
        return _Target(mapping, self._mongo_client(mapping)) if mapping.captures_salesforce else None

    def _topic(self, target: _Target) -> str:
        return salesforce_topic(self.kafka.topic_prefix, target.spec.sf_object)

    def _record_key(self, envelope: events.ChangeEnvelope) -> str | None:
        return envelope.salesforce_id

    def _apply_target(self, target: _Target, items: Batch) -> None:
        waiting = open_conflicts(target.row, set(items), set())
        # Only a two-way mapping merges against the document; one way, the version guard is enough.
        current = self._retrying(lambda: self._current_documents(target, items)) if target.spec.two_way else {}
        changes: dict[str, tuple[DocumentChange, Message]] = {}
        for key, (envelope, message) in items.items():
            if key in waiting:
                hold(waiting[key], message)
                self.timeline.add(target.row, envelope, message, Outcome.HELD,
                                  detail=f"behind conflict #{waiting[key].pk}")
                self.counters["held_behind_conflict"] += 1
                continue
            document = current.get(key)
            try:
                change = self._plan(target, envelope, message, document)
            except (ConversionError, KeyError, ValueError) as exc:
                park_message(message, SyncError.Stage.CONVERT, type(exc).__name__.upper(), str(exc),
                             mapping=target.row, record_key=key)
                self.timeline.add(target.row, envelope, message, Outcome.ERROR, detail=str(exc))
                self.counters["errors"] += 1
                continue
            if change is not None:
                changes[key] = (change, message)
                self.timeline.add(target.row, envelope, message,
                                  Outcome.DELETED if change.op != "upsert" else Outcome.APPLIED,
                                  mongo_id=change.document_id or key)
        if not changes:
            return
        outcome = self._retrying(lambda: self._write(target, [c for c, _ in changes.values()]))
        for change, code, error in outcome.failures:
            failed_message = changes[change.key][1]
            park_message(failed_message, SyncError.Stage.MONGO_WRITE, code, error,
                         mapping=target.row, record_key=change.key)
            self.timeline.add(target.row, items[change.key][0], failed_message, Outcome.ERROR,
                              detail=f"{code}: {error}")
        self.counters["applied"] += outcome.applied
        self.counters["stale_skipped"] += outcome.stale
        self.counters["errors"] += len(outcome.failures)

    def _current_documents(self, target: _Target, items: Batch) -> dict[str, dict]:
        """The documents the changes are about, by Salesforce Id. A document born in MongoDB is
        found by its `_id` when the change names it, else (a partial CDC update does not carry
        the external-id field) by the Salesforce Id it holds."""
        by_document_id = {document_id(target.spec, envelope): key for key, (envelope, _) in items.items()}
        found = {by_document_id[d["_id"]]: d for d in find_in(target.collection, "_id", list(by_document_id))}
        external_id = target.spec.sf_external_id_field
        missing = [key for key, (envelope, _) in items.items() if key not in found and external_id not in envelope.fields]
        if missing:
            key_field = target.spec.key_field
            found.update({d[key_field]: d for d in find_in(target.collection, key_field, missing)})
        return found

    def _write(self, target: _Target, changes: list[DocumentChange]) -> WriteOutcome:
        now = datetime.now(timezone.utc)
        key_field = target.spec.key_field
        outcome = WriteOutcome()
        # One-way upserts carry the whole document, so a missing one can simply be inserted.
        fresh = [c for c in changes if c.op == "upsert" and c.base is None] if target.inserting() else []
        rest = [c for c in changes if c.op != "upsert" or c.base is not None] if fresh else changes
        if fresh:
            inserted, existing = insert_new(target.collection, key_field, fresh, now)
            target.inserts_tried(len(fresh), len(existing))
            outcome.add(inserted)
            rest = rest + existing
        return outcome.add(write_changes(target.collection, key_field, rest, now)) if rest else outcome

    def _plan(self, target: _Target, envelope: events.ChangeEnvelope, message: Message,
              document: dict | None) -> DocumentChange | None:
        """The write one envelope calls for, or None (echo, stale, ignored delete, conflict only)."""
        spec = target.spec
        key = envelope.salesforce_id
        assert key is not None
        modstamp = modstamp_of(envelope.source_version)
        if envelope.op == "delete":
            op = _DELETE_OPS.get(spec.delete_mode)
            if op is None:
                self.timeline.add(target.row, envelope, message, Outcome.IGNORED, detail="the mapping ignores deletes")
                return None
            target_id = document["_id"] if document is not None else key
            return DocumentChange(key, op, modstamp, {}, envelope.event_id,
                                  document_id=None if target_id == key else target_id)
        if not spec.two_way:
            return DocumentChange(key, "upsert", modstamp, to_document(spec, envelope.fields), envelope.event_id)
        plan = plan_salesforce_upsert(spec, envelope.fields, modstamp, document)
        target_id = document["_id"] if document is not None else document_id(spec, envelope)
        self.counters[f"plan_{plan.outcome}"] += 1
        if plan.conflict is not None:
            conflict = self._record_conflict(target, key, document, plan.conflict)
            self.timeline.add(target.row, envelope, message, Outcome.CONFLICT, fields=plan.conflict.fields,
                              detail=f"conflict #{conflict.pk}", mongo_id=target_id)
        if plan.outcome != "write":
            if plan.outcome in _SKIPPED:
                self.timeline.add(target.row, envelope, message, _SKIPPED[plan.outcome], mongo_id=target_id)
            return None
        return DocumentChange(key, "upsert", modstamp, plan.set_fields, envelope.event_id,
                              base=plan.base, base_hash=plan.base_hash,
                              document_id=None if target_id == key else target_id, republish=plan.republish)

    def _record_conflict(self, target: _Target, key: str, document: dict | None, draft: ConflictDraft) -> Conflict:
        conflict = Conflict.objects.create(
            mapping=target.row,
            salesforce_id=key,
            mongo_id=str(document["_id"]) if document else "",
            fields=draft.fields,
            base_values=draft.base,
            salesforce_values=draft.salesforce,
            mongo_values=draft.mongodb,
            salesforce_changed_at=draft.salesforce_changed_at,
            mongo_changed_at=draft.mongodb_changed_at,
        )
        self.counters["conflicts"] += 1
        log.info("%s: conflict on %s %s in %s", self.name, target.spec.sf_object, key, ", ".join(draft.fields))
        return conflict
