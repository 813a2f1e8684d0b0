"""Telling whether the broker lost a topic's data: what was there before against what is there now.

The rules (any one is a loss):

* the cluster id changed (another cluster answers at the same address);
* the topic is missing, or its topic id changed (deleted and created again);
* a partition's high watermark is at or below the first offset of the newest batch this
  producer had acknowledged there (those messages are gone; the first offset, not the last,
  because Tansu reports a batch's base offset + 1 as the high watermark);
* a partition's log-start offset is above the next offset the apply side has yet to read
  while it still had messages to read (retention deleted what nobody applied);
* a delivery report names an offset at or below one acknowledged before in the same
  partition (the log started again) -- reported by the producer, see EventProducer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from confluent_kafka import KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from connectors.kafka.config import KafkaSettings

log = logging.getLogger(__name__)


@dataclass
class TopicState:
    """What the broker says about one topic now."""

    cluster_id: str
    topic_id: str  # "" when the topic does not exist
    low: dict[int, int] = field(default_factory=dict)  # partition -> log-start offset
    high: dict[int, int] = field(default_factory=dict)  # partition -> high watermark

    @property
    def exists(self) -> bool:
        return bool(self.topic_id)


@dataclass
class Expected:
    """What must still be there: recorded when the capture last published."""

    cluster_id: str = ""
    topic_id: str = ""
    floors: dict[int, int] = field(default_factory=dict)  # partition -> first offset of the newest acked batch
    unread: dict[int, int] = field(default_factory=dict)  # partition -> next offset the apply side must read


class BrokerProbe:
    """Reads a topic's identity and offsets through an admin client. Blocks up to `timeout`;
    raises KafkaException when the cluster does not answer (not a loss: nothing is known)."""

    def __init__(self, settings: KafkaSettings, timeout: float = 5.0) -> None:
        self._config = settings.client_config()
        self._timeout = timeout

    def state(self, topic: str) -> TopicState:
        # A new admin client each time: one that cached a topic's id can corrupt librdkafka's
        # metadata cache and crash the process once the topic comes back under a new id, which
        # is what this probe exists to see (librdkafka #4778, #4964).
        self._admin = AdminClient(self._config)
        metadata = self._admin.list_topics(timeout=self._timeout)
        cluster_id = str(metadata.cluster_id or "")
        described = metadata.topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            return TopicState(cluster_id, "")
        topic_id = self._topic_id(topic)
        partitions = sorted(described.partitions)
        return TopicState(cluster_id, topic_id, self._offsets(topic, partitions, OffsetSpec.earliest()),
                          self._offsets(topic, partitions, OffsetSpec.latest()))

    def _topic_id(self, topic: str) -> str:
        future = self._admin.describe_topics(TopicCollection([topic]), request_timeout=self._timeout)[topic]
        try:
            return str(future.result(timeout=self._timeout).topic_id)
        except KafkaException as exc:
            log.info("kafka: could not describe %s: %s", topic, exc)
            return "?"  # exists, identity unknown: compared as unknown

    def _offsets(self, topic: str, partitions: list[int], spec: OffsetSpec) -> dict[int, int]:
        futures = self._admin.list_offsets({TopicPartition(topic, p): spec for p in partitions},
                                           request_timeout=self._timeout)
        return {tp.partition: int(future.result(timeout=self._timeout).offset) for tp, future in futures.items()}


def lost(expected: Expected, now: TopicState) -> str | None:
    """Why the broker lost data the expectation says it held, or None if nothing is missing."""
    if expected.cluster_id and now.cluster_id and now.cluster_id != expected.cluster_id:
        return f"the cluster id changed from {expected.cluster_id} to {now.cluster_id}"
    if not now.exists:
        return "the topic is missing" if (expected.topic_id or expected.floors) else None
    if expected.topic_id and "?" not in (expected.topic_id, now.topic_id) and now.topic_id != expected.topic_id:
        return f"the topic was created again (id {expected.topic_id} -> {now.topic_id})"
    for partition, floor in sorted(expected.floors.items()):
        high = now.high.get(partition)
        if high is None:
            return f"partition {partition} is missing"
        if high <= floor:
            return f"partition {partition} ends at offset {high}, but offset {floor} had been acknowledged"
    for partition, unread in sorted(expected.unread.items()):
        if now.low.get(partition, 0) > unread:
            return (f"partition {partition} starts at offset {now.low[partition]}, but offsets from {unread} "
                    "were not applied yet")
    return None
