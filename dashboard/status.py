"""The status snapshot the console page, the REST API and the websocket all show."""
from __future__ import annotations

from django.db.models import Count, Q
from django.utils import timezone

from connectors.models import Conflict, ObjectMapping, SyncError, WorkerStatus
from dashboard.schemas import MappingOut, StatusOut, WorkerOut

HEARTBEAT_STALE_SECONDS = 15


def mapping_rows() -> list[MappingOut]:
    rows = (
        ObjectMapping.objects.select_related("checkpoint")
        .annotate(
            open_errors=Count("errors", filter=Q(errors__status=SyncError.Status.OPEN), distinct=True),
            open_conflicts=Count("conflicts", filter=Q(conflicts__status=Conflict.Status.OPEN), distinct=True),
        )
        .order_by("name")
    )
    out = []
    for m in rows:
        checkpoint = getattr(m, "checkpoint", None)
        out.append(MappingOut(
            name=m.name, sf_object=m.sf_object, collection=m.collection, direction=m.direction,
            direction_label=m.get_direction_display(), conflict_policy=m.conflict_policy,
            conflict_policy_label=m.get_conflict_policy_display(), enabled=m.enabled,
            checkpoint_modstamp=checkpoint.modstamp if checkpoint else None,
            events_published=checkpoint.events_published if checkpoint else 0,
            open_errors=m.open_errors, open_conflicts=m.open_conflicts,
        ))
    return out


def live_workers() -> list[WorkerOut]:
    fresh_after = timezone.now() - timezone.timedelta(seconds=HEARTBEAT_STALE_SECONDS)
    return [WorkerOut.from_orm(w) for w in WorkerStatus.objects.filter(last_beat__gte=fresh_after).order_by("name")]


def snapshot() -> StatusOut:
    return StatusOut(mappings=mapping_rows(), workers=live_workers())
