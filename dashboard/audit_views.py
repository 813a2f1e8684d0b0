"""The audit page: who did what to the sync, filtered by user, action, mapping, record and day,
a page at a time (the same trail as GET /api/v1/audit)."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date

from connectors.models import AuditEntry
from dashboard.access import console_access
from dashboard.queue_pages import page_of, query_without_page, timeline_url

FILTERS = ("user", "action", "mapping", "record", "since", "until")


@console_access
def audit_list(request: HttpRequest) -> HttpResponse:
    """Newest first. `since` and `until` are days (YYYY-MM-DD), both included."""
    filters = {key: request.GET.get(key, "").strip() for key in FILTERS}
    if filters["action"] not in AuditEntry.Action.values:
        filters["action"] = ""
    rows = AuditEntry.objects.matching(
        user=filters["user"], action=filters["action"], mapping=filters["mapping"], record=filters["record"],
        since=_day_start(request, filters, "since"), until=_day_start(request, filters, "until", days_after=1),
    )
    page = page_of(request, rows)
    trail = AuditEntry.objects.all()
    return render(request, "dashboard/audit.html", {
        "page": page, "rows": [(entry, summary(entry), _entry_timeline(entry)) for entry in page],
        "filters": filters, "query": query_without_page(request), "actions": AuditEntry.Action.choices,
        "users": trail.order_by("user").values_list("user", flat=True).distinct(),
        "mappings": trail.exclude(mapping="").order_by("mapping").values_list("mapping", flat=True).distinct(),
    })


def _day_start(request: HttpRequest, filters: dict[str, str], name: str, days_after: int = 0) -> datetime | None:
    """The start of the named day (plus `days_after`) in the current time zone; a day that does not
    parse is dropped from the filters, with a message saying so."""
    text = filters[name]
    if not text:
        return None
    try:
        day = parse_date(text)
    except ValueError:
        day = None
    if day is None:
        messages.error(request, f"“{text}” is not a day (YYYY-MM-DD): the {name} filter is not applied.")
        filters[name] = ""
        return None
    return timezone.make_aware(datetime.combine(day + timedelta(days=days_after), time.min))


def _entry_timeline(entry: AuditEntry) -> str | None:
    return timeline_url(entry.mapping, entry.record_key)


def summary(entry: AuditEntry) -> str:
    """The entry's details in one line, as a person reads them."""
    details: dict[str, Any] = entry.details or {}
    if entry.action == AuditEntry.Action.RESOLVE:
        values = ", ".join(f"{name} = {value!r}" for name, value in (details.get("values") or {}).items())
        how = f"policy {details['policy']}" if details.get("policy") else _sides(details)
        return f"{values} ({how})" if how else values
    if entry.action in (AuditEntry.Action.RETRY, AuditEntry.Action.DISCARD):
        return " · ".join(part for part in (details.get("code", ""), details.get("topic", "")) if part)
    if "fields" in details and entry.via == AuditEntry.Via.ADMIN:
        return "; ".join(_field_change(name, change) for name, change in details["fields"].items())
    return ""


def _sides(details: dict[str, Any]) -> str:
    taken = [f"{name} from {side}" for name, side in (details.get("took") or {}).items()]
    typed = [f"{name} typed in" for name in details.get("typed") or []]
    return ", ".join(taken + typed)


def _field_change(name: str, change: dict[str, Any]) -> str:
    if change.get("secret"):
        return f"{name}: secret replaced"
    return f"{name}: {change.get('from')!r} → {change.get('to')!r}"
