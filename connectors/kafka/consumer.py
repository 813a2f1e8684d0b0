"""A manual-commit consumer that hands out batches and commits only what it is told."""
from __future__ import annotations

import logging
from typing import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from connectors.kafka.config import KafkaSettings

log = logging.getLogger(__name__)

#: The header a capture marks each message with: the topic's broker-loss epoch it was published in.
EPOCH_HEADER = "sync-epoch"

#: Called after each commit with (topic, partition) -> (next offset, epoch of the last message).
CommitListener = Callable[[dict[tuple[str, int], tuple[int, int]]], None]


class BatchConsumer:
    def __init__(self, settings: KafkaSettings, group_id: str, topics: list[str]) -> None:
        self._config = settings.consumer_config(group_id)
        self._consumer = Consumer(self._config)
        self.topics = list(topics)
        self._held: set[tuple[str, int]] = set()
        self._consumer.subscribe(self.topics)
        self.on_commit: CommitListener | None = None
        self.rebuilds = 0

    def resubscribe(self, topics: list[str]) -> None:
        if sorted(topics) != sorted(self.topics):
            self.topics = list(topics)
            self._consumer.subscribe(self.topics)

    def hold(self, topics: set[str]) -> None:
        """Fetch nothing from these topics' assigned partitions and resume those held before
        that are no longer listed. Idempotent: call it again after a rebalance, which hands
        out partitions unpaused. Nothing is skipped: fetching resumes at the next offset."""
        assignment = self._consumer.assignment()
        hold = [tp for tp in assignment if tp.topic in topics]
        release = [tp for tp in assignment if tp.topic not in topics and (tp.topic, tp.partition) in self._held]
        if hold:
            self._consumer.pause(hold)
        if release:
            self._consumer.resume(release)
        self._held = {(tp.topic, tp.partition) for tp in hold}

    def poll_batch(self, max_messages: int, timeout: float) -> list[Message]:
        """Up to `max_messages` data messages; an empty list when idle. Transport errors are logged.

        Returns as soon as anything is there: what the client has already fetched (up to
        `max_messages`), without waiting for more; only when nothing is there does it wait, up to
        `timeout`, for the first message. (`consume(n, timeout)` alone waits until it has `n` or
        the timeout passed: a fixed delay on every batch of a live stream.) Under load batches stay
        large, since whatever arrived while the previous batch was applied is taken at once."""
        messages = self._consumer.consume(max_messages, 0)
        if not messages and timeout > 0:
            first = self._consumer.poll(timeout)
            if first is not None:
                messages = [first, *(self._consumer.consume(max_messages - 1, 0) if max_messages > 1 else [])]
        data = []
        for message in messages:
            error = message.error()
            if error is None:
                data.append(message)
            elif error.fatal():
                self._rebuild(error.str())
                return []
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("kafka consumer: %s", error.str())
        held = [m for m in data if (m.topic(), m.partition()) in self._held]
        if held:  # fetched before its partition was held: read again once it is released
            self.rewind(held)
            data = [m for m in data if (m.topic(), m.partition()) not in self._held]
        return data

    def remaining(self, ask_broker: bool = False, timeout: float = 5.0) -> dict[str, int]:
        """Per topic, the messages Kafka holds past what this consumer has handed out. Without
        `ask_broker`, from the high watermarks its last fetches brought back, which go stale
        while its prefetch queue is full; with it, from one request per assigned partition.
        Partitions not fetched from yet are left out: the figure may be low, never high."""
        found: dict[str, int] = {}
        for tp in self._consumer.position(self._consumer.assignment()):
            if tp.offset < 0:
                continue
            _, high = self._consumer.get_watermark_offsets(tp, timeout=timeout, cached=not ask_broker)
            if high >= 0:
                found[tp.topic] = found.get(tp.topic, 0) + max(0, high - tp.offset)
        return found

    def _rebuild(self, reason: str) -> None:
        """Replace a consumer that hit a fatal error (e.g. fenced): the new one joins the group
        and resumes at the committed offsets, so nothing uncommitted is skipped."""
        log.error("kafka consumer: fatal error (%s); rebuilding the consumer", reason)
        old, self._consumer = self._consumer, Consumer(self._config)
        self._held = set()
        self.rebuilds += 1
        try:
            old.close()
        except (KafkaException, RuntimeError):
            pass
        self._consumer.subscribe(self.topics)

    def seek_to_beginning(self, topics: set[str]) -> None:
        """Read the assigned partitions of these topics again from their first offset (after the
        broker lost them). Partitions assigned elsewhere start from their group's commit."""
        for tp in self._consumer.assignment():
            if tp.topic in topics:
                try:
                    self._consumer.seek(TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING))
                except KafkaException as exc:
                    log.info("kafka consumer: could not seek %s[%d]: %s", tp.topic, tp.partition, exc)

    def commit(self, messages: list[Message]) -> None:
        """Synchronously commit the offsets after these messages (per partition, the highest)."""
        highest = _offsets_by_partition(messages, max)
        if not highest:
            return
        try:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o + 1) for (t, p), o in highest.items()], asynchronous=False
            )
        except KafkaException as exc:
            if exc.args and exc.args[0].fatal():
                self._rebuild(exc.args[0].str())
            raise
        if self.on_commit is not None:
            epochs = {(str(m.topic()), int(m.partition() or 0), int(m.offset() or 0)): message_epoch(m)
                      for m in messages}
            self.on_commit({(t, p): (o + 1, epochs[(t, p, o)]) for (t, p), o in highest.items()})

    def rewind(self, messages: list[Message]) -> None:
        """Seek back to the first of these messages in each partition, so a batch that could
        not be applied is consumed again instead of being skipped by a later commit."""
        for (topic, partition), offset in _offsets_by_partition(messages, min).items():
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # revoked meanwhile: its new owner starts from the commit
                log.info("kafka consumer: could not rewind %s[%d]: %s", topic, partition, exc)

    def close(self) -> None:
        self._consumer.close()


def _offsets_by_partition(messages: list[Message], pick: Callable[[int, int], int]) -> dict[tuple[str, int], int]:
    """Per (topic, partition), the offset `pick` (min or max) chooses among these messages."""
    chosen: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (str(message.topic()), int(message.partition() or 0))
        offset = int(message.offset() or 0)
        chosen[key] = pick(chosen[key], offset) if key in chosen else offset
    return chosen


def message_headers(message: Message) -> list[tuple[str, str | bytes | None]]:
    """A consumed message's headers as (name, value) pairs: what librdkafka hands a consumer
    (the client's types also allow the dict a producer may pass)."""
    headers = message.headers() or []
    return list(headers.items()) if isinstance(headers, dict) else headers


def message_epoch(message: Message) -> int:
    """The broker-loss epoch a capture published this message in (0 if it does not say)."""
    for name, value in message_headers(message):
        if name == EPOCH_HEADER and value:
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
