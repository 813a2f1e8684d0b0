"""Sync state kept in Django's database, one module per concern; every model is importable from here."""
from connectors.models.activity import MetricSample, RecordEvent, SyncJob, WorkerStatus
from connectors.models.alerts import Alert, AlertDestination, AlertNotice, AlertRule
from connectors.models.audit import AuditEntry
from connectors.models.checkpoints import (
    AppliedOffset,
    CaptureCheckpoint,
    CapturePosition,
    MongoCheckpoint,
    PublishMark,
    ReplayCheckpoint,
)
from connectors.models.connections import KafkaCluster, MongoTarget, SalesforceOrg
from connectors.models.mappings import EventRelay, FieldMapping, ObjectMapping, SchemaDrift, SchemaSnapshot
from connectors.models.queues import Conflict, SyncError, WaitingChange
from connectors.models.reread_ranges import RereadRange

__all__ = [
    "Alert", "AlertDestination", "AlertNotice", "AlertRule", "AppliedOffset", "AuditEntry", "CaptureCheckpoint",
    "CapturePosition", "Conflict", "EventRelay", "FieldMapping",
    "KafkaCluster", "MetricSample", "MongoCheckpoint", "MongoTarget", "ObjectMapping", "PublishMark",
    "RecordEvent", "ReplayCheckpoint", "RereadRange", "SalesforceOrg", "SchemaDrift", "SchemaSnapshot", "SyncError",
    "SyncJob", "WaitingChange", "WorkerStatus",
]
