"""A Salesforce REST client: logged in lazily, re-authenticated on expiry, retried on 5xx."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

import orjson
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
        # A single-record call answers lock contention for the whole call (400 UNABLE_TO_LOCK_ROW).
        return exc.status >= 500 or "UNABLE_TO_LOCK_ROW" in str(exc.content)
    # ChunkedEncodingError: the connection was reset while the answer was being read.
    return isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            requests.exceptions.ChunkedEncodingError))


#: A call that has not answered by then failed (and is retried): a hung org must not hold a
#: worker forever. Generous, since a 200-record composite call on a busy org takes seconds.
REQUEST_TIMEOUT_SECONDS = 120.0


def _with_timeout(session: requests.Session, seconds: float) -> requests.Session:
    """`session`, giving every request that names no timeout of its own `seconds`."""
    request = session.request

    def timed(method: str, url: str | bytes, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", seconds)
        return request(method, url, **kwargs)

    # requests types every keyword of Session.request; this wrapper passes them on as **kwargs.
    session.request = timed  # type: ignore[method-assign, assignment]
    return session


class _Salesforce(Salesforce):
    """simple-salesforce with its JSON answers (query pages above all) parsed by orjson into
    plain dicts: its own parse, into OrderedDicts through a Python hook, took ~10 us a record of a
    2,000-record page, orjson ~2. A body orjson refuses goes to the original, to fail as it did."""

    def parse_result_to_json(self, result: requests.Response) -> Any:
        try:
            return orjson.loads(result.content)
        except orjson.JSONDecodeError:
            return super().parse_result_to_json(result)


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
        backoff_max: float = 15.0,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.credentials = credentials
        self.client_name = client_name
        self._retry_for = retry_for_seconds
        self._backoff_max = backoff_max
        self._timeout = timeout
        self._should_stop = should_stop
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None

    def _connect(self) -> Salesforce:
        with self._lock:
            if self._sf is None:
                session = _with_timeout(new_http_session(self.credentials), self._timeout)
                token, instance = login(self.credentials, session, self.client_name)
                self._sf = _Salesforce(
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

    def stopping(self) -> bool:
        """True once the worker using this client is asked to stop: retries give up then."""
        return self._should_stop()

    def call(self, operation: Callable[[Salesforce], T]) -> T:
        """Run `operation(sf)`, logging in again once on an expired session and retrying
        connection errors and 5xx with exponential backoff for up to `retry_for_seconds`."""
        retrying = Retrying(
            retry=retry_if_exception(lambda e: _is_transient(e) and not self._should_stop()),
            wait=wait_exponential_jitter(multiplier=0.5, max=self._backoff_max),
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
                lambda sf: sf.query_more(next_url, identifier_is_url=True, include_deleted=include_deleted)  # noqa: B023 (called at once)
            )

    def describe(self, sf_object: str) -> dict[str, Any]:
        return self.call(lambda sf: getattr(sf, sf_object).describe())

    @property
    def api_usage(self) -> dict[str, Any]:
        return dict(self._sf.api_usage) if self._sf else {}
