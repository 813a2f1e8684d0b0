"""Does a value fit a Salesforce field? Checked against the field's describe entry before the
value is written to MongoDB, so the sync never carries a value that Salesforce would refuse
(and park as an error) or store differently from MongoDB (rounded, truncated, coerced).

Each rule has a short name (`Problem.rule`) that the API reports as the error's `type`. Pure; no I/O.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.engine.conversion import parse_sf_datetime

NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox",
                        "reference", "id", "encryptedstring"})
#: Salesforce's `int` is a 32-bit integer; `digits` (at most 9) is the usual, tighter bound.
INT_DIGITS = 9
#: What BSON can hold as an integer (int64); a larger Python int cannot be written to MongoDB.
INT64_RANGE = (-(2**63), 2**63 - 1)
#: Salesforce takes dates and date-times from 1700-01-01 to 4000-12-31.
YEARS = (1700, 4000)
#: Characters XML 1.0 cannot carry (Salesforce stores and serves text through XML as well as JSON):
#: C0 controls other than tab, line feed and carriage return, the non-characters U+FFFE/U+FFFF,
#: and lone surrogates (which cannot even be encoded as UTF-8 for MongoDB).
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"
FORBIDDEN_CHARACTERS = re.compile(f"[{_CONTROLS}\\ud800-\\udfff]")
#: A JSON Schema `pattern` for storable text (a JSON document cannot carry lone surrogates anyway).
STORABLE_TEXT = f"^[^{_CONTROLS}]*$"
#: Python's `\s` spelled out, so the pattern means the same in the OpenAPI schema's (ECMA) regexes.
_SPACE = r" \t\n\r\f\v\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
EMAIL = re.compile(f"^[^@{_SPACE}]+@[^@{_SPACE}]+\\.[^@{_SPACE}]+$")
DATE_START = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
RECORD_ID = re.compile(r"^[0-9A-Za-z]{15}([0-9A-Za-z]{3})?$")


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str


@dataclass(frozen=True)
class Described:
    """What describe says of one object: field entries by lower-cased API name, and for each
    reference field (lower-cased) the key prefixes of the objects it may point to."""

    sf_object: str
    fields: dict[str, dict[str, Any]]
    key_prefixes: dict[str, frozenset[str]] = field(default_factory=dict)


def text_problem(text: str, max_length: int | None) -> Problem | None:
    """Why `text` cannot be stored in a Salesforce text field of `max_length` characters, or None."""
    bad = FORBIDDEN_CHARACTERS.search(text)
    if bad:
        return Problem("character", f"contains the character U+{ord(bad.group()):04X} at position {bad.start()}, "
                                    "which Salesforce cannot store")
    if max_length and len(text) > max_length:
        return Problem("length", f"is {len(text)} characters long; Salesforce takes at most {max_length}")
    return None


def finite_problem(value: Any) -> Problem | None:
    """NaN and ±Infinity (also what `1e400` parses to) have no JSON or Salesforce form."""
    if isinstance(value, float) and not math.isfinite(value):
        return Problem("finite", f"{value!r} is not a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
        return Problem("range", "is beyond what MongoDB can store as a number (64-bit integer)")
    return None


def value_problem(entry: dict[str, Any], value: Any, key_prefixes: frozenset[str] = frozenset()) -> Problem | None:
    """Why `value` (a JSON value, not None) cannot go into the field `entry` describes, or None."""
    kind = entry["type"]
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            return Problem("type", f"must be text (Salesforce type {kind}), not {type(value).__name__}")
        return _text_value_problem(entry, value, key_prefixes)
    if kind in NUMBER_TYPES:
        return _number_problem(entry, value)
    if kind in ("date", "datetime"):
        return _date_problem(kind, value)
    if kind == "boolean" and not isinstance(value, bool):
        return Problem("type", f"must be true or false, not {type(value).__name__}")
    return None


def _text_value_problem(entry: dict[str, Any], value: str, key_prefixes: frozenset[str]) -> Problem | None:
    kind = entry["type"]
    problem = text_problem(value, entry.get("length") or None)
    if problem or value == "":
        return problem
    if kind == "email" and not EMAIL.match(value):
        return Problem("email", "is not an email address")
    if kind in ("picklist", "multipicklist") and entry.get("restrictedPicklist"):
        allowed = [v["value"] for v in entry.get("picklistValues", []) if v.get("active", True)]
        chosen = value.split(";") if kind == "multipicklist" else [value]
        wrong = [v for v in chosen if v not in allowed]
        if wrong:
            return Problem("picklist", f"{wrong[0]!r} is not one of the restricted picklist's values: "
                                       f"{', '.join(allowed)}")
    if kind in ("reference", "id"):
        if not RECORD_ID.match(value):
            return Problem("reference", "must be a Salesforce Id: 15 or 18 letters and digits")
        if key_prefixes and value[:3] not in key_prefixes:
            targets = ", ".join(entry.get("referenceTo", []))
            return Problem("reference", f"must be the Id of a record of {targets} (starting with "
                                        f"{' or '.join(sorted(key_prefixes))}), not {value[:3]}…")
    return None


def _number_problem(entry: dict[str, Any], value: Any) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Problem("type", f"must be a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        return Problem("finite", f"{value!r} is not a finite number")
    number = Decimal(str(value)).normalize()
    exponent = number.as_tuple().exponent  # an int: NaN and infinities were refused above
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    whole_digits = max(0, number.adjusted() + 1) if number else 0
    if entry["type"] == "int":
        digits = entry.get("digits") or INT_DIGITS
        if decimals:
            return Problem("type", "must be a whole number")
        if whole_digits > digits:
            return Problem("precision", f"has {whole_digits} digits; Salesforce takes at most {digits}")
        return None
    precision, scale = entry.get("precision") or 0, entry.get("scale") or 0
    if decimals > scale:
        # Salesforce would round it, leaving MongoDB with a different value.
        return Problem("scale", f"has {decimals} decimal places; Salesforce keeps {scale}")
    if precision and whole_digits > precision - scale:
        return Problem("precision", f"has {whole_digits} digits before the decimal point; Salesforce takes at "
                                    f"most {precision - scale} (precision {precision}, scale {scale})")
    return None


def _date_problem(kind: str, value: Any) -> Problem | None:
    if not isinstance(value, str):
        return Problem("type", f"must be a {kind} as text (ISO 8601), not {type(value).__name__}")
    example = "2026-01-31" if kind == "date" else "2026-01-31T12:00:00.000Z"
    if not DATE_START.match(value) or (kind == "date" and len(value) != 10):
        return Problem("format", f"{value!r} is not a {kind} like {example}")
    try:
        moment: date = date.fromisoformat(value) if kind == "date" else parse_sf_datetime(value)
    except ValueError:
        return Problem("format", f"{value!r} is not a {kind} like {example}")
    if not YEARS[0] <= moment.year <= YEARS[1]:
        return Problem("range", f"year {moment.year} is outside Salesforce's {YEARS[0]}–{YEARS[1]}")
    return None


def is_blank(entry: dict[str, Any], value: Any) -> bool:
    """Salesforce treats an empty or all-blank text like no value at all."""
    return value is None or (entry["type"] in TEXT_TYPES and isinstance(value, str) and not value.strip())


def required_on_create(entry: dict[str, Any]) -> bool:
    """A field Salesforce insists on when a record is created: not nillable, createable, and
    with no value of its own (no default, not defaulted on create)."""
    return bool(entry.get("createable") and not entry.get("nillable") and not entry.get("defaultedOnCreate")
                and entry.get("defaultValue") in (None, ""))


def write_problem(entry: dict[str, Any], value: Any, creating: bool,
                  key_prefixes: frozenset[str] = frozenset()) -> Problem | None:
    """Why setting the field to `value` on a create (or an update) would not reach Salesforce intact."""
    if creating and not entry.get("createable"):
        return Problem("createable", "cannot be set when a record is created (not createable in Salesforce)")
    if not creating and not entry.get("updateable"):
        return Problem("updateable", "cannot be changed once the record exists (not updateable in Salesforce)")
    if is_blank(entry, value):
        if not entry.get("nillable") and entry["type"] != "boolean":
            return Problem("required", "is required by Salesforce and cannot be empty")
        return None if value is None else value_problem(entry, value, key_prefixes)
    return value_problem(entry, value, key_prefixes)


# -- The same rules as JSON Schema, for the API's OpenAPI document: a value valid by the schema
# passes `write_problem`, and one the schema refuses is refused there too.
_YEAR = "(1[7-9][0-9]{2}|[23][0-9]{3}|4000)"
_DATE_PATTERNS = {
    "date": f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}$",
    "datetime": f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}"
                "(\\.[0-9]{1,3})?(Z|[+-][0-9]{2}:[0-9]{2})$",
}


def value_schema(entry: dict[str, Any], key_prefixes: frozenset[str] = frozenset()) -> dict[str, Any]:
    """JSON Schema (2020-12, as OpenAPI 3.1 uses) of the values `write_problem` lets through for the
    field `entry` describes. Whether the field must be present on create is the record's `required`."""
    kind = entry["type"]
    blank_allowed = bool(entry.get("nillable")) or kind == "boolean"
    schema: dict[str, Any] = {"title": entry["name"], "description": f"Salesforce {kind}"}
    if kind in TEXT_TYPES:
        schema.update(_text_schema(entry, key_prefixes, blank_allowed))
    elif kind in NUMBER_TYPES:
        schema.update(_number_schema(entry))
    elif kind in ("date", "datetime"):
        schema.update({"type": "string", "format": "date" if kind == "date" else "date-time",
                       "pattern": _DATE_PATTERNS[kind]})
    elif kind == "boolean":
        schema["type"] = "boolean"
    if blank_allowed and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema


def _text_schema(entry: dict[str, Any], key_prefixes: frozenset[str], blank_allowed: bool) -> dict[str, Any]:
    kind = entry["type"]
    schema: dict[str, Any] = {"type": "string", "pattern": STORABLE_TEXT}
    if entry.get("length"):
        schema["maxLength"] = entry["length"]
    shapes: list[dict[str, Any]] = []
    if kind == "email":
        shapes.append({"pattern": EMAIL.pattern})
    if kind == "picklist" and entry.get("restrictedPicklist"):
        shapes.append({"enum": [v["value"] for v in entry.get("picklistValues", []) if v.get("active", True)]})
    if kind in ("reference", "id"):
        starts = "|".join(sorted(key_prefixes)) or "[0-9A-Za-z]{3}"
        shapes.append({"pattern": f"^({starts})[0-9A-Za-z]{{12}}([0-9A-Za-z]{{3}})?$"})
    if not blank_allowed:
        schema["allOf"] = [{"pattern": "\\S"}, *shapes]
    elif shapes:
        # An empty text is "no value" to Salesforce, so it passes whatever the shape.
        schema["anyOf"] = [{"maxLength": 0}, *shapes]
    return schema


def _number_schema(entry: dict[str, Any]) -> dict[str, Any]:
    if entry["type"] == "int":
        top = 10 ** (entry.get("digits") or INT_DIGITS) - 1
        return {"type": "integer", "minimum": -top, "maximum": top}
    precision, scale = entry.get("precision") or 0, entry.get("scale") or 0
    schema: dict[str, Any] = {"type": "number", "multipleOf": 1 if scale == 0 else float(f"1e-{scale}")}
    if precision:
        schema.update({"exclusiveMinimum": -(10 ** (precision - scale)), "exclusiveMaximum": 10 ** (precision - scale)})
    return schema
