"""The schema-watch worker: every N seconds, compare each mapping with Salesforce's describe and
record schema drift (connectors.mappings.schema_drift), so people see it before a sync breaks on it."""
from __future__ import annotations

import logging
import time
from collections import Counter

from connectors.mappings import schema_drift
from connectors.models import ObjectMapping

log = logging.getLogger(__name__)


class SchemaWatch:
    """Checks at once when started, then every `interval_seconds`. A step that is not due is idle."""

    name = "schema-watch"

    def __init__(self, interval_seconds: float, mapping_names: set[str] | None = None) -> None:
        self.interval = interval_seconds
        self.mapping_names = mapping_names or set()
        self.counters: Counter[str] = Counter()
        self._due_at = time.monotonic()

    def step(self) -> bool:
        if time.monotonic() < self._due_at:
            return False
        self._due_at = time.monotonic() + self.interval
        mappings = ObjectMapping.objects.filter(enabled=True).select_related("org")
        if self.mapping_names:
            mappings = mappings.filter(name__in=self.mapping_names)
        report = schema_drift.check_all(mappings)
        self.counters["checks"] += 1
        self.counters["mappings_checked"] += report.checked
        self.counters["describe_failures"] += len(report.failures)
        self.counters["open_drift"] = sum(len(rows) for rows in report.open.values())
        for name, reason in report.failures.items():
            log.warning("%s: mapping %s not checked: %s", self.name, name, reason)
        return False

    def idle_seconds(self) -> float:
        return max(0.0, self._due_at - time.monotonic())

    def close(self) -> None:
        """Nothing in flight: a check is one transaction per mapping."""
