"""Where each worker stands: capture checkpoints (modstamp, replay id, resume token), applied
offsets and the capture positions and publish marks that survive a broker losing its data."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from connectors.models.connections import KafkaCluster
from connectors.models.mappings import ObjectMapping


class LeasedCheckpoint(models.Model):
    """Where one capture of a mapping resumes. The lease makes that capture a singleton per
    mapping across runconsumers processes (connectors.workers.lease)."""

    events_published = models.BigIntegerField(default=0)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class CaptureCheckpoint(LeasedCheckpoint):
    """Where Salesforce polling resumes: everything up to (modstamp, record_id) is in Kafka.

    Moves only after Kafka acknowledged the events before it.
    """

    mapping = models.OneToOneField(ObjectMapping, on_delete=models.CASCADE, related_name="checkpoint")
    modstamp = models.DateTimeField(null=True, blank=True)
    record_id = models.CharField(max_length=18, blank=True)
    backfill_done = models.BooleanField(default=False)
    backfill_requested = models.BooleanField(
        default=False, help_text="Set by a backfill job; the capture worker restarts from the beginning and clears it."
    )
    # A re-read of the whole mapping (initial load, backfill, CDC fallback) in chunks by Id, run
    # beside live capture (connectors.workers.reread); empty reason: none is running.
    reread_reason = models.CharField(max_length=40, blank=True)
    reread_after_id = models.CharField(max_length=18, blank=True, help_text="Every record up to this Id is in Kafka.")
    reread_since = models.DateTimeField(null=True, blank=True)
    reread_generation = models.IntegerField(default=0)
    reread_total = models.BigIntegerField(null=True, blank=True)
    reread_published = models.BigIntegerField(default=0)
    reread_applied = models.BigIntegerField(default=0, help_text="Rows of this generation applied in MongoDB.")
    # A large re-read runs as one Bulk API 2.0 query job: its id, the locator of the results
    # page holding the next row to publish ("" = the first page), and how many rows of that
    # page are in Kafka already.
    reread_bulk_job = models.CharField(max_length=18, blank=True)
    reread_bulk_locator = models.CharField(max_length=100, blank=True)
    reread_bulk_row = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.mapping.name} @ {self.modstamp} / {self.record_id}"


class ReplayCheckpoint(LeasedCheckpoint):
    """Where Change Data Capture resumes: the replay id of the last event whose changes Kafka
    acknowledged. Empty until the first event."""

    mapping = models.OneToOneField(ObjectMapping, on_delete=models.CASCADE, related_name="replay_checkpoint")
    topic = models.CharField(max_length=255, help_text="e.g. /data/AccountChangeEvent")
    replay_id = models.CharField(max_length=200, blank=True, help_text="Hex; Salesforce keeps events 72 hours.")

    def __str__(self) -> str:
        return f"{self.mapping.name} {self.topic} @ {self.replay_id or 'start'}"


class MongoCheckpoint(LeasedCheckpoint):
    """Where MongoDB capture resumes: the change stream's resume token, moved only after
    Kafka acknowledged the events before it."""

    mapping = models.OneToOneField(ObjectMapping, on_delete=models.CASCADE, related_name="mongo_checkpoint")
    resume_token = models.JSONField(null=True, blank=True)
    cluster_time = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return f"{self.mapping.name} @ {self.cluster_time or 'start'}"


class AppliedOffset(models.Model):
    """The next offset an apply worker's group will read from a partition, recorded right after
    its Kafka commit (which comes after the side effects). Kept here, not only in Kafka, so a
    capture still knows what the other side applied after the broker lost everything.

    `epoch` is the topic's broker-loss epoch (see CapturePosition) the offsets belong to:
    offsets of a lost log mean nothing in the new one."""

    kafka = models.ForeignKey(KafkaCluster, on_delete=models.CASCADE, related_name="applied_offsets")
    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    epoch = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kafka", "topic", "partition"], name="applied_offset_unique")]

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}] applied up to {self.offset} (epoch {self.epoch})"


class CapturePosition(models.Model):
    """A capture's *applied* position: the newest source position (polling watermark, replay id,
    resume token) every change before which the other side has applied. The *published*
    position stays in the capture's own checkpoint. After a broker loss the capture rewinds its
    checkpoint to this and publishes again; `epoch` counts the losses of `topic`, and apply
    workers read the topic again from its start when it moves."""

    name = models.CharField(max_length=200, unique=True, help_text="The capture worker, e.g. sf-capture:accounts.")
    kafka = models.ForeignKey(KafkaCluster, on_delete=models.CASCADE, related_name="capture_positions")
    topic = models.CharField(max_length=255)
    applied = models.JSONField(null=True, blank=True, help_text="Source position all changes before which are applied.")
    applied_at = models.DateTimeField(null=True, blank=True)
    epoch = models.IntegerField(default=0)
    cluster_id = models.CharField(max_length=200, blank=True)
    topic_id = models.CharField(max_length=100, blank=True)
    losses = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} applied @ {self.applied} (epoch {self.epoch})"


class PublishMark(models.Model):
    """One confirmed publish of a capture: the source position it reached and, per partition of
    the capture's topic, the highest offset produced so far in this epoch (cumulative, so the
    newest mark whose offsets are all applied is the applied position)."""

    position = models.ForeignKey(CapturePosition, on_delete=models.CASCADE, related_name="marks")
    source = models.JSONField(null=True)
    offsets = models.JSONField(default=dict, help_text='{"partition": highest offset produced}')
    published = models.PositiveIntegerField(default=0, help_text="Changes this publish carried.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
