"""Which mappings an operator paused from the console, as the workers see it (and the gauge
by which a worker paused at the API limit says so).

The flag lives on ObjectMapping (any process may set it); workers read it at most once per
`every` seconds, so a tight poll loop costs one small query a second, not one per step.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from connectors.models import ObjectMapping

RECHECK_SECONDS = 1.0
#: Heartbeat gauge of an sf-apply worker paused at the org's API limit: when it next checks
#: whether usage has fallen (Unix seconds). Absent while it writes.
API_LIMIT_PAUSE_GAUGE = "api_limit_paused_until"


class PausedMappings:
    """Names of the paused mappings among those `filters` select (ObjectMapping lookups)."""

    def __init__(self, every: float = RECHECK_SECONDS, clock: Callable[[], float] = time.monotonic,
                 **filters: Any) -> None:
        self._filters = filters
        self._every = every
        self._clock = clock
        self._names: set[str] = set()
        self._read_at: float | None = None

    def names(self) -> set[str]:
        """Re-read from the database when the last read is older than `every` seconds."""
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._every:
            self._names = set(ObjectMapping.objects.filter(paused=True, **self._filters)
                              .values_list("name", flat=True))
            self._read_at = now
        return self._names

    def any(self) -> bool:
        return bool(self.names())
