"""sf-apply's overlapped write-back, against the real broker: offsets are committed only
after a batch's write-back landed, in order, and a failed write-back is consumed again."""
from __future__ import annotations

import threading

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


def test_a_batch_is_committed_only_after_its_write_back_landed(topic, unique):
    settings, name = topic
    group = f"{unique}.apply"
    consumer = BatchConsumer(settings, group, [name])
    pipeline = WriteBackPipeline(consumer, TimelineBatch(), "test")
    messages = consume_until(consumer, 6)
    release = threading.Event()
    pipeline.submit(lambda: release.wait(30), ["a"])
    pipeline.hand_over(messages[:3])
    assert committed_offset(settings, group, name) < 0  # still writing back: nothing committed
    release.set()
    pipeline.submit(lambda: None, ["b"])
    pipeline.hand_over(messages[3:])  # settles the first batch; the second is now in flight
    assert committed_offset(settings, group, name) == 3
    pipeline.close()  # settles the second
    assert committed_offset(settings, group, name) == 6
    consumer.close()


def test_a_failed_write_back_rewinds_to_its_batch_even_after_a_later_batch_was_consumed(topic, unique):
    settings, name = topic
    group = f"{unique}.apply"
    consumer = BatchConsumer(settings, group, [name])
    pipeline = WriteBackPipeline(consumer, TimelineBatch(), "test")
    messages = consume_until(consumer, 6)
    first, second = messages[:3], messages[3:]

    def fail() -> None:
        raise WriteBackFailed("MongoDB refused the write-back")

    pipeline.submit(fail, ["a"])
    pipeline.hand_over(first)
    with pytest.raises(WriteBackFailed):
        pipeline.hand_over(second)  # what sf-apply does next: rewind `second`, then settle_or_rewind
    consumer.rewind(second)
    with pytest.raises(WriteBackFailed):
        pipeline.settle_or_rewind()

    again = consume_until(consumer, 6)
    assert [m.value() for m in again] == [b"change-%d" % i for i in range(6)]
    assert committed_offset(settings, group, name) < 0
    pipeline.close()
    consumer.close()


def test_reading_a_document_still_being_written_back_waits_for_it(topic, unique):
    settings, name = topic
    consumer = BatchConsumer(settings, f"{unique}.apply", [name])
    pipeline = WriteBackPipeline(consumer, TimelineBatch(), "test")
    messages = consume_until(consumer, 6)
    gate, written = threading.Event(), threading.Event()
    pipeline.submit(lambda: (gate.wait(30), written.set()), ["doc-1"])
    pipeline.hand_over(messages[:3])
    pipeline.before_reading(["doc-2"])  # another document: returns while the write-back is held
    assert not written.is_set()
    threading.Timer(0.2, gate.set).start()
    pipeline.before_reading(["doc-1"])
    assert written.is_set()
    pipeline.close()
    consumer.close()
