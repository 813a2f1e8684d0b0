"""Console pages. Staff only."""
from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from connectors.models import Conflict, ObjectMapping, SyncError, WorkerStatus

HEARTBEAT_STALE_SECONDS = 15


@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    """Per mapping: direction, checkpoint, published events and open errors; live workers."""
    mappings = (
        ObjectMapping.objects.select_related("checkpoint")
        .annotate(
            open_errors=Count("errors", filter=Q(errors__status=SyncError.Status.OPEN), distinct=True),
            open_conflicts=Count("conflicts", filter=Q(conflicts__status=Conflict.Status.OPEN), distinct=True),
        )
        .order_by("name")
    )
    fresh_after = timezone.now() - timezone.timedelta(seconds=HEARTBEAT_STALE_SECONDS)
    workers = WorkerStatus.objects.filter(last_beat__gte=fresh_after).order_by("name")
    recent_errors = SyncError.objects.filter(status=SyncError.Status.OPEN)[:20]
    return render(
        request,
        "dashboard/overview.html",
        {"mappings": mappings, "workers": workers, "recent_errors": recent_errors},
    )
