"""One comparable form for a field's value, whichever side it was read from. Pure; no I/O.

Echo checks and three-way merges compare values captured from Salesforce (REST JSON)
with values read from MongoDB (BSON). Both are turned into the same canonical form:
numbers as plain decimal text, dates as `YYYY-MM-DD`, date-times as UTC with
milliseconds, booleans, text. The hash of a record's canonical values is what the
sync state remembers as "last synced".
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from bson.decimal128 import Decimal128

from connectors.engine.conversion import ConversionError, format_sf_datetime, parse_sf_datetime

NUMBER_TYPES = {"int", "double", "currency", "percent"}


def _decimal_text(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError("not a finite number")
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def canonical(field: str, sf_type: str, value: Any) -> Any:
    """The canonical form of `value` for a field of Salesforce type `sf_type`.

    Accepts Salesforce JSON values and MongoDB/BSON values alike. Raises
    ConversionError (naming the field and the value) for a value of the wrong shape:
    text in a number field, an unparsable date, a nested object where a scalar belongs.
    """
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise ConversionError(field, value, sf_type, "a nested value where a single value is expected")
    try:
        if sf_type in NUMBER_TYPES:
            return _decimal_text(value)
        if sf_type == "boolean":
            if not isinstance(value, bool):
                raise ValueError("not true or false")
            return value
        if sf_type == "date":
            if isinstance(value, datetime):
                return value.astimezone(timezone.utc).date().isoformat() if value.tzinfo else value.date().isoformat()
            if isinstance(value, date):
                return value.isoformat()
            return date.fromisoformat(str(value)[:10]).isoformat()
        if sf_type == "datetime":
            if isinstance(value, datetime):
                moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
            else:
                moment = parse_sf_datetime(str(value))
            return format_sf_datetime(moment)
        if isinstance(value, (int, float, Decimal128)) and not isinstance(value, bool):
            return str(value)
        return str(value)
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise ConversionError(field, value, sf_type, str(exc)) from exc


def to_salesforce_json(field: str, sf_type: str, value: Any) -> Any:
    """A MongoDB value as Salesforce's REST API takes it for a field of `sf_type`."""
    form = canonical(field, sf_type, value)
    if form is None or sf_type not in NUMBER_TYPES:
        return form
    number = Decimal(form)
    return int(number) if sf_type == "int" or number == number.to_integral_value() else float(number)


def values_hash(values: dict[str, Any]) -> str:
    """Stable hash of canonical values by field name."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
