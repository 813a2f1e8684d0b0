"""The dead-letter topic of an apply worker: messages that cannot even be decoded are parked
(an error record) and copied there."""
from __future__ import annotations

from collections import Counter

from confluent_kafka import Message

from connectors.kafka.config import KafkaSettings, dead_letter_topic
from connectors.kafka.producer import EventProducer
from connectors.models import SyncError
from connectors.workers.errors import park_message


class DeadLetters:
    def __init__(self, kafka: KafkaSettings, counters: Counter[str]) -> None:
        self.topic = dead_letter_topic(kafka.topic_prefix)
        self._producer = EventProducer(kafka)
        self._counters = counters

    def park(self, message: Message, code: str, error: str, record_key: str = "") -> None:
        park_message(message, SyncError.Stage.DECODE, code, error, record_key=record_key,
                     dead_letters=(self._producer, self.topic))
        self._counters["dead_lettered"] += 1

    def confirm(self) -> None:
        """Block until the broker has every copy sent so far: before the batch's offsets are committed."""
        self._producer.confirm()

    def close(self) -> None:
        self._producer.close()
