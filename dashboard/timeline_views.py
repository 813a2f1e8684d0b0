"""The record timeline page: every change that touched one record, in order, and what people did
to it (the audit trail)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from connectors.models import AuditEntry, Conflict, ObjectMapping, SyncError
from connectors.operations import timeline
from dashboard.access import console_access
from dashboard.audit_views import summary


@console_access
def record_timeline(request: HttpRequest, mapping: str, key: str) -> HttpResponse:
    row = get_object_or_404(ObjectMapping, name=mapping)
    lines = list(timeline.timeline(row, key))
    ids = {key} | {v for line in lines for v in (line.salesforce_id, line.mongo_id) if v}
    return render(request, "dashboard/timeline.html", {
        "mapping": row,
        "key": key,
        "lines": lines,
        "record_ids": sorted(ids),
        "conflicts": Conflict.objects.filter(mapping=row, salesforce_id__in=ids)
        | Conflict.objects.filter(mapping=row, mongo_id__in=ids),
        "errors": SyncError.objects.filter(mapping=row, record_key__in=ids),
        "audit": [(entry, summary(entry)) for entry in AuditEntry.objects.for_record(row.name, ids)],
    })


@console_access
def find_record(request: HttpRequest) -> HttpResponse:
    """The lookup form's target: `?mapping=<name>&key=<Salesforce Id or _id>`."""
    mapping, key = request.GET.get("mapping", "").strip(), request.GET.get("key", "").strip()
    if mapping and key:
        return redirect("record-timeline", mapping=mapping, key=key)
    return render(request, "dashboard/find_record.html", {
        "mappings": ObjectMapping.objects.order_by("name"), "mapping": mapping, "key": key,
    })
