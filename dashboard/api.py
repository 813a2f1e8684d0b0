"""REST API routers: status, mappings, conflicts and errors. Viewers read, operators act (session or
API token; dashboard.api_auth); every action is written to the audit trail."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from connectors.models import AuditEntry, Conflict, ObjectMapping, SyncError, SyncJob
from connectors.operations import error_queue, jobs
from connectors.version import product_version
from dashboard import audited_actions
from dashboard.schemas import (
    ConflictOut,
    ErrorOut,
    HealthOut,
    JobOut,
    MappingOut,
    Message,
    ResolveIn,
    StatusOut,
    ValidationErrors,
    answers,
)
from dashboard.status import job_out, mapping_rows, snapshot

router = Router()
API = AuditEntry.Via.API


@router.get("/health", response=answers({200: HealthOut}), tags=["status"])
def health(request: HttpRequest) -> HealthOut:
    """The web process answers and its database is reachable; `version` is the product's."""
    ObjectMapping.objects.exists()
    return HealthOut(detail="ok", version=product_version())


@router.get("/status", response=answers({200: StatusOut}), tags=["status"])
def status(request: HttpRequest) -> StatusOut:
    return snapshot()


@router.get("/mappings", response=answers({200: list[MappingOut]}), tags=["mappings"])
def mappings(request: HttpRequest) -> list[MappingOut]:
    return mapping_rows()


def _user(request: HttpRequest) -> Any:
    """The user the router's authentication put on the request, for the audit trail."""
    return request.auth  # type: ignore[attr-defined]  # set by django-ninja, unknown to Django's types


def _mapping_out(name: str) -> MappingOut:
    return next(row for row in mapping_rows() if row.name == name)


@router.post("/mappings/{name}/pause", response=answers({200: MappingOut}, 404), tags=["mappings"])
def pause(request: HttpRequest, name: str) -> MappingOut:
    """Hold the mapping: capture stops, apply leaves its topics unread; nothing is lost."""
    audited_actions.set_paused(_user(request), API, get_object_or_404(ObjectMapping, name=name), True)
    return _mapping_out(name)


@router.post("/mappings/{name}/resume", response=answers({200: MappingOut}, 404), tags=["mappings"])
def resume(request: HttpRequest, name: str) -> MappingOut:
    """Carry on from the checkpoints and committed offsets."""
    audited_actions.set_paused(_user(request), API, get_object_or_404(ObjectMapping, name=name), False)
    return _mapping_out(name)


def _start_job(request: HttpRequest, name: str, kind: str) -> Status:
    try:
        job = audited_actions.start_job(_user(request), API, get_object_or_404(ObjectMapping, name=name), kind)
    except jobs.JobRefused as exc:
        return Status(409, Message(detail=str(exc)))
    return Status(202, job_out(job))


@router.post("/mappings/{name}/backfill", response=answers({202: JobOut}, 404, 409), tags=["jobs"])
def backfill(request: HttpRequest, name: str) -> Status:
    """Queue a backfill: capture the whole Salesforce object again (GET /jobs/{id} for progress)."""
    return _start_job(request, name, SyncJob.Kind.BACKFILL)


@router.post("/mappings/{name}/reconcile", response=answers({202: JobOut}, 404, 409), tags=["jobs"])
def reconcile(request: HttpRequest, name: str) -> Status:
    """Queue a reconcile: compare both sides and repair drift (GET /jobs/{id} for progress)."""
    return _start_job(request, name, SyncJob.Kind.RECONCILE)


@router.get("/jobs/{job_id}", response=answers({200: JobOut}, 404, 422), tags=["jobs"])
def job(request: HttpRequest, job_id: int) -> JobOut:
    return job_out(get_object_or_404(SyncJob.objects.select_related("mapping"), pk=job_id))


def _conflict_out(conflict: Conflict) -> ConflictOut:
    return ConflictOut(
        id=conflict.pk, mapping=conflict.mapping.name, salesforce_id=conflict.salesforce_id,
        mongo_id=conflict.mongo_id, status=conflict.status, fields=conflict.fields,
        base_values=conflict.base_values, salesforce_values=conflict.salesforce_values,
        mongo_values=conflict.mongo_values, created_at=conflict.created_at, resolution=conflict.resolution,
    )


@router.get("/conflicts", response=answers({200: list[ConflictOut]}), tags=["conflicts"])
def conflicts(request: HttpRequest, mapping: str | None = None, status: str = "open") -> list[ConflictOut]:
    rows = Conflict.objects.select_related("mapping").filter(status=status)
    if mapping:
        rows = rows.filter(mapping__name=mapping)
    return [_conflict_out(c) for c in rows[:500]]


@router.get("/conflicts/{conflict_id}", response=answers({200: ConflictOut}, 404, 422), tags=["conflicts"])
def conflict(request: HttpRequest, conflict_id: int) -> ConflictOut:
    return _conflict_out(get_object_or_404(Conflict.objects.select_related("mapping"), pk=conflict_id))


@router.post("/conflicts/{conflict_id}/resolve", response={**answers({200: ConflictOut}, 400, 404, 503),
             422: ValidationErrors | Message}, tags=["conflicts"])
def resolve(request: HttpRequest, conflict_id: int, choice: ResolveIn) -> ConflictOut:
    """Settle every disputed field; the result reaches both sides through the normal pipeline."""
    row = get_object_or_404(Conflict.objects.select_related("mapping"), pk=conflict_id)
    audited_actions.resolve(_user(request), API, row, choice.take, choice.values)
    row.refresh_from_db()
    return _conflict_out(row)


def _error_out(error: SyncError) -> ErrorOut:
    return ErrorOut(
        id=error.pk, mapping=error.mapping.name if error.mapping else None, stage=error.stage, status=error.status,
        code=error.code, message=error.message, record_key=error.record_key, payload=error.payload,
        topic=error.topic, partition=error.partition, offset=error.offset, created_at=error.created_at,
    )


@router.get("/errors", response=answers({200: list[ErrorOut]}), tags=["errors"])
def errors(request: HttpRequest, mapping: str | None = None, stage: str | None = None) -> list[ErrorOut]:
    return [_error_out(e) for e in error_queue.open_errors(mapping, stage)[:500]]


@router.post("/errors/{error_id}/retry", response=answers({200: Message}, 404, 409, 422, 503), tags=["errors"])
def retry(request: HttpRequest, error_id: int) -> Message:
    audited_actions.retry(_user(request), API, [get_object_or_404(SyncError, pk=error_id)])
    return Message(detail="sent back to its topic")


@router.post("/errors/{error_id}/discard", response=answers({200: Message}, 404, 422), tags=["errors"])
def discard(request: HttpRequest, error_id: int) -> Message:
    audited_actions.discard(_user(request), API, [get_object_or_404(SyncError, pk=error_id)])
    return Message(detail="discarded")
