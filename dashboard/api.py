"""REST API routers: status, mappings, conflicts and errors. Staff only (session or API token)."""
from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from connectors import conflict_queue, controls, error_queue, jobs
from connectors.models import Conflict, ObjectMapping, SyncError, SyncJob
from dashboard.schemas import ConflictOut, ErrorOut, JobOut, MappingOut, Message, ResolveIn, StatusOut
from dashboard.status import job_out, mapping_rows, snapshot

router = Router()


@router.get("/health", response=Message, tags=["status"])
def health(request: HttpRequest) -> Message:
    """The web process answers and its database is reachable."""
    ObjectMapping.objects.exists()
    return Message(detail="ok")


@router.get("/status", response=StatusOut, tags=["status"])
def status(request: HttpRequest) -> StatusOut:
    return snapshot()


@router.get("/mappings", response=list[MappingOut], tags=["mappings"])
def mappings(request: HttpRequest) -> list[MappingOut]:
    return mapping_rows()


def _mapping_out(name: str) -> MappingOut:
    return next(row for row in mapping_rows() if row.name == name)


@router.post("/mappings/{name}/pause", response=MappingOut, tags=["mappings"])
def pause(request: HttpRequest, name: str) -> MappingOut:
    """Hold the mapping: capture stops, apply leaves its topics unread; nothing is lost."""
    controls.set_paused(get_object_or_404(ObjectMapping, name=name), True, by=str(request.auth))
    return _mapping_out(name)


@router.post("/mappings/{name}/resume", response=MappingOut, tags=["mappings"])
def resume(request: HttpRequest, name: str) -> MappingOut:
    """Carry on from the checkpoints and committed offsets."""
    controls.set_paused(get_object_or_404(ObjectMapping, name=name), False, by=str(request.auth))
    return _mapping_out(name)


def _start_job(request: HttpRequest, name: str, kind: str) -> Status:
    try:
        job = jobs.start(get_object_or_404(ObjectMapping, name=name), kind, requested_by=str(request.auth))
    except jobs.JobRefused as exc:
        return Status(409, Message(detail=str(exc)))
    return Status(202, job_out(job))


@router.post("/mappings/{name}/backfill", response={202: JobOut, 409: Message}, tags=["jobs"])
def backfill(request: HttpRequest, name: str) -> Status:
    """Queue a backfill: capture the whole Salesforce object again (GET /jobs/{id} for progress)."""
    return _start_job(request, name, SyncJob.Kind.BACKFILL)


@router.post("/mappings/{name}/reconcile", response={202: JobOut, 409: Message}, tags=["jobs"])
def reconcile(request: HttpRequest, name: str) -> Status:
    """Queue a reconcile: compare both sides and repair drift (GET /jobs/{id} for progress)."""
    return _start_job(request, name, SyncJob.Kind.RECONCILE)


@router.get("/jobs/{job_id}", response=JobOut, tags=["jobs"])
def job(request: HttpRequest, job_id: int) -> JobOut:
    return job_out(get_object_or_404(SyncJob.objects.select_related("mapping"), pk=job_id))


def _conflict_out(conflict: Conflict) -> ConflictOut:
    return ConflictOut(
        id=conflict.pk, mapping=conflict.mapping.name, salesforce_id=conflict.salesforce_id,
        mongo_id=conflict.mongo_id, status=conflict.status, fields=conflict.fields,
        base_values=conflict.base_values, salesforce_values=conflict.salesforce_values,
        mongo_values=conflict.mongo_values, created_at=conflict.created_at, resolution=conflict.resolution,
    )


@router.get("/conflicts", response=list[ConflictOut], tags=["conflicts"])
def conflicts(request: HttpRequest, mapping: str | None = None, status: str = "open") -> list[ConflictOut]:
    rows = Conflict.objects.select_related("mapping").filter(status=status)
    if mapping:
        rows = rows.filter(mapping__name=mapping)
    return [_conflict_out(c) for c in rows[:500]]


@router.get("/conflicts/{conflict_id}", response=ConflictOut, tags=["conflicts"])
def conflict(request: HttpRequest, conflict_id: int) -> ConflictOut:
    return _conflict_out(get_object_or_404(Conflict.objects.select_related("mapping"), pk=conflict_id))


@router.post("/conflicts/{conflict_id}/resolve", response={200: ConflictOut, 422: Message}, tags=["conflicts"])
def resolve(request: HttpRequest, conflict_id: int, choice: ResolveIn) -> ConflictOut:
    """Settle every disputed field; the result reaches both sides through the normal pipeline."""
    row = get_object_or_404(Conflict.objects.select_related("mapping"), pk=conflict_id)
    conflict_queue.resolve(row, take=choice.take, values=choice.values, by=str(request.auth))
    row.refresh_from_db()
    return _conflict_out(row)


def _error_out(error: SyncError) -> ErrorOut:
    return ErrorOut(
        id=error.pk, mapping=error.mapping.name if error.mapping else None, stage=error.stage, status=error.status,
        code=error.code, message=error.message, record_key=error.record_key, payload=error.payload,
        topic=error.topic, partition=error.partition, offset=error.offset, created_at=error.created_at,
    )


@router.get("/errors", response=list[ErrorOut], tags=["errors"])
def errors(request: HttpRequest, mapping: str | None = None, stage: str | None = None) -> list[ErrorOut]:
    return [_error_out(e) for e in error_queue.open_errors(mapping, stage)[:500]]


@router.post("/errors/{error_id}/retry", response={200: Message, 409: Message}, tags=["errors"])
def retry(request: HttpRequest, error_id: int) -> Message:
    error_queue.retry([get_object_or_404(SyncError, pk=error_id)])
    return Message(detail="sent back to its topic")


@router.post("/errors/{error_id}/discard", response=Message, tags=["errors"])
def discard(request: HttpRequest, error_id: int) -> Message:
    error_queue.discard([get_object_or_404(SyncError, pk=error_id)])
    return Message(detail="discarded")
