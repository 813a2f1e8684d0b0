"""Change envelopes of Salesforce records, shared by live capture (polling, CDC) and re-reads."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable

from connectors import events
from connectors.engine.conversion import format_sf_datetime, parse_sf_datetime
from connectors.models import ObjectMapping

#: A SystemModstamp as REST (`+0000`) and Bulk API (`Z`) send it: UTC to the millisecond.
_UTC_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:Z|\+0000)")


def salesforce_envelope(mapping: ObjectMapping, record_id: str, op: str, fields: dict[str, Any],
                        stamp: datetime | str, replay_id: str | None = None) -> events.ChangeEnvelope:
    """A Salesforce change of one record, versioned by its SystemModstamp (and CDC replay id):
    a datetime, or Salesforce's text for it."""
    version = {"system_modstamp": modstamp_text(stamp)}
    if replay_id:
        version["replay_id"] = replay_id
    return events.ChangeEnvelope(
        mapping=mapping.name,
        source="salesforce",
        op=op,  # type: ignore[arg-type]
        object=mapping.sf_object,
        salesforce_id=record_id,
        fields=fields,
        changed_fields=list(fields),
        source_version=version,
        origin="salesforce",
    )


def record_envelope(mapping: ObjectMapping, field_names: Iterable[str], record: dict[str, Any],
                    replay_id: str | None = None) -> events.ChangeEnvelope:
    """The whole state of a record read over REST (deleted ones, from queryAll, as a delete)."""
    values = {name: record.get(name) for name in field_names}
    return salesforce_envelope(mapping, record["Id"], "delete" if record.get("IsDeleted") else "upsert", values,
                               record["SystemModstamp"], replay_id)


def modstamp_text(stamp: datetime | str) -> str:
    """The envelope's form of a SystemModstamp, `2026-01-31T12:00:00.000Z`. Salesforce's own text
    is nearly that already: only another form is parsed (every record of a backfill passes here)."""
    if isinstance(stamp, str):
        if _UTC_MILLIS.fullmatch(stamp):
            return stamp[:23] + "Z"
        stamp = parse_sf_datetime(stamp)
    return format_sf_datetime(stamp)
