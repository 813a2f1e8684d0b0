"""Backfill and reconcile jobs asked for from the console: queued as SyncJob rows, claimed by
one job-runner worker (a conditional UPDATE, so any number of runconsumers processes may run
one), with their progress written as they go.

A backfill is not run by the job runner itself: it asks the mapping's capture worker (the
one holding the capture lease) to re-read the object beside live capture, and writes the
job's progress from the capture checkpoint (rows read, rows applied in MongoDB); the job is
done once the last re-read row is applied. A reconcile runs inside the job runner.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from django.utils import timezone

from connectors.models import CaptureCheckpoint, ObjectMapping, SyncJob
from connectors.operations.metrics import HEARTBEAT_STALE_SECONDS, fresh_workers
from connectors.operations.reconcile import reconcile

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The job runner's worker name; its heartbeat tells whether a running job's runner is alive.
JOB_RUNNER_NAME = "jobs"
PROGRESS_EVERY_SECONDS = 0.5
ACTIVE = (SyncJob.State.QUEUED, SyncJob.State.RUNNING)


class JobRefused(ValueError):
    """A job that cannot start; str() says why in one line."""


def start(mapping: ObjectMapping, kind: str, requested_by: str = "") -> SyncJob:
    """Queue a job. Raises JobRefused for an unknown kind, a mapping that cannot take it, or a
    job of the same kind already queued or running for the mapping."""
    if kind not in SyncJob.Kind.values:
        raise JobRefused(f"unknown job kind {kind!r}: choose {' or '.join(SyncJob.Kind.values)}")
    if not mapping.enabled:
        raise JobRefused(f"mapping {mapping.name} is disabled: enable it in the admin first")
    if kind == SyncJob.Kind.BACKFILL and not mapping.captures_salesforce:
        raise JobRefused(f"mapping {mapping.name} does not capture from Salesforce, so there is nothing to backfill")
    active = SyncJob.objects.filter(mapping=mapping, kind=kind, state__in=ACTIVE).first()
    if active is not None:
        raise JobRefused(f"a {kind} of {mapping.name} is already {active.state} (job #{active.pk})")
    return SyncJob.objects.create(mapping=mapping, kind=kind, requested_by=requested_by,
                                  message="waiting for a job runner (manage.py runconsumers)")


def claim_next(owner: str, mapping_names: set[str] | None = None) -> SyncJob | None:
    """Take the oldest queued job (of these mappings); None when there is none to take."""
    queued = SyncJob.objects.filter(state=SyncJob.State.QUEUED).order_by("created_at", "id")
    if mapping_names:
        queued = queued.filter(mapping__name__in=mapping_names)
    for pk in queued.values_list("pk", flat=True)[:10]:
        taken = SyncJob.objects.filter(pk=pk, state=SyncJob.State.QUEUED).update(
            state=SyncJob.State.RUNNING, claimed_by=owner, started_at=timezone.now(), message="started")
        if taken == 1:
            return SyncJob.objects.select_related("mapping").get(pk=pk)
    return None


def requeue_orphans() -> int:
    """Put back in the queue the reconciles whose job runner stopped beating (its process
    died); a reconcile is safe to run again. Returns how many."""
    alive = [f"{host}:{pid}" for host, pid in fresh_workers().filter(name=JOB_RUNNER_NAME)
             .exclude(state="stopped").values_list("host", "pid")]
    # A runner that has just started has not beaten yet: leave its fresh jobs alone.
    settled = timezone.now() - timedelta(seconds=HEARTBEAT_STALE_SECONDS)
    return SyncJob.objects.filter(kind=SyncJob.Kind.RECONCILE, state=SyncJob.State.RUNNING,
                                  started_at__lt=settled).exclude(claimed_by__in=alive).update(
        state=SyncJob.State.QUEUED, message="queued again: the worker running it stopped")


def finish(job_id: int, state: str, message: str) -> None:
    SyncJob.objects.filter(pk=job_id).update(state=state, message=message[:2000], finished_at=timezone.now())


class Progress:
    """Writes a job's progress at most every PROGRESS_EVERY_SECONDS (and always at the end)."""

    def __init__(self, jobs: Any, every: float = PROGRESS_EVERY_SECONDS) -> None:
        self._jobs = jobs
        self._every = every
        self._written_at = 0.0

    def __call__(self, done: int, total: int | None, message: str = "") -> None:
        now = time.monotonic()
        if now - self._written_at < self._every and (total is None or done < total):
            return
        self._written_at = now
        fields: dict[str, Any] = {"progress_done": done, "progress_total": total, "updated_at": timezone.now()}
        if message:
            fields["message"] = message
        self._jobs.update(**fields)


def counted(items: Iterable[T], total: int, progress: Progress) -> Iterator[T]:
    """Yield the items, reporting how many were handed out."""
    done = 0
    progress(done, total)
    for item in items:
        yield item
        done += 1
        progress(done, total)
    progress(done, total)


# -- reconcile ----------------------------------------------------------------------------
def run_reconcile(job: SyncJob) -> None:
    """Run a claimed reconcile to its end; the job ends done (with what changed) or failed."""
    mapping = ObjectMapping.objects.select_related("org", "mongo").get(pk=job.mapping_id)
    progress = Progress(SyncJob.objects.filter(pk=job.pk))
    progress(0, None, "reading both sides")
    try:
        report = reconcile(mapping, progress=lambda items, total: counted(items, total, progress))
    except Exception as exc:
        log.exception("reconcile job #%d of %s failed", job.pk, mapping.name)
        finish(job.pk, SyncJob.State.FAILED, f"{type(exc).__name__}: {exc}")
        return
    changed = ", ".join(f"{kind} {count}" for kind, count in sorted(report.changes.items())) or "nothing"
    finish(job.pk, SyncJob.State.DONE, f"compared {report.compared} documents; changed: {changed}")


# -- backfill -----------------------------------------------------------------------------
def request_backfill(job: SyncJob) -> None:
    """Ask the mapping's capture worker (polling or CDC) to re-read the whole object beside
    live capture (it takes the request at its next poll; see connectors.workers.reread)."""
    CaptureCheckpoint.objects.get_or_create(mapping_id=job.mapping_id)
    CaptureCheckpoint.objects.filter(mapping_id=job.mapping_id).update(backfill_requested=True, backfill_done=False)
    SyncJob.objects.filter(pk=job.pk).update(message="waiting for the capture worker to take it")


def backfill_state(checkpoint: Mapping[str, Any]) -> tuple[bool, int, int | None, str]:
    """(finished, done, total, message) of the backfill a capture checkpoint is running: done
    counts the rows applied in MongoDB; finished once every re-read row is applied."""
    applied, published, total = checkpoint["reread_applied"], checkpoint["reread_published"], checkpoint["reread_total"]
    if checkpoint["backfill_requested"]:
        return False, 0, None, "waiting for the capture worker to take it"
    if checkpoint["reread_reason"]:
        return False, applied, total, (f"re-reading from Salesforce beside live changes: {published} of "
                                       f"{total if total is not None else '?'} read, {applied} applied in MongoDB")
    if applied < published:
        return False, applied, published, f"all {published} records read; {applied} applied in MongoDB"
    return True, published, published, f"re-read {published} records from Salesforce; all are in MongoDB"


def settle_backfills() -> int:
    """Write the progress of the running backfills from their capture checkpoints, and mark
    done those whose every re-read row is applied in MongoDB; returns how many finished."""
    finished = 0
    running = SyncJob.objects.filter(kind=SyncJob.Kind.BACKFILL, state=SyncJob.State.RUNNING)
    for job_id, mapping_id in running.values_list("pk", "mapping_id"):
        checkpoint = CaptureCheckpoint.objects.filter(mapping_id=mapping_id).values(
            "backfill_requested", "backfill_done", "reread_reason", "reread_total", "reread_published",
            "reread_applied").first()
        if checkpoint is None:
            continue
        done, count, total, message = backfill_state(checkpoint)
        SyncJob.objects.filter(pk=job_id).update(progress_done=count, progress_total=total, message=message,
                                                 updated_at=timezone.now())
        if done and checkpoint["backfill_done"]:
            finish(job_id, SyncJob.State.DONE, message)
            finished += 1
    return finished
