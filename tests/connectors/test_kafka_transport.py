from __future__ import annotations

import time

import pytest

from connectors.kafka.config import KafkaSettings
from connectors.kafka.consumer import BatchConsumer
from connectors.kafka.producer import DeliveryFailed, EventProducer
from connectors.kafka.topics import KafkaUnavailable, ensure_topics
from devstack.health import free_port


def consume_until(consumer: BatchConsumer, count: int, timeout: float = 30.0) -> list:
    received: list = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        received += consumer.poll_batch(100, timeout=0.5)
    return received


@pytest.fixture
def kafka(stack, unique) -> KafkaSettings:
    settings = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap, topic_prefix=unique, partitions=2)
    ensure_topics(settings, [f"{unique}.events"])
    return settings


def test_confirm_reports_every_acknowledged_message(kafka, unique):
    producer = EventProducer(kafka)
    for i in range(50):
        producer.send(f"{unique}.events", f"k{i % 7}", b"v%d" % i)
    assert producer.confirm(timeout=30) == 50
    producer.close()


def test_confirm_raises_when_the_broker_is_unreachable():
    producer = EventProducer(KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"))
    producer.send("nowhere", "k", b"v")
    with pytest.raises(DeliveryFailed, match="not acknowledged"):
        producer.confirm(timeout=2)
    producer.abandon()


def test_ensure_topics_names_the_servers_when_kafka_is_down():
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(KafkaUnavailable, match=address):
        ensure_topics(KafkaSettings(bootstrap_servers=address), ["x"], timeout=2)


def test_uncommitted_messages_are_delivered_again_and_committed_ones_are_not(kafka, unique):
    topic, group = f"{unique}.events", f"{unique}.group"
    producer = EventProducer(kafka)
    for i in range(10):
        producer.send(topic, f"k{i}", b"first")
    producer.confirm()

    first = BatchConsumer(kafka, group, [topic])
    assert len(consume_until(first, 10)) == 10
    first.close()  # crashed before committing

    second = BatchConsumer(kafka, group, [topic])
    redelivered = consume_until(second, 10)
    assert len(redelivered) == 10
    second.commit(redelivered)
    second.close()

    producer.send(topic, "k-new", b"second")
    producer.confirm()
    third = BatchConsumer(kafka, group, [topic])
    after_commit = consume_until(third, 1)
    assert [m.value() for m in after_commit] == [b"second"]
    third.close()
