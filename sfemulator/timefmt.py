"""Salesforce date/time wire formats and the monotonic modstamp clock."""
from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta

_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def format_ms(ms: int) -> str:
    """Epoch milliseconds -> ``2026-11-25T14:05:12.000+0000`` (always UTC)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    """Parse the ISO-8601 forms Salesforce accepts; naive values are UTC.

    Returns None when ``text`` is not a datetime.
    """
    m = _DT_RE.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=UTC)
    except ValueError:
        return None
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        dt = dt - sign * offset
    return dt


def canonical_datetime(text: str) -> str | None:
    """Normalise any accepted datetime string to the stored/compared form.

    Stored datetimes are fixed-width UTC strings, so text order == instant order.
    """
    dt = parse_datetime(text)
    if dt is None:
        return None
    ms = int(dt.timestamp() * 1000)  # truncate sub-ms precision like Salesforce
    return format_ms(ms)


def parse_date(text: str) -> date | None:
    """Parse ``YYYY-MM-DD``; None when invalid."""
    m = _DATE_RE.match(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


class ModstampClock:
    """Millisecond clock that never goes backwards.

    Two writes in the same millisecond get the same stamp, exactly as on a
    real org; a sync must break ties on Id.
    """

    def __init__(self, floor_ms: int = 0) -> None:
        self._last = floor_ms
        self._lock = threading.Lock()
        #: Stamps are cut to this many milliseconds: 1000 makes every write of one second share a
        #: stamp, as a sync reading a real org must expect (Salesforce compares them to the second).
        self.granularity_ms = 1

    def now_ms(self) -> int:
        with self._lock:
            now = int(time.time() * 1000)
            self._last = max(self._last, now - now % self.granularity_ms)
            return self._last

    def now(self) -> str:
        return format_ms(self.now_ms())
