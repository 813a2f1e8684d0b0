"""Bulk API 2.0 query jobs: run SOQL as a job and read its results page by page, as dicts.
`BulkJobs`, the HTTP plumbing and the wait for a job to end, is shared with ingest jobs
(`connectors.salesforce.bulk_ingest`).

Why not simple-salesforce's own ``sf.bulk2`` (which works against the emulator and a real org
alike): its ``query()`` sleeps ``wait`` seconds (5 by default) before the first status poll and
hands each page over as one CSV string held in memory.  Here the job state is polled with a
short, growing interval and a deadline, and each page is parsed with :mod:`csv` straight from
the HTTP response stream.  The HTTP calls go through the ``Salesforce`` instance's own
``session``, so its CA bundle and timeouts carry over.
"""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import requests
from simple_salesforce import Salesforce
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_exponential
from tenacity.stop import stop_base

log = logging.getLogger(__name__)

#: Job states after which nothing changes any more.
FINAL_STATES = frozenset({"JobComplete", "Failed", "Aborted"})
#: The ``Sforce-Locator`` after the last results page.
LAST_PAGE = "null"
#: Each HTTP call that names no timeout of its own gets this one.
REQUEST_TIMEOUT_SECONDS = 120.0


class BulkJobError(RuntimeError):
    """A job was refused (``job_id`` is None), ended Failed or Aborted, or did not finish in
    time; ``state`` and ``message`` say which and why."""

    kind = "job"

    def __init__(self, message: str, job_id: str | None = None, state: str | None = None) -> None:
        super().__init__(f"Bulk API {self.kind} job {job_id or '(not created)'} {state or 'refused'}: {message}")
        self.job_id, self.state, self.message = job_id, state, message


class BulkQueryError(BulkJobError):
    """The query job was refused (bad SOQL: ``job_id`` is None), ended Failed or Aborted,
    or did not finish in time."""

    kind = "query"


class BulkJobs:
    """What query and ingest jobs share: HTTP calls through a logged-in simple-salesforce client
    (or a callable returning the current one), counted in ``calls``, and the wait for a job to end.

    Every call carries the client's ``Sforce-Call-Options`` (our client name), so writes a job
    makes are told apart as the sync's own (CDC ``changeOrigin``). ``timeout`` bounds the wait for
    a job to end; the status poll starts at ``first_poll`` seconds and doubles up to ``max_poll``.
    """

    #: "query" or "ingest": the jobs' resource under ``jobs/``.
    kind = ""
    error: type[BulkJobError] = BulkJobError

    def __init__(self, sf: Salesforce | Callable[[], Salesforce], timeout: float = 600.0,
                 first_poll: float = 0.05, max_poll: float = 5.0) -> None:
        # A callable is asked for the logged-in client at each call, so a new login carries over.
        self._sf: Callable[[], Salesforce] = sf if callable(sf) else (lambda: sf)
        self.timeout = timeout
        self.first_poll = first_poll
        self.max_poll = max_poll
        #: HTTP calls made, each one API call against the org's daily limit.
        self.calls = 0

    @staticmethod
    def _jobs_url(sf: Salesforce) -> str:
        return getattr(sf, "bulk2_url", None) or f"{sf.base_url}jobs/"

    def info(self, job_id: str) -> dict | None:
        """The job's info (``state``, ``errorMessage``, counts...); None if Salesforce no longer
        has it (deleted, or expired after seven days)."""
        r = self._call("GET", f"{self.kind}/{job_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def discard(self, job_id: str) -> None:
        """Abort the job if it still runs, then delete it (frees its results); never raises."""
        try:
            info = self.info(job_id)
            if info is None:
                return
            if info["state"] not in FINAL_STATES:
                self._call("PATCH", f"{self.kind}/{job_id}", json={"state": "Aborted"})
            self._call("DELETE", f"{self.kind}/{job_id}")
        except requests.RequestException as exc:
            log.warning("could not delete Bulk API %s job %s: %s", self.kind, job_id, exc)

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        sf = self._sf()
        headers = {"Authorization": f"Bearer {sf.session_id}", "Accept": "application/json",
                   **{k: v for k, v in sf.headers.items() if k == "Sforce-Call-Options"}, **kw.pop("headers", {})}
        kw.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        self.calls += 1
        return sf.session.request(method, self._jobs_url(sf) + path, headers=headers, **kw)

    def _job_info(self, job_id: str) -> dict:
        info = self.info(job_id)
        if info is None:
            raise self.error("the job no longer exists", job_id, "Deleted")
        return info

    def _wait(self, job_id: str, give_up: Callable[[], bool] = lambda: False) -> dict:
        """The job's info once it reached a final state. Raises the job's error after ``timeout``,
        or as soon as ``give_up()`` is true."""
        def timed_out(state: RetryCallState) -> dict:
            last = state.outcome.result() if state.outcome and not state.outcome.failed else {}
            why = "given up: the worker is stopping" if give_up() else f"not finished after {self.timeout:g}s"
            raise self.error(why, job_id, last.get("state"))

        poll = Retrying(retry=retry_if_result(lambda info: info["state"] not in FINAL_STATES),
                        wait=wait_exponential(multiplier=self.first_poll, max=self.max_poll),
                        stop=stop_after_delay(self.timeout) | _StopWhen(give_up),
                        retry_error_callback=timed_out)
        return poll(self._job_info, job_id)


class BulkQuery(BulkJobs):
    """Runs Bulk API 2.0 query jobs. ``page_size`` is the ``maxRecords`` of each results
    request (Salesforce may send fewer)."""

    kind = "query"
    error = BulkQueryError

    def __init__(self, sf: Salesforce | Callable[[], Salesforce], page_size: int = 50_000, timeout: float = 600.0,
                 first_poll: float = 0.05, max_poll: float = 5.0) -> None:
        super().__init__(sf, timeout, first_poll, max_poll)
        self.page_size = page_size

    def pages(self, soql: str, include_deleted: bool = False) -> Iterator[list[dict[str, str | None]]]:
        """Run ``soql`` (``queryAll`` with ``include_deleted``) and yield its records a page at a time.

        Blocks while the job runs; raises :class:`BulkQueryError` if it is refused, fails, is
        aborted or outlasts ``timeout``.  Keys are the CSV columns (``Account.Name`` for a
        parent's field); an empty value is None, as Salesforce stores no empty strings.  The
        job is deleted once read, or when the caller stops early.
        """
        job_id = self.create(soql, include_deleted)
        try:
            info = self._wait(job_id)
            if info["state"] != "JobComplete":
                raise BulkQueryError(info.get("errorMessage") or "no error message", job_id, info["state"])
            locator = ""
            while locator != LAST_PAGE:
                with self.open_page(job_id, locator) as page:
                    rows = list(page.rows)
                    locator = page.next_locator
                yield rows
        finally:
            self.discard(job_id)

    def records(self, soql: str, include_deleted: bool = False) -> Iterator[dict[str, str | None]]:
        """:meth:`pages`, one record at a time."""
        for page in self.pages(soql, include_deleted):
            yield from page

    # -- one step at a time (a re-read spread over many steps and restarts) ---------------
    def create(self, soql: str, include_deleted: bool = False) -> str:
        """Create a query job (``queryAll`` with ``include_deleted``); its id. Salesforce runs it
        in the background: :meth:`info` says when it is done."""
        r = self._call("POST", "query", json={"operation": "queryAll" if include_deleted else "query",
                                              "query": soql, "contentType": "CSV"})
        if r.status_code != 200:
            raise BulkQueryError(_error_text(r))
        return r.json()["id"]

    def open_page(self, job_id: str, locator: str = "") -> ResultsPage:
        """The results page at ``locator`` ("" for the first) of a completed job, streamed: its
        rows are parsed as they arrive. Use it as a context manager (closes the response)."""
        params: dict[str, Any] = {"maxRecords": self.page_size}
        if locator:
            params["locator"] = locator
        r = self._call("GET", f"query/{job_id}/results", params=params, stream=True, headers={"Accept": "text/csv"})
        if r.status_code != 200:
            r.close()
            raise BulkQueryError(_error_text(r), job_id, "JobComplete")
        return ResultsPage(r)


class _StopWhen(stop_base):
    """Stop retrying once `condition()` holds (the worker is asked to stop)."""

    def __init__(self, condition: Callable[[], bool]) -> None:
        self._condition = condition

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._condition()


class ResultsPage:
    """One streamed results page: ``rows`` (dicts, "" as None) and the ``next_locator``
    (``"null"`` after the last page)."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        self.next_locator: str = response.headers.get("Sforce-Locator") or LAST_PAGE
        response.raw.decode_content = True  # gzip-encoded results are decoded while streaming
        response.raw.auto_close = False  # else the wrapper reads "closed file" at the end of the body
        text = io.TextIOWrapper(response.raw, encoding="utf-8", newline="")
        self.rows: Iterator[dict[str, str | None]] = _rows(csv.reader(text))

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> ResultsPage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rows(lines: Iterator[list[str]]) -> Iterator[dict[str, str | None]]:
    """Each CSV line after the header as a dict, "" as None. Not csv.DictReader: its per-row
    checks and a second pass for the empty values cost more than parsing the line. A line with
    more or fewer values than the header raises ValueError (DictReader would fill in None)."""
    header = next(lines, None)
    if header is None:
        return
    for line in lines:
        if line:  # DictReader skips blank lines too
            yield dict(zip(header, [value or None for value in line], strict=True))


def _error_text(r: requests.Response) -> str:
    """``ERROR_CODE: message`` from Salesforce's error array, else the raw body."""
    try:
        errors = r.json()
        return "; ".join(f"{e['errorCode']}: {e['message']}" for e in errors)
    except (ValueError, KeyError, TypeError):
        return f"HTTP {r.status_code}: {r.text[:500]}"
