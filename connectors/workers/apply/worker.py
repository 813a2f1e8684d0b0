"""What both apply workers share: the chain a batch goes through.

    source.poll -> source.admit -> decode -> apply per mapping (the worker's own steps) -> commit

`BatchSource` (source.py) reads and holds partitions, `Decode` (decode.py) turns messages into
envelopes by mapping, the worker applies them, and `Commit` (commit.py), last, is the only step
that commits offsets: after the side effects landed, in order, and before a rebalance takes the
partitions away. A batch that fails is consumed again, never skipped.
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any, Callable, Generic, TypeVar

from confluent_kafka import Message

from connectors import events
from connectors.kafka.config import KafkaSettings
from connectors.kafka.topics import ensure_topics
from connectors.models import KafkaCluster, ObjectMapping
from connectors.mongo.client import connect
from connectors.operations.timeline import TimelineBatch
from connectors.wiring import kafka_settings
from connectors.workers.apply.commit import Commit
from connectors.workers.apply.dead_letters import DeadLetters
from connectors.workers.apply.decode import Batch, Decode, MappingTarget
from connectors.workers.apply.source import BatchSource
from connectors.workers.apply.write_back import WriteBacks
from connectors.workers.pause import PausedMappings
from connectors.workers.retry import retry_mongo

__all__ = ["ApplyWorker", "Batch"]

T = TypeVar("T")
TargetT = TypeVar("TargetT", bound=MappingTarget)

MAPPING_REFRESH_SECONDS = 10.0


class ApplyWorker(Generic[TargetT]):
    """Subclasses say which mappings they serve (`_build_target`), which topic a target reads
    (`_topic`), how a change is keyed within a batch (`_record_key`) and how a batch of one
    mapping is applied (`_apply_target`); `_before_commit` runs right before a batch's commit."""

    kind = "apply"
    source_label = ""

    def __init__(self, cluster: KafkaCluster, batch_size: int, should_stop: Callable[[], bool], *,
                 timeline_retention: timedelta) -> None:
        self.kafka: KafkaSettings = kafka_settings(cluster)
        self.cluster = cluster
        self.name = f"{self.kind}:{cluster.name}"
        self.batch_size = batch_size
        self.counters: Counter[str] = Counter()
        self._should_stop = should_stop
        self._mongo_clients: dict[int, Any] = {}
        self._targets: dict[str, TargetT] = {}
        self.timeline = TimelineBatch(timeline_retention)
        self._dead_letters = DeadLetters(self.kafka, self.counters)
        self._load_targets()
        ensure_topics(self.kafka, [*self._topics(), self._dead_letters.topic])
        self._source = BatchSource(self.kafka, cluster, f"{self.kafka.topic_prefix}.{self.kind}", self._topics(),
                                   on_revoke=self._revoked)
        self._write_backs = WriteBacks(self.name)
        self._commit = Commit(self._source.consumer, self.timeline, self._write_backs, self.name,
                              before_commit=self._before_commit)
        self._decode = Decode(self._record_key, self.timeline, self._dead_letters, self.source_label)
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

    def _before_commit(self, messages: list[Message]) -> None:
        """Called right before a batch's offsets are committed."""

    # -- the loop ----------------------------------------------------------------------
    def idle_seconds(self) -> float:
        return 0.0  # the step itself waits up to source.POLL_SECONDS for the first message

    def step(self) -> bool:
        self._refresh_if_due()
        messages = self._poll()
        if not messages:
            self._commit.settle_or_rewind()  # nothing follows: commit the batch in flight now
            return False
        return self._apply_or_rewind(messages)

    def _poll(self) -> list[Message]:
        return self._source.poll(self.batch_size)

    def _apply_or_rewind(self, messages: list[Message]) -> bool:
        """Apply a batch and hand it to the commit step; True (the step did work)."""
        if not self._source.admit(messages):
            return True  # the topic was published again after a broker loss: read from its start
        try:
            for target_name, items in self._decode(messages, self._targets).items():
                self._apply_target(self._targets[target_name], items)
            self._dead_letters.confirm()
            self._commit.submit(messages)
        except BaseException:
            self._commit.fail(messages)
            raise
        self.counters["messages"] += len(messages)
        return True

    def _revoked(self, partitions: list[tuple[str, int]]) -> None:
        self._commit.revoked(partitions)

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
        self._source.follow_epochs()
        self._hold_paused()
        if time.monotonic() - self._refreshed_at < MAPPING_REFRESH_SECONDS:
            return
        self._load_targets()
        topics = self._topics()
        ensure_topics(self.kafka, topics)
        self._source.resubscribe(topics)

    def _hold_paused(self) -> None:
        """Leave held topics unread (their offsets stay where they are, so resuming applies
        everything); re-applied each time since a rebalance unpauses."""
        self._source.hold(self._held_topics())

    def _held_topics(self) -> set[str]:
        """The topics of mappings an operator paused."""
        paused = self._paused.names()
        return {self._topic(t) for name, t in self._targets.items() if name in paused}

    def _mongo_client(self, mapping: ObjectMapping) -> Any:
        if mapping.mongo_id not in self._mongo_clients:
            self._mongo_clients[mapping.mongo_id] = connect(mapping.mongo.uri)
        return self._mongo_clients[mapping.mongo_id]

    def _retrying(self, operation: Callable[[], T]) -> T:
        return retry_mongo(operation, self._should_stop, self.name)

    def close(self) -> None:
        self._commit.close()  # before the consumer closes: it commits the batch in flight
        self._source.close()
        self._dead_letters.close()
        for client in self._mongo_clients.values():
            client.close()
