"""What the sync did and is doing: worker heartbeats, record events, metric samples, jobs."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from connectors.models.mappings import ObjectMapping


class WorkerStatus(models.Model):
    """Heartbeat and counters of one worker in one runconsumers process."""

    name = models.CharField(max_length=200)
    host = models.CharField(max_length=200)
    pid = models.IntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    last_beat = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=20, default="running")
    counters = models.JSONField(default=dict)
    last_error = models.TextField(blank=True)

    class Meta:
        unique_together = [("name", "host", "pid")]
        verbose_name_plural = "worker statuses"

    def __str__(self) -> str:
        return f"{self.name}@{self.host}:{self.pid}"


class RecordEvent(models.Model):
    """One line of a record's timeline: a change as the apply side saw it and what became of it.

    Written in bulk once per applied batch, so the timeline costs one insert per batch, not per record.
    """

    class Source(models.TextChoices):
        SALESFORCE = "salesforce", "Salesforce"
        MONGODB = "mongodb", "MongoDB"
        CONSOLE = "console", "Console"

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        MERGED = "merged", "Merged with the other side's changes"
        DELETED = "deleted", "Deleted"
        ECHO = "echo", "Echo of the sync's own write, dropped"
        STALE = "stale", "Older than what the target holds, skipped"
        SUPERSEDED = "superseded", "Superseded by a newer change in the same batch"
        IGNORED = "ignored", "Ignored by the mapping's settings"
        CONFLICT = "conflict", "Conflict"
        HELD = "held", "Held behind an open conflict"
        ERROR = "error", "Error"
        RESOLVED = "resolved", "Conflict resolved"

    mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="record_events")
    salesforce_id = models.CharField(max_length=18, blank=True, db_index=True)
    mongo_id = models.CharField(max_length=100, blank=True, db_index=True)
    source = models.CharField(max_length=12, choices=Source.choices)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    operation = models.CharField(max_length=12, blank=True, help_text="upsert or delete, as captured.")
    source_version = models.CharField(
        max_length=255, blank=True, help_text="SystemModstamp, CDC replay id or MongoDB cluster time."
    )
    topic = models.CharField(max_length=255, blank=True)
    partition = models.IntegerField(null=True, blank=True)
    offset = models.BigIntegerField(null=True, blank=True)
    fields = models.JSONField(default=list, help_text="The fields the change carried or wrote.")
    detail = models.TextField(blank=True)
    event_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.mapping_id} {self.salesforce_id or self.mongo_id}: {self.source} {self.outcome}"


class MetricSample(models.Model):
    """One mapping's figures every few seconds, for the console's charts (kept about an hour).

    Counts are since the previous sample; `*_published_total` keep the capture counters they
    were taken from, so the next sample's delta survives a restart of the sampler.
    """

    mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="metric_samples")
    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    interval_seconds = models.FloatField(default=0.0)
    sf_published_total = models.BigIntegerField(default=0)
    mongo_published_total = models.BigIntegerField(default=0)
    sf_to_mongo_events = models.BigIntegerField(
        default=0, help_text="Salesforce changes captured since the last sample."
    )
    mongo_to_sf_events = models.BigIntegerField(default=0, help_text="MongoDB changes captured since the last sample.")
    sf_to_mongo_lag = models.BigIntegerField(null=True, blank=True, help_text="Kafka messages not yet applied.")
    mongo_to_sf_lag = models.BigIntegerField(null=True, blank=True)
    sf_to_mongo_behind_seconds = models.FloatField(null=True, blank=True)
    mongo_to_sf_behind_seconds = models.FloatField(null=True, blank=True)
    api_used = models.IntegerField(null=True, blank=True)
    api_limit = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["taken_at", "id"]

    def __str__(self) -> str:
        return f"{self.mapping_id} @ {self.taken_at:%H:%M:%S}"


class SyncJob(models.Model):
    """A backfill or reconcile asked for from the console, run by a job-runner worker."""

    class Kind(models.TextChoices):
        BACKFILL = "backfill", "Backfill from Salesforce"
        RECONCILE = "reconcile", "Reconcile both sides"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="jobs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.mapping_id}: {self.state}"
