"""The apply chain's commit step with sf-apply's overlapped write-back, against the real broker:
offsets are committed only after a batch's write-back landed, in order; a failed write-back is
consumed again; and a rebalance commits the batch in flight before its partitions go."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.kafka.config import KafkaSettings
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.operations.timeline import TimelineBatch
from connectors.workers.apply.commit import Commit
from connectors.workers.apply.source import RevocableConsumer
from connectors.workers.apply.write_back import WriteBacks
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
    """A consumer of the topic's six changes with a commit step and write-backs, as sf-apply holds them."""

    consumer: RevocableConsumer
    write_backs: WriteBacks
    commit: Commit
    messages: list
    committed: Callable[[], int]
    settings: KafkaSettings
    group: str
    topic: str


@pytest.fixture
def applying(topic, unique) -> Iterator[Applying]:
    settings, name = topic
    group = f"{unique}.apply"
    steps: list[Commit] = []
    consumer = RevocableConsumer(settings, group, [name], on_revoke=lambda partitions: steps[0].revoked(partitions))
    write_backs = WriteBacks("test")
    commit = Commit(consumer, TimelineBatch(timedelta(days=7)), write_backs, "test")
    steps.append(commit)
    yield Applying(consumer, write_backs, commit, consume_until(consumer, 6),
                   lambda: committed_offset(settings, group, name), settings, group, name)
    commit.close()
    consumer.close()


def test_a_batch_is_committed_only_after_its_write_back_landed(applying):
    write_backs, commit, messages = applying.write_backs, applying.commit, applying.messages
    release = threading.Event()
    write_backs.submit(lambda: release.wait(30), ["a"])
    commit.submit(messages[:3])
    assert applying.committed() < 0  # still writing back: nothing committed
    release.set()
    write_backs.submit(lambda: None, ["b"])
    commit.submit(messages[3:])  # settles the first batch; the second is now in flight
    assert applying.committed() == 3
    commit.close()  # settles the second
    assert applying.committed() == 6


def test_a_batch_with_nothing_to_write_back_is_committed_at_once(applying):
    applying.commit.submit(applying.messages[:4])
    assert applying.committed() == 4


def test_a_failed_write_back_rewinds_to_its_batch_even_after_a_later_batch_was_consumed(applying):
    write_backs, commit = applying.write_backs, applying.commit
    first, second = applying.messages[:3], applying.messages[3:]

    def fail() -> None:
        raise WriteBackFailed("MongoDB refused the write-back")

    write_backs.submit(fail, ["a"])
    commit.submit(first)
    with pytest.raises(WriteBackFailed):
        commit.submit(second)
    commit.fail(second)  # what the worker does next: `second` is rewound, then `first`

    again = consume_until(applying.consumer, 6)
    assert [m.value() for m in again] == [b"change-%d" % i for i in range(6)]
    assert applying.committed() < 0


def test_reading_a_document_still_being_written_back_waits_for_it(applying):
    write_backs, commit = applying.write_backs, applying.commit
    gate, written = threading.Event(), threading.Event()
    write_backs.submit(lambda: (gate.wait(30), written.set()), ["doc-1"])
    commit.submit(applying.messages[:3])
    commit.wait_for_documents(["doc-2"])  # another document: returns while the write-back is held
    assert not written.is_set()
    threading.Timer(0.2, gate.set).start()
    commit.wait_for_documents(["doc-1"])
    assert written.is_set()


def test_a_rebalance_commits_the_batch_in_flight_before_its_partitions_go(applying):
    applying.write_backs.submit(lambda: None, ["doc-1"])
    applying.commit.submit(applying.messages)
    assert applying.committed() < 0  # in flight: committed at the next step
    newcomer = Consumer(applying.settings.consumer_config(applying.group))
    newcomer.subscribe([applying.topic])
    try:
        deadline = time.monotonic() + 30
        while applying.committed() < 0 and time.monotonic() < deadline:
            newcomer.poll(0.2)  # joining the group revokes the first consumer's partitions...
            applying.consumer.poll_batch(10, timeout=0.2)  # ...in its poll, before the newcomer gets them
        assert applying.committed() == 6
    finally:
        newcomer.close()
