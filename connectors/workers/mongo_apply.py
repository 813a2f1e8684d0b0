"""MongoDB apply: Kafka batches of Salesforce changes -> version-guarded bulk writes -> commit."""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from confluent_kafka import Message
from pymongo import MongoClient

from connectors import events
from connectors.engine.conversion import ConversionError
from connectors.engine.mapping import MappingSpec, to_document
from connectors.engine.plan import ConflictDraft, modstamp_of, plan_salesforce_upsert
from connectors.kafka.config import KafkaSettings, dead_letter_topic, salesforce_topic
from connectors.kafka.consumer import BatchConsumer
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.models import Conflict, KafkaCluster, ObjectMapping, SyncError
from connectors.mongo.changes import id_value
from connectors.mongo.client import connect
from connectors.mongo.setup import ensure_collection
from connectors.mongo.writer import DocumentChange, write_changes
from connectors.wiring import kafka_settings, mapping_spec
from connectors.workers.conflict_gate import hold, open_conflicts
from connectors.workers.errors import park_message
from connectors.workers.retry import retry_mongo

log = logging.getLogger(__name__)
T = TypeVar("T")

MAPPING_REFRESH_SECONDS = 10.0
_DELETE_OPS = {"remove": "delete", "mark": "mark_deleted"}


def document_id(spec: MappingSpec, envelope: events.ChangeEnvelope) -> Any:
    """The `_id` of a Salesforce record's document: the MongoDB id its external-id field holds
    when it was born in MongoDB, else its Salesforce Id."""
    born_in_mongo = envelope.fields.get(spec.sf_external_id_field) if spec.two_way else None
    return id_value(born_in_mongo) if born_in_mongo else envelope.salesforce_id


def business_references(spec: MappingSpec) -> list[str]:
    """Reference fields worth an index: not the audit users every record points at."""
    return [f.mongo_field for f in spec.fields if f.sf_type == "reference" and not f.sf_field.endswith("ById")]


class _Target:
    """A mapping as the apply side needs it: spec plus where to write."""

    def __init__(self, mapping: ObjectMapping, client: MongoClient) -> None:
        self.row = mapping
        self.spec: MappingSpec = mapping_spec(mapping)
        self.collection = client[mapping.mongo.database][mapping.collection]
        ensure_collection(client[mapping.mongo.database], mapping.collection, business_references(self.spec))


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
        """Plan and write the batch, park what cannot be written, then commit the offsets."""
        for target_name, items in self._decode(messages).items():
            self._apply_target(self._targets[target_name], items)
        self._dlq.confirm()
        self._consumer.commit(messages)
        self.counters["messages"] += len(messages)

    def _apply_target(self, target: _Target, items: dict[str, tuple[events.ChangeEnvelope, Message]]) -> None:
        waiting = open_conflicts(target.row, set(items), set())
        current: dict[str, dict] = {}
        if target.spec.two_way:
            # Only a two-way mapping merges against the document; one way, the version guard is enough.
            ids = [document_id(target.spec, envelope) for envelope, _ in items.values()]
            current = self._retrying(lambda: {str(d["_id"]): d for d in target.collection.find({"_id": {"$in": ids}})})
        changes: dict[str, tuple[DocumentChange, Message]] = {}
        for key, (envelope, message) in items.items():
            if key in waiting:
                hold(waiting[key], message)
                self.counters["held_behind_conflict"] += 1
                continue
            try:
                change = self._plan(target, envelope, current.get(str(document_id(target.spec, envelope))))
            except (ConversionError, KeyError, ValueError) as exc:
                park_message(message, SyncError.Stage.CONVERT, type(exc).__name__.upper(), str(exc),
                             mapping=target.row, record_key=key)
                self.counters["errors"] += 1
                continue
            if change is not None:
                changes[key] = (change, message)
        if not changes:
            return
        outcome = self._retrying(lambda: write_changes(
            target.collection, target.spec.key_field, [c for c, _ in changes.values()], datetime.now(timezone.utc)
        ))
        for change, code, error in outcome.failures:
            park_message(changes[change.key][1], SyncError.Stage.MONGO_WRITE, code, error,
                         mapping=target.row, record_key=change.key)
        self.counters["applied"] += outcome.applied
        self.counters["stale_skipped"] += outcome.stale
        self.counters["errors"] += len(outcome.failures)

    def _plan(self, target: _Target, envelope: events.ChangeEnvelope, document: dict | None) -> DocumentChange | None:
        """The write one envelope calls for, or None (echo, stale, ignored delete, conflict only)."""
        spec = target.spec
        key = envelope.salesforce_id
        assert key is not None
        modstamp = modstamp_of(envelope.source_version)
        if envelope.op == "delete":
            op = _DELETE_OPS.get(spec.delete_mode)
            if op is None:
                return None
            target_id = document["_id"] if document is not None else key
            return DocumentChange(key, op, modstamp, {}, envelope.event_id,
                                  document_id=None if target_id == key else target_id)
        if not spec.two_way:
            return DocumentChange(key, "upsert", modstamp, to_document(spec, envelope.fields), envelope.event_id)
        plan = plan_salesforce_upsert(spec, envelope.fields, modstamp, document)
        target_id = document["_id"] if document is not None else document_id(spec, envelope)
        self.counters[f"plan_{plan.outcome}"] += 1
        if plan.conflict is not None:
            self._record_conflict(target, key, document, plan.conflict)
        if plan.outcome != "write":
            return None
        return DocumentChange(key, "upsert", modstamp, plan.set_fields, envelope.event_id,
                              base=plan.base, base_hash=plan.base_hash,
                              document_id=None if target_id == key else target_id, republish=plan.republish)

    def _record_conflict(self, target: _Target, key: str, document: dict | None, draft: ConflictDraft) -> None:
        Conflict.objects.create(
            mapping=target.row,
            salesforce_id=key,
            mongo_id=str(document["_id"]) if document else "",
            fields=draft.fields,
            base_values=draft.base,
            salesforce_values=draft.salesforce,
            mongo_values=draft.mongodb,
            salesforce_changed_at=draft.salesforce_changed_at,
            mongo_changed_at=draft.mongodb_changed_at,
        )
        self.counters["conflicts"] += 1
        log.info("%s: conflict on %s %s in %s", self.name, target.spec.sf_object, key, ", ".join(draft.fields))

    def _decode(self, messages: list[Message]) -> dict[str, dict[str, tuple[events.ChangeEnvelope, Message]]]:
        """Envelopes grouped by mapping and compacted to the last change per record
        (the batch keeps Kafka's per-record order, so the last one is the newest)."""
        batches: dict[str, dict[str, tuple[events.ChangeEnvelope, Message]]] = {}
        for message in messages:
            try:
                envelope = events.decode(message.value())
            except events.EnvelopeError as exc:
                park_message(message, SyncError.Stage.DECODE, "INVALID_ENVELOPE", str(exc),
                             dead_letters=(self._dlq, self._dlq_topic))
                self.counters["dead_lettered"] += 1
                continue
            if envelope.mapping not in self._targets or envelope.salesforce_id is None:
                park_message(message, SyncError.Stage.DECODE, "UNKNOWN_MAPPING",
                             f"no enabled mapping named {envelope.mapping!r} on this Kafka cluster takes "
                             "Salesforce changes", record_key=envelope.key,
                             dead_letters=(self._dlq, self._dlq_topic))
                self.counters["dead_lettered"] += 1
                continue
            batches.setdefault(envelope.mapping, {})[envelope.salesforce_id] = (envelope, message)
        return batches

    def _retrying(self, operation: Callable[[], T]) -> T:
        return retry_mongo(operation, self._should_stop, self.name)

    def close(self) -> None:
        self._consumer.close()
        self._dlq.close()
        for client in self._clients.values():
            client.close()
