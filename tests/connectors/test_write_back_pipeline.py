"""sf-apply's overlapped write-back, against the real broker: offsets are committed only
after a batch's write-back landed, in order, and a failed write-back is consumed again."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.kafka.config import KafkaSettings
from connectors.kafka.consumer import BatchConsumer
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.timeline import TimelineBatch
from connectors.workers.write_back import WriteBackPipeline
from tests.connectors.test_kafka_transport import consume_until


pytestmark = pytest.mark.django_db  # settling a batch writes its timeline lines


class WriteBackFailed(Exception):
    pass


@pytest.fixture
def topic(stack, unique) -> tuple[KafkaSettings, str]:
    settings = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap, topic_prefix=unique, partitions=1)
    name = f"{unique}.changes"
    ensure_topics(settings, [name])
    producer = EventProducer(settings)
    for i in range(6):
        producer.send(name, "doc", b"change-%d" % i)
    producer.confirm()
    producer.close()
    return settings, name


def committed_offset(settings: KafkaSettings, group: str, topic: str) -> int:
    """The group's committed offset on the broker (negative: nothing committed)."""
    reader = Consumer(settings.consumer_config(group))
    try:
        return reader.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        reader.close()


@dataclass
class Applying:
    """A consumer of the topic's six changes with a write-back pipeline, as sf-apply holds them."""

    consumer: BatchConsumer
    pipeline: WriteBackPipeline
    messages: list
    committed: Callable[[], int]


@pytest.fixture
def applying(topic, unique) -> Iterator[Applying]:
    settings, name = topic
    group = f"{unique}.apply"
    consumer = BatchConsumer(settings, group, [name])
    pipeline = WriteBackPipeline(consumer, TimelineBatch(), "test")
    yield Applying(consumer, pipeline, consume_until(consumer, 6), lambda: committed_offset(settings, group, name))
    pipeline.close()
    consumer.close()


def test_a_batch_is_committed_only_after_its_write_back_landed(applying):
    pipeline, messages = applying.pipeline, applying.messages
    release = threading.Event()
    pipeline.submit(lambda: release.wait(30), ["a"])
    pipeline.hand_over(messages[:3])
    assert applying.committed() < 0  # still writing back: nothing committed
    release.set()
    pipeline.submit(lambda: None, ["b"])
    pipeline.hand_over(messages[3:])  # settles the first batch; the second is now in flight
    assert applying.committed() == 3
    pipeline.close()  # settles the second
    assert applying.committed() == 6


def test_a_failed_write_back_rewinds_to_its_batch_even_after_a_later_batch_was_consumed(applying):
    pipeline, first, second = applying.pipeline, applying.messages[:3], applying.messages[3:]

    def fail() -> None:
        raise WriteBackFailed("MongoDB refused the write-back")

    pipeline.submit(fail, ["a"])
    pipeline.hand_over(first)
    with pytest.raises(WriteBackFailed):
        pipeline.hand_over(second)  # what sf-apply does next: rewind `second`, then settle_or_rewind
    applying.consumer.rewind(second)
    with pytest.raises(WriteBackFailed):
        pipeline.settle_or_rewind()

    again = consume_until(applying.consumer, 6)
    assert [m.value() for m in again] == [b"change-%d" % i for i in range(6)]
    assert applying.committed() < 0


def test_reading_a_document_still_being_written_back_waits_for_it(applying):
    pipeline = applying.pipeline
    gate, written = threading.Event(), threading.Event()
    pipeline.submit(lambda: (gate.wait(30), written.set()), ["doc-1"])
    pipeline.hand_over(applying.messages[:3])
    pipeline.before_reading(["doc-2"])  # another document: returns while the write-back is held
    assert not written.is_set()
    threading.Timer(0.2, gate.set).start()
    pipeline.before_reading(["doc-1"])
    assert written.is_set()
