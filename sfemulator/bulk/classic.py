"""Bulk API 1.0 ("classic", ``/services/async/XX.X/job``) ingest jobs, as jsforce's ``conn.bulk`` uses them.

A job is ``Open`` until the client sets ``Closed`` (or ``Aborted``); each batch added while it is
open is queued on the shared bulk worker at once and goes ``Queued`` -> ``InProgress`` ->
``Completed`` (or ``Failed`` with a ``stateMessage``; ``NotProcessed`` when the job is aborted
first).  Rows are written by :func:`sfemulator.bulk.ingest.run_chunk`, like Bulk API 2.0.
Job and batch info are answered as XML or JSON (the job's request format); batch data is CSV
or JSON (the job's ``contentType``).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import ids
from ..changes import Caller
from ..errors import ApiError
from ..query import Cursor, QueryEngine
from ..records import Records
from ..schema import get_object
from ..timefmt import format_ms
from . import ingest, query_jobs
from .csvfmt import read_rows
from .jobs import JobBook

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete", "query", "queryAll")
QUERIES = ("query", "queryAll")
CONTENT_TYPES = ("CSV", "JSON")
BATCH_KEY_PREFIX = "751"
RESULT_KEY_PREFIX = "752"


class BulkError(Exception):
    """A Bulk API 1.0 error: ``exceptionCode`` (InvalidJob, InvalidBatch, …) and message, HTTP 400."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def stamp(ms: int) -> str:
    """Bulk API 1.0 writes times as ``2015-12-15T21:41:45.000Z``."""
    return format_ms(ms).replace("+0000", "Z")


@dataclass
class Batch:
    id: str
    job_id: str
    created_ms: int
    data: bytes
    state: str = "Queued"
    modstamp_ms: int = 0
    state_message: str | None = None
    processed: int = 0
    failed: int = 0
    processing_ms: int = 0
    #: One entry per request row, in order: (Id, created, the error that failed it or None).
    results: list[tuple[str, bool, ApiError | None]] = field(default_factory=list)
    #: A query batch's matching rows (served as its one result file).
    cursor: Cursor | None = None

    @property
    def result_id(self) -> str:
        """The Id of a query batch's one result file (``752`` + the batch's counter part)."""
        id15 = RESULT_KEY_PREFIX + self.id[3:15]
        return id15 + ids.checksum(id15)

    def info(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "jobId": self.job_id, "state": self.state}
        if self.state_message:
            body["stateMessage"] = self.state_message
        body.update(createdDate=stamp(self.created_ms), systemModstamp=stamp(self.modstamp_ms or self.created_ms),
                    numberRecordsProcessed=self.processed, numberRecordsFailed=self.failed,
                    totalProcessingTime=self.processing_ms, apiActiveProcessingTime=self.processing_ms,
                    apexProcessingTime=0)
        return body


@dataclass
class ClassicJob:
    id: str
    operation: str
    object: str
    content_type: str
    created_by: str
    created_ms: int
    api_version: str
    caller: Caller
    external_id_field: str | None = None
    state: str = "Open"
    modstamp_ms: int = 0
    batches: dict[str, Batch] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """jobInfo fields in the documented order."""
        counts = {s: sum(1 for b in self.batches.values() if b.state == s)
                  for s in ("Queued", "InProgress", "Completed", "Failed")}
        body: dict[str, Any] = {"id": self.id, "operation": self.operation, "object": self.object,
                                "createdById": self.created_by, "createdDate": stamp(self.created_ms),
                                "systemModstamp": stamp(self.modstamp_ms or self.created_ms), "state": self.state}
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        body.update(concurrencyMode="Parallel", contentType=self.content_type,
                    numberBatchesQueued=counts["Queued"], numberBatchesInProgress=counts["InProgress"],
                    numberBatchesCompleted=counts["Completed"], numberBatchesFailed=counts["Failed"],
                    numberBatchesTotal=len(self.batches),
                    numberRecordsProcessed=sum(b.processed for b in self.batches.values()), numberRetries=0,
                    apiVersion=float(self.api_version),
                    numberRecordsFailed=sum(b.failed for b in self.batches.values()),
                    totalProcessingTime=sum(b.processing_ms for b in self.batches.values()),
                    apiActiveProcessingTime=sum(b.processing_ms for b in self.batches.values()),
                    apexProcessingTime=0)
        return body


class ClassicJobs:
    """The Bulk API 1.0 jobs of one org (in memory); batches run on the shared bulk worker."""

    def __init__(self, records: Records, queries: QueryEngine, worker: JobBook, clock_ms: Any) -> None:
        self.records = records
        self.queries = queries
        self.worker = worker
        self._clock_ms = clock_ms
        self._jobs: dict[str, ClassicJob] = {}
        self._lock = threading.Lock()
        self._seq = int(time.time()) % 1_000_000 * 1000 + 500  # apart from the 2.0 jobs' Ids

    def create(self, spec: dict[str, Any], caller: Caller) -> ClassicJob:
        operation = spec.get("operation")
        if operation not in OPERATIONS:
            raise BulkError("InvalidJob", f"Invalid operation: {operation}")
        obj = get_object(str(spec.get("object") or ""))
        if obj is None:
            raise BulkError("InvalidJob", f"Unable to find object: {spec.get('object')}")
        content_type = spec.get("contentType") or "CSV"
        if content_type not in CONTENT_TYPES:
            raise BulkError("InvalidJob", f"Unsupported content type: {content_type}")
        ext = spec.get("externalIdFieldName")
        if operation == "upsert":
            if not ext:
                raise BulkError("InvalidJob", "External ID was blank for upsert operation")
            try:
                self.records.external_id_field(obj, ext)
            except ApiError as err:
                raise BulkError("InvalidJob", err.message) from None
        with self._lock:
            self._seq += 1
            job = ClassicJob(id=ids.make_id("750", self._seq), operation=operation, object=obj.name,
                             content_type=content_type, created_by=caller.user_id, created_ms=self._clock_ms(),
                             api_version=caller.version, caller=caller,
                             external_id_field=ext if operation == "upsert" else None)
            self._jobs[job.id] = job
        return job

    def get(self, raw_id: str) -> ClassicJob:
        job = self._jobs.get(ids.normalize(raw_id) or "")
        if job is None:
            raise BulkError("InvalidJob", f"Invalid job id: {raw_id}")
        return job

    def batch(self, job: ClassicJob, raw_id: str) -> Batch:
        batch = job.batches.get(ids.normalize(raw_id) or "")
        if batch is None:
            raise BulkError("InvalidBatch", f"Invalid batch id: {raw_id}")
        return batch

    def set_state(self, job: ClassicJob, state: str | None) -> None:
        with self._lock:
            if state not in ("Closed", "Aborted"):
                raise BulkError("InvalidJobState", f"Invalid state: {state}")
            if job.state != "Open" and not (job.state == "Closed" and state == "Aborted"):
                raise BulkError("InvalidJobState", f"Job {job.id} is not open")
            job.state = state
            job.modstamp_ms = self._clock_ms()
            if state == "Aborted":
                for b in job.batches.values():
                    if b.state == "Queued":
                        b.state, b.state_message = "NotProcessed", "Job aborted before the batch was processed"

    def add_batch(self, job: ClassicJob, data: bytes) -> Batch:
        with self._lock:
            if job.state != "Open":
                raise BulkError("InvalidJobState", f"Job {job.id} is not open")
            self._seq += 1
            batch = Batch(id=ids.make_id(BATCH_KEY_PREFIX, self._seq), job_id=job.id,
                          created_ms=self._clock_ms(), data=data)
            job.batches[batch.id] = batch
        self.worker.enqueue(lambda: self._process(job, batch))
        return batch

    def _process(self, job: ClassicJob, batch: Batch) -> None:
        with self._lock:
            if batch.state != "Queued":
                return
            batch.state = "InProgress"
        started = time.monotonic()
        try:
            self._write(job, batch)
        except BulkError as err:
            batch.state_message = f"{err.code} : {err.message}"
        except Exception as exc:  # a bug must fail the batch, not leave it InProgress forever
            batch.state_message = f"InternalServerError : {type(exc).__name__}: {exc}"
        with self._lock:
            batch.processing_ms = int((time.monotonic() - started) * 1000)
            batch.state = "Failed" if batch.state_message else "Completed"
            batch.modstamp_ms = self._clock_ms()

    def _write(self, job: ClassicJob, batch: Batch) -> None:
        if job.operation in QUERIES:
            self._query(job, batch)
            return
        obj = get_object(job.object)
        assert obj is not None
        rows = _rows(job, batch.data)
        header = list(dict.fromkeys(k for r in rows for k in r))
        bad = ingest.unknown_column(obj, header)
        if bad:
            raise BulkError("InvalidBatch", bad.removeprefix("InvalidBatch : "))
        for start in range(0, len(rows), ingest.CHUNK):
            chunk = rows[start:start + ingest.CHUNK]
            outcomes = ingest.run_chunk(self.records, obj, job.operation, job.external_id_field, job.caller, chunk)
            for row, outcome in zip(chunk, outcomes, strict=True):
                if isinstance(outcome, ApiError):
                    batch.results.append((ingest.row_id(row), False, outcome))
                    batch.failed += 1
                else:
                    batch.results.append((outcome[0], outcome[1], None))
            batch.processed += len(chunk)


    def _query(self, job: ClassicJob, batch: Batch) -> None:
        """A query batch's body is the SOQL; its rows are fixed now and read when the result is fetched."""
        soql = batch.data.decode("utf-8", "replace")
        try:
            cursor = self.queries.open_cursor(soql, include_deleted=job.operation == "queryAll")
        except ApiError as err:
            raise BulkError("InvalidBatch", f"Failed to process query: {err.error_code}: {err.message}") from None
        reason = query_jobs.unsupported(soql, cursor.compiled)
        if reason:
            raise BulkError("InvalidBatch", f"Failed to process query: {reason}")
        batch.cursor = cursor
        batch.processed = len(cursor.rowids)

    def query_result(self, job: ClassicJob, batch: Batch, result_id: str) -> tuple[Cursor, list[dict]]:
        """A query batch's result file: its cursor and every record (REST-shaped)."""
        if batch.cursor is None or ids.normalize(result_id) != batch.result_id:
            raise BulkError("InvalidBatch", f"Invalid result id: {result_id}")
        cursor = batch.cursor
        return cursor, self.queries.records(cursor, 0, len(cursor.rowids), job.api_version)


def _rows(job: ClassicJob, data: bytes) -> list[dict[str, str]]:
    """A batch's records as CSV-like {field: text} rows (JSON values are turned into text)."""
    if job.content_type == "CSV":
        return read_rows(data, "COMMA")[1]
    try:
        records = json.loads(data)
    except ValueError as exc:
        raise BulkError("InvalidBatch", f"Failed to parse JSON: {exc}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BulkError("InvalidBatch", "A JSON batch is an array of records")
    return [{k: _text(v) for k, v in r.items() if k != "attributes"} for r in records]


def _text(value: Any) -> str:
    if value is None:
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
