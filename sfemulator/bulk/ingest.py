"""Processing an ingest job: CSV rows -> record writes -> per-row results.

Rows are written in chunks of :data:`CHUNK` through :meth:`Records.batch` (one
transaction per chunk, a savepoint per row, like a real org's 200-record
chunks), so each row succeeds or fails alone and REST and Bulk writes share
validation, audit stamps and change events.  hardDelete purges row by row.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from ..changes import Caller, Change
from ..errors import ApiError
from ..records import Records, Step
from ..schema import SObject, get_object
from .csvfmt import NULL_VALUE, read_rows, write_rows
from .jobs import ABORTED, Job

CHUNK = 200
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")


@dataclass
class IngestResult:
    """Per-row outcomes kept for the results resources (values as uploaded)."""

    header: list[str] = field(default_factory=list)
    successful: list[tuple[str, bool, dict]] = field(default_factory=list)  # (Id, created, row)
    failed: list[tuple[str, str, dict]] = field(default_factory=list)  # (Id or "", sf__Error, row)
    unprocessed: list[dict] = field(default_factory=list)

    def successful_csv(self, job: Job) -> str:
        rows = ([rid, "true" if created else "false", *self._values(r)] for rid, created, r in self.successful)
        return write_rows(["sf__Id", "sf__Created", *self.header], rows, job.column_delimiter, job.line_ending)

    def failed_csv(self, job: Job) -> str:
        rows = ([rid, err, *self._values(r)] for rid, err, r in self.failed)
        return write_rows(["sf__Id", "sf__Error", *self.header], rows, job.column_delimiter, job.line_ending)

    def unprocessed_csv(self, job: Job) -> str:
        rows = (self._values(r) for r in self.unprocessed)
        return write_rows(self.header, rows, job.column_delimiter, job.line_ending)

    def _values(self, row: dict) -> list[str]:
        return [row.get(h, "") for h in self.header]


def sf_error(err: ApiError) -> str:
    """The ``sf__Error`` text: ``CODE:message:field,field --``."""
    return f"{err.error_code}:{err.message}:{','.join(err.fields or [])} --"


def process(records: Records, job: Job, is_aborted: Callable[[], bool]) -> None:
    """Run ``job`` (state InProgress); leaves an :class:`IngestResult` in ``job.result`` and,
    for a file Salesforce would reject whole (unknown column), ``job.error_message``."""
    obj = get_object(job.object)
    assert obj is not None  # checked when the job was created
    result, parsed = _parse(job)
    job.result = result
    bad = unknown_column(obj, result.header)
    if bad:
        job.error_message = bad
        result.unprocessed = parsed
        return
    for start in range(0, len(parsed), CHUNK):
        chunk = parsed[start:start + CHUNK]
        if is_aborted():
            result.unprocessed.extend(parsed[start:])
            return
        outcomes = run_chunk(records, obj, job.operation, job.external_id_field, job.caller, chunk)
        for row, outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, ApiError):
                result.failed.append((row_id(row), sf_error(outcome), row))
            else:
                result.successful.append((outcome[0], outcome[1], row))
        job.records_processed += len(chunk)
        job.records_failed = len(result.failed)


def unknown_column(obj: SObject, header: list[str]) -> str | None:
    """The error failing a whole upload whose header names a column that is not a field."""
    unknown = [h for h in header if obj.field(h) is None]
    return f"InvalidBatch : Field name not found : {unknown[0]}" if unknown else None


def unprocessed(job: Job) -> IngestResult:
    """The results of a job aborted before it ran: every uploaded row is unprocessed."""
    result, parsed = _parse(job)
    result.unprocessed = parsed
    return result


def _parse(job: Job) -> tuple[IngestResult, list[dict]]:
    """An empty result with the uploads' header (their columns in first-seen order) and their rows."""
    result = IngestResult()
    parsed: list[dict] = []
    for upload in job.uploads:
        header, rows = read_rows(upload, job.column_delimiter)
        result.header.extend(h for h in header if h not in result.header)
        parsed.extend(rows)
    return result, parsed


def run_chunk(records: Records, obj: SObject, operation: str, external_id_field: str | None, caller: Caller,
              rows: list[dict]) -> list:
    """Write ``rows`` (CSV rows as dicts) in one transaction; per row ``(Id, created)`` or the
    :class:`ApiError` that failed it, in row order."""
    if operation == "hardDelete":
        outcomes: list = []
        for row in rows:
            try:
                records.purge(obj, row_id(row), caller)
                outcomes.append((row_id(row), False))
            except ApiError as err:
                outcomes.append(err)
        return outcomes
    steps = [_step(records, obj, operation, external_id_field, caller, row) for row in rows]
    outcomes, _ = records.batch(steps, all_or_none=False, request_level=frozenset())
    return outcomes


def _step(records: Records, obj: SObject, operation: str, external_id_field: str | None, caller: Caller,
          row: dict) -> Step:
    """The write for one CSV row; each step returns ((Id, created), change)."""
    payload = {k: (None if v == NULL_VALUE else v) for k, v in row.items() if v != ""}
    if operation == "insert":
        def insert(c: sqlite3.Connection) -> tuple[tuple[str, bool], Change]:
            record_id, change = records.create_step(c, obj, payload, caller)
            return (record_id, True), change
        return insert
    if operation == "upsert":
        ext = _column(row, external_id_field or "Id")
        body = {k: v for k, v in payload.items() if k.lower() != ext.lower()}
        return lambda c: records.upsert_step(c, obj, ext, row.get(ext, ""), body, caller)
    record_id = row_id(row)
    if not record_id:
        def missing(c: sqlite3.Connection) -> tuple[tuple[str, bool], Change]:
            raise ApiError(400, "MISSING_ARGUMENT", f"Id not specified in an {operation} call", [])
        return missing
    if operation == "update":
        body = {k: v for k, v in payload.items() if k.lower() != "id"}

        def update(c: sqlite3.Connection) -> tuple[tuple[str, bool], Change]:
            rid, change = records.update_step(c, obj, record_id, body, caller)
            return (rid, False), change
        return update

    def delete(c: sqlite3.Connection) -> tuple[tuple[str, bool], Change]:
        rid, change = records.delete_step(c, obj, record_id, caller)
        return (rid, False), change
    return delete


def _column(row: dict, name: str) -> str:
    """The row's column called ``name`` (case-insensitively), else ``name``."""
    return next((k for k in row if k.lower() == name.lower()), name)


def row_id(row: dict) -> str:
    return row.get(_column(row, "Id"), "")


def aborted(job: Job) -> bool:
    return job.state == ABORTED
