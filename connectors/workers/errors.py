"""Parking what cannot be applied: an error record a person can see, and the dead-letter topic."""
from __future__ import annotations

import logging

from confluent_kafka import Message

from connectors.kafka.producer import EventProducer
from connectors.models import ObjectMapping, SyncError
from connectors.operations.error_queue import park

log = logging.getLogger(__name__)


def park_message(
    message: Message,
    stage: str,
    code: str,
    error: str,
    mapping: ObjectMapping | None = None,
    record_key: str = "",
    dead_letters: tuple[EventProducer, str] | None = None,
) -> SyncError:
    """Record a failed message with its payload, once per change (`error_queue.park`), and copy it
    to the dead-letter topic if given.

    The caller confirms the dead-letter producer before committing the offset.
    """
    raw = message.value() or b""
    payload = raw.decode("utf-8", errors="replace")
    message_key = (message.key() or b"").decode("utf-8", errors="replace")
    key = record_key or message_key
    if dead_letters is not None:
        producer, topic = dead_letters
        producer.send(topic, message_key, raw)
    log.warning("parked %s message %s[%d]@%d: %s %s", stage, message.topic(), message.partition(),
                message.offset(), code, error)
    return park(mapping, stage, code, key[:200], payload, message=error, topic=message.topic() or "",
                message_key=message_key[:255], partition=message.partition(), offset=message.offset())
