"""sf-apply's MongoDB write-back, overlapped with the next batch's Salesforce calls.

Salesforce takes 0.3-2 s to answer a 200-record call, and writing the sync state of a
batch back to its documents costs MongoDB about as long, so the two run side by side: a
batch whose Salesforce writes are done is *in flight* while its write-back runs on one
background thread, and the worker goes on with the next batch.

What stays as before: a batch's timeline lines and Kafka offsets are written only after
its write-back landed, and batches are made permanent in order. A document the next
batch reads is never in a write-back still running (the reader waits for it), so its
`_sync` state is current. A failure rewinds Kafka to the oldest batch not made
permanent, so a crash or an error redoes at most two batches, which the idempotent
Salesforce writes and version checks make harmless.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from confluent_kafka import Message

from connectors.kafka.consumer import BatchConsumer
from connectors.timeline import TimelineBatch

log = logging.getLogger(__name__)


@dataclass
class _Batch:
    messages: list[Message]
    lines: list[tuple[Any, ...]]
    writes: list[Future[Any]]
    document_ids: set[str]


class WriteBackPipeline:
    def __init__(self, consumer: BatchConsumer, timeline: TimelineBatch, name: str) -> None:
        self._consumer = consumer
        self._timeline = timeline
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}:write-back")
        self._writes: list[Future[Any]] = []  # the batch being applied
        self._document_ids: set[str] = set()
        self._in_flight: _Batch | None = None

    def submit(self, write: Callable[[], Any], document_ids: Iterable[str]) -> None:
        """Start writing back to these documents; the batch being applied waits for it at hand-over."""
        self._writes.append(self._executor.submit(write))
        self._document_ids.update(document_ids)

    def before_reading(self, document_ids: Iterable[str]) -> None:
        """Settle the batch in flight first if it is writing to any of these documents."""
        if self._in_flight is not None and not self._in_flight.document_ids.isdisjoint(document_ids):
            self.settle()

    def hand_over(self, messages: list[Message]) -> None:
        """The current batch's Salesforce writes are done: settle the previous batch, then put
        this one in flight. Raises the previous batch's write-back error (it stays in flight)."""
        self.settle()
        self._in_flight = _Batch(messages, self._timeline.detach(), self._writes, self._document_ids)
        self._writes, self._document_ids = [], set()

    def settle(self) -> None:
        """Wait for the write-back in flight, then write its timeline and commit its offsets."""
        batch = self._in_flight
        if batch is None:
            return
        for write in batch.writes:
            write.result()
        self._timeline.flush(batch.lines)
        batch.lines = []  # written: a retry of a failed commit must not write them twice
        self._consumer.commit(batch.messages)
        self._in_flight = None

    def settle_or_rewind(self) -> None:
        """Settle the batch in flight, or rewind Kafka to it if its write-back failed (then raise).
        After a failed batch, call it once that batch is rewound: this seek, to older offsets, must
        come last."""
        try:
            self.settle()
        except BaseException:
            assert self._in_flight is not None
            self._consumer.rewind(self._in_flight.messages)
            self._in_flight = None
            raise

    def abandon_current(self) -> None:
        """The batch being applied failed and is rewound: let its write-backs finish (what they
        write is true: Salesforce has those values) so its redo reads their result."""
        wait(self._writes)
        self._writes, self._document_ids = [], set()

    def close(self) -> None:
        try:
            self.settle_or_rewind()
        except BaseException as exc:  # redone by the next consumer of these offsets
            log.warning("write-back still in flight at shutdown failed: %s", exc)
        self._executor.shutdown(wait=True)
