"""What is synced: object and field mappings, their schema drift and snapshots, and platform event relays."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from connectors.models.connections import KafkaCluster, MongoTarget, SalesforceOrg


class ObjectMapping(models.Model):
    class Direction(models.TextChoices):
        SF_TO_MONGO = "sf_to_mongo", "Salesforce → MongoDB"
        MONGO_TO_SF = "mongo_to_sf", "MongoDB → Salesforce"
        BOTH = "both", "Both ways"

    class ConflictPolicy(models.TextChoices):
        SALESFORCE_WINS = "salesforce_wins", "Salesforce wins"
        MONGODB_WINS = "mongodb_wins", "MongoDB wins"
        NEWEST_WINS = "newest_wins", "Newest change wins"
        MANUAL = "manual", "A person decides (conflict queue)"

    class DeleteMode(models.TextChoices):
        REMOVE = "remove", "Remove the document"
        MARK = "mark", "Keep the document, mark it deleted"
        IGNORE = "ignore", "Ignore deletes"

    name = models.SlugField(unique=True)
    org = models.ForeignKey(SalesforceOrg, on_delete=models.PROTECT, related_name="mappings")
    kafka = models.ForeignKey(KafkaCluster, on_delete=models.PROTECT, related_name="mappings")
    mongo = models.ForeignKey(MongoTarget, on_delete=models.PROTECT, related_name="mappings")
    sf_object = models.CharField("Salesforce object", max_length=100)
    collection = models.CharField("MongoDB collection", max_length=100)
    direction = models.CharField(max_length=16, choices=Direction.choices, default=Direction.SF_TO_MONGO)
    key_field = models.CharField(
        "MongoDB key field", max_length=100, default="sf_id", help_text="Holds the Salesforce Id; unique index."
    )
    delete_mode = models.CharField(
        "Salesforce deletes in MongoDB", max_length=16, choices=DeleteMode.choices, default=DeleteMode.REMOVE
    )
    propagate_mongo_deletes = models.BooleanField(
        "MongoDB deletes in Salesforce",
        default=True,
        help_text="Delete the Salesforce record when its document is deleted.",
    )
    conflict_policy = models.CharField(max_length=20, choices=ConflictPolicy.choices, default=ConflictPolicy.MANUAL)
    sf_external_id_field = models.CharField(
        "Salesforce external-id field",
        max_length=100,
        default="Mongo_Id__c",
        help_text="Holds the MongoDB _id; records born in MongoDB are upserted on it, "
        "so a retry never creates a second record.",
    )
    class CaptureMode(models.TextChoices):
        POLLING = "polling", "Polling (SOQL on SystemModstamp)"
        CDC = "cdc", "Change Data Capture (Pub/Sub API)"

    capture_mode = models.CharField(
        "Salesforce capture",
        max_length=10,
        choices=CaptureMode.choices,
        default=CaptureMode.POLLING,
        # The admin shows help text as HTML: no angle brackets in it.
        help_text="Polling reads changed records every poll interval; Change Data Capture streams the "
        "object's change events (e.g. AccountChangeEvent) from the Pub/Sub API (enable CDC for the object "
        "in Setup first).",
    )
    poll_interval_seconds = models.FloatField(default=1.0)
    enabled = models.BooleanField(default=True)
    paused = models.BooleanField(
        default=False, help_text="Held from the console: capture stops and apply leaves the mapping's topics unread, "
        "so resuming catches up from the checkpoints with nothing lost."
    )

    def __str__(self) -> str:
        return f"{self.name}: {self.sf_object} ↔ {self.collection}"

    @property
    def captures_salesforce(self) -> bool:
        return self.enabled and self.direction in (self.Direction.SF_TO_MONGO, self.Direction.BOTH)

    @property
    def captures_mongodb(self) -> bool:
        return self.enabled and self.direction in (self.Direction.MONGO_TO_SF, self.Direction.BOTH)


class FieldMapping(models.Model):
    class Conversion(models.TextChoices):
        AUTO = "auto", "From the Salesforce type"
        STRING = "string", "Text"
        INTEGER = "integer", "Whole number"
        DOUBLE = "double", "Floating-point number"
        DECIMAL = "decimal", "Decimal128"
        BOOLEAN = "boolean", "Boolean"
        DATE = "date", "Date (as a UTC midnight date-time)"
        DATETIME = "datetime", "Date-time"

    mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="fields")
    sf_field = models.CharField("Salesforce field", max_length=100)
    mongo_field = models.CharField("MongoDB field", max_length=100)
    sf_type = models.CharField("Salesforce type", max_length=32, blank=True, help_text="From describe.")
    conversion = models.CharField(max_length=16, choices=Conversion.choices, default=Conversion.AUTO)
    sf_writable = models.BooleanField(
        "Salesforce writable",
        default=True,
        help_text="From describe (createable or updateable); read-only fields are never written back.",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        unique_together = [("mapping", "sf_field"), ("mapping", "mongo_field")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.sf_field} → {self.mongo_field}"


class SchemaDrift(models.Model):
    """A difference between a mapping's field mappings and the Salesforce object's describe,
    open until a person accepts it (the admin's "Accept schema changes")."""

    class Kind(models.TextChoices):
        ADDED = "added", "Field added in Salesforce"
        REMOVED = "removed", "Mapped field removed from Salesforce"
        CHANGED = "changed", "Mapped field changed type"

    mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="schema_drift")
    field = models.CharField("Salesforce field", max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    old_type = models.CharField(max_length=32, blank=True)
    new_type = models.CharField(max_length=32, blank=True)
    detected_at = models.DateTimeField(default=timezone.now)
    accepted = models.BooleanField(default=False, db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["mapping_id", "field"]
        verbose_name_plural = "schema drift"

    def __str__(self) -> str:
        types = f" ({self.old_type or '-'} → {self.new_type or '-'})" if self.kind == self.Kind.CHANGED else ""
        return f"{self.mapping.name}: {self.field} {self.kind}{types}"


class SchemaSnapshot(models.Model):
    """The object's fields (name -> describe type) at the last schema check of a mapping: a field
    is "added" only when it is new since then, not merely left unmapped on purpose."""

    mapping = models.OneToOneField(ObjectMapping, on_delete=models.CASCADE, related_name="schema_snapshot")
    fields = models.JSONField(default=dict)
    checked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.mapping.name}: {len(self.fields)} fields at {self.checked_at:%Y-%m-%d %H:%M}"


class EventRelay(models.Model):
    """A platform event channel carried to a MongoDB collection through a Kafka topic.

    Capture keeps its place in the channel as the replay id of the last event Kafka
    acknowledged; the lease makes it a singleton across runconsumers processes.
    """

    name = models.SlugField(unique=True)
    org = models.ForeignKey(SalesforceOrg, on_delete=models.PROTECT, related_name="relays")
    kafka = models.ForeignKey(KafkaCluster, on_delete=models.PROTECT, related_name="relays")
    mongo = models.ForeignKey(MongoTarget, on_delete=models.PROTECT, related_name="relays")
    channel = models.CharField(max_length=255, help_text="A platform event channel, e.g. /event/Order_Update__e.")
    collection = models.CharField("MongoDB collection", max_length=100)
    enabled = models.BooleanField(default=True)
    replay_id = models.CharField(max_length=64, blank=True, editable=False)
    events_relayed = models.BigIntegerField(default=0, editable=False)
    events_stored = models.BigIntegerField(default=0, editable=False)
    last_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    lease_owner = models.CharField(max_length=200, blank=True, editable=False)
    lease_expires = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.name}: {self.channel} → {self.collection}"
