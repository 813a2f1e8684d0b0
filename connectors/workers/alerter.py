"""The alerts worker: every few seconds, evaluate the alert conditions and send the notices owed
(connectors.operations.alerts). Any number of runconsumers processes may run one."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from connectors.operations import alerts

CHECK_SECONDS = 10.0


class Alerter:
    """Evaluates at once when started, then every `interval` seconds; a step not due is idle."""

    name = "alerts"

    def __init__(self, mapping_names: set[str] | None = None, interval: float = CHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.mapping_names = mapping_names or None
        self.interval = interval
        self.counters: Counter[str] = Counter()
        self._clock = clock
        self._due = clock()

    def step(self) -> bool:
        """Never reports work: the runner then waits until the next evaluation is due."""
        if self._clock() < self._due:
            return False
        self._due = self._clock() + self.interval
        outcome = alerts.evaluate(self.mapping_names)
        sent = alerts.deliver_due()
        self.counters["evaluations"] += 1
        self.counters["alerts_fired"] += len(outcome.fired)
        self.counters["alerts_resolved"] += len(outcome.resolved)
        self.counters["notices_sent"] += sent.sent
        self.counters["notices_failed"] += sent.failed
        return False

    def idle_seconds(self) -> float:
        return max(0.05, min(self._due - self._clock(), self.interval))

    def close(self) -> None:
        """Nothing in flight: a notice claimed and not sent is retried once its claim expires."""
