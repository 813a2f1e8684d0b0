"""Step 3: the MongoDB write each Salesforce change calls for. A two-way mapping merges the
change against the document (`engine.plan`: echo, stale, conflict or write); one way, the
change's values are written as they are. A value of the wrong shape is parked."""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from confluent_kafka import Message

from connectors import events
from connectors.engine.conversion import ConversionError
from connectors.engine.mapping import to_document
from connectors.engine.plan import ConflictDraft, modstamp_of, plan_salesforce_upsert
from connectors.models import Conflict, SyncError
from connectors.mongo import sync_state
from connectors.mongo.writer import DocumentChange
from connectors.operations.conflict_queue import open_conflict
from connectors.operations.timeline import Outcome, TimelineBatch
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_mongodb.target import Target, document_id
from connectors.workers.errors import park_message

log = logging.getLogger(__name__)

_DELETE_OPS = {"remove": "delete", "mark": "mark_deleted"}
_SKIPPED = {"echo": Outcome.ECHO, "stale": Outcome.STALE}

#: A change to write, with the message it came in.
Changes = dict[str, tuple[DocumentChange, Message]]


class PlanChanges:
    def __init__(self, timeline: TimelineBatch, counters: Counter[str], name: str) -> None:
        self._timeline = timeline
        self._counters = counters
        self._name = name

    def __call__(self, target: Target, items: Batch, documents: dict[str, dict[str, Any]]) -> Changes:
        """The writes of `items` by Salesforce Id; what needs none is recorded as such."""
        changes: Changes = {}
        for key, (envelope, message) in items.items():
            try:
                change = self._plan(target, envelope, message, documents.get(key))
            except (ConversionError, KeyError, ValueError) as exc:
                park_message(message, SyncError.Stage.CONVERT, type(exc).__name__.upper(), str(exc),
                             mapping=target.row, record_key=key)
                self._timeline.add(target.row, envelope, message, Outcome.ERROR, detail=str(exc))
                self._counters["errors"] += 1
                continue
            if change is not None:
                changes[key] = (change, message)
        return changes

    def _plan(self, target: Target, envelope: events.ChangeEnvelope, message: Message,
              document: dict | None) -> DocumentChange | None:
        """The write one envelope calls for, or None (echo, stale, ignored delete, conflict only)."""
        if envelope.op == "delete":
            return self._delete(target, envelope, message, document)
        if not target.spec.two_way:
            key = envelope.salesforce_id
            assert key is not None
            self._timeline.add(target.row, envelope, message, Outcome.APPLIED, mongo_id=key)
            return DocumentChange(key, "upsert", modstamp_of(envelope.source_version),
                                  to_document(target.spec, envelope.fields), envelope.event_id)
        return self._merge(target, envelope, message, document)

    def _delete(self, target: Target, envelope: events.ChangeEnvelope, message: Message,
                document: dict | None) -> DocumentChange | None:
        key = envelope.salesforce_id
        assert key is not None
        op = _DELETE_OPS.get(target.spec.delete_mode)
        if op is None:
            self._timeline.add(target.row, envelope, message, Outcome.IGNORED, detail="the mapping ignores deletes")
            return None
        target_id = document["_id"] if document is not None else key
        self._timeline.add(target.row, envelope, message, Outcome.DELETED, mongo_id=target_id)
        return DocumentChange(key, op, modstamp_of(envelope.source_version), {}, envelope.event_id,
                              document_id=None if target_id == key else target_id)

    def _merge(self, target: Target, envelope: events.ChangeEnvelope, message: Message,
               document: dict | None) -> DocumentChange | None:
        """A two-way mapping's change, merged against the document."""
        spec = target.spec
        key = envelope.salesforce_id
        assert key is not None
        modstamp = modstamp_of(envelope.source_version)
        plan = plan_salesforce_upsert(spec, envelope.fields, modstamp, document, sync_state.read(document))
        target_id = document["_id"] if document is not None else document_id(spec, envelope)
        self._counters[f"plan_{plan.outcome}"] += 1
        if plan.conflict is not None:
            conflict = self._record_conflict(target, key, document, plan.conflict)
            self._timeline.add(target.row, envelope, message, Outcome.CONFLICT, fields=plan.conflict.fields,
                               detail=f"conflict #{conflict.pk}", mongo_id=target_id)
        if plan.outcome == "echo" and plan.base:
            # The sync's own write came back with what Salesforce set on it: those fields are written.
            self._counters["server_fields_refreshed"] += 1
            detail = f"set by Salesforce: {', '.join(sorted(plan.set_fields))}" if plan.set_fields else ""
            self._timeline.add(target.row, envelope, message, Outcome.ECHO, mongo_id=target_id, detail=detail)
        elif plan.outcome != "write":
            if plan.outcome in _SKIPPED:
                self._timeline.add(target.row, envelope, message, _SKIPPED[plan.outcome], mongo_id=target_id)
            return None
        else:
            self._timeline.add(target.row, envelope, message, Outcome.APPLIED, mongo_id=target_id)
        # An echo only refreshes what Salesforce set with the sync's own write; it may have been read
        # before that write's write-back stored the values sent, so it sets only what it changed.
        base = sync_state.changed_base(plan.base, document) if plan.outcome == "echo" else plan.base
        return DocumentChange(key, "upsert", modstamp, plan.set_fields, envelope.event_id,
                              base=base, base_hash=plan.base_hash,
                              document_id=None if target_id == key else target_id, republish=plan.republish)

    def _record_conflict(self, target: Target, key: str, document: dict | None, draft: ConflictDraft) -> Conflict:
        conflict, created = open_conflict(
            target.row, key, str(document["_id"]) if document else "", draft.fields, base_values=draft.base,
            salesforce_values=draft.salesforce, mongo_values=draft.mongodb,
            salesforce_changed_at=draft.salesforce_changed_at, mongo_changed_at=draft.mongodb_changed_at,
        )
        self._counters["conflicts" if created else "conflicts_merged"] += 1
        log.info("%s: conflict on %s %s in %s", self._name, target.spec.sf_object, key, ", ".join(draft.fields))
        return conflict
