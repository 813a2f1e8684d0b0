"""Where an apply worker's batches come from: its consumer group's Kafka consumer.

Back-pressure holds partitions (paused in the consumer) and never stops the polling, so the
worker stays in its group however long it waits (max.poll.interval.ms). Before partitions go
to another member of the group, `on_revoke` is called: the commit step settles what it can,
so the new owner does not apply it again. This module never commits: `commit.py` does.
"""
from __future__ import annotations

from typing import Callable

from confluent_kafka import Consumer, Message, TopicPartition

from connectors.kafka.config import KafkaSettings
from connectors.kafka.consumer import BatchConsumer
from connectors.models import KafkaCluster
from connectors.workers.positions import AppliedRecorder

POLL_SECONDS = 0.25

#: Called with the (topic, partition)s about to be revoked.
RevokeListener = Callable[[list[tuple[str, int]]], None]


class RevocableConsumer(BatchConsumer):
    """A BatchConsumer that tells `on_revoke` before its partitions are taken away."""

    def __init__(self, settings: KafkaSettings, group_id: str, topics: list[str], on_revoke: RevokeListener) -> None:
        self._on_revoke = on_revoke
        super().__init__(settings, group_id, topics)
        self._subscribe()  # again, with the callback: nothing is assigned before the first poll

    def resubscribe(self, topics: list[str]) -> None:
        if sorted(topics) != sorted(self.topics):
            self.topics = list(topics)
            self._subscribe()

    def _rebuild(self, reason: str) -> None:
        super()._rebuild(reason)
        self._subscribe()

    def _subscribe(self) -> None:
        self._consumer.subscribe(self.topics, on_revoke=self._revoked)

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._on_revoke([(tp.topic, tp.partition) for tp in partitions])


class BatchSource:
    """Batches of messages from `topics`, read again from their start when a capture publishes a
    topic again after a broker loss (`AppliedRecorder`)."""

    def __init__(self, kafka: KafkaSettings, cluster: KafkaCluster, group_id: str, topics: list[str],
                 on_revoke: RevokeListener) -> None:
        self.consumer = RevocableConsumer(kafka, group_id, topics, on_revoke)
        self._applied = AppliedRecorder(cluster, self.consumer)  # commits recorded for broker-loss replay

    def poll(self, max_messages: int) -> list[Message]:
        """Up to `max_messages` messages, as soon as there is one; an empty list when none came
        within POLL_SECONDS."""
        return self.consumer.poll_batch(max_messages, timeout=POLL_SECONDS)

    def admit(self, messages: list[Message]) -> bool:
        """False if the batch was read from a topic published again after a broker loss: the
        topic is then read from its start; drop the batch."""
        return self._applied.admit(messages)

    def follow_epochs(self) -> None:
        """Read topics published again after a broker loss from their start. Cheap when not due."""
        self._applied.follow_epochs()

    def resubscribe(self, topics: list[str]) -> None:
        """Read these topics from now on (a mapping was added or removed)."""
        self.consumer.resubscribe(topics)

    def hold(self, topics: set[str]) -> None:
        """Fetch nothing from these topics until they are no longer listed; nothing is skipped.
        Call it each step: a rebalance hands partitions out unpaused."""
        self.consumer.hold(topics)

    def rewind(self, messages: list[Message]) -> None:
        """Read these messages again (they were not applied)."""
        self.consumer.rewind(messages)

    def close(self) -> None:
        self.consumer.close()
