"""Parking what cannot be applied: an error record a person can see, and the dead-letter topic."""
from __future__ import annotations

import logging

from confluent_kafka import Message

from connectors.kafka.producer import EventProducer
from connectors.models import ObjectMapping, SyncError

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
    """Record a failed message with its payload (and copy it to the dead-letter topic if given).

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
    return SyncError.objects.create(
        mapping=mapping,
        stage=stage,
        code=code,
        message=error,
        payload=payload,
        record_key=key[:200],
        topic=message.topic() or "",
        message_key=message_key[:255],
        partition=message.partition(),
        offset=message.offset(),
    )
