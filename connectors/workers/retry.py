"""Retrying MongoDB through outages, for as long as the worker is not asked to stop."""
from __future__ import annotations

import logging
from typing import Callable, TypeVar

from pymongo.errors import ConnectionFailure, NetworkTimeout
from tenacity import Retrying, retry_if_exception_type, wait_exponential_jitter

log = logging.getLogger(__name__)
T = TypeVar("T")


class ShuttingDown(Exception):
    """Raised out of a retry loop when the worker is asked to stop; nothing is committed."""


def retry_mongo(operation: Callable[[], T], should_stop: Callable[[], bool], worker: str) -> T:
    """Run `operation`, retrying connection failures with backoff. Raises ShuttingDown
    if the worker is stopped meanwhile; other errors propagate at once."""
    retrying = Retrying(
        retry=retry_if_exception_type((ConnectionFailure, NetworkTimeout)),
        wait=wait_exponential_jitter(multiplier=0.2, max=10),
        stop=lambda _: should_stop(),
        reraise=True,
        before_sleep=lambda s: log.warning("%s: MongoDB unavailable (%s); retrying", worker,
                                           s.outcome and s.outcome.exception()),
    )
    try:
        return retrying(operation)
    except (ConnectionFailure, NetworkTimeout):
        if should_stop():
            raise ShuttingDown() from None
        raise
