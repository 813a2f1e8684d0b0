"""The status snapshot the console page, the REST API, the websocket and /metrics all show.

Everything is read from the database, where workers in any process or machine write their
heartbeats, checkpoints, samples, jobs and timeline lines: the web process needs no channel
layer to know what they are doing.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Max, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from connectors.models import (
    Conflict,
    EventRelay,
    MetricSample,
    ObjectMapping,
    SyncError,
    SyncJob,
    WorkerStatus,
)
from connectors.operations import timeline, write_path
from connectors.operations.metrics import (
    DIRECTIONS,
    HEARTBEAT_STALE_SECONDS,
    api_limit_pause,
    checkpoints,
    fresh_workers,
    open_drift_counts,
    worker_trouble,
)
from connectors.operations.platform_events import relay_topic_of
from dashboard.formatting import cluster_time_at
from dashboard.schemas import (
    ActivityOut,
    JobOut,
    MappingOut,
    MappingState,
    RelayOut,
    SampleOut,
    StatusOut,
    WorkerOut,
)

__all__ = ["HEARTBEAT_STALE_SECONDS", "mapping_rows", "live_workers", "snapshot", "activity"]

#: Errors parked this recently make a mapping "failing".
RECENT_ERRORS = timedelta(minutes=1)
#: A sample older than this no longer describes the present (the sampler stopped).
SAMPLE_FRESH = timedelta(seconds=30)
ACTIVITY_ROWS = 25


def _url(name: str, query: str = "", **kwargs: str) -> str | None:
    """A console URL, or None while the page that serves it does not exist."""
    try:
        return reverse(name, kwargs=kwargs or None) + query
    except NoReverseMatch:
        return None


def _rate(events: int, seconds: float) -> float | None:
    return round(events / seconds, 2) if seconds > 0 else None


def job_out(job: SyncJob) -> JobOut:
    total = job.progress_total
    percent = min(100, int(job.progress_done * 100 / total)) if total else (100 if job.state == "done" else None)
    return JobOut(id=job.pk, kind=job.kind, mapping=job.mapping.name, state=job.state,
                  progress_done=job.progress_done, progress_total=total, percent=percent, message=job.message,
                  requested_by=job.requested_by, created_at=job.created_at, started_at=job.started_at,
                  finished_at=job.finished_at)


def _latest_jobs() -> dict[int, list[JobOut]]:
    """Per mapping, the newest job of each kind."""
    newest = SyncJob.objects.values("mapping_id", "kind").annotate(last=Max("id")).values_list("last", flat=True)
    found: dict[int, list[JobOut]] = {}
    for job in SyncJob.objects.filter(pk__in=list(newest)).select_related("mapping").order_by("kind"):
        found.setdefault(job.mapping_id, []).append(job_out(job))
    return found


def _latest_samples(mapping_ids: list[int]) -> dict[int, MetricSample]:
    since = timezone.now() - SAMPLE_FRESH
    newest = (MetricSample.objects.filter(mapping_id__in=mapping_ids, taken_at__gte=since)
              .values("mapping_id").annotate(last=Max("id")).values_list("last", flat=True))
    return {s.mapping_id: s for s in MetricSample.objects.filter(pk__in=list(newest))}


def _state(mapping: ObjectMapping, workers: list[WorkerStatus], recent_errors: int,
           sample: MetricSample | None) -> tuple[MappingState, str]:
    """running / paused / failing / idle, and why, in a few words."""
    if not mapping.enabled:
        return "idle", "disabled in the admin"
    if mapping.paused:
        return "paused", "paused from the console"
    api_pause = api_limit_pause(mapping, workers)
    if api_pause:
        return "paused", api_pause
    trouble = worker_trouble(mapping, workers)
    if trouble:
        return "failing", trouble
    if recent_errors:
        changes = "change" if recent_errors == 1 else "changes"
        return "failing", f"{recent_errors} {changes} parked as errors in the last minute"
    if sample is not None and (sample.sf_to_mongo_events or sample.mongo_to_sf_events
                               or sample.sf_to_mongo_lag or sample.mongo_to_sf_lag):
        return "running", "changes flowing"
    return "idle", "nothing to sync"


def _write_back(mapping: ObjectMapping, workers: list[WorkerStatus]) -> str:
    """The API-budget governor's latest choice for this mapping's writes to Salesforce, or ""."""
    if not mapping.captures_mongodb:
        return ""
    for worker in workers:
        if worker.name == f"sf-apply:{mapping.kafka.name}" and worker.state != "stopped":
            line = write_path.described(worker.counters, mapping.pk)
            if line:
                return line
    return ""


def mapping_rows() -> list[MappingOut]:
    rows = list(ObjectMapping.objects.select_related("kafka").order_by("name"))
    ids = [m.pk for m in rows]
    # Counted one table at a time: annotating errors and conflicts together would join them.
    open_errors = _per_mapping(SyncError.objects.filter(status=SyncError.Status.OPEN))
    open_conflicts = _per_mapping(Conflict.objects.filter(status=Conflict.Status.OPEN))
    recent_errors = _per_mapping(SyncError.objects.filter(created_at__gte=timezone.now() - RECENT_ERRORS))
    points = checkpoints(ids)
    samples = _latest_samples(ids)
    jobs = _latest_jobs()
    drift = open_drift_counts()
    workers = list(fresh_workers())
    out = []
    for m in rows:
        point, sample = points[m.pk], samples.get(m.pk)
        state, reason = _state(m, workers, recent_errors.get(m.pk, 0), sample)
        figures = _figures(sample)
        out.append(MappingOut(
            name=m.name, sf_object=m.sf_object, collection=m.collection, direction=m.direction,
            direction_label=m.get_direction_display(), conflict_policy=m.conflict_policy,
            conflict_policy_label=m.get_conflict_policy_display(), enabled=m.enabled, paused=m.paused,
            state=state, state_reason=reason, capture_mode=m.capture_mode, checkpoint_modstamp=point.sf_modstamp,
            mongo_resume_point=point.mongo_cluster_time, mongo_resume_at=cluster_time_at(point.mongo_cluster_time),
            cdc_replay_id=point.cdc_replay_id, cdc_replay_at=point.cdc_replay_at,
            events_published=point.sf_published + point.mongo_published, **figures,
            open_errors=open_errors.get(m.pk, 0), open_conflicts=open_conflicts.get(m.pk, 0),
            open_drift=drift.get(m.pk, 0), write_back=_write_back(m, workers),
            errors_url=_url("errors", f"?mapping={m.name}"), conflicts_url=_url("conflicts", f"?mapping={m.name}"),
            jobs=jobs.get(m.pk, []),
        ))
    return out


def _per_mapping(rows: QuerySet) -> dict[int, int]:
    """How many of `rows` each mapping has, by mapping id (mappings with none are left out)."""
    return dict(rows.order_by().values("mapping_id").annotate(n=Count("id")).values_list("mapping_id", "n"))


def _figures(sample: MetricSample | None) -> dict[str, Any]:
    if sample is None:
        return {}
    figures: dict[str, Any] = {f"{d}_{name}": getattr(sample, f"{d}_{name}")
                               for d in DIRECTIONS for name in ("lag", "behind_seconds")}
    figures.update(_rates(sample), api_used=sample.api_used, api_limit=sample.api_limit)
    return figures


def _rates(sample: MetricSample) -> dict[str, float | None]:
    return {f"{d}_rate": _rate(getattr(sample, f"{d}_events"), sample.interval_seconds) for d in DIRECTIONS}


def live_workers() -> list[WorkerOut]:
    return [WorkerOut.from_orm(w) for w in fresh_workers().order_by("name")]


def activity(limit: int = ACTIVITY_ROWS) -> list[ActivityOut]:
    """The newest timeline lines of live changes of every mapping, newest first."""
    lines = timeline.live_lines().select_related("mapping")[:limit]
    out = []
    for line in lines:
        key = line.salesforce_id or line.mongo_id
        out.append(ActivityOut(
            id=line.pk, mapping=line.mapping.name, record_key=key,
            timeline_url=_url("record-timeline", mapping=line.mapping.name, key=key) if key else None,
            source=line.source, outcome=line.outcome, outcome_label=line.get_outcome_display(),
            operation=line.operation, created_at=line.created_at,
        ))
    return out


def _sample_out(sample: MetricSample) -> SampleOut:
    return SampleOut(mapping=sample.mapping.name, taken_at=sample.taken_at, **_rates(sample),
                     sf_to_mongo_lag=sample.sf_to_mongo_lag, mongo_to_sf_lag=sample.mongo_to_sf_lag)


def snapshot() -> StatusOut:
    """Mappings, live workers, recent activity and each mapping's newest sample (for the charts)."""
    latest = MetricSample.objects.filter(
        pk__in=MetricSample.objects.values("mapping_id").annotate(last=Max("id")).values_list("last", flat=True)
    ).select_related("mapping")
    return StatusOut(mappings=mapping_rows(), workers=live_workers(), activity=activity(),
                     samples=[_sample_out(s) for s in latest], relays=relay_rows())


def relay_rows() -> list[RelayOut]:
    return [
        RelayOut(name=r.name, channel=r.channel, topic=relay_topic_of(r),
                 collection=r.collection, enabled=r.enabled, events_relayed=r.events_relayed,
                 events_stored=r.events_stored, last_event_at=r.last_event_at, replay_id=r.replay_id)
        for r in EventRelay.objects.select_related("kafka").order_by("name")
    ]
