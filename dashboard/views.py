"""Console pages: the overview and its mapping controls. Staff only; controls are POST + CSRF."""
from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from connectors import controls, jobs
from connectors.models import ObjectMapping, RecordEvent, SyncError, SyncJob
from dashboard.access import staff_required
from dashboard.status import history, snapshot

SOURCE_LABELS = dict(RecordEvent.Source.choices)


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    """Per mapping: state, checkpoints, throughput, lag, errors, conflicts, API usage and jobs;
    charts of the last hour; the activity feed; live workers. The page then keeps itself
    current over the status websocket."""
    status = snapshot()
    return render(request, "dashboard/overview.html", {
        "status": status,
        # Where each change came from, as people say it; overview.js labels live lines the same way.
        "source_labels": SOURCE_LABELS,
        "activity": [(line, SOURCE_LABELS.get(line.source, line.source)) for line in status.activity],
        "history": [s.model_dump(mode="json") for s in history()],
        "recent_errors": SyncError.objects.filter(status=SyncError.Status.OPEN).select_related("mapping")[:20],
    })


def _pause(request: HttpRequest, mapping: ObjectMapping) -> str:
    controls.set_paused(mapping, True, by=request.user.get_username())
    return f"{mapping.name} is paused: capture stops and queued changes wait in Kafka."


def _resume(request: HttpRequest, mapping: ObjectMapping) -> str:
    controls.set_paused(mapping, False, by=request.user.get_username())
    return f"{mapping.name} resumed: it catches up from where it stopped."


def _job(kind: str) -> Callable[[HttpRequest, ObjectMapping], str]:
    def start(request: HttpRequest, mapping: ObjectMapping) -> str:
        job = jobs.start(mapping, kind, requested_by=request.user.get_username())
        return f"{job.get_kind_display()} of {mapping.name} queued as job #{job.pk}."
    return start


ACTIONS = {"pause": _pause, "resume": _resume, "backfill": _job(SyncJob.Kind.BACKFILL),
           "reconcile": _job(SyncJob.Kind.RECONCILE)}


@staff_required
@require_POST
def mapping_control(request: HttpRequest, name: str, action: str) -> HttpResponse:
    """Pause, resume, or queue a backfill or reconcile; back to the mapping on the overview."""
    if action not in ACTIONS:
        raise Http404(f"no such control: {action}")
    mapping = get_object_or_404(ObjectMapping, name=name)
    try:
        messages.success(request, ACTIONS[action](request, mapping))
    except jobs.JobRefused as exc:
        messages.error(request, str(exc))
    return redirect(f"{reverse('overview')}#mapping-{mapping.name}")
