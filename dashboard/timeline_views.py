"""The record timeline page: every change that touched one record, in order. Staff only."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from connectors import timeline
from connectors.models import Conflict, ObjectMapping, SyncError
from dashboard.access import staff_required


@staff_required
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
    })


@staff_required
def find_record(request: HttpRequest) -> HttpResponse:
    """The lookup form's target: `?mapping=<name>&key=<Salesforce Id or _id>`."""
    mapping, key = request.GET.get("mapping", "").strip(), request.GET.get("key", "").strip()
    if mapping and key:
        return redirect("record-timeline", mapping=mapping, key=key)
    return render(request, "dashboard/find_record.html", {
        "mappings": ObjectMapping.objects.order_by("name"), "mapping": mapping, "key": key,
    })
