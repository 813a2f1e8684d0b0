"""What waits for a person: errors, conflicts, and the changes held behind a conflict."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from connectors.models.mappings import ObjectMapping


class SyncError(models.Model):
    """A change that could not be applied, kept with its payload so a person can retry it."""

    class Stage(models.TextChoices):
        DECODE = "decode", "Envelope decode/validation"
        CONVERT = "convert", "Field conversion"
        MONGO_WRITE = "mongo_write", "MongoDB write"
        SALESFORCE_WRITE = "salesforce_write", "Salesforce write"
        CAPTURE = "capture", "Capture"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RETRIED = "retried", "Retried"
        DISCARDED = "discarded", "Discarded"

    mapping = models.ForeignKey(ObjectMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="errors")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    record_key = models.CharField(max_length=200, blank=True, db_index=True)
    code = models.CharField(max_length=100, blank=True)
    message = models.TextField()
    payload = models.TextField(help_text="The message as received, so it can be replayed.")
    topic = models.CharField(max_length=255, blank=True)
    message_key = models.CharField(max_length=255, blank=True, help_text="The Kafka key, kept for a retry.")
    partition = models.IntegerField(null=True, blank=True)
    offset = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.stage} {self.code}: {self.message[:60]}"


class Conflict(models.Model):
    """A record changed on both sides with different values in the same fields, left for a person."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="conflicts")
    salesforce_id = models.CharField(max_length=18, blank=True, db_index=True)
    mongo_id = models.CharField(max_length=100, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    fields = models.JSONField(help_text="Names of the fields in dispute (Salesforce names).")
    base_values = models.JSONField()
    salesforce_values = models.JSONField()
    mongo_values = models.JSONField()
    salesforce_changed_at = models.DateTimeField(null=True, blank=True)
    mongo_changed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.JSONField(null=True, blank=True, help_text="The values chosen, by field.")
    resolved_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # One open conflict per record (opened only by conflict_queue.open_conflict).
        constraints = [
            models.UniqueConstraint(fields=["mapping", "salesforce_id"], name="one_open_conflict_per_salesforce_id",
                                    condition=models.Q(status="open") & ~models.Q(salesforce_id="")),
            models.UniqueConstraint(fields=["mapping", "mongo_id"], name="one_open_conflict_per_mongo_id",
                                    condition=models.Q(status="open") & ~models.Q(mongo_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.mapping.name} {self.salesforce_id or self.mongo_id}: {', '.join(self.fields)}"


class WaitingChange(models.Model):
    """A change to a record with an open conflict: it waits, in order, until the conflict is resolved."""

    conflict = models.ForeignKey(Conflict, on_delete=models.CASCADE, related_name="waiting")
    topic = models.CharField(max_length=255)
    key = models.CharField(max_length=200)
    payload = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
