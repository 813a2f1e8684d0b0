"""Sync state kept in Django's database: connections, mappings, checkpoints, errors.

Secrets are stored with Fernet encryption (FIELD_ENCRYPTION_KEY) and the admin
never renders them back.
"""
from __future__ import annotations

from django.db import models
from django.utils import timezone
from encrypted_model_fields.fields import EncryptedCharField, EncryptedTextField


class SalesforceOrg(models.Model):
    class AuthFlow(models.TextChoices):
        OAUTH_PASSWORD = "oauth_password", "OAuth 2.0 username-password (connected app)"
        CLIENT_CREDENTIALS = "client_credentials", "OAuth 2.0 client credentials (connected app)"
        SOAP_PASSWORD = "soap_password", "SOAP login: username, password and security token"

    name = models.SlugField(unique=True)
    login_url = models.URLField(
        help_text="https://login.salesforce.com, https://test.salesforce.com, your My Domain, "
        "or the emulator's address."
    )
    auth_flow = models.CharField(max_length=32, choices=AuthFlow.choices, default=AuthFlow.OAUTH_PASSWORD)
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedCharField(max_length=255, blank=True)
    security_token = EncryptedCharField(max_length=255, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret = EncryptedCharField(max_length=255, blank=True)
    api_version = models.CharField(max_length=8, default="62.0")
    ca_bundle = models.CharField(
        max_length=500, blank=True, help_text="Path to a CA bundle for a private CA; empty uses the system CAs."
    )

    def __str__(self) -> str:
        return self.name


class KafkaCluster(models.Model):
    name = models.SlugField(unique=True)
    bootstrap_servers = models.CharField(max_length=500)
    topic_prefix = models.CharField(max_length=100, default="sync")
    partitions = models.PositiveIntegerField(default=3)
    replication_factor = models.PositiveIntegerField(default=1)
    security_protocol = models.CharField(
        max_length=20,
        default="PLAINTEXT",
        choices=[(p, p) for p in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")],
    )
    sasl_mechanism = models.CharField(max_length=20, blank=True, help_text="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    sasl_username = models.CharField(max_length=255, blank=True)
    sasl_password = EncryptedCharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.name


class MongoTarget(models.Model):
    name = models.SlugField(unique=True)
    uri = EncryptedTextField(help_text="mongodb:// or mongodb+srv:// URI; may hold credentials, stored encrypted.")
    database = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.name} ({self.database})"


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
        "MongoDB deletes in Salesforce", default=True, help_text="Delete the Salesforce record when its document is deleted."
    )
    conflict_policy = models.CharField(max_length=20, choices=ConflictPolicy.choices, default=ConflictPolicy.MANUAL)
    sf_external_id_field = models.CharField(
        "Salesforce external-id field",
        max_length=100,
        default="Mongo_Id__c",
        help_text="Holds the MongoDB _id; records born in MongoDB are upserted on it, so a retry never creates a second record.",
    )
    poll_interval_seconds = models.FloatField(default=1.0)
    enabled = models.BooleanField(default=True)

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
        "Salesforce writable", default=True, help_text="From describe (createable or updateable); read-only fields are never written back."
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        unique_together = [("mapping", "sf_field"), ("mapping", "mongo_field")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.sf_field} → {self.mongo_field}"


class CaptureCheckpoint(models.Model):
    """Where Salesforce polling resumes: everything up to (modstamp, record_id) is in Kafka.

    Moves only after Kafka acknowledged the events before it. The lease makes
    capture a singleton per mapping across runconsumers processes.
    """

    mapping = models.OneToOneField(ObjectMapping, on_delete=models.CASCADE, related_name="checkpoint")
    modstamp = models.DateTimeField(null=True, blank=True)
    record_id = models.CharField(max_length=18, blank=True)
    backfill_done = models.BooleanField(default=False)
    events_published = models.BigIntegerField(default=0)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.mapping.name} @ {self.modstamp} / {self.record_id}"


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


class MongoCheckpoint(models.Model):
    """Where MongoDB capture resumes: the change stream's resume token, moved only after
    Kafka acknowledged the events before it."""

    mapping = models.OneToOneField(ObjectMapping, on_delete=models.CASCADE, related_name="mongo_checkpoint")
    resume_token = models.JSONField(null=True, blank=True)
    cluster_time = models.CharField(max_length=40, blank=True)
    events_published = models.BigIntegerField(default=0)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.mapping.name} @ {self.cluster_time or 'start'}"


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
