"""The job-runner worker: runs the backfills and reconciles queued from the console."""
from __future__ import annotations

import logging
from collections import Counter

from connectors.models import SyncJob
from connectors.operations import jobs

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0


class JobRunner:
    """Each step settles finished backfills, re-queues orphaned reconciles and takes at most
    one queued job; a reconcile runs to its end inside the step."""

    def __init__(self, owner: str, mapping_names: set[str] | None = None) -> None:
        self.name = jobs.JOB_RUNNER_NAME
        self.owner = owner
        self.mapping_names = mapping_names or None
        self.counters: Counter[str] = Counter()

    def idle_seconds(self) -> float:
        return IDLE_SECONDS

    def step(self) -> bool:
        self.counters["backfills_done"] += jobs.settle_backfills()
        self.counters["requeued"] += jobs.requeue_orphans()
        job = jobs.claim_next(self.owner, self.mapping_names)
        if job is None:
            return False
        log.info("job #%d: %s of %s started", job.pk, job.kind, job.mapping.name)
        if job.kind == SyncJob.Kind.RECONCILE:
            jobs.run_reconcile(job)
        else:
            jobs.request_backfill(job)
        self.counters[f"{job.kind}_started"] += 1
        return True

    def close(self) -> None:
        """A reconcile finishes inside its step; nothing is left in flight."""
