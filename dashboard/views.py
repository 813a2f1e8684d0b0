"""Console pages. Staff only."""
from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from connectors.models import SyncError
from dashboard.status import snapshot


@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    """Per mapping: direction, checkpoint, published events, open errors and conflicts; live
    workers. The page then keeps itself current over the status websocket."""
    return render(request, "dashboard/overview.html", {
        "status": snapshot(),
        "recent_errors": SyncError.objects.filter(status=SyncError.Status.OPEN).select_related("mapping")[:20],
    })
