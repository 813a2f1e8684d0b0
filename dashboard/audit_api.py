"""REST API over the audit trail: who did what, through which door, filtered and a page at a time."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import field_validator

from connectors.models import AuditEntry
from dashboard.schemas import answers

router = Router(tags=["audit"])
MAX_PAGE = 500
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class AuditEntryOut(Schema):
    id: int
    at: datetime
    user: str
    via: str
    action: str
    action_label: str
    mapping: str
    target: str
    record_key: str
    record_alias: str
    details: dict[str, Any]


class AuditPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[AuditEntryOut]


class AuditFilters(Schema):
    user: str = ""
    action: AuditEntry.Action | None = None
    mapping: str = ""
    record: str = Query("", description="A record's Salesforce Id or MongoDB _id.")
    since: datetime | None = Query(None, description="From this moment on (inclusive), ISO 8601.")
    until: datetime | None = Query(None, description="Before this moment (exclusive), ISO 8601.")

    @field_validator("since", "until", mode="before")
    @classmethod
    def is_iso_8601(cls, value: Any) -> Any:
        # Pydantic would also take a number as seconds since 1970; the schema promises a date-time.
        if isinstance(value, str) and not ISO_DATE.match(value):
            raise ValueError("an ISO 8601 date or date-time is expected, e.g. 2026-03-10T12:00:00Z")
        return value


@router.get("/audit", response=answers({200: AuditPage}, 422))
def audit(request: HttpRequest, filters: Query[AuditFilters],
          limit: int = Query(50, ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}"),
          offset: int = Query(0, ge=0)) -> AuditPage:
    """The audit trail, newest first: pauses, resumes, backfills, reconciles, conflict resolutions
    (with the values chosen), error retries and discards, and admin saves of connections and
    mappings (never secret values)."""
    rows = AuditEntry.objects.matching(
        user=filters.user, action=filters.action or "", mapping=filters.mapping, record=filters.record,
        since=filters.since, until=filters.until,
    )
    return AuditPage(total=rows.count(), limit=limit, offset=offset,
                     items=[entry_out(entry) for entry in rows[offset:offset + limit]])


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.pk, at=entry.at, user=entry.user, via=entry.via, action=entry.action,
        action_label=entry.get_action_display(), mapping=entry.mapping, target=entry.target,
        record_key=entry.record_key, record_alias=entry.record_alias, details=entry.details,
    )
