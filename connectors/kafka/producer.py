"""An idempotent producer that tells the caller exactly which messages Kafka acknowledged."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Message, Producer

from connectors.kafka.config import KafkaSettings

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """Some messages were not acknowledged; nothing after them may be checkpointed."""


@dataclass
class _Batch:
    sent: int = 0
    acked: int = 0
    errors: list[str] = field(default_factory=list)


class EventProducer:
    """Wraps confluent_kafka.Producer: `send` many, then `confirm` them all or raise."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._producer = Producer(settings.producer_config())
        self._batch = _Batch()

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self._batch.acked += 1
        else:
            self._batch.errors.append(f"{message.topic()}: {error.str()}")

    def send(self, topic: str, key: str, value: bytes) -> None:
        """Queue one message; blocks briefly only when the local queue is full."""
        while True:
            try:
                self._producer.produce(topic, key=key.encode(), value=value, on_delivery=self._on_delivery)
                self._batch.sent += 1
                return
            except BufferError:
                # Local queue full: serve delivery reports to make room (backpressure).
                self._producer.poll(0.1)

    def confirm(self, timeout: float = 60.0) -> int:
        """Wait until every message sent since the last confirm is acknowledged.

        Returns how many were. Raises DeliveryFailed if any failed or the wait
        timed out; the caller must then not move its checkpoint.
        """
        remaining = self._producer.flush(timeout)
        batch, self._batch = self._batch, _Batch()
        if remaining or batch.errors or batch.acked != batch.sent:
            detail = "; ".join(batch.errors[:3]) or f"{remaining} still queued after {timeout:.0f} s"
            raise DeliveryFailed(f"{batch.sent - batch.acked} of {batch.sent} messages not acknowledged: {detail}")
        return batch.acked

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)

    def abandon(self) -> None:
        """Drop whatever is still queued (after a failed confirm, when giving up)."""
        self._producer.purge()
        self._producer.flush(0)
        self._batch = _Batch()
