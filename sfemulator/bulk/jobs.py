"""The job registry: one :class:`Job` per Bulk API 2.0 job, its state machine and its JSON shape.

States (Salesforce's names): ingest jobs are created ``Open``; the client uploads CSV, then
sets ``UploadComplete``; the worker moves the job to ``InProgress`` and then ``JobComplete``
or ``Failed``.  Query jobs start at ``UploadComplete``.  ``Aborted`` is reachable by the
client from any state before the job ends.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import ids
from ..changes import Caller
from ..errors import ApiError
from ..timefmt import format_ms

OPEN, UPLOAD_COMPLETE, IN_PROGRESS = "Open", "UploadComplete", "InProgress"
JOB_COMPLETE, FAILED, ABORTED = "JobComplete", "Failed", "Aborted"
FINAL_STATES = frozenset({JOB_COMPLETE, FAILED, ABORTED})
INGEST, QUERY = "V2Ingest", "V2Query"
#: Bulk API job Ids share key prefix 750 (ingest and query alike).
JOB_KEY_PREFIX = "750"


def invalid_job_state(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOBSTATE", message)


def invalid_job(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOB", message)


@dataclass
class Job:
    """One job; mutated only under :attr:`JobBook.lock`."""

    id: str
    job_type: str
    operation: str
    object: str
    created_by: str
    created_ms: int
    api_version: str
    #: Who writes (user, API version, ``Sforce-Call-Options`` client) when the job runs.
    caller: Caller
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = OPEN
    modstamp_ms: int = 0
    external_id_field: str | None = None
    query: str | None = None
    error_message: str | None = None
    records_processed: int = 0
    records_failed: int = 0
    processing_ms: int = 0
    uploads: list[bytes] = field(default_factory=list)
    #: Processing output: the kind-specific result the worker left (see ingest / query_jobs).
    result: Any = None

    def info(self, full: bool = True) -> dict:
        """The job as JSON: the create/list shape, or (``full``) the get-job-info shape with counters."""
        body: dict[str, Any] = {"id": self.id, "operation": self.operation, "object": self.object,
                                "createdById": self.created_by, "createdDate": format_ms(self.created_ms),
                                "systemModstamp": format_ms(self.modstamp_ms or self.created_ms),
                                "state": self.state}
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        body.update(concurrencyMode="Parallel", contentType="CSV", apiVersion=float(self.api_version),
                    jobType=self.job_type)
        if self.job_type == INGEST:
            body["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        body.update(lineEnding=self.line_ending, columnDelimiter=self.column_delimiter)
        if not full:
            return body
        body["numberRecordsProcessed"] = self.records_processed
        if self.job_type == INGEST:
            body["numberRecordsFailed"] = self.records_failed
        body.update(retries=0, totalProcessingTime=self.processing_ms)
        if self.job_type == INGEST:
            body.update(apiActiveProcessingTime=self.processing_ms, apexProcessingTime=0)
        else:
            body["isPkChunkingSupported"] = False
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


class JobBook:
    """All jobs of one org, and the single worker thread that processes them in turn."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self.lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._seq = int(time.time()) % 1_000_000 * 1000  # fresh Ids after a restart
        self._clock_ms = clock_ms
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sfemu-bulk")

    def create(self, **kw: Any) -> Job:
        with self.lock:
            self._seq += 1
            job = Job(id=ids.make_id(JOB_KEY_PREFIX, self._seq), created_ms=self._clock_ms(), **kw)
            self._jobs[job.id] = job
        return job

    def get(self, job_type: str, raw_id: str) -> Job:
        """The job, or 404 NOT_FOUND (also for a job of the other kind, as on a real org)."""
        job = self._jobs.get(ids.normalize(raw_id) or "")
        if job is None or job.job_type != job_type:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def all(self, job_type: str) -> list[Job]:
        with self.lock:
            return sorted((j for j in self._jobs.values() if j.job_type == job_type), key=lambda j: j.created_ms)

    def delete(self, job: Job) -> None:
        with self.lock:
            if job.state not in FINAL_STATES and job.state != UPLOAD_COMPLETE:
                raise invalid_job_state(f"Job {job.id} can't be deleted in state {job.state}")
            self._jobs.pop(job.id, None)

    def upload(self, job: Job, data: bytes) -> None:
        """Add CSV data to an ``Open`` job; 400 INVALIDJOBSTATE once it is closed or aborted."""
        with self.lock:
            if job.state != OPEN:
                raise invalid_job_state(
                    f"Job {job.id} is in state {job.state}: data can only be uploaded to an Open job")
            job.uploads.append(data)

    def set_state(self, job: Job, state: str, allowed_from: frozenset[str]) -> None:
        """A client-requested transition; 400 INVALIDJOBSTATE from any other state."""
        with self.lock:
            if job.state not in allowed_from:
                raise invalid_job_state(f"Job {job.id} is in state {job.state} and can't be changed to {state}")
            job.state = state
            job.modstamp_ms = self._clock_ms()

    def submit(self, job: Job, process: Callable[[Job], None]) -> None:
        """Queue ``job`` for the worker: InProgress, ``process(job)``, then JobComplete.

        ``process`` may set ``job.error_message`` to end in Failed; an abort while it runs wins.
        """
        self._worker.submit(self._run, job, process)

    def enqueue(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the worker after what is queued (Bulk API 1.0 batches share it)."""
        self._worker.submit(work)

    def _run(self, job: Job, process: Callable[[Job], None]) -> None:
        with self.lock:
            if job.state != UPLOAD_COMPLETE or job.id not in self._jobs:
                return  # aborted or deleted while queued
            job.state = IN_PROGRESS
            job.modstamp_ms = self._clock_ms()
        started = time.monotonic()
        try:
            process(job)
        except Exception as exc:  # a bug must fail the job, not hang the client's poll
            job.error_message = f"InternalServerError : {type(exc).__name__}: {exc}"
        with self.lock:
            job.processing_ms = int((time.monotonic() - started) * 1000)
            if job.state == IN_PROGRESS:
                job.state = FAILED if job.error_message else JOB_COMPLETE
            job.modstamp_ms = self._clock_ms()

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
