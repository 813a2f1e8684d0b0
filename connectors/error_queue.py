"""The error queue: what could not be applied, for a person to inspect, retry or discard.

Retrying sends the parked message back to the topic it came from, so it goes through
the normal pipeline again; every writer is idempotent, so a retry after the cause is
fixed applies the change once.
"""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from connectors.kafka.producer import EventProducer
from connectors.models import SyncError
from connectors.wiring import kafka_settings


class NotRetryable(ValueError):
    """The error has no source topic (or is not open); str() says why."""


def open_errors(mapping: str | None = None, stage: str | None = None) -> QuerySet[SyncError]:
    errors = SyncError.objects.filter(status=SyncError.Status.OPEN).select_related("mapping")
    if mapping:
        errors = errors.filter(mapping__name=mapping)
    if stage:
        errors = errors.filter(stage=stage)
    return errors


def retry(errors: list[SyncError]) -> int:
    """Re-publish each open error's payload to its topic; returns how many were sent.

    Blocks until Kafka acknowledged them; only then are they marked retried.
    """
    sendable = [e for e in errors if e.status == SyncError.Status.OPEN]
    for error in sendable:
        if not error.topic or error.mapping is None:
            raise NotRetryable(f"error {error.pk} came from no topic of a known mapping; discard it instead")
    by_cluster: dict[int, list[SyncError]] = {}
    for error in sendable:
        by_cluster.setdefault(error.mapping.kafka_id, []).append(error)
    for group in by_cluster.values():
        producer = EventProducer(kafka_settings(group[0].mapping.kafka))
        for error in group:
            producer.send(error.topic, error.message_key or error.record_key, error.payload.encode())
        producer.confirm()
        SyncError.objects.filter(pk__in=[e.pk for e in group]).update(
            status=SyncError.Status.RETRIED, updated_at=timezone.now()
        )
    return len(sendable)


def discard(errors: list[SyncError]) -> int:
    return SyncError.objects.filter(pk__in=[e.pk for e in errors], status=SyncError.Status.OPEN).update(
        status=SyncError.Status.DISCARDED, updated_at=timezone.now()
    )
