"""Fault injection for tests and demos (emulator-only; configured via ``/_emulator/faults``).

Supported faults (all optional, see docs/emulator.md):

* ``unable_to_lock_row: {"count": N, "objects": [..]}`` — the next N record
  writes (on those objects, or any object) fail with ``UNABLE_TO_LOCK_ROW``;
  inside an sObject Collections call each record write counts separately.
* ``http_503: {"count": N}`` — the next N REST API calls answer 503
  ``SERVER_UNAVAILABLE``.
* ``latency_ms: M`` — every REST API response is delayed by M ms.
* ``daily_api_limit: L`` — lowers the org's DailyApiRequests max to L
  (usage keeps counting; beyond L calls get 403 ``REQUEST_LIMIT_EXCEEDED``).
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from .errors import ApiError
from .schema import get_object

_KNOWN = ("unable_to_lock_row", "http_503", "latency_ms", "daily_api_limit")


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_INPUT", message)


def _non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"{name} must be a non-negative integer")
    return value


class Faults:
    """Current fault settings and their remaining counts (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._lock_rows = 0
            self._lock_objects: frozenset[str] | None = None
            self._http_503 = 0
            self._latency_ms = 0
            self._daily_limit: int | None = None

    def configure(self, spec: Any) -> None:
        """Merge ``spec`` into the current faults (keys not given are left alone)."""
        if not isinstance(spec, Mapping):
            raise _bad("faults must be a JSON object")
        unknown = [k for k in spec if k not in _KNOWN]
        if unknown:
            raise _bad(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(_KNOWN)}")
        updates: dict[str, Any] = {}
        if "unable_to_lock_row" in spec:
            lock = spec["unable_to_lock_row"] or {}
            if not isinstance(lock, Mapping):
                raise _bad("unable_to_lock_row must be an object like {\"count\": 3}")
            updates["lock_rows"] = _non_negative_int("unable_to_lock_row.count", lock.get("count", 1))
            objects = lock.get("objects")
            if objects is not None:
                if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
                    raise _bad("unable_to_lock_row.objects must be a list of sObject names")
                resolved = [get_object(o) for o in objects]
                if any(o is None for o in resolved):
                    raise _bad(f"unknown sObject in unable_to_lock_row.objects: {objects}")
                updates["lock_objects"] = frozenset(o.name for o in resolved if o is not None)
            else:
                updates["lock_objects"] = None
        if "http_503" in spec:
            h = spec["http_503"] or {}
            count = h.get("count", 1) if isinstance(h, Mapping) else h
            updates["http_503"] = _non_negative_int("http_503.count", count)
        if "latency_ms" in spec:
            updates["latency_ms"] = _non_negative_int("latency_ms", spec["latency_ms"] or 0)
        if "daily_api_limit" in spec:
            limit = spec["daily_api_limit"]
            updates["daily_limit"] = None if limit is None else _non_negative_int("daily_api_limit", limit)
        with self._lock:
            if "lock_rows" in updates:
                self._lock_rows, self._lock_objects = updates["lock_rows"], updates["lock_objects"]
            if "http_503" in updates:
                self._http_503 = updates["http_503"]
            if "latency_ms" in updates:
                self._latency_ms = updates["latency_ms"]
            if "daily_limit" in updates:
                self._daily_limit = updates["daily_limit"]

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "unable_to_lock_row": {"count": self._lock_rows,
                                       "objects": sorted(self._lock_objects) if self._lock_objects else None},
                "http_503": {"count": self._http_503},
                "latency_ms": self._latency_ms,
                "daily_api_limit": self._daily_limit,
            }

    # -- consumed by the request path -----------------------------------------
    def take_lock_failure(self, obj_name: str) -> bool:
        """True (and one fewer remaining) when this record write must fail with UNABLE_TO_LOCK_ROW."""
        with self._lock:
            if self._lock_rows <= 0 or (self._lock_objects is not None and obj_name not in self._lock_objects):
                return False
            self._lock_rows -= 1
            return True

    def take_503(self) -> bool:
        with self._lock:
            if self._http_503 <= 0:
                return False
            self._http_503 -= 1
            return True

    @property
    def latency_s(self) -> float:
        return self._latency_ms / 1000.0

    def daily_limit(self, default: int) -> int:
        limit = self._daily_limit
        return default if limit is None else limit
