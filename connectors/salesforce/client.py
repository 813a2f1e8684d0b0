"""A Salesforce REST client: logged in lazily, re-authenticated on expiry, retried on 5xx."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from connectors.salesforce.auth import SalesforceCredentials, login, new_http_session

log = logging.getLogger(__name__)
T = TypeVar("T")


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, SalesforceError):
        return exc.status >= 500
    return isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))


class ApiLimitReached(RuntimeError):
    """The org's API usage is at (or, for writes, near) its daily limit: wait, do not retry now."""


@dataclass
class QueryPage:
    records: list[dict[str, Any]]
    total_size: int


class SalesforceClient:
    """Thread-safe lazily-connected wrapper around simple_salesforce.Salesforce.

    Every call carries `Sforce-Call-Options: client=<client_name>` so our own
    writes can be recognised later.
    """

    def __init__(
        self,
        credentials: SalesforceCredentials,
        client_name: str,
        retry_for_seconds: float = 300.0,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.credentials = credentials
        self.client_name = client_name
        self._retry_for = retry_for_seconds
        self._should_stop = should_stop
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None

    def _connect(self) -> Salesforce:
        with self._lock:
            if self._sf is None:
                session = new_http_session(self.credentials)
                token, instance = login(self.credentials, session, self.client_name)
                self._sf = Salesforce(
                    instance=instance,
                    session_id=token,
                    session=session,
                    version=self.credentials.api_version,
                    client_id=self.client_name,
                )
                # simple-salesforce sends the client name only with a SOAP login; every REST
                # call must carry it so our own writes can be told apart (CDC changeOrigin).
                self._sf.headers["Sforce-Call-Options"] = f"client={self.client_name}"
                log.info("salesforce: logged in to %s", instance)
            return self._sf

    def call(self, operation: Callable[[Salesforce], T]) -> T:
        """Run `operation(sf)`, logging in again once on an expired session and retrying
        connection errors and 5xx with exponential backoff for up to `retry_for_seconds`."""
        retrying = Retrying(
            retry=retry_if_exception(lambda e: _is_transient(e) and not self._should_stop()),
            wait=wait_exponential_jitter(multiplier=0.5, max=15),
            stop=stop_after_delay(self._retry_for),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "salesforce: %s; retrying (attempt %d)", state.outcome and state.outcome.exception(),
                state.attempt_number
            ),
        )
        for attempt in retrying:
            with attempt:
                sf = self._connect()
                try:
                    return operation(sf)
                except SalesforceRefusedRequest as exc:
                    if "REQUEST_LIMIT_EXCEEDED" in str(exc.content):
                        raise ApiLimitReached("salesforce: the org's daily API limit is exhausted") from exc
                    raise
                except SalesforceExpiredSession:
                    log.info("salesforce: session expired, logging in again")
                    with self._lock:
                        self._sf = None
                    return operation(self._connect())
        raise AssertionError("unreachable")

    def query_pages(self, soql: str, include_deleted: bool = False) -> Iterator[QueryPage]:
        """Yield the result pages of a query (queryAll when include_deleted)."""
        result = self.call(lambda sf: sf.query(soql, include_deleted=include_deleted))
        total = result["totalSize"]
        while True:
            yield QueryPage(records=result["records"], total_size=total)
            if result.get("done", True):
                return
            next_url = result["nextRecordsUrl"]
            result = self.call(
                lambda sf: sf.query_more(next_url, identifier_is_url=True, include_deleted=include_deleted)
            )

    def describe(self, sf_object: str) -> dict[str, Any]:
        return self.call(lambda sf: getattr(sf, sf_object).describe())

    @property
    def api_usage(self) -> dict[str, Any]:
        return dict(self._sf.api_usage) if self._sf else {}
