"""Every kind of worker, by name: what it needs, how it is built from the configured mappings,
and the line `runconsumers --help` shows for it."""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from connectors.models import EventRelay, KafkaCluster, ObjectMapping
from connectors.wiring import kafka_settings, pubsub_client, salesforce_client
from connectors.workers.alerter import Alerter
from connectors.workers.base import Worker
from connectors.workers.config import WorkerConfig
from connectors.workers.event_relay import RelayApply, RelayCapture
from connectors.workers.job_runner import JobRunner
from connectors.workers.metrics_sampler import MetricsSampler
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.mongo_capture import MongoCapture
from connectors.workers.mongo_reread import MongoRereadApply
from connectors.workers.reread_ranges import RangeWorker
from connectors.workers.schema_watch import SchemaWatch
from connectors.workers.sf_apply import SalesforceApply
from connectors.workers.sf_capture import ProgressCallback, SalesforceCapture
from connectors.workers.sf_cdc_capture import SalesforceCdcCapture


@dataclass(frozen=True)
class BuildContext:
    """What every builder may use: the enabled mappings in scope, and the process's settings."""

    mappings: list[ObjectMapping]
    mapping_names: set[str] | None  # runconsumers --mapping; None: all
    config: WorkerConfig
    stop: threading.Event
    owner: str  # holds capture leases: host:pid
    progress: ProgressCallback | None

    @property
    def from_salesforce(self) -> list[ObjectMapping]:
        return [m for m in self.mappings if m.captures_salesforce]

    @property
    def from_mongodb(self) -> list[ObjectMapping]:
        return [m for m in self.mappings if m.captures_mongodb]


@dataclass(frozen=True)
class WorkerKind:
    name: str
    help: str
    needs: str  # what must be configured for any worker of this kind to be built
    build: Callable[[BuildContext], list[Worker]]


def _clusters_of(mappings: Iterable[ObjectMapping]) -> list[KafkaCluster]:
    return list(KafkaCluster.objects.filter(mappings__in=[m.pk for m in mappings]).distinct())


def _sf_captures(ctx: BuildContext) -> list[Worker]:
    workers: list[Worker] = []
    config = ctx.config
    for mapping in ctx.from_salesforce:
        client = salesforce_client(mapping.org, should_stop=ctx.stop.is_set)
        kafka = kafka_settings(mapping.kafka)
        if mapping.capture_mode == ObjectMapping.CaptureMode.CDC:
            workers.append(SalesforceCdcCapture(mapping, client, pubsub_client(mapping.org, client), kafka,
                                                owner=ctx.owner, client_name=config.client_name,
                                                chunk_size=config.reread_chunk_size, progress=ctx.progress))
        else:
            workers.append(SalesforceCapture(mapping, client, kafka, owner=ctx.owner, lookback=config.capture_lookback,
                                             progress=ctx.progress, chunk_size=config.reread_chunk_size))
        # Every process running sf-capture reads key ranges of a split re-read, the capture
        # lease's holder or not, in a thread of its own beside live capture.
        workers.append(RangeWorker(mapping, salesforce_client(mapping.org, should_stop=ctx.stop.is_set), kafka,
                                   owner=ctx.owner, chunk_size=config.reread_chunk_size, progress=ctx.progress))
    return workers


def _mongo_applies(ctx: BuildContext) -> list[Worker]:
    workers: list[Worker] = []
    for cluster in _clusters_of(ctx.from_salesforce):
        batch = ctx.config.apply_batch_size
        workers.append(MongoApply(cluster, batch_size=batch, should_stop=ctx.stop.is_set,
                                  timeline_retention=ctx.config.timeline_retention))
        # Re-read rows on their own consumer and thread: live changes never wait behind them.
        workers.append(MongoRereadApply(cluster, batch_size=batch, should_stop=ctx.stop.is_set,
                                        timeline_retention=ctx.config.timeline_retention))
    return workers


def _mongo_captures(ctx: BuildContext) -> list[Worker]:
    return [MongoCapture(m, kafka_settings(m.kafka), owner=ctx.owner) for m in ctx.from_mongodb]


def _sf_applies(ctx: BuildContext) -> list[Worker]:
    config = ctx.config
    return [SalesforceApply(cluster, batch_size=config.apply_batch_size, should_stop=ctx.stop.is_set,
                            pause_at_share=config.api_pause_at_share, parallel_calls=config.salesforce_parallel_calls,
                            timeline_retention=config.timeline_retention,
                            bulk_write_threshold=config.bulk_write_threshold)
            for cluster in _clusters_of(ctx.from_mongodb)]


def _relays(ctx: BuildContext) -> list[Worker]:
    """A capture per enabled platform event relay, and one apply per Kafka cluster they use."""
    if ctx.mapping_names:
        return []  # relays belong to no mapping: `--mapping` leaves them out
    relays = list(EventRelay.objects.filter(enabled=True).select_related("org", "kafka", "mongo"))
    workers: list[Worker] = []
    for relay in relays:
        client = salesforce_client(relay.org, should_stop=ctx.stop.is_set)
        workers.append(RelayCapture(relay, pubsub_client(relay.org, client), kafka_settings(relay.kafka),
                                    owner=ctx.owner))
    for cluster in KafkaCluster.objects.filter(relays__in=[r.pk for r in relays]).distinct():
        workers.append(RelayApply(cluster, batch_size=ctx.config.apply_batch_size, should_stop=ctx.stop.is_set))
    return workers


def _if_any_mapping(build: Callable[[BuildContext], Worker]) -> Callable[[BuildContext], list[Worker]]:
    return lambda ctx: [build(ctx)] if ctx.mappings else []


WORKER_TABLE: tuple[WorkerKind, ...] = (
    WorkerKind("sf-capture", "Salesforce changes (polling or CDC) to Kafka, one per mapping; and the key ranges "
               "of a split backfill (sf-reread), shared by every process running sf-capture",
               "a mapping captured from Salesforce", _sf_captures),
    WorkerKind("mongo-apply", "Kafka to MongoDB: live changes, and re-read rows on a consumer of their own",
               "a mapping captured from Salesforce", _mongo_applies),
    WorkerKind("mongo-capture", "MongoDB change streams to Kafka, one per mapping",
               "a mapping captured from MongoDB", _mongo_captures),
    WorkerKind("sf-apply", "Kafka to Salesforce (composite calls, API-limit pause), one per Kafka cluster",
               "a mapping captured from MongoDB", _sf_applies),
    WorkerKind("relays", "platform event relays: Pub/Sub API to Kafka to MongoDB",
               "an enabled event relay; left out by --mapping", _relays),
    WorkerKind("schema-watch", "compares each mapping with Salesforce's describe, every SYNC_SCHEMA_CHECK_SECONDS",
               "any enabled mapping", _if_any_mapping(lambda ctx: SchemaWatch(ctx.config.schema_check_seconds,
                                                                               ctx.mapping_names))),
    WorkerKind("jobs", "runs the backfills and reconciles requested from the console or the API",
               "any enabled mapping", _if_any_mapping(lambda ctx: JobRunner(ctx.owner, ctx.mapping_names))),
    WorkerKind("metrics", "samples lag, rates and API use for the console and /metrics",
               "any enabled mapping", _if_any_mapping(lambda ctx: MetricsSampler(ctx.mapping_names))),
    WorkerKind("alerts", "sends and resolves alerts by email and webhook, every SYNC_ALERT_CHECK_SECONDS",
               "any enabled mapping", _if_any_mapping(lambda ctx: Alerter(ctx.mapping_names,
                                                                          interval=ctx.config.alert_check_seconds))),
)
WORKER_KINDS = tuple(kind.name for kind in WORKER_TABLE)


def build_workers(kinds: set[str], stop: threading.Event, progress: ProgressCallback | None = None,
                  mapping_names: set[str] | None = None, config: WorkerConfig | None = None) -> list[Worker]:
    """Workers of `kinds` for every enabled mapping (of `mapping_names`, if given), in table order.
    Raises KafkaUnavailable / MongoUnavailable (one line each)."""
    unknown = kinds - set(WORKER_KINDS)
    if unknown:
        raise ValueError(f"unknown worker kind {', '.join(sorted(unknown))}; the kinds are {', '.join(WORKER_KINDS)}")
    mappings = [
        m
        for m in ObjectMapping.objects.filter(enabled=True).select_related("org", "kafka", "mongo")
        if not mapping_names or m.name in mapping_names
    ]
    ctx = BuildContext(mappings, mapping_names, config or WorkerConfig.from_settings(), stop,
                       owner=f"{socket.gethostname()}:{os.getpid()}", progress=progress)
    return [worker for kind in WORKER_TABLE if kind.name in kinds for worker in kind.build(ctx)]
