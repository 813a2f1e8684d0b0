"""Console pages: the overview and its mapping controls. Viewers read; controls (POST + CSRF) need an operator."""
from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from connectors.models import AuditEntry, ObjectMapping, RecordEvent, SyncError, SyncJob
from connectors.operations import jobs
from connectors.operations.alerts import firing_alerts
from dashboard import audited_actions
from dashboard.access import console_access
from dashboard.chart_views import chosen_range
from dashboard.charts import DEFAULT_RANGE, RANGE_LABELS, RANGES, bucket_seconds, chart_samples
from dashboard.status import snapshot

SOURCE_LABELS = dict(RecordEvent.Source.choices)
CONSOLE = AuditEntry.Via.CONSOLE


@console_access
def overview(request: HttpRequest) -> HttpResponse:
    """Per mapping: state, checkpoints, throughput, lag, errors, conflicts, API usage and jobs;
    charts of the last 15 min, 1 h or 24 h (`?range=`); the activity feed; live workers. The page then keeps itself
    current over the status websocket."""
    status = snapshot()
    chart_range = chosen_range(request) or DEFAULT_RANGE
    return render(request, "dashboard/overview.html", {
        "status": status,
        # Where each change came from, as people say it; overview.js labels live lines the same way.
        "source_labels": SOURCE_LABELS,
        "activity": [(line, SOURCE_LABELS.get(line.source, line.source)) for line in status.activity],
        "history": [s.model_dump(mode="json") for s in chart_samples(RANGES[chart_range])],
        "chart_range": chart_range, "chart_ranges": RANGE_LABELS,
        "chart_bucket_seconds": bucket_seconds(RANGES[chart_range]),
        "recent_errors": SyncError.objects.filter(status=SyncError.Status.OPEN).select_related("mapping")[:20],
        "firing_alerts": list(firing_alerts()),
        "alerts_url": reverse("admin:connectors_alert_changelist"),
    })


def _pause(request: HttpRequest, mapping: ObjectMapping) -> str:
    audited_actions.set_paused(request.user, CONSOLE, mapping, True)
    return f"{mapping.name} is paused: capture stops and queued changes wait in Kafka."


def _resume(request: HttpRequest, mapping: ObjectMapping) -> str:
    audited_actions.set_paused(request.user, CONSOLE, mapping, False)
    return f"{mapping.name} resumed: it catches up from where it stopped."


def _job(kind: str) -> Callable[[HttpRequest, ObjectMapping], str]:
    def start(request: HttpRequest, mapping: ObjectMapping) -> str:
        job = audited_actions.start_job(request.user, CONSOLE, mapping, kind)
        return f"{job.get_kind_display()} of {mapping.name} queued as job #{job.pk}."
    return start


ACTIONS = {"pause": _pause, "resume": _resume, "backfill": _job(SyncJob.Kind.BACKFILL),
           "reconcile": _job(SyncJob.Kind.RECONCILE)}


@console_access
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
