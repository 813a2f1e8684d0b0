"""A manual-commit consumer that hands out batches and commits only what it is told."""
from __future__ import annotations

import logging
from typing import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from connectors.kafka.config import KafkaSettings

log = logging.getLogger(__name__)


class BatchConsumer:
    def __init__(self, settings: KafkaSettings, group_id: str, topics: list[str]) -> None:
        self._consumer = Consumer(settings.consumer_config(group_id))
        self.topics = list(topics)
        self._held: set[tuple[str, int]] = set()
        self._consumer.subscribe(self.topics)

    def resubscribe(self, topics: list[str]) -> None:
        if sorted(topics) != sorted(self.topics):
            self.topics = list(topics)
            self._consumer.subscribe(self.topics)

    def hold(self, topics: set[str]) -> None:
        """Fetch nothing from these topics' assigned partitions and resume those held before
        that are no longer listed. Idempotent: call it again after a rebalance, which hands
        out partitions unpaused. Nothing is skipped: fetching resumes at the next offset."""
        assignment = self._consumer.assignment()
        hold = [tp for tp in assignment if tp.topic in topics]
        release = [tp for tp in assignment if tp.topic not in topics and (tp.topic, tp.partition) in self._held]
        if hold:
            self._consumer.pause(hold)
        if release:
            self._consumer.resume(release)
        self._held = {(tp.topic, tp.partition) for tp in hold}

    def poll_batch(self, max_messages: int, timeout: float) -> list[Message]:
        """Up to `max_messages` data messages; an empty list when idle. Transport errors are logged."""
        messages = self._consumer.consume(max_messages, timeout)
        data = []
        for message in messages:
            error = message.error()
            if error is None:
                data.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("kafka consumer: %s", error.str())
        return data

    def commit(self, messages: list[Message]) -> None:
        """Synchronously commit the offsets after these messages (per partition, the highest)."""
        highest = _offsets_by_partition(messages, max)
        if highest:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o + 1) for (t, p), o in highest.items()], asynchronous=False
            )

    def rewind(self, messages: list[Message]) -> None:
        """Seek back to the first of these messages in each partition, so a batch that could
        not be applied is consumed again instead of being skipped by a later commit."""
        for (topic, partition), offset in _offsets_by_partition(messages, min).items():
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # revoked meanwhile: its new owner starts from the commit
                log.info("kafka consumer: could not rewind %s[%d]: %s", topic, partition, exc)

    def close(self) -> None:
        self._consumer.close()


def _offsets_by_partition(messages: list[Message], pick: Callable[[int, int], int]) -> dict[tuple[str, int], int]:
    """Per (topic, partition), the offset `pick` (min or max) chooses among these messages."""
    chosen: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (str(message.topic()), int(message.partition() or 0))
        offset = int(message.offset() or 0)
        chosen[key] = pick(chosen[key], offset) if key in chosen else offset
    return chosen
