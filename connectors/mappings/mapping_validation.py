"""Is a mapping's set of field mappings one Salesforce can serve? Checked against describe:
the field exists, its conversion fits its type, and a field written to Salesforce is writable.

`check_mapping` is what the admin's inline formset and the API call; `problems` is the pure core.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from connectors.mappings.describe_cache import DescribeUnavailable, describe_object, fields_by_name
from connectors.mappings.mapping_builder import is_writable
from connectors.models import FieldMapping, ObjectMapping

_TEXT = {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox",
         "reference", "id", "time"}
_NUMBER = {"double", "currency", "percent"}
#: Conversions (besides "auto", which always fits) that can take every value of a Salesforce type.
_FITTING: dict[str, set[str]] = {
    **{t: {"string"} for t in _TEXT},
    "boolean": {"boolean", "string"},
    "int": {"integer", "double", "decimal", "string"},
    **{t: {"double", "decimal", "string"} for t in _NUMBER},
    "date": {"date", "datetime", "string"},
    "datetime": {"datetime", "date", "string"},
}


class FieldRow(Protocol):
    """What is checked of a field mapping (a FieldMapping, saved or not, fits)."""

    sf_field: str
    conversion: str
    sf_writable: bool
    enabled: bool


@dataclass(frozen=True)
class Problem:
    sf_field: str
    attribute: str  # the FieldMapping attribute at fault: sf_field, conversion or sf_writable
    message: str


@dataclass
class MappingCheck:
    problems: list[Problem] = field(default_factory=list)
    #: Set when Salesforce could not be asked: nothing was checked, which must not block a save.
    warning: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def fitting_conversions(sf_field: dict[str, Any]) -> set[str]:
    """Conversions that fit a describe field entry; a number with no decimals may be a whole number."""
    fitting = set(_FITTING.get(sf_field["type"], {"string"})) | {"auto"}
    if sf_field["type"] in _NUMBER and not sf_field.get("scale"):
        fitting.add("integer")
    return fitting


def writes_to_salesforce(mapping: ObjectMapping) -> bool:
    return mapping.direction in (ObjectMapping.Direction.MONGO_TO_SF, ObjectMapping.Direction.BOTH)


def problems(mapping: ObjectMapping, rows: Iterable[FieldRow], describe: dict[str, Any]) -> list[Problem]:
    """What is wrong with the enabled `rows` of `mapping` according to `describe`; pure."""
    described = fields_by_name(describe)
    labels = dict(FieldMapping.Conversion.choices)
    found: list[Problem] = []
    for row in rows:
        if not row.enabled or not row.sf_field:
            continue
        entry = described.get(row.sf_field.lower())
        if entry is None:
            found.append(Problem(row.sf_field, "sf_field",
                                 f"{row.sf_field}: {mapping.sf_object} has no such field in Salesforce "
                                 "(check the API name, or whether it was deleted)"))
            continue
        if row.conversion not in fitting_conversions(entry):
            found.append(Problem(row.sf_field, "conversion",
                                 f"{row.sf_field}: conversion \"{labels.get(row.conversion, row.conversion)}\" "
                                 f"does not fit its Salesforce type {entry['type']}; use "
                                 f"{' or '.join(sorted(fitting_conversions(entry)))}"))
        if row.sf_writable and writes_to_salesforce(mapping) and not is_writable(entry):
            found.append(Problem(row.sf_field, "sf_writable",
                                 f"{row.sf_field}: marked Salesforce writable, but Salesforce says it is "
                                 "read-only (neither createable nor updateable); untick Salesforce writable"))
    return found


def check_mapping(mapping: ObjectMapping, rows: Iterable[FieldRow] | None = None) -> MappingCheck:
    """Check `rows` (default: the mapping's saved field mappings) against the cached describe.
    Never raises for Salesforce being unreachable: that comes back as `warning`."""
    try:
        describe = describe_object(mapping.org, mapping.sf_object)
    except DescribeUnavailable as exc:
        return MappingCheck(warning=f"Field mappings not checked against Salesforce: {exc}")
    return MappingCheck(problems(mapping, mapping.fields.all() if rows is None else rows, describe))
