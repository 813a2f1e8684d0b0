"""Writes through sObject Collections: up to 200 records a call, per-record results.

`allOrNone` is false, so each record succeeds or fails alone. Record failures that
are Salesforce's transient lock contention (`UNABLE_TO_LOCK_ROW`) are sent again, with
capped exponential backoff, until the lock clears or the worker is asked to stop (then
`RecordsLocked` is raised and nothing is reported as failed): a storm that ends is
absorbed, never parked. Whole-call failures (5xx, timeouts, connection resets) are
retried by the client. Every other failure comes back to the caller with Salesforce's
own code and message: that is what a person must fix. Writing pauses before the org's
daily API limit is reached, not after.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable

from tenacity import Retrying, retry_if_exception_type, wait_exponential_jitter

from connectors.salesforce.client import ApiLimitReached, SalesforceClient

log = logging.getLogger(__name__)

BATCH_LIMIT = 200
TRANSIENT_RECORD_CODES = {"UNABLE_TO_LOCK_ROW"}
#: Longest wait between two attempts at locked records.
LOCK_BACKOFF_MAX_SECONDS = 5.0


class RecordsLocked(RuntimeError):
    """Records were still locked when the worker was asked to stop: the caller redoes its batch."""


@dataclass
class RecordResult:
    success: bool
    id: str | None = None
    created: bool | None = None
    code: str = ""
    message: str = ""
    fields: list[str] = field(default_factory=list)

    @classmethod
    def from_response(cls, item: dict[str, Any]) -> RecordResult:
        errors = item.get("errors") or []
        first = errors[0] if errors else {}
        return cls(
            success=bool(item.get("success")),
            id=item.get("id"),
            created=item.get("created"),
            code=first.get("statusCode", ""),
            message="; ".join(e.get("message", "") for e in errors),
            fields=first.get("fields") or [],
        )


class SalesforceWriter:
    def __init__(
        self,
        client: SalesforceClient,
        pause_at_share: float = 0.9,
        parallel_calls: int = 4,
        lock_backoff_max: float = LOCK_BACKOFF_MAX_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.pause_at_share = pause_at_share
        self.parallel_calls = parallel_calls
        self.lock_backoff_max = lock_backoff_max
        self._sleep = sleep
        self.calls = 0
        self._count_lock = threading.Lock()
        self.server_time = datetime.now(timezone.utc)

    def usage(self) -> tuple[int, int] | None:
        """(used, max) from the last response's Sforce-Limit-Info, if any call was made."""
        usage = self.client.api_usage.get("api-usage")
        return (usage.used, usage.total) if usage else None

    def check_limit(self) -> None:
        """Raise ApiLimitReached when usage is at or above the configured share."""
        usage = self.usage()
        if usage and usage[1] and usage[0] >= usage[1] * self.pause_at_share:
            raise ApiLimitReached(
                f"salesforce: API usage {usage[0]}/{usage[1]} is at or above {self.pause_at_share:.0%} "
                "of the daily limit; writing is paused until usage falls"
            )

    def refresh_usage(self) -> tuple[int, int] | None:
        """One cheap call (/limits) so a paused writer learns, from the response's
        Sforce-Limit-Info header, when usage has fallen."""
        self.client.call(lambda sf: sf.restful("limits"))
        return self.usage()

    def upsert(self, sobject: str, external_id_field: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        """Upsert on an external id; each record holds that field's value."""
        typed = [{"attributes": {"type": sobject}, **r} for r in records]
        return self._write("PATCH", f"composite/sobjects/{sobject}/{external_id_field}", typed)

    def update(self, sobject: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        """Update by Id; each record holds "id"."""
        typed = [{"attributes": {"type": sobject}, **r} for r in records]
        return self._write("PATCH", "composite/sobjects", typed)

    def delete(self, ids: list[str]) -> list[RecordResult]:
        """Delete by Id, 200 a call; locked records are sent again like writes."""
        def send(chunk: list[str]) -> Callable[[list[int]], list[RecordResult]]:
            return lambda pending: self._call("DELETE", "composite/sobjects", params={
                "ids": ",".join(chunk[i] for i in pending), "allOrNone": "false"})

        chunks = [ids[start:start + BATCH_LIMIT] for start in range(0, len(ids), BATCH_LIMIT)]
        return [r for chunk in chunks for r in self._until_unlocked(len(chunk), send(chunk))]

    def _write(self, method: str, path: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        """Chunks of 200, sent `parallel_calls` at a time: a real org takes about a second per
        chunk, and the chunks of one batch hold different records, so order is not at stake."""
        chunks = [records[start:start + BATCH_LIMIT] for start in range(0, len(records), BATCH_LIMIT)]
        if len(chunks) <= 1 or self.parallel_calls <= 1:
            return [r for chunk in chunks for r in self._write_chunk(method, path, chunk)]
        with ThreadPoolExecutor(max_workers=min(self.parallel_calls, len(chunks))) as pool:
            answers = list(pool.map(lambda chunk: self._write_chunk(method, path, chunk), chunks))
        return [r for answer in answers for r in answer]

    def _write_chunk(self, method: str, path: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        return self._until_unlocked(len(records), lambda pending: self._call(
            method, path, json={"allOrNone": False, "records": [records[i] for i in pending]}))

    def _until_unlocked(self, count: int, send: Callable[[list[int]], list[RecordResult]]) -> list[RecordResult]:
        """Results of `count` records, sent by index through `send`; those Salesforce reports
        locked are sent again with capped backoff until none is. Raises RecordsLocked when the
        worker is asked to stop first."""
        results: dict[int, RecordResult] = {}
        pending = list(range(count))

        def attempt() -> None:
            nonlocal pending
            locked = []
            for index, result in zip(pending, send(pending), strict=True):
                if not result.success and result.code in TRANSIENT_RECORD_CODES:
                    locked.append(index)
                else:
                    results[index] = result
            pending = locked
            if locked:
                raise RecordsLocked(f"salesforce: {len(locked)} records locked (UNABLE_TO_LOCK_ROW)")

        Retrying(
            retry=retry_if_exception_type(RecordsLocked),
            wait=wait_exponential_jitter(multiplier=0.2, max=self.lock_backoff_max, jitter=0.2),
            stop=lambda _: self.client.stopping(),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: log.info("%s; retrying (attempt %d)",
                                                state.outcome and state.outcome.exception(), state.attempt_number),
        )(attempt)
        return [results[index] for index in range(count)]

    def _call(self, method: str, path: str, **kwargs: Any) -> list[RecordResult]:
        self.check_limit()
        response = self.client.call(lambda sf: sf._call_salesforce(method, sf.base_url + path, name=path, **kwargs))
        with self._count_lock:
            self.calls += 1
        # Salesforce's own clock (whole seconds): compared later with SystemModstamps to tell
        # a Salesforce change made before this write from one made after it.
        self.server_time = parsedate_to_datetime(response.headers["Date"]) if "Date" in response.headers \
            else datetime.now(timezone.utc)
        answer = response.json() if response.content else []
        return [RecordResult.from_response(item) for item in answer or []]
