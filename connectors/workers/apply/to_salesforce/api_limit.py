"""sf-apply at an org's API limit: writing stops until usage falls. The worker's partitions are
held (paused), not the polling, so it stays in its consumer group however long the pause lasts
(max.poll.interval.ms); usage is re-read every PAUSED_RECHECK_SECONDS."""
from __future__ import annotations

import logging
import time
from collections import Counter

from connectors.salesforce.client import ApiLimitReached
from connectors.salesforce.writer import SalesforceWriter
from connectors.workers.pause import API_LIMIT_PAUSE_GAUGE

log = logging.getLogger(__name__)

PAUSED_RECHECK_SECONDS = 30.0


class ApiLimitPause:
    def __init__(self, name: str, counters: Counter[str]) -> None:
        self._name = name
        self._counters = counters
        self._until = 0.0
        self._writer: SalesforceWriter | None = None

    @property
    def paused(self) -> bool:
        return self._writer is not None

    def pause(self, writer: SalesforceWriter | None, reason: ApiLimitReached) -> None:
        """Stop writing until `writer`'s org has API calls to spare again."""
        self._writer = writer
        self._until = time.monotonic() + PAUSED_RECHECK_SECONDS
        self._counters["api_limit_pauses"] += 1
        log.warning("%s: %s", self._name, reason)

    def resumed(self) -> bool:
        """True once, when usage has fallen below the limit again; re-reads usage when due."""
        if self._writer is None or time.monotonic() < self._until:
            return False
        try:
            self._writer.refresh_usage()  # refused outright while the limit is exhausted
            self._writer.check_limit()
        except ApiLimitReached:
            self._until = time.monotonic() + PAUSED_RECHECK_SECONDS
            return False
        log.info("%s: API usage is below the limit again; writing resumes", self._name)
        self._writer = None
        return True

    def check_now(self) -> None:
        """Let the next step re-read API usage at once (tests, the console's resume button)."""
        self._until = 0.0

    def gauges(self) -> dict[str, int]:
        """While paused, when usage is next checked (`API_LIMIT_PAUSE_GAUGE`, Unix seconds)."""
        if not self.paused:
            return {}
        return {API_LIMIT_PAUSE_GAUGE: int(time.time() + max(0.0, self._until - time.monotonic()))}
