from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient

from connectors.kafka.config import KafkaSettings
from connectors.kafka.consumer import EPOCH_HEADER, BatchConsumer
from connectors.kafka.loss import BrokerProbe, Expected, lost
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


def test_a_batch_is_handed_out_as_soon_as_a_message_is_there_not_when_the_wait_is_over(kafka, unique):
    topic, group = f"{unique}.events", f"{unique}.group"
    consumer = BatchConsumer(kafka, group, [topic])
    producer = EventProducer(kafka)
    producer.send(topic, "k0", b"warm-up")  # the group is joined and the partitions assigned
    producer.confirm()
    assert len(consume_until(consumer, 1)) == 1

    producer.send(topic, "k1", b"live")
    producer.confirm()
    started = time.monotonic()
    batch = consumer.poll_batch(1000, timeout=10)
    waited = time.monotonic() - started
    # Not the 10 s a batch of 1000 would take to fill (nor a fetch's long wait at the broker).
    assert [m.value() for m in batch] == [b"live"] and waited < 2.0, waited

    for i in range(20):
        producer.send(topic, f"k{i}", b"queued")
    producer.confirm()
    received = consume_until(consumer, 20)  # whatever was fetched comes in few batches, none lost
    assert len(received) == 20
    started = time.monotonic()
    assert consumer.poll_batch(1000, timeout=0.3) == []  # idle: waits the timeout, then nothing
    assert time.monotonic() - started >= 0.25
    producer.close()
    consumer.close()


def test_the_probe_finds_nothing_lost_in_a_topic_that_holds_what_was_acknowledged(kafka, unique):
    topic = f"{unique}.events"
    producer = EventProducer(kafka)
    for i in range(20):  # batched: Tansu reports a batch's base offset + 1 as the high watermark
        producer.send(topic, f"k{i}", b"v")
    producer.confirm()
    probe = BrokerProbe(kafka)
    state = probe.state(topic)
    floors = {p: low for (t, p), (low, _high) in producer.acked.items() if t == topic}
    assert state.exists and set(state.high) == {0, 1}
    assert lost(Expected(state.cluster_id, state.topic_id, floors, {p: 0 for p in floors}), state) is None
    producer.close()


def test_the_probe_tells_a_missing_or_recreated_topic_and_a_log_that_ends_too_early(kafka, unique):
    topic = f"{unique}.events"
    producer = EventProducer(kafka)
    producer.send(topic, "k", b"v")
    producer.confirm()
    probe = BrokerProbe(kafka)
    before = probe.state(topic)
    admin = AdminClient(kafka.client_config())
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=15)
    expected = Expected(before.cluster_id, before.topic_id, floors={0: 0, 1: 0})
    assert lost(expected, probe.state(topic)) == "the topic is missing"

    ensure_topics(kafka, [topic])
    recreated = probe.state(topic)
    assert lost(expected, recreated) == f"the topic was created again (id {before.topic_id} -> {recreated.topic_id})"
    assert lost(Expected(floors={1: 0}), recreated) == (
        "partition 1 ends at offset 0, but offset 0 had been acknowledged")
    producer.abandon()


def test_a_consumer_sent_back_to_the_beginning_reads_every_message_again(kafka, unique):
    topic = f"{unique}.events"
    producer = EventProducer(kafka)
    for i in range(6):
        producer.send(topic, f"k{i}", b"v")
    producer.confirm()
    consumer = BatchConsumer(kafka, f"{unique}.group", [topic])
    first = consume_until(consumer, 6)
    consumer.commit(first)
    consumer.seek_to_beginning({topic})
    assert sorted(m.key() for m in consume_until(consumer, 6)) == sorted(m.key() for m in first)
    consumer.close()


def test_each_commit_reports_the_next_offsets_and_the_epoch_they_were_published_in(kafka, unique):
    topic = f"{unique}.events"
    producer = EventProducer(kafka)
    producer.headers = [(EPOCH_HEADER, b"3")]
    for i in range(4):
        producer.send(topic, "same-key", b"v%d" % i)
    producer.confirm()
    consumer = BatchConsumer(kafka, f"{unique}.group", [topic])
    reported: list = []
    consumer.on_commit = reported.append
    messages = consume_until(consumer, 4)
    consumer.commit(messages)
    [(partition, (low, high))] = [((p), span) for (t, p), span in producer.acked.items()]
    assert reported == [{(topic, partition): (high + 1, 3)}]
    consumer.close()


def test_the_producer_notices_a_log_that_started_again(kafka, unique):
    topic = f"{unique}.events"
    producer = EventProducer(kafka)
    for _ in range(5):
        producer.send(topic, "one-partition", b"v")
    producer.confirm()
    assert producer.regressed == ""
    admin = AdminClient(kafka.client_config())
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=15)
    ensure_topics(kafka, [topic])

    producer.send(topic, "one-partition", b"after")
    producer.confirm(timeout=30)
    assert "acknowledged offset 0 after offset 4: the log started again" in producer.regressed
    producer.close()


def test_the_fetch_wait_comes_from_the_settings_and_the_dev_stack_shortens_it(settings, stack):
    """KAFKA_FETCH_WAIT_MS reaches every consumer the workers build; the embedded broker holds an
    empty fetch for the whole wait, so the dev stack's environment asks for 20 ms."""
    from connectors.models import KafkaCluster
    from connectors.wiring import kafka_settings

    cluster = KafkaCluster(name="c", bootstrap_servers=stack.kafka_bootstrap)
    assert kafka_settings(cluster).consumer_config("g")["fetch.wait.max.ms"] == 500  # librdkafka's own default
    settings.SYNC = {**settings.SYNC, **stack.connection_env()}
    assert kafka_settings(cluster).consumer_config("g")["fetch.wait.max.ms"] == 20
