"""Every kind of worker, by name, and how to build them from the configured mappings."""
from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

from django.conf import settings

from connectors.models import EventRelay, KafkaCluster, ObjectMapping
from connectors.wiring import kafka_settings, pubsub_client, salesforce_client
from connectors.jobs import BackfillProgress
from connectors.workers.base import Worker
from connectors.workers.event_relay import RelayApply, RelayCapture
from connectors.workers.job_runner import JobRunner
from connectors.workers.metrics_sampler import MetricsSampler
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.mongo_capture import MongoCapture
from connectors.workers.sf_apply import SalesforceApply
from connectors.workers.sf_capture import ProgressCallback, SalesforceCapture
from connectors.workers.sf_cdc_capture import SalesforceCdcCapture
from connectors.workers.schema_watch import SchemaWatch

WORKER_KINDS = ("sf-capture", "mongo-apply", "mongo-capture", "sf-apply", "relays", "schema-watch", "jobs", "metrics")


def build_workers(
    kinds: set[str], stop: threading.Event, progress: ProgressCallback | None = None, mapping_names: set[str] | None = None
) -> list[Worker]:
    """Workers for every enabled mapping. Raises KafkaUnavailable / MongoUnavailable (one line each)."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    sync = settings.SYNC
    mappings = [
        m
        for m in ObjectMapping.objects.filter(enabled=True).select_related("org", "kafka", "mongo")
        if not mapping_names or m.name in mapping_names
    ]
    from_salesforce = [m for m in mappings if m.captures_salesforce]
    from_mongodb = [m for m in mappings if m.captures_mongodb]
    workers: list[Worker] = []
    backfill_progress = BackfillProgress(then=progress)  # console jobs first, then the caller's bars
    if "sf-capture" in kinds:
        for mapping in from_salesforce:
            client = salesforce_client(mapping.org, should_stop=stop.is_set)
            if mapping.capture_mode == ObjectMapping.CaptureMode.CDC:
                workers.append(SalesforceCdcCapture(mapping, client, pubsub_client(mapping.org, client),
                                                    kafka_settings(mapping.kafka), owner=owner,
                                                    client_name=sync["CLIENT_NAME"]))
                continue
            workers.append(
                SalesforceCapture(
                    mapping,
                    client,
                    kafka_settings(mapping.kafka),
                    owner=owner,
                    lookback=timedelta(seconds=sync["CAPTURE_LOOKBACK_SECONDS"]),
                    progress=backfill_progress,
                )
            )
    if "mongo-apply" in kinds:
        for cluster in KafkaCluster.objects.filter(mappings__in=[m.pk for m in from_salesforce]).distinct():
            workers.append(MongoApply(cluster, batch_size=sync["APPLY_BATCH_SIZE"], should_stop=stop.is_set))
    if "mongo-capture" in kinds:
        for mapping in from_mongodb:
            workers.append(MongoCapture(mapping, kafka_settings(mapping.kafka), owner=owner))
    if "sf-apply" in kinds:
        for cluster in KafkaCluster.objects.filter(mappings__in=[m.pk for m in from_mongodb]).distinct():
            workers.append(SalesforceApply(cluster, batch_size=sync["APPLY_BATCH_SIZE"], should_stop=stop.is_set,
                                           pause_at_share=sync["API_PAUSE_AT_SHARE"],
                                           parallel_calls=sync["SALESFORCE_PARALLEL_CALLS"]))
    if "relays" in kinds and not mapping_names:
        workers.extend(relay_workers(stop, owner))
    if "schema-watch" in kinds and mappings:
        workers.append(SchemaWatch(sync["SCHEMA_CHECK_SECONDS"], mapping_names))
    if "jobs" in kinds and mappings:
        workers.append(JobRunner(owner, mapping_names))
    if "metrics" in kinds and mappings:
        workers.append(MetricsSampler(mapping_names))
    return workers


def relay_workers(stop: threading.Event, owner: str) -> list[Worker]:
    """A capture per enabled platform event relay, and one apply per Kafka cluster they use."""
    relays = list(EventRelay.objects.filter(enabled=True).select_related("org", "kafka", "mongo"))
    workers: list[Worker] = []
    for relay in relays:
        client = salesforce_client(relay.org, should_stop=stop.is_set)
        workers.append(RelayCapture(relay, pubsub_client(relay.org, client), kafka_settings(relay.kafka), owner=owner))
    for cluster in KafkaCluster.objects.filter(relays__in=[r.pk for r in relays]).distinct():
        workers.append(RelayApply(cluster, batch_size=settings.SYNC["APPLY_BATCH_SIZE"], should_stop=stop.is_set))
    return workers
