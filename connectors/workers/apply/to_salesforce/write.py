"""Step 5: the batch's writes in Salesforce (sObject Collections: updates, upserts of new
records on their external id, deletes). Each success is recorded and handed to the write-back
of its sync state; each failure is parked as an error record with what was sent."""
from __future__ import annotations

import json

from confluent_kafka import Message

from connectors import events
from connectors.models import SyncError
from connectors.operations.timeline import Outcome
from connectors.salesforce.writer import RecordResult
from connectors.workers.apply.to_salesforce.plan import Writes
from connectors.workers.apply.to_salesforce.sync_state import WriteBackSyncState
from connectors.workers.apply.to_salesforce.target import Books, Pending, Target
from connectors.workers.errors import park_message

ALREADY_DELETED = {"ENTITY_IS_DELETED", "NOT_FOUND"}


class WriteToSalesforce:
    def __init__(self, books: Books, write_back: WriteBackSyncState) -> None:
        self._books = books
        self._write_back = write_back

    def __call__(self, target: Target, writes: Writes) -> None:
        """Raises ApiLimitReached (from the writer) when the org's usage is at its limit."""
        spec = target.spec
        if writes.updates:
            self._record_results(target, writes.updates,
                                 target.writer.update(spec.sf_object, [p.record for p in writes.updates]))
        if writes.creates:
            results = target.writer.upsert(spec.sf_object, spec.sf_external_id_field,
                                           [p.record for p in writes.creates])
            self._record_results(target, writes.creates, results)
        if writes.deletes:
            self._record_deletes(target, writes.deletes, target.writer.delete(writes.delete_ids))

    def _record_results(self, target: Target, pendings: list[Pending], results: list[RecordResult]) -> None:
        written = []
        for pending, result in zip(pendings, results, strict=True):
            if not result.success:
                self._park_rejected(target, pending, result)
                continue
            written.append((pending, result))
            self._books.timeline.add(target.row, pending.envelope, pending.message, Outcome.APPLIED,
                                     fields=sorted(pending.sent), salesforce_id=result.id,
                                     detail="created in Salesforce" if result.created else "")
            self._books.counters["salesforce_created" if result.created else "salesforce_updated"] += 1
        self._write_back(target, written)

    def _park_rejected(self, target: Target, pending: Pending, result: RecordResult) -> None:
        fields = f" (fields: {', '.join(result.fields)})" if result.fields else ""
        park_message(pending.message, SyncError.Stage.SALESFORCE_WRITE, result.code or "UNKNOWN",
                     f"{result.message}{fields}; sent: {json.dumps(pending.record, default=str)}",
                     mapping=target.row, record_key=str(pending.document["_id"]))
        self._books.timeline.add(target.row, pending.envelope, pending.message, Outcome.ERROR,
                                 fields=sorted(pending.sent), detail=f"{result.code}: {result.message}{fields}")
        self._books.counters["errors"] += 1

    def _record_deletes(self, target: Target, deletes: list[tuple[events.ChangeEnvelope, Message]],
                        results: list[RecordResult]) -> None:
        for (envelope, message), result in zip(deletes, results, strict=True):
            if result.success or result.code in ALREADY_DELETED:
                self._books.timeline.add(target.row, envelope, message, Outcome.DELETED, fields=[])
                self._books.counters["salesforce_deleted"] += 1
            else:
                park_message(message, SyncError.Stage.SALESFORCE_WRITE, result.code, result.message,
                             mapping=target.row, record_key=envelope.salesforce_id or "")
                self._books.timeline.add(target.row, envelope, message, Outcome.ERROR, fields=[],
                                         detail=f"{result.code}: {result.message}")
                self._books.counters["errors"] += 1
