"""Schema drift: how a mapping's field mappings differ from the Salesforce object as it is now.

A mapped field removed from Salesforce, a mapped field whose type changed, or a field added to
the object since the last check is kept as an open `SchemaDrift` row until a person accepts it
(`accept`). Until then the workers skip removed fields (`removed_fields`) and keep syncing the rest.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from simple_salesforce.exceptions import SalesforceError

from connectors.engine.mapping import MappingSpec
from connectors.mappings.describe_cache import DescribeUnavailable, describe_object, fields_by_name
from connectors.mappings.mapping_builder import add_field_mappings, is_syncable, is_writable, suggest_names
from connectors.mappings.mapping_validation import fitting_conversions
from connectors.models import FieldMapping, ObjectMapping, SchemaDrift, SchemaSnapshot

log = logging.getLogger(__name__)
Kind = SchemaDrift.Kind


@dataclass(frozen=True)
class Finding:
    field: str
    kind: str
    old_type: str = ""
    new_type: str = ""


def compare(mapped: Iterable[tuple[str, str]], known: Iterable[str] | None, describe: dict[str, Any]) -> list[Finding]:
    """Differences between `mapped` (sf_field, sf_type) pairs and `describe`; pure.

    A field counts as added only when it is syncable, unmapped and not among `known` (the
    fields seen at the last check); with no earlier check (`known` None) nothing is "added".
    """
    described = fields_by_name(describe)
    findings: list[Finding] = []
    mapped_names = set()
    for sf_field, sf_type in mapped:
        mapped_names.add(sf_field.lower())
        entry = described.get(sf_field.lower())
        if entry is None:
            findings.append(Finding(sf_field, Kind.REMOVED, old_type=sf_type))
        elif sf_type and entry["type"] != sf_type:
            findings.append(Finding(sf_field, Kind.CHANGED, old_type=sf_type, new_type=entry["type"]))
    if known is not None:
        seen = {name.lower() for name in known}
        findings += [
            Finding(entry["name"], Kind.ADDED, new_type=entry["type"])
            for entry in describe["fields"]
            if is_syncable(entry) and entry["name"].lower() not in mapped_names | seen
        ]
    return findings


def open_drift(mapping: ObjectMapping | None = None) -> QuerySet[SchemaDrift]:
    """Drift not yet accepted, of one mapping or of all."""
    rows = SchemaDrift.objects.filter(accepted=False).select_related("mapping")
    return rows.filter(mapping=mapping) if mapping is not None else rows


@transaction.atomic
def record(mapping: ObjectMapping, describe: dict[str, Any]) -> list[SchemaDrift]:
    """Compare the mapping with `describe` and make its open drift rows say exactly that:
    new differences are added, differences that went away (a field put back, a mapping
    fixed by hand) are dropped. Returns the open rows."""
    open_rows = {(row.field.lower(), row.kind): row for row in open_drift(mapping)}
    snapshot = SchemaSnapshot.objects.filter(mapping=mapping).first()
    # A field reported as added stays so until it is mapped or accepted, though it is now "known".
    pending_added = {name for name, kind in open_rows if kind == Kind.ADDED}
    known = None if snapshot is None else [n for n in snapshot.fields if n.lower() not in pending_added]
    kept: list[SchemaDrift] = []
    for finding in compare(mapping.fields.values_list("sf_field", "sf_type"), known, describe):
        row = open_rows.pop((finding.field.lower(), finding.kind), None)
        if row is None:
            row = SchemaDrift.objects.create(mapping=mapping, **dataclasses.asdict(finding))
            log.warning("schema drift on %s: %s", mapping.name, row)
        elif row.new_type != finding.new_type:
            row.new_type = finding.new_type
            row.save(update_fields=["new_type"])
        kept.append(row)
    SchemaDrift.objects.filter(pk__in=[row.pk for row in open_rows.values()]).delete()
    SchemaSnapshot.objects.update_or_create(
        mapping=mapping,
        defaults={"fields": {f["name"]: f["type"] for f in describe["fields"]}, "checked_at": timezone.now()},
    )
    return kept


def check_mapping(mapping: ObjectMapping) -> list[SchemaDrift]:
    """Ask Salesforce (not the cache) and record drift. Raises DescribeUnavailable."""
    return record(mapping, describe_object(mapping.org, mapping.sf_object, fresh=True))


@dataclass
class CheckReport:
    checked: int = 0
    open: dict[str, list[SchemaDrift]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def check_all(mappings: Iterable[ObjectMapping] | None = None) -> CheckReport:
    """Check every mapping (default: the enabled ones); one unreachable org does not stop the rest."""
    if mappings is None:
        mappings = ObjectMapping.objects.filter(enabled=True).select_related("org")
    report = CheckReport()
    for mapping in mappings:
        try:
            report.open[mapping.name] = check_mapping(mapping)
        except DescribeUnavailable as exc:
            report.failures[mapping.name] = str(exc)
            continue
        report.checked += 1
    return report


# -- what the workers need ------------------------------------------------------------------

def removed_fields(mapping: ObjectMapping) -> set[str]:
    """Mapped fields Salesforce no longer has (open drift): capture and write-back leave them out."""
    return set(open_drift(mapping).filter(kind=Kind.REMOVED).values_list("field", flat=True))


def without_removed_fields(spec: MappingSpec, mapping: ObjectMapping) -> MappingSpec:
    removed = removed_fields(mapping)
    if not removed:
        return spec
    return dataclasses.replace(spec, fields=tuple(f for f in spec.fields if f.sf_field not in removed))


def is_invalid_field(exc: SalesforceError) -> bool:
    """Salesforce refused a query or write because it names a field the object does not have."""
    content: list[Any] = exc.content if isinstance(exc.content, list) else []
    return any(isinstance(e, dict) and e.get("errorCode") == "INVALID_FIELD" for e in content)


def recheck_after_invalid_field(mapping: ObjectMapping) -> bool:
    """After INVALID_FIELD: record drift from a fresh describe. True when an enabled mapped field
    turned out to be gone, so that leaving it out may succeed; False (or DescribeUnavailable) otherwise."""
    check_mapping(mapping)
    enabled = set(mapping.fields.filter(enabled=True).values_list("sf_field", flat=True))
    return bool(removed_fields(mapping) & enabled)


# -- accepting ------------------------------------------------------------------------------

@dataclass
class Accepted:
    removed: int = 0
    changed: int = 0
    added: int = 0

    def __str__(self) -> str:
        return (f"{self.removed} removed field mapping(s) deleted, {self.changed} retyped, "
                f"{self.added} added")


@transaction.atomic
def accept(drift: Iterable[SchemaDrift]) -> Accepted:
    """Bring each mapping in line with Salesforce for the given open drift, and mark it accepted:
    removed -> the field mapping is deleted; changed -> its type follows Salesforce (and its
    conversion goes back to "auto" if it no longer fits); added -> a field mapping with the
    suggested MongoDB name. Raises DescribeUnavailable when a change needs describe and it fails."""
    done = Accepted()
    rows = [row for row in drift if not row.accepted]
    for mapping in {row.mapping for row in rows}:
        mine = [row for row in rows if row.mapping_id == mapping.pk]
        needs_describe = any(row.kind != Kind.REMOVED for row in mine)
        described = fields_by_name(describe_object(mapping.org, mapping.sf_object)) if needs_describe else {}
        for row in mine:
            entry = described.get(row.field.lower())
            if row.kind == Kind.REMOVED:
                mapping.fields.filter(sf_field=row.field).delete()
                done.removed += 1
            elif entry is None:
                continue  # gone again since: the next check reports it afresh
            elif row.kind == Kind.CHANGED:
                _retype(mapping, entry)
                done.changed += 1
            elif not mapping.fields.filter(sf_field__iexact=row.field).exists():
                add_field_mappings(mapping, {"name": mapping.sf_object, "fields": [entry]},
                                   suggest_names(mapping, [entry["name"]]))
                done.added += 1
    SchemaDrift.objects.filter(pk__in=[row.pk for row in rows]).update(accepted=True, accepted_at=timezone.now())
    return done


def _retype(mapping: ObjectMapping, entry: dict[str, Any]) -> None:
    for field_mapping in mapping.fields.filter(sf_field__iexact=entry["name"]):
        field_mapping.sf_type = entry["type"]
        field_mapping.sf_writable = field_mapping.sf_writable and is_writable(entry)
        if field_mapping.conversion not in fitting_conversions(entry):
            field_mapping.conversion = FieldMapping.Conversion.AUTO
        field_mapping.save(update_fields=["sf_type", "sf_writable", "conversion"])
