"""Salesforce JSON values to proper BSON-ready Python values. Pure; no I/O.

Salesforce's REST API sends dates as `2026-01-31`, date-times as
`2026-01-31T12:00:00.000+0000`, currency and numbers as JSON numbers, and
references as 18-character Ids.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from bson.decimal128 import Decimal128

#: Which conversion a Salesforce field type gets when the mapping says "auto".
AUTO_CONVERSION: dict[str, str] = {
    "boolean": "boolean",
    "int": "integer",
    "double": "double",
    "percent": "double",
    "currency": "decimal",
    "date": "date",
    "datetime": "datetime",
}


class ConversionError(ValueError):
    """A value that cannot become the mapped type; names the field and the value."""

    def __init__(self, field: str, value: Any, target: str, reason: str) -> None:
        self.field, self.value, self.target = field, value, target
        super().__init__(f"field {field}: cannot convert {value!r} to {target}: {reason}")


def parse_sf_datetime(text: str) -> datetime:
    """Parse a Salesforce date-time (`...+0000`, `...Z`, with or without millis) to aware UTC."""
    normalised = text.strip().replace("Z", "+00:00")
    if len(normalised) > 5 and normalised[-5] in "+-" and normalised[-3] != ":":
        normalised = normalised[:-2] + ":" + normalised[-2:]
    parsed = datetime.fromisoformat(normalised)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_sf_datetime(value: datetime) -> str:
    """The SOQL/REST literal form: `2026-01-31T12:00:00.000Z`."""
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _to_string(value: Any) -> str:
    return str(value)


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError("has a fractional part")
    return int(number)


def _to_double(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return float(value)


def _to_decimal(value: Any) -> Decimal128:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    try:
        # Through str() so 0.1 stays 0.1 rather than its binary float expansion.
        return Decimal128(Decimal(str(value)))
    except InvalidOperation as exc:
        raise ValueError("not a decimal number") from exc


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("not true or false")


def _to_date(value: Any) -> datetime:
    # BSON has no date-only type: a UTC midnight date-time is the usual stand-in.
    day = date.fromisoformat(str(value)[:10])
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _to_datetime(value: Any) -> datetime:
    return parse_sf_datetime(str(value))


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "integer": _to_integer,
    "double": _to_double,
    "decimal": _to_decimal,
    "boolean": _to_boolean,
    "date": _to_date,
    "datetime": _to_datetime,
}


def resolve_conversion(conversion: str, sf_type: str) -> str | None:
    """The effective conversion name, or None to pass the JSON value through unchanged."""
    if conversion == "auto":
        return AUTO_CONVERSION.get(sf_type)
    if conversion not in _CONVERTERS:
        raise ValueError(f"unknown conversion {conversion!r}")
    return conversion


def convert_value(field: str, value: Any, conversion: str | None) -> Any:
    """Convert one Salesforce value; None stays None. Raises ConversionError."""
    if value is None or conversion is None:
        return value
    try:
        return _CONVERTERS[conversion](value)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ConversionError(field, value, conversion, str(exc)) from exc
