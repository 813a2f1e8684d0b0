"""An idempotent producer that tells the caller exactly which messages Kafka acknowledged."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from connectors.kafka.config import KafkaSettings

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """Some messages were not acknowledged; nothing after them may be checkpointed."""


class BrokerLoss(DeliveryFailed):
    """While waiting for acknowledgements, the broker turned out to have lost data (see
    connectors.kafka.loss); what was queued is dropped."""


class ProducerFatal(BrokerLoss):
    """The producer hit a fatal error (idempotence state lost, e.g. UnknownProducerId or
    OutOfOrderSequence after the broker restarted empty). The producer has been rebuilt; what
    it had acknowledged before may be gone too, so the caller treats it as a broker loss."""


@dataclass
class _Batch:
    sent: int = 0
    acked: int = 0
    errors: list[str] = field(default_factory=list)
    fatal: str = ""
    # (topic, partition) -> [lowest, highest] offset acknowledged in this batch
    offsets: dict[tuple[str, int], list[int]] = field(default_factory=dict)


class EventProducer:
    """Wraps confluent_kafka.Producer: `send` many, then `confirm` them all or raise.

    After a successful confirm, `acked` holds per (topic, partition) the lowest offset the newest
    confirm covered and the highest of every confirm since the caller emptied it; `highest` the
    highest acknowledged since `forget_offsets`.
    A fatal client error rebuilds the client (a new producer id) and raises ProducerFatal.
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self._config = {**settings.producer_config(), "error_cb": self._on_client_error}
        self._brokers_were_down = False
        self._producer = Producer(self._config)
        self._closed = False
        self._batch = _Batch()
        self.acked: dict[tuple[str, int], tuple[int, int]] = {}
        self.highest: dict[tuple[str, int], int] = {}
        self.regressed = ""  # why the log seems to have started again ("" if it has not)
        self.loss = ""  # why the last confirm raised BrokerLoss ("" if it did not)
        self.rebuilds = 0
        #: Sent with every message (e.g. the topic's broker-loss epoch).
        self.headers: list[tuple[str, bytes]] = []
        #: Asked about once a second while a confirm waits: a reason the broker lost data, or None.
        self.watch: Callable[[], str | None] | None = None

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self._batch.acked += 1
            key = (str(message.topic()), int(message.partition() or 0))
            offset = int(message.offset() or 0)
            span = self._batch.offsets.setdefault(key, [offset, offset])
            span[0], span[1] = min(span[0], offset), max(span[1], offset)
        else:
            self._batch.errors.append(f"{message.topic()}: {error.str()}")
            if error.fatal():
                self._batch.fatal = error.str()

    def _on_client_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_were_down = True

    def send(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        """Queue one message; blocks briefly only when the local queue is full."""
        if self._brokers_were_down and not self._batch.sent:
            # As BatchConsumer.poll_batch: a fresh client meets a broker that came back, since it
            # may hold the same topics under new ids (librdkafka #4778, #4964). Only between
            # batches: messages of a batch under way must be confirmed or abandoned first.
            self._brokers_were_down = False
            self._renew()
        while True:
            try:
                self._producer.produce(topic, key=key.encode(), value=value, on_delivery=self._on_delivery,
                                       headers=[*self.headers, *(headers or {}).items()] or None)
                self._batch.sent += 1
                return
            except BufferError:
                # Local queue full: serve delivery reports to make room (backpressure).
                self._producer.poll(0.1)
            except KafkaException as exc:
                if not exc.args[0].fatal():
                    raise
                self._rebuild(exc.args[0].str())

    def confirm(self, timeout: float = 60.0) -> int:
        """Wait until every message sent since the last confirm is acknowledged.

        Returns how many were. Raises DeliveryFailed if any failed or the wait
        timed out, ProducerFatal after a fatal error; the caller must then not move its checkpoint.
        """
        remaining = self._flush(timeout)
        batch, self._batch = self._batch, _Batch()
        if batch.fatal:
            self._rebuild(batch.fatal)
        if remaining or batch.errors or batch.acked != batch.sent:
            detail = "; ".join(batch.errors[:3]) or f"{remaining} still queued after {timeout:.0f} s"
            raise DeliveryFailed(f"{batch.sent - batch.acked} of {batch.sent} messages not acknowledged: {detail}")
        for key, (low, high) in batch.offsets.items():
            # Until the caller takes them: the newest confirm's lowest, the highest of all.
            self.acked[key] = (low, max(high, self.acked.get(key, (low, high))[1]))
        for key, (low, high) in batch.offsets.items():
            if key in self.highest and low <= self.highest[key] and not self.regressed:
                self.regressed = (f"{key[0]}[{key[1]}] acknowledged offset {low} after offset "
                                  f"{self.highest[key]}: the log started again")
            self.highest[key] = high if self.regressed else max(high, self.highest.get(key, -1))
        return batch.acked

    def _flush(self, timeout: float) -> int:
        """flush() in slices of a second, asking `watch` in between: a broker that restarted
        empty may leave messages queued until the delivery timeout (minutes)."""
        deadline = time.monotonic() + timeout
        remaining = self._producer.flush(min(1.0, timeout))
        while remaining and time.monotonic() < deadline:
            reason = self.watch() if self.watch is not None else None
            if reason:
                self.loss = reason
                self.abandon()
                raise BrokerLoss(f"{remaining} messages not acknowledged: {reason}")
            remaining = self._producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
        return remaining

    def forget_offsets(self) -> None:
        """Start tracking offsets afresh (after a broker loss was handled)."""
        self.acked, self.highest, self.regressed, self.loss = {}, {}, "", ""

    def _rebuild(self, reason: str) -> None:
        """Replace a client that hit a fatal error and raise ProducerFatal: nothing queued on
        the old one counts."""
        log.error("kafka producer: fatal error (%s); rebuilding the producer", reason)
        self._swap_client()
        self._batch = _Batch()
        self.rebuilds += 1
        self.loss = f"fatal producer error: {reason}"
        raise ProducerFatal(f"fatal producer error: {reason}; the producer was rebuilt")

    def _renew(self) -> None:
        log.info("kafka producer: a new client replaces the old one (every broker was down)")
        self._swap_client()

    def _swap_client(self) -> None:
        """A new client in place of the old one; whatever the old one still queued is dropped."""
        old, self._producer = self._producer, Producer(self._config)
        try:
            old.purge()
            old.flush(0)
            old.close()
        except KafkaException:
            pass

    def rebuild(self, reason: str) -> None:
        """Replace the client without raising (e.g. after a broker loss, so the new log gets a
        new producer id and sequence numbers that start again)."""
        try:
            self._rebuild(reason)
        except ProducerFatal:
            pass

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (for up to `timeout`), drop the rest, and stop the client's
        threads: left to the garbage collector, they go on reconnecting to a broker that is gone."""
        if self._closed:
            return
        self._closed = True
        if self._producer.flush(timeout):
            self._producer.purge()
            self._producer.flush(0)
        self._producer.close()

    def abandon(self) -> None:
        """Drop whatever is still queued (after a failed confirm, when giving up); nothing once closed."""
        if not self._closed:
            self._producer.purge()
            self._producer.flush(0)
        self._batch = _Batch()
