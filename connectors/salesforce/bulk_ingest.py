"""Writes through Bulk API 2.0 ingest jobs: one job per operation of a large batch, a handful of
API calls whatever its size (sObject Collections take one call per 200 records).

A job is created, its CSV uploaded in one request, closed (``UploadComplete``) and polled until
it ends; then ``successfulResults`` (the Id and ``sf__Created`` of each row) and, when the job
counts any, ``failedResults`` (``sf__Error``) are read and matched back to the records sent by
their key column (``Id``, or the external id of an upsert), since Salesforce does not keep the
upload's order. A record that is in neither, what ``unprocessedrecords`` lists (a job that
failed whole, or was aborted), comes back as None: the caller sends it again, never drops it.

Every job step is safe to repeat after a crash: an upsert on the external id finds the record a
first attempt created, an update by Id sets the same values again, and a delete of a record
already deleted fails with ``ENTITY_IS_DELETED``, which the caller counts as deleted.
"""
from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from connectors.salesforce.bulk import BulkJobError, BulkJobs, ResultsPage, _error_text
from connectors.salesforce.client import ApiLimitReached, SalesforceClient
from connectors.salesforce.writer import RecordResult

log = logging.getLogger(__name__)

#: A CSV value that sets a field to null (an empty value leaves the field as it is).
NULL_VALUE = "#N/A"


class BulkIngestError(BulkJobError):
    """An ingest job was refused, or its upload was; nothing of it was written."""

    kind = "ingest"


@dataclass(frozen=True)
class JobSummary:
    """One job's figures, for the logs and the tests."""

    job_id: str
    operation: str
    state: str
    sent: int
    processed: int
    failed: int
    calls: int


class BulkIngest(BulkJobs):
    """Runs Bulk API 2.0 ingest jobs through a `SalesforceClient` (its login, session and client
    name). Each write returns one entry per record sent, in order: a `RecordResult` like
    sObject Collections', or None for a record the job did not process.

    Raises ApiLimitReached when the org refuses a call at its daily limit, BulkIngestError when a
    job or its upload is refused, and the job error when the wait outlasts ``timeout`` or the
    worker is asked to stop (the job then runs on; a redo of the batch is harmless).
    """

    kind = "ingest"
    error = BulkIngestError

    def __init__(self, client: SalesforceClient, timeout: float = 3600.0, first_poll: float = 0.25,
                 max_poll: float = 10.0) -> None:
        super().__init__(lambda: client.call(lambda sf: sf), timeout, first_poll, max_poll)
        self.client = client
        #: Salesforce's clock when the last job was seen ended: every write of it happened before.
        self.server_time = datetime.now(timezone.utc)
        #: (used, daily limit) from the last answer's Sforce-Limit-Info.
        self.usage: tuple[int, int] | None = None
        self._server_time = self.server_time
        self.last_job: JobSummary | None = None

    def upsert(self, sobject: str, external_id_field: str,
               records: Sequence[dict[str, Any]]) -> list[RecordResult | None]:
        """Upsert on an external id; each record holds that field's value."""
        return self._run("upsert", sobject, external_id_field, records, external_id_field)

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult | None]:
        """Update by Id; each record holds "id"."""
        return self._run("update", sobject, "Id", records)

    def delete(self, sobject: str, ids: Sequence[str]) -> list[RecordResult | None]:
        """Delete by Id."""
        return self._run("delete", sobject, "Id", [{"Id": record_id} for record_id in ids])

    # -- one job ----------------------------------------------------------------------
    def _run(self, operation: str, sobject: str, key: str, records: Sequence[dict[str, Any]],
             external_id_field: str | None = None) -> list[RecordResult | None]:
        rows = [_row(r) for r in records]
        keys = [str(row.get(key) or "") for row in rows]
        # A key twice in one job would be written twice in an order Salesforce does not keep:
        # only its first record goes in the job, the rest come back unprocessed (sent again).
        first = {k: i for i, k in reversed(list(enumerate(keys))) if k}
        in_job = [i for i, k in enumerate(keys) if k and first[k] == i]
        if not in_job:
            return [None] * len(records)
        calls = self.calls
        job_id = self._open(operation, sobject, external_id_field)
        try:
            self._upload(job_id, [rows[i] for i in in_job])
        except BaseException:
            self._abort(job_id)
            raise
        info = self._wait(job_id, self.client.stopping)
        self.server_time = self._server_time
        outcomes = self._outcomes(job_id, info, key, len(in_job))
        self.last_job = JobSummary(job_id, operation, info["state"], len(in_job),
                                   int(info.get("numberRecordsProcessed") or 0),
                                   int(info.get("numberRecordsFailed") or 0), self.calls - calls)
        log.info("salesforce: Bulk API %s job %s %s: %d sent, %d failed, %d not processed, %d API calls",
                 operation, job_id, info["state"], len(in_job), self.last_job.failed,
                 sum(1 for i in in_job if keys[i] not in outcomes), self.last_job.calls)
        sent = set(in_job)
        return [outcomes.get(keys[i]) if i in sent else None for i in range(len(records))]

    def _open(self, operation: str, sobject: str, external_id_field: str | None) -> str:
        body: dict[str, Any] = {"object": sobject, "operation": operation, "contentType": "CSV", "lineEnding": "LF"}
        if external_id_field:
            body["externalIdFieldName"] = external_id_field
        r = self._call("POST", "ingest", json=body)
        if r.status_code not in (200, 201):
            raise BulkIngestError(_error_text(r))
        return r.json()["id"]

    def _upload(self, job_id: str, rows: list[dict[str, str]]) -> None:
        """The rows as one CSV upload (a job takes up to 150 MB of it), then ``UploadComplete``."""
        r = self._call("PUT", f"ingest/{job_id}/batches", data=_csv(rows).encode("utf-8"),
                       headers={"Content-Type": "text/csv"})
        if r.status_code != 201:
            raise BulkIngestError(_error_text(r), job_id, "Open")
        r = self._call("PATCH", f"ingest/{job_id}", json={"state": "UploadComplete"})
        if r.status_code != 200:
            raise BulkIngestError(_error_text(r), job_id, "Open")

    def _abort(self, job_id: str) -> None:
        try:
            self._call("PATCH", f"ingest/{job_id}", json={"state": "Aborted"})
        except (requests.RequestException, ApiLimitReached) as exc:
            log.warning("could not abort Bulk API ingest job %s: %s", job_id, exc)

    def _outcomes(self, job_id: str, info: dict, key: str, sent: int) -> dict[str, RecordResult]:
        """Each processed row's result by its key; rows not in the answer were not processed."""
        outcomes = {row[key] or "": _success(row) for row in self._results(job_id, "successfulResults")}
        if int(info.get("numberRecordsFailed") or 0):
            outcomes.update((row[key] or "", _failure(row)) for row in self._results(job_id, "failedResults"))
        if len(outcomes) < sent:
            unprocessed = sum(1 for _ in self._results(job_id, "unprocessedrecords"))
            log.warning("salesforce: Bulk API ingest job %s (%s%s) left %d of %d records unprocessed; "
                        "they are sent again", job_id, info["state"],
                        f": {info['errorMessage']}" if info.get("errorMessage") else "", sent - len(outcomes), sent)
            if unprocessed != sent - len(outcomes):
                log.warning("salesforce: job %s lists %d unprocessed records", job_id, unprocessed)
        return outcomes

    def _results(self, job_id: str, kind: str) -> list[dict[str, str | None]]:
        r = self._call("GET", f"ingest/{job_id}/{kind}", stream=True, headers={"Accept": "text/csv"})
        if r.status_code != 200:
            r.close()
            raise BulkIngestError(_error_text(r), job_id, kind)
        with ResultsPage(r) as page:
            return list(page.rows)

    def check_limit(self, share: float) -> None:
        """Raise ApiLimitReached when the last answer's usage is at or above `share` of the
        daily limit (as `SalesforceWriter.check_limit` for sObject Collections)."""
        if self.usage and self.usage[1] and self.usage[0] >= self.usage[1] * share:
            raise ApiLimitReached(f"salesforce: API usage {self.usage[0]}/{self.usage[1]} is at or above {share:.0%} "
                                  "of the daily limit; writing is paused until usage falls")

    # -- HTTP ------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        response = super()._call(method, path, **dict(kw))
        if response.status_code == 401:
            # An expired session: a call through the client logs in again (its own expiry handling).
            self.client.call(lambda sf: sf.restful("limits"))
            response = super()._call(method, path, **kw)
        limit = response.headers.get("Sforce-Limit-Info", "")
        if limit.startswith("api-usage="):
            used, _, total = limit.removeprefix("api-usage=").partition("/")
            self.usage = (int(used), int(total))
        if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text:
            raise ApiLimitReached("salesforce: the org's daily API limit is exhausted")
        date = response.headers.get("Date")
        self._server_time = parsedate_to_datetime(date) if date else datetime.now(timezone.utc)
        return response


def _row(record: dict[str, Any]) -> dict[str, str]:
    """A record as CSV values: "id" as the "Id" column; null (and "", which Salesforce does not
    store) as #N/A, since an empty value would leave the field unchanged."""
    return {("Id" if name == "id" else name): _value(value) for name, value in record.items() if name != "attributes"}


def _value(value: Any) -> str:
    if value is None or value == "":
        return NULL_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _csv(rows: list[dict[str, str]]) -> str:
    """Rows under the union of their columns; a column a row does not set is left empty (unchanged)."""
    header = list(dict.fromkeys(name for row in rows for name in row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([row.get(name, "") for name in header] for row in rows)
    return out.getvalue()


def _success(row: dict[str, str | None]) -> RecordResult:
    return RecordResult(success=True, id=row.get("sf__Id"), created=(row.get("sf__Created") or "").lower() == "true")


def _failure(row: dict[str, str | None]) -> RecordResult:
    """``sf__Error`` is ``CODE:message:field,field --``; the message may hold colons itself."""
    text = (row.get("sf__Error") or "").removesuffix("--").strip()
    code, _, rest = text.partition(":")
    message, _, fields = rest.rpartition(":") if rest.count(":") else (rest, "", "")
    return RecordResult(success=False, id=row.get("sf__Id"), code=code.strip(), message=message.strip(),
                        fields=[f.strip() for f in fields.split(",") if f.strip()])

