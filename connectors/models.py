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
    pubsub_endpoint = models.CharField(
        "Pub/Sub API endpoint",
        max_length=255,
        default="api.pubsub.salesforce.com:7443",
        help_text="host:port of the Pub/Sub API (gRPC) used by Change Data Capture; the emulator prints its own.",
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
    class CaptureMode(models.TextChoices):
        POLLING = "polling", "Polling (SOQL on SystemModstamp)"
        CDC = "cdc", "Change Data Capture (Pub/Sub API)"

    capture_mode = models.CharField(
        "Salesforce capture",
        max_length=10,
        choices=CaptureMode.choices,
        default=CaptureMode.POLLING,
        help_text="Polling reads changed records every poll interval; Change Data Capture streams "
        "<Object>ChangeEvent from the Pub/Sub API (enable CDC for the object in Setup first).",
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
    backfill_requested = models.BooleanField(
        default=False, help_text="Set by a backfill job; the capture worker restarts from the beginning and clears it."
    )
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


class ReplayCheckpoint(models.Model):
    """Where Change Data Capture resumes: the replay id of the last event whose changes Kafka
    acknowledged. Empty until the first event; the lease makes capture a singleton per mapping."""

    mapping = models.OneToOneField(ObjectMapping, on_delete=models.CASCADE, related_name="replay_checkpoint")
    topic = models.CharField(max_length=255, help_text="e.g. /data/AccountChangeEvent")
    replay_id = models.CharField(max_length=200, blank=True, help_text="Hex; Salesforce keeps events 72 hours.")
    events_published = models.BigIntegerField(default=0)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.mapping.name} {self.topic} @ {self.replay_id or 'start'}"


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
    sf_to_mongo_events = models.BigIntegerField(default=0, help_text="Salesforce changes captured since the last sample.")
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
