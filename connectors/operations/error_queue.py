"""The error queue: what could not be applied, for a person to inspect, retry or discard.

Retrying sends the parked message back to the topic it came from, so it goes through
the normal pipeline again; every writer is idempotent, so a retry after the cause is
fixed applies the change once.
"""
from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from connectors.models import KafkaCluster, ObjectMapping, SyncError
from connectors.operations import publisher


class NotRetryable(ValueError):
    """The error has no source topic (or is not open); str() says why."""


def open_errors(mapping: str | None = None, stage: str | None = None) -> QuerySet[SyncError]:
    errors = SyncError.objects.filter(status=SyncError.Status.OPEN).select_related("mapping")
    if mapping:
        errors = errors.filter(mapping__name=mapping)
    if stage:
        errors = errors.filter(stage=stage)
    return errors


def _change_of(payload: str) -> tuple[Any, str] | None:
    """Which change of a record a parked payload is: its operation and source version, the CDC
    replay id apart (the same version read live and by a re-read is one change); None when the
    payload is not an envelope."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    version = {k: v for k, v in (data.get("source_version") or {}).items() if k != "replay_id"} \
        if isinstance(data, dict) else {}
    return (data.get("op"), json.dumps(version, sort_keys=True)) if version else None


def _field_count(payload: str) -> int:
    return len(json.loads(payload).get("fields") or {})


def park(mapping: ObjectMapping | None, stage: str, code: str, record_key: str, payload: str,
         **details: Any) -> SyncError:
    """Open an error, once per change: the same version of a record parked again at the same stage
    with the same code while its error is open (read live and by the initial load's re-read, or
    redelivered after a restart) is another attempt of that error, which keeps the fuller payload
    (a re-read row holds every field, a CDC event only the changed ones). A different version
    is an error of its own: its payload carries changes the other lacks."""
    change = _change_of(payload)
    with transaction.atomic():
        if mapping is not None:  # one park at a time per mapping, so two workers cannot both open one
            list(ObjectMapping.objects.select_for_update().filter(pk=mapping.pk).values_list("pk"))
        same = SyncError.objects.filter(mapping=mapping, stage=stage, code=code, record_key=record_key,
                                        status=SyncError.Status.OPEN).order_by("created_at")
        for error in same:
            if error.payload == payload or (change is not None and _change_of(error.payload) == change):
                fuller = change is not None and _field_count(payload) > _field_count(error.payload)
                SyncError.objects.filter(pk=error.pk).update(
                    attempts=F("attempts") + 1, updated_at=timezone.now(),
                    **({"payload": payload, **details} if fuller else {}))
                error.refresh_from_db()
                return error
        return SyncError.objects.create(mapping=mapping, stage=stage, code=code, record_key=record_key,
                                        payload=payload, **details)


def retry(errors: list[SyncError]) -> int:
    """Re-publish each open error's payload to its topic; returns how many were sent.

    Blocks until Kafka acknowledged them; only then are they marked retried. Raises NotRetryable
    (nothing sent), or ServiceUnavailable when Kafka does not take them (those of that cluster stay open).
    """
    sendable = [e for e in errors if e.status == SyncError.Status.OPEN]
    clusters: dict[int, KafkaCluster] = {}
    by_cluster: dict[int, list[SyncError]] = {}
    for error in sendable:  # all checked before any is sent
        if not error.topic or error.mapping is None:
            raise NotRetryable(f"error {error.pk} came from no topic of a known mapping; discard it instead")
        clusters[error.mapping.kafka_id] = error.mapping.kafka
        by_cluster.setdefault(error.mapping.kafka_id, []).append(error)
    for cluster_id, group in by_cluster.items():
        publisher.publish(clusters[cluster_id],
                          [(e.topic, e.message_key or e.record_key, e.payload.encode()) for e in group])
        SyncError.objects.filter(pk__in=[e.pk for e in group]).update(
            status=SyncError.Status.RETRIED, updated_at=timezone.now()
        )
    return len(sendable)


def discard(errors: list[SyncError]) -> int:
    return SyncError.objects.filter(pk__in=[e.pk for e in errors], status=SyncError.Status.OPEN).update(
        status=SyncError.Status.DISCARDED, updated_at=timezone.now()
    )
