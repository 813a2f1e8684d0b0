"""What both apply workers share: consume a batch, decode and compact it, apply it per
mapping, and only then commit; a batch that fails is consumed again, never skipped."""
from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable, Generic, Protocol, TypeVar

from confluent_kafka import Message

from connectors import events
from connectors.kafka.config import KafkaSettings, dead_letter_topic
from connectors.kafka.consumer import BatchConsumer
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.models import KafkaCluster, ObjectMapping, SyncError
from connectors.mongo.client import connect
from connectors.timeline import Outcome, TimelineBatch
from connectors.wiring import kafka_settings
from connectors.workers.errors import park_message
from connectors.workers.pause import PausedMappings
from connectors.workers.retry import retry_mongo


class MappingTarget(Protocol):
    row: ObjectMapping


T = TypeVar("T")
TargetT = TypeVar("TargetT", bound=MappingTarget)
Batch = dict[str, tuple[events.ChangeEnvelope, Message]]

MAPPING_REFRESH_SECONDS = 10.0


class ApplyWorker(Generic[TargetT]):
    """Subclasses say which mappings they serve (`_build_target`), which topic a target reads
    (`_topic`), how a change is keyed within a batch (`_record_key`) and how a batch of one
    mapping is applied (`_apply_target`)."""

    kind = "apply"
    source_label = ""

    def __init__(self, cluster: KafkaCluster, batch_size: int, should_stop: Callable[[], bool]) -> None:
        self.kafka: KafkaSettings = kafka_settings(cluster)
        self.cluster = cluster
        self.name = f"{self.kind}:{cluster.name}"
        self.batch_size = batch_size
        self.counters: Counter[str] = Counter()
        self._should_stop = should_stop
        self._mongo_clients: dict[int, Any] = {}
        self._targets: dict[str, TargetT] = {}
        self.timeline = TimelineBatch()
        self._dlq_topic = dead_letter_topic(self.kafka.topic_prefix)
        self._dlq = EventProducer(self.kafka)
        self._load_targets()
        ensure_topics(self.kafka, [*self._topics(), self._dlq_topic])
        self._consumer = BatchConsumer(self.kafka, f"{self.kafka.topic_prefix}.{self.kind}", self._topics())
        self._paused = PausedMappings(kafka=cluster)

    # -- for subclasses --------------------------------------------------------------
    def _build_target(self, mapping: ObjectMapping) -> TargetT | None:
        raise NotImplementedError

    def _topic(self, target: TargetT) -> str:
        raise NotImplementedError

    def _record_key(self, envelope: events.ChangeEnvelope) -> str | None:
        """The record a change is about (changes to one record are compacted to the last);
        None if this worker does not take such changes."""
        raise NotImplementedError

    def _apply_target(self, target: TargetT, items: Batch) -> None:
        raise NotImplementedError

    # -- the loop ----------------------------------------------------------------------
    def idle_seconds(self) -> float:
        return 0.05

    def step(self) -> bool:
        self._refresh_if_due()
        messages = self._consumer.poll_batch(self.batch_size, timeout=0.25)
        if not messages:
            return False
        self._apply_or_rewind(messages)
        return True

    def _apply_or_rewind(self, messages: list[Message]) -> None:
        try:
            for target_name, items in self._decode(messages).items():
                self._apply_target(self._targets[target_name], items)
            self._dlq.confirm()
            self._complete(messages)
        except BaseException:
            self.timeline.discard()
            self._consumer.rewind(messages)
            raise
        self.counters["messages"] += len(messages)

    def _complete(self, messages: list[Message]) -> None:
        """Make an applied batch permanent: its timeline lines, then its offsets."""
        self.timeline.flush()
        self._consumer.commit(messages)

    def _decode(self, messages: list[Message]) -> dict[str, Batch]:
        """Envelopes by mapping, compacted to the last change per record: a batch keeps
        Kafka's per-record order, so the last one is the newest."""
        batches: dict[str, Batch] = {}
        for message in messages:
            try:
                envelope = events.decode(message.value())
            except events.EnvelopeError as exc:
                self._dead_letter(message, "INVALID_ENVELOPE", str(exc))
                continue
            key = self._record_key(envelope) if envelope.mapping in self._targets else None
            if key is None:
                self._dead_letter(message, "UNKNOWN_MAPPING",
                                  f"no enabled mapping named {envelope.mapping!r} on this Kafka cluster takes "
                                  f"{self.source_label} changes", record_key=envelope.key)
                continue
            batch = batches.setdefault(envelope.mapping, {})
            if key in batch:
                older, older_message = batch[key]
                self.timeline.add(self._targets[envelope.mapping].row, older, older_message, Outcome.SUPERSEDED)
                if envelope.op != "delete" and older.op != "delete":
                    # A partial change (a CDC update) carries only what it changed: keep what the older one set.
                    envelope.fields = {**older.fields, **envelope.fields}
                    envelope.changed_fields = list(dict.fromkeys([*older.changed_fields, *envelope.changed_fields]))
            batch[key] = (envelope, message)
        return batches

    def _dead_letter(self, message: Message, code: str, error: str, record_key: str = "") -> None:
        park_message(message, SyncError.Stage.DECODE, code, error, record_key=record_key,
                     dead_letters=(self._dlq, self._dlq_topic))
        self.counters["dead_lettered"] += 1

    def _topics(self) -> list[str]:
        return sorted({self._topic(t) for t in self._targets.values()})

    def _load_targets(self) -> None:
        targets: dict[str, TargetT] = {}
        mappings = ObjectMapping.objects.filter(kafka=self.cluster, enabled=True).select_related("mongo", "org")
        for mapping in mappings:
            target = self._build_target(mapping)
            if target is not None:
                targets[mapping.name] = target
        self._targets = targets
        self._refreshed_at = time.monotonic()

    def _refresh_if_due(self) -> None:
        self._hold_paused()
        if time.monotonic() - self._refreshed_at < MAPPING_REFRESH_SECONDS:
            return
        self._load_targets()
        topics = self._topics()
        ensure_topics(self.kafka, topics)
        self._consumer.resubscribe(topics)

    def _hold_paused(self) -> None:
        """Leave the topics of paused mappings unread (their offsets stay where they are, so
        resuming applies everything); re-applied each time since a rebalance unpauses."""
        paused = self._paused.names()
        self._consumer.hold({self._topic(t) for name, t in self._targets.items() if name in paused})

    def _mongo_client(self, mapping: ObjectMapping) -> Any:
        if mapping.mongo_id not in self._mongo_clients:
            self._mongo_clients[mapping.mongo_id] = connect(mapping.mongo.uri)
        return self._mongo_clients[mapping.mongo_id]

    def _retrying(self, operation: Callable[[], T]) -> T:
        return retry_mongo(operation, self._should_stop, self.name)

    def close(self) -> None:
        self._consumer.close()
        self._dlq.close()
        for client in self._mongo_clients.values():
            client.close()
