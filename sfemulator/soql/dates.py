"""SOQL date literals (TODAY, LAST_N_DAYS:n, ...) as half-open date ranges.

Ranges are computed in UTC (the emulated user's time zone is GMT).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def _month_start(d: date, delta_months: int = 0) -> date:
    m = d.month - 1 + delta_months
    return date(d.year + m // 12, m % 12 + 1, 1)


def date_range(name: str, n: int | None, today: date | None = None) -> tuple[date, date] | None:
    """Return [start, end) for a date literal, or None when the literal is unknown."""
    t = today or datetime.now(UTC).date()
    day = timedelta(days=1)
    simple = {
        "TODAY": (t, t + day),
        "YESTERDAY": (t - day, t),
        "TOMORROW": (t + day, t + 2 * day),
        "THIS_MONTH": (_month_start(t), _month_start(t, 1)),
        "LAST_MONTH": (_month_start(t, -1), _month_start(t)),
        "NEXT_MONTH": (_month_start(t, 1), _month_start(t, 2)),
        "THIS_YEAR": (date(t.year, 1, 1), date(t.year + 1, 1, 1)),
        "LAST_YEAR": (date(t.year - 1, 1, 1), date(t.year, 1, 1)),
    }
    if n is None:
        return simple.get(name)
    if name == "LAST_N_DAYS":
        return (t - n * day, t + day)
    if name == "NEXT_N_DAYS":
        return (t + day, t + (n + 1) * day)
    return None


def as_datetime_text(d: date) -> str:
    """Midnight UTC of ``d`` in the stored datetime format."""
    return f"{d.isoformat()}T00:00:00.000+0000"
