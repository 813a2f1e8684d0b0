"""Turn a REST write payload into stored column values, or raise Salesforce errors.

Contract: :func:`prepare_write` takes the decoded JSON body of a create,
update or upsert and returns ``{field name: stored value}`` for the fields
the client may set.  It raises :class:`ApiError` with the error code a real
org uses for the first problem found (multi-field problems such as missing
required fields are reported together, like Salesforce does).
"""
from __future__ import annotations

import math
import re
from typing import Any

from . import ids
from .errors import ApiError, json_parser_error, write_unknown_field
from .schema import NUMBER_TYPES, TEXT_TYPES, Field, SObject, get_object
from .store import Store
from .timefmt import canonical_datetime, parse_date

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _value_kind(value: Any) -> str:
    """Jackson token names Salesforce quotes in JSON_PARSER_ERROR messages."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, (int, float)):
        return "VALUE_NUMBER_INT" if isinstance(value, int) else "VALUE_NUMBER_FLOAT"
    return "VALUE_STRING"


def _cannot_deserialize(java_type: str, value: Any) -> ApiError:
    return json_parser_error(
        f"Cannot deserialize instance of {java_type} from {_value_kind(value)} value {value} "
        "or request may be missing a required field")


def _wrong_type(f: Field, value: Any) -> ApiError:
    return ApiError(400, "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{f.label}: value not of required type: {value}", [f.name])


def _out_of_range(f: Field, value: Any) -> ApiError:
    return ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{f.label}: value outside of valid range on numeric field: {value}", [f.name])


def coerce(f: Field, value: Any) -> Any:
    """Validate one non-null value for ``f`` and return its stored form."""
    if f.type in TEXT_TYPES:
        return _coerce_text(f, value)
    if f.type == "boolean":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return int(value.lower() == "true")
        raise _cannot_deserialize("boolean", value)
    if f.type in NUMBER_TYPES:
        return _coerce_number(f, value)
    if f.type == "date":
        if not isinstance(value, str):
            raise _wrong_type(f, value)
        d = parse_date(value)
        if d is None:
            raise _cannot_deserialize("date", value)
        return d.isoformat()
    if f.type == "datetime":
        if not isinstance(value, str):
            raise _wrong_type(f, value)
        dt = canonical_datetime(value)
        if dt is None:
            raise _cannot_deserialize("datetime", value)
        return dt
    if f.type in ("reference", "id"):
        norm = ids.normalize(value)
        targets = [get_object(t) for t in f.reference_to]
        if norm is None or not any(t is not None and norm.startswith(t.key_prefix) for t in targets):
            raise ApiError(400, "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [f.name])
        return norm
    raise _wrong_type(f, value)


def _coerce_text(f: Field, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise _cannot_deserialize("string", value)
    if f.type == "picklist" and f.restricted_picklist and text not in f.picklist_values:
        raise ApiError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                       f"{f.label}: bad value for restricted picklist field: {text}", [f.name])
    if f.type == "email" and text and not _EMAIL_RE.match(text):
        raise ApiError(400, "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {text}", [f.name])
    if f.length and len(text) > f.length:
        raise ApiError(400, "STRING_TOO_LONG",
                       f"{f.label}: data value too large: {text} (max length={f.length})", [f.name])
    return text


def _coerce_number(f: Field, value: Any) -> int | float:
    java_type = "int" if f.type == "int" else "double"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _cannot_deserialize(java_type, value)
    if isinstance(value, str):
        try:
            num = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            raise _cannot_deserialize(java_type, value) from None
    else:
        num = value
    if isinstance(num, float) and not math.isfinite(num):
        raise _cannot_deserialize(java_type, value)
    if f.type == "int":
        if num != int(num):
            raise _wrong_type(f, value)
        num = int(num)
        if f.digits and abs(num) >= 10**f.digits:
            raise _out_of_range(f, value)
        return num
    integer_digits = (f.precision or 18) - f.scale
    if abs(num) >= 10**integer_digits:
        raise _out_of_range(f, value)
    return round(float(num), f.scale)


def prepare_write(obj: SObject, payload: Any, *, creating: bool, store: Store,
                  user_id: str, record_id: str | None = None,
                  extra_writable: frozenset[str] = frozenset()) -> dict:
    """Validate a create/update payload and return stored values.

    ``extra_writable`` names fields allowed despite their flags (the external
    Id field carried in an upsert URL).  Uniqueness is checked separately
    (:func:`check_unique`), after validation rules.
    """
    if not isinstance(payload, dict):
        raise _cannot_deserialize(f"SObject of type {obj.name}", payload)
    values: dict[str, Any] = {}
    forbidden: list[str] = []
    for key, raw in payload.items():
        if key == "attributes":
            continue
        f = obj.field(key)
        if f is None:
            raise write_unknown_field(key, obj.name)
        allowed = f.createable if creating else f.updateable
        if not allowed and f.name not in extra_writable:
            forbidden.append(f.name)
            continue
        values[f.name] = None if raw is None else coerce(f, raw)
    if forbidden:
        raise ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                       f"Unable to create/update fields: {', '.join(forbidden)}. Please check the security "
                       "settings of this field and verify that it is read/write for your profile or permission set.",
                       forbidden)
    if creating:
        for f in obj.fields:
            if f.name not in values and f.picklist_default is not None:
                values[f.name] = f.picklist_default
        if obj.has_owner and values.get("OwnerId") is None:
            values["OwnerId"] = user_id
    missing = [f.name for f in obj.fields if f.required and f.createable
               and (values.get(f.name) is None if creating else (f.name in values and values[f.name] is None))]
    if missing:
        raise ApiError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
    _check_references(obj, values, store)
    return values


def _check_references(obj: SObject, values: dict, store: Store) -> None:
    for name, value in values.items():
        f = obj.field(name)
        if f is None or f.type != "reference" or value is None:
            continue
        target = get_object(f.reference_to[0])
        if target is None or not store.exists(target, value):
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])


def check_unique(obj: SObject, values: dict, store: Store, record_id: str | None) -> None:
    """DUPLICATE_VALUE when a unique field (e.g. the external Id) clashes with another live record.

    Run last, after validation rules, like the database's unique index on a real org.
    """
    for name, value in values.items():
        f = obj.field(name)
        if f is None or not f.unique or value is None:
            continue
        clash = [i for i in store.find_ids(obj, f, value, limit=2) if i != record_id]
        if clash:
            raise ApiError(400, "DUPLICATE_VALUE",
                           f"duplicate value found: {f.name} duplicates value on record with id: {clash[0]}", [])
