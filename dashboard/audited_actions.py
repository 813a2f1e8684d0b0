"""The console's and the REST API's actions, each written to the audit trail (connectors.models.AuditEntry)
with who did it, through which door, and what it changed. Pages and API routes call these rather
than the operations directly, so that both doors record the same thing.

An entry is written for what happened, not for what was asked: a pause of a paused mapping is
no entry; a bulk retry that Kafka stopped half-way records the errors that did go back.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from connectors.models import AuditEntry, Conflict, ObjectMapping, SyncError, SyncJob
from connectors.operations import conflict_queue, controls, error_queue, jobs

Action = AuditEntry.Action


def set_paused(user: Any, via: str, mapping: ObjectMapping, paused: bool) -> bool:
    """Pause or resume the mapping; True if that changed anything (and was recorded)."""
    changed = controls.set_paused(mapping, paused, by=user.get_username())
    if changed:
        AuditEntry.record(user, via, Action.PAUSE if paused else Action.RESUME, f"mapping {mapping.name}",
                          mapping=mapping.name)
    return changed


def start_job(user: Any, via: str, mapping: ObjectMapping, kind: str) -> SyncJob:
    """Queue a backfill or reconcile. Raises jobs.JobRefused (nothing recorded)."""
    job = jobs.start(mapping, kind, requested_by=user.get_username())
    AuditEntry.record(user, via, Action.BACKFILL if kind == SyncJob.Kind.BACKFILL else Action.RECONCILE,
                      f"job {job.pk}", mapping=mapping.name, details={"job": job.pk})
    return job


def resolve(user: Any, via: str, conflict: Conflict, take: Mapping[str, str] | None,
            values: dict[str, Any] | None) -> None:
    """Settle one conflict (see conflict_queue.resolve, whose errors propagate unrecorded)."""
    conflict_queue.resolve(conflict, take=take, values=values, by=user.get_username())
    _record_resolution(user, via, conflict, {"took": take or {}, "typed": sorted(values or {})})


def resolve_by_policy(user: Any, via: str, conflicts: list[Conflict], policy: str) -> tuple[int, dict[int, str]]:
    """Resolve by policy (conflict_queue.resolve_by_policy); records each conflict resolved, also
    those resolved before MongoDB or Kafka stopped the batch."""
    was_open = [c for c in conflicts if c.status == Conflict.Status.OPEN]
    try:
        return conflict_queue.resolve_by_policy(conflicts, policy, by=user.get_username())
    finally:
        for conflict in was_open:
            if conflict.status == Conflict.Status.RESOLVED:
                _record_resolution(user, via, conflict, {"policy": policy})


def _record_resolution(user: Any, via: str, conflict: Conflict, how: dict[str, Any]) -> None:
    AuditEntry.record(
        user, via, Action.RESOLVE, f"conflict {conflict.pk}", mapping=conflict.mapping.name,
        record_key=conflict.salesforce_id or conflict.mongo_id,
        record_alias=conflict.mongo_id if conflict.salesforce_id else "",
        details={"conflict": conflict.pk, "fields": conflict.fields, "values": conflict.resolution, **how},
    )


def retry(user: Any, via: str, errors: list[SyncError]) -> int:
    """Send the open errors back to their topics (error_queue.retry, whose errors propagate)."""
    with _recording(user, via, Action.RETRY, errors, SyncError.Status.RETRIED):
        return error_queue.retry(errors)


def discard(user: Any, via: str, errors: list[SyncError]) -> int:
    with _recording(user, via, Action.DISCARD, errors, SyncError.Status.DISCARDED):
        return error_queue.discard(errors)


@contextmanager
def _recording(user: Any, via: str, action: str, errors: list[SyncError], outcome: str) -> Iterator[None]:
    """Record each error that was open before the block and has `outcome` after it, however it ended."""
    was_open = {e.pk: e for e in errors if e.status == SyncError.Status.OPEN}
    try:
        yield
    finally:
        done = SyncError.objects.filter(pk__in=was_open, status=outcome).values_list("pk", flat=True)
        name = user.get_username()
        AuditEntry.objects.bulk_create([
            AuditEntry(user=name, via=via, action=action, target=f"error {pk}",
                       mapping=_mapping_name(was_open[pk]),
                       record_key=was_open[pk].record_key,
                       details={"error": pk, "code": was_open[pk].code, "topic": was_open[pk].topic})
            for pk in sorted(done)
        ])


def _mapping_name(error: SyncError) -> str:
    return error.mapping.name if error.mapping is not None else ""
