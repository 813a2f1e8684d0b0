"""MongoDB apply: Kafka batches of Salesforce changes -> version-guarded bulk writes -> commit."""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Callable

from confluent_kafka import Message
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, NetworkTimeout, PyMongoError
from tenacity import Retrying, retry_if_exception_type, stop_any, wait_exponential_jitter

from connectors import events
from connectors.engine.conversion import ConversionError, parse_sf_datetime
from connectors.engine.mapping import MappingSpec, to_document
from connectors.kafka.config import KafkaSettings, dead_letter_topic, salesforce_topic
from connectors.kafka.consumer import BatchConsumer
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.models import KafkaCluster, ObjectMapping, SyncError
from connectors.mongo.client import connect
from connectors.mongo.setup import ensure_collection
from connectors.mongo.writer import DocumentChange, write_changes
from connectors.wiring import kafka_settings, mapping_spec
from connectors.workers.errors import park_message

log = logging.getLogger(__name__)

MAPPING_REFRESH_SECONDS = 10.0
_DELETE_OPS = {"remove": "delete", "mark": "mark_deleted"}


class ShuttingDown(Exception):
    """Raised out of a retry loop when the worker is asked to stop; nothing is committed."""


class _Target:
    """A mapping as the apply side needs it: spec plus where to write."""

    def __init__(self, mapping: ObjectMapping, client: MongoClient) -> None:
        self.row = mapping
        self.spec: MappingSpec = mapping_spec(mapping)
        self.collection = client[mapping.mongo.database][mapping.collection]
        references = [f.mongo_field for f in mapping.fields.filter(enabled=True, sf_type="reference")]
        ensure_collection(client[mapping.mongo.database], mapping.collection, mapping.key_field, references)


class MongoApply:
    def __init__(
        self,
        cluster: KafkaCluster,
        batch_size: int,
        should_stop: Callable[[], bool],
        group_id: str | None = None,
    ) -> None:
        self.kafka: KafkaSettings = kafka_settings(cluster)
        self.cluster = cluster
        self.name = f"mongo-apply:{cluster.name}"
        self.batch_size = batch_size
        self.counters: Counter[str] = Counter()
        self._should_stop = should_stop
        self._clients: dict[int, MongoClient] = {}
        self._targets: dict[str, _Target] = {}
        self._refreshed_at = 0.0
        self._dlq_topic = dead_letter_topic(self.kafka.topic_prefix)
        self._dlq = EventProducer(self.kafka)
        group = group_id or f"{self.kafka.topic_prefix}.mongo-apply"
        self._load_targets()
        ensure_topics(self.kafka, [*self._topics(), self._dlq_topic])
        self._consumer = BatchConsumer(self.kafka, group, self._topics())

    def idle_seconds(self) -> float:
        return 0.05

    def _topics(self) -> list[str]:
        return sorted({salesforce_topic(self.kafka.topic_prefix, t.spec.sf_object) for t in self._targets.values()})

    def _load_targets(self) -> None:
        mappings = ObjectMapping.objects.filter(kafka=self.cluster, enabled=True).select_related("mongo")
        targets = {}
        for mapping in mappings:
            if not mapping.captures_salesforce:
                continue
            if mapping.mongo_id not in self._clients:
                self._clients[mapping.mongo_id] = connect(mapping.mongo.uri)
            targets[mapping.name] = _Target(mapping, self._clients[mapping.mongo_id])
        self._targets = targets
        self._refreshed_at = time.monotonic()

    def _refresh_if_due(self) -> None:
        if time.monotonic() - self._refreshed_at < MAPPING_REFRESH_SECONDS:
            return
        self._load_targets()
        topics = self._topics()
        ensure_topics(self.kafka, topics)
        self._consumer.resubscribe(topics)

    def step(self) -> bool:
        self._refresh_if_due()
        messages = self._consumer.poll_batch(self.batch_size, timeout=0.25)
        if not messages:
            return False
        try:
            self._apply(messages)
        except Exception:
            self._consumer.rewind(messages)
            raise
        return True

    def _apply(self, messages: list[Message]) -> None:
        """Write the batch, park what cannot be written, then commit the offsets."""
        batches = self._decode(messages)
        for target_name, changes in batches.items():
            target = self._targets[target_name]
            outcome = self._retrying(lambda: write_changes(
                target.collection, target.spec.key_field, [c for c, _ in changes.values()], datetime.now(timezone.utc)
            ))
            by_event = {c.event_id: m for c, m in changes.values()}
            for change, code, error in outcome.failures:
                park_message(by_event[change.event_id], SyncError.Stage.MONGO_WRITE, code, error,
                             mapping=target.row, record_key=change.key)
            self.counters["applied"] += outcome.applied
            self.counters["stale_skipped"] += outcome.stale
            self.counters["errors"] += len(outcome.failures)
        self._dlq.confirm()
        self._consumer.commit(messages)
        self.counters["messages"] += len(messages)

    def _decode(self, messages: list[Message]) -> dict[str, dict[str, tuple[DocumentChange, Message]]]:
        """Envelopes grouped by mapping and compacted to the last change per record
        (the batch keeps Kafka's per-record order, so the last one is the newest)."""
        batches: dict[str, dict[str, tuple[DocumentChange, Message]]] = {}
        for message in messages:
            try:
                envelope = events.decode(message.value())
            except events.EnvelopeError as exc:
                park_message(message, SyncError.Stage.DECODE, "INVALID_ENVELOPE", str(exc),
                             dead_letters=(self._dlq, self._dlq_topic))
                self.counters["dead_lettered"] += 1
                continue
            target = self._targets.get(envelope.mapping)
            if target is None:
                park_message(message, SyncError.Stage.DECODE, "UNKNOWN_MAPPING",
                             f"no enabled mapping named {envelope.mapping!r} on this Kafka cluster",
                             record_key=envelope.key, dead_letters=(self._dlq, self._dlq_topic))
                self.counters["dead_lettered"] += 1
                continue
            try:
                change = self._change(target.spec, envelope)
            except (ConversionError, KeyError, ValueError) as exc:
                park_message(message, SyncError.Stage.CONVERT, type(exc).__name__.upper(), str(exc),
                             mapping=target.row, record_key=envelope.key)
                self.counters["errors"] += 1
                continue
            if change is not None:
                batches.setdefault(envelope.mapping, {})[change.key] = (change, message)
        return batches

    @staticmethod
    def _change(spec: MappingSpec, envelope: events.ChangeEnvelope) -> DocumentChange | None:
        if envelope.salesforce_id is None:
            raise ValueError("a Salesforce change without a Salesforce Id")
        modstamp = parse_sf_datetime(envelope.source_version["system_modstamp"])
        if envelope.op == "delete":
            op = _DELETE_OPS.get(spec.delete_mode)
            if op is None:
                return None
            return DocumentChange(envelope.salesforce_id, op, modstamp, {}, envelope.event_id)
        return DocumentChange(
            envelope.salesforce_id, "upsert", modstamp, to_document(spec, envelope.fields), envelope.event_id
        )

    def _retrying(self, write: Callable[[], object]):  # type: ignore[no-untyped-def]
        """Retry a write through MongoDB outages until it succeeds or we are told to stop."""
        retrying = Retrying(
            retry=retry_if_exception_type((ConnectionFailure, NetworkTimeout)),
            wait=wait_exponential_jitter(multiplier=0.2, max=10),
            stop=stop_any(lambda _: self._should_stop()),
            reraise=True,
            before_sleep=lambda s: log.warning("%s: MongoDB write failed (%s); retrying", self.name,
                                               s.outcome.exception()),
        )
        try:
            return retrying(write)
        except PyMongoError:
            if self._should_stop():
                raise ShuttingDown() from None
            raise

    def close(self) -> None:
        self._consumer.close()
        self._dlq.close()
        for client in self._clients.values():
            client.close()
