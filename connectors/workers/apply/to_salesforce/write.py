"""Step 5: the batch's writes in Salesforce (updates, upserts of new records on their external id,
deletes), by sObject Collections or, when the governor says the backlog is worth it, by Bulk API
2.0 ingest jobs (`governor`). Either way each success is recorded and handed to the write-back of
its sync state, and each failure is parked as an error record with what was sent: the same
entries whichever way the record went. A record a job left unprocessed goes by sObject
Collections right after it, in the same batch: nothing is dropped, and the batch is committed
only once all of it landed."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from confluent_kafka import Message

from connectors import events
from connectors.models import SyncError
from connectors.operations.timeline import Outcome
from connectors.salesforce.bulk_ingest import BulkIngest
from connectors.salesforce.writer import RecordResult
from connectors.workers.apply.to_salesforce.governor import WritePathGovernor, worth_a_job
from connectors.workers.apply.to_salesforce.plan import Writes
from connectors.workers.apply.to_salesforce.sync_state import WriteBackSyncState
from connectors.workers.apply.to_salesforce.target import Books, Pending, Target
from connectors.workers.errors import park_message

#: Writes records by one ingest job; one result per record, None where it did not process it.
ByJob = Callable[[BulkIngest, list[Any]], list[RecordResult | None]]
#: Writes records by sObject Collections; one result per record.
ByComposite = Callable[[list[Any]], list[RecordResult]]

ALREADY_DELETED = {"ENTITY_IS_DELETED", "NOT_FOUND"}


class WriteToSalesforce:
    def __init__(self, books: Books, write_back: WriteBackSyncState,
                 governor: WritePathGovernor | None = None) -> None:
        self._books = books
        self._write_back = write_back
        self._governor = governor
        self._jobs: dict[int, BulkIngest] = {}  # by org
        self._pushed_at: datetime | None = None  # Salesforce's clock once the current writes landed

    def __call__(self, target: Target, writes: Writes, backlog: int = 0) -> None:
        """Write `writes`; `backlog` is how many changes of this mapping wait, this batch's
        included. Raises ApiLimitReached when the org's usage is at its limit."""
        spec = target.spec
        jobs = self._jobs_for(target, backlog)
        self._pushed_at = None
        if writes.updates:
            self._record_results(target, writes.updates, self._send(
                target, jobs, [p.record for p in writes.updates],
                lambda job, records: job.update(spec.sf_object, records),
                lambda records: target.writer.update(spec.sf_object, records)))
        if writes.creates:
            self._record_results(target, writes.creates, self._send(
                target, jobs, [p.record for p in writes.creates],
                lambda job, records: job.upsert(spec.sf_object, spec.sf_external_id_field, records),
                lambda records: target.writer.upsert(spec.sf_object, spec.sf_external_id_field, records)))
        if writes.deletes:
            self._record_deletes(target, writes.deletes, self._send(
                target, jobs, writes.delete_ids, lambda job, ids: job.delete(spec.sf_object, ids),
                target.writer.delete))

    def _jobs_for(self, target: Target, backlog: int) -> BulkIngest | None:
        """The org's ingest jobs if the governor sends this batch by Bulk API, else None."""
        if self._governor is None:
            return None
        jobs = self._jobs.get(target.row.org_id)
        usage = max(filter(None, [target.writer.usage(), jobs.usage if jobs else None]), default=None)
        if not self._governor.choose(target.row.pk, backlog, usage, target.writer.pause_at_share).bulk:
            return None
        if jobs is None:
            jobs = self._jobs[target.row.org_id] = BulkIngest(target.writer.client)
        return jobs

    def _send(self, target: Target, jobs: BulkIngest | None, records: list[Any], by_job: ByJob,
              by_composite: ByComposite) -> list[RecordResult]:
        """Results of `records`, in order: by one ingest job when the batch goes by Bulk API and
        there are enough of them for a job to cost fewer calls; what the job did not process (and
        everything otherwise) by sObject Collections."""
        results: list[RecordResult | None] = [None] * len(records)
        if jobs is not None and worth_a_job(len(records)):
            target.writer.check_limit()
            jobs.check_limit(target.writer.pause_at_share)
            results = by_job(jobs, records)
            self._pushed_at = jobs.server_time
            self._books.counters["bulk_jobs"] += 1
            self._books.counters["bulk_records"] += sum(r is not None for r in results)
        left = [i for i, r in enumerate(results) if r is None]
        if left:
            for i, result in zip(left, by_composite([records[i] for i in left]), strict=True):
                results[i] = result
            self._pushed_at = target.writer.server_time
        return [r for r in results if r is not None]

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
        self._write_back(target, written, self._pushed_at)

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
