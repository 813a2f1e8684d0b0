"""The last step of the chain, and the one place an apply worker commits Kafka offsets.

A batch is made permanent (its timeline lines written, then its offsets committed) only once
its side effects landed: the target writes, done when the batch is submitted, and its
write-backs (`write_back.py`), which may still run: the batch is then *in flight* while the
next one is applied. Batches are made permanent in order. A document the next batch reads is
never in a write-back still running (`wait_for_documents`). A failure rewinds Kafka to the
oldest batch not made permanent, so a crash or an error redoes at most two batches, which
idempotent writes and version checks make harmless. Before partitions go to another member of
the group, the batch in flight is settled (`revoked`), so the new owner does not redo it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from confluent_kafka import Message

from connectors.kafka.consumer import BatchConsumer
from connectors.operations.timeline import TimelineBatch
from connectors.workers.apply.write_back import BatchWrites, WriteBacks

log = logging.getLogger(__name__)


@dataclass
class _Applied:
    messages: list[Message]
    lines: list[tuple[Any, ...]]
    writes: BatchWrites


class Commit:
    """`before_commit` is called with a batch's messages right before it is made permanent (the
    re-read apply counts its rows there: a crash in between counts a batch twice, never never)."""

    def __init__(self, consumer: BatchConsumer, timeline: TimelineBatch, write_backs: WriteBacks, name: str,
                 before_commit: Callable[[list[Message]], None] | None = None) -> None:
        self._consumer = consumer
        self._timeline = timeline
        self._write_backs = write_backs
        self._name = name
        self._before_commit = before_commit
        self._in_flight: _Applied | None = None

    def submit(self, messages: list[Message]) -> None:
        """The batch's target writes are done: settle the batch in flight, then commit this one,
        or put it in flight while its write-backs run. Raises the previous batch's write-back
        error (that batch stays in flight)."""
        self.settle()
        batch = _Applied(messages, self._timeline.detach(), self._write_backs.take())
        if batch.writes.futures:
            self._in_flight = batch
        else:
            self._make_permanent(batch)

    def fail(self, messages: list[Message]) -> None:
        """The batch `messages` could not be applied: drop its timeline lines and consume it again.
        The batch in flight is kept if its write-back lands, else Kafka is rewound to it too (that
        seek, to older offsets, comes last)."""
        self._timeline.discard()
        self._consumer.rewind(messages)
        self._write_backs.abandon()
        try:
            self.settle_or_rewind()
        except BaseException as exc:
            log.warning("%s: the previous batch's write-back failed too and is redone: %s", self._name, exc)

    def wait_for_documents(self, document_ids: Iterable[str]) -> None:
        """Settle the batch in flight first if it is writing to any of these documents."""
        if self._in_flight is not None and self._in_flight.writes.touches(document_ids):
            self.settle()

    def settle(self) -> None:
        """Wait for the write-backs in flight, then make their batch permanent."""
        batch = self._in_flight
        if batch is None:
            return
        batch.writes.result()
        self._make_permanent(batch)
        self._in_flight = None

    def settle_or_rewind(self) -> None:
        """Settle the batch in flight, or rewind Kafka to it if its write-back failed (then raise)."""
        try:
            self.settle()
        except BaseException:
            assert self._in_flight is not None
            self._consumer.rewind(self._in_flight.messages)
            self._in_flight = None
            raise

    def revoked(self, partitions: list[tuple[str, int]]) -> None:
        """These partitions go to another member of the group: commit what is settled first."""
        try:
            self.settle_or_rewind()
        except Exception as exc:  # the new owner redoes it from the last commit
            log.warning("%s: the batch in flight when %s were revoked is redone: %s", self._name, partitions, exc)

    def close(self) -> None:
        try:
            self.settle_or_rewind()
        except BaseException as exc:  # redone by the next consumer of these offsets
            log.warning("%s: write-back still in flight at shutdown failed: %s", self._name, exc)
        self._write_backs.close()

    def _make_permanent(self, batch: _Applied) -> None:
        if self._before_commit is not None:
            self._before_commit(batch.messages)
        self._timeline.flush(batch.lines)
        batch.lines = []  # written: a retry of a failed commit must not write them twice
        self._consumer.commit(batch.messages)
