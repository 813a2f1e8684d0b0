"""A key range of a split re-read: one slice of the object's Id space, read by whichever
runconsumers process holds its lease (connectors.workers.reread_ranges)."""
from __future__ import annotations

from django.db import models

from connectors.models.checkpoints import CaptureCheckpoint


class RereadRange(models.Model):
    """Records with after_id < Id <= upto_id of the re-read `generation` of a capture checkpoint.
    `after_id` is the position: every record of the range up to it is in Kafka; it moves only
    after Kafka acknowledged them. A large range reads through one Bulk API 2.0 job, whose
    position (job, page locator, rows of that page in Kafka) is kept here as on the checkpoint."""

    checkpoint = models.ForeignKey(CaptureCheckpoint, on_delete=models.CASCADE, related_name="reread_ranges")
    generation = models.IntegerField(help_text="The checkpoint's re-read generation this range belongs to.")
    number = models.PositiveIntegerField(help_text="Order of the range in the Id space, from 0.")
    after_id = models.CharField(max_length=18, blank=True, help_text="Every record up to this Id is in Kafka.")
    upto_id = models.CharField(max_length=18, blank=True, help_text="Last Id of the range; empty: no upper bound.")
    estimate = models.BigIntegerField(default=0, help_text="Records expected in the range.")
    published = models.BigIntegerField(default=0)
    done = models.BooleanField(default=False)
    bulk_job = models.CharField(max_length=18, blank=True)
    bulk_locator = models.CharField(max_length=100, blank=True)
    bulk_row = models.IntegerField(default=0)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["checkpoint", "generation", "number"],
                                               name="reread_range_unique")]
        ordering = ["checkpoint", "generation", "number"]

    def __str__(self) -> str:
        return f"key range {self.number} of {self.checkpoint_id}/{self.generation}: ({self.after_id}, {self.upto_id}]"
