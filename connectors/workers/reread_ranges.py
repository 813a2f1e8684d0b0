"""sf-reread:<mapping>: reads the key ranges of the mapping's split re-read, in every
runconsumers process that runs sf-capture, so two processes share one object's backfill.

The worker claims one range at a time (connectors.workers.key_ranges) and reads it in chunks as
the capture worker reads an unsplit re-read (connectors.workers.reread: REST chunks by Id, or one
Bulk API 2.0 job for a large range), in a thread of its own beside live capture. A range's
position (on its RereadRange row) moves only after Kafka acknowledged its rows, and only while
this process holds the range's lease; a process that dies leaves its range to another once the
lease expires, which goes on from the position (rows published after it are published again: the
apply side keeps one document per record). Rows carry the checkpoint's re-read header, so the
apply side counts them for the backfill job as it counts an unsplit re-read's.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from django.db import transaction
from django.db.models import F

from connectors.kafka.config import KafkaSettings
from connectors.kafka.producer import EventProducer
from connectors.mappings import schema_drift
from connectors.models import CaptureCheckpoint, ObjectMapping, RereadRange
from connectors.salesforce.client import SalesforceClient
from connectors.workers import key_ranges
from connectors.workers.lease import CaptureLease
from connectors.workers.reread import ProgressCallback, Reread

log = logging.getLogger(__name__)

#: How often an idle worker looks for a range to claim.
IDLE_SECONDS = 0.5


class RangeLost(Exception):
    """The range is no longer this worker's: deleted by a newer re-read, or its lease taken over."""


class RangeReread(Reread):
    """A Reread whose position is one key range's row, moved only under that range's lease."""

    def __init__(self, mapping: ObjectMapping, client: SalesforceClient, producer: EventProducer, topic_prefix: str,
                 range_id: int, owner: str, chunk_size: int, progress: ProgressCallback | None = None) -> None:
        self.range_id = range_id
        self.owner = owner
        self.number = 0
        row = RereadRange.objects.filter(pk=range_id).values("checkpoint_id").first()
        if row is None:
            raise RangeLost(f"range {range_id} is gone")
        self.checkpoint_id: int = row["checkpoint_id"]
        super().__init__(mapping, client, producer, topic_prefix, self.checkpoint_id, chunk_size, progress)

    def _load(self) -> None:
        row = RereadRange.objects.filter(pk=self.range_id).values(
            "number", "generation", "after_id", "upto_id", "estimate", "published", "done", "bulk_job",
            "bulk_locator", "bulk_row", "checkpoint__reread_reason", "checkpoint__reread_since",
            "checkpoint__reread_generation").first()
        if row is None:
            raise RangeLost(f"range {self.range_id} is gone: a newer re-read replaced it")
        current = row["checkpoint__reread_generation"] == row["generation"] and not row["done"]
        self.reason = row["checkpoint__reread_reason"] if current else ""
        self.since = row["checkpoint__reread_since"]
        self.number, self.generation = row["number"], row["generation"]
        self.label = f"key range {self.number}"
        self.after_id, self.upto_id = row["after_id"], row["upto_id"]
        self.total, self.published = row["estimate"], row["published"]
        self.bulk_job, self.bulk_locator, self.bulk_row = row["bulk_job"], row["bulk_locator"], row["bulk_row"]
        self.split, self.loaded = False, False

    def _mine(self) -> Any:
        return RereadRange.objects.filter(pk=self.range_id, lease_owner=self.owner, generation=self.generation)

    def _store(self, count: int, finished: bool, bulk_state: dict[str, Any]) -> None:
        """Move the range's position and add its rows to the re-read's count on the checkpoint,
        together; raises RangeLost if the range is no longer ours (nothing is moved then)."""
        with transaction.atomic():
            moved = self._mine().update(after_id=self.after_id, published=self.published, done=finished,
                                        **(dict(bulk_job="", bulk_locator="", bulk_row=0) if finished else bulk_state))
            if not moved:
                raise RangeLost(f"range {self.range_id} was taken over or replaced")
            CaptureCheckpoint.objects.filter(pk=self._checkpoint_id, reread_generation=self.generation).update(
                reread_published=F("reread_published") + count, events_published=F("events_published") + count)
        if self._progress:
            checkpoint = CaptureCheckpoint.objects.values("reread_published", "reread_total").get(
                pk=self._checkpoint_id)
            published = checkpoint["reread_published"]
            self._progress(self.mapping.name, published, max(checkpoint["reread_total"] or 0, published))

    def _save_bulk_state(self) -> None:
        if not self._mine().update(bulk_job=self.bulk_job, bulk_locator=self.bulk_locator, bulk_row=self.bulk_row):
            raise RangeLost(f"range {self.range_id} was taken over or replaced")

    def forget(self) -> None:
        """Stop reading this range: close its results page, and delete its Bulk job if the range
        itself is gone (a range taken over keeps its job: the new holder reads on from it)."""
        self._close_page()
        if self.bulk_job and not RereadRange.objects.filter(pk=self.range_id).exists():
            self.bulk.discard(self.bulk_job)


class RangeWorker:
    """Claims the ranges of one mapping's split re-read and reads them, one chunk a step."""

    def __init__(self, mapping: ObjectMapping, client: SalesforceClient, kafka: KafkaSettings, owner: str,
                 chunk_size: int, progress: ProgressCallback | None = None) -> None:
        self.name = f"sf-reread:{mapping.name}"
        self.mapping = mapping
        self.client = client
        self.kafka = kafka
        self.owner = owner
        self.chunk_size = chunk_size
        self.counters: Counter[str] = Counter()
        self._progress = progress
        self._producer: EventProducer | None = None  # made at the first range: most processes never need one
        self._reader: RangeReread | None = None
        self._lease: CaptureLease | None = None
        self._fields: list[str] = []

    def idle_seconds(self) -> float:
        return IDLE_SECONDS

    def step(self) -> bool:
        if self._reader is None and not self._claim():
            return False
        assert self._reader is not None and self._lease is not None and self._producer is not None
        if not self._lease.hold():
            self._drop("its lease was taken over")
            return True
        try:
            # A process that stalled may find its lease free again, the range finished or replaced
            # meanwhile: then it is no longer to read (and its position no longer ours to move).
            self._reader.reload()
            if not self._reader.active:
                raise RangeLost(f"range {self._reader.range_id} was finished or replaced meanwhile")
            more = self._reader.counted_step(self._fields, self.counters, self.name)
        except RangeLost as exc:
            self._drop(str(exc))
            return True
        if more is None:
            return False
        if not more:
            self.counters["ranges_done"] += 1
            if key_ranges.finish_if_last(self._reader.checkpoint_id, self._reader.generation):
                log.info("%s: the last key range is in Kafka: the re-read is done", self.name)
            self._release()
        return True

    def _claim(self) -> bool:
        range_id = key_ranges.claim(self.mapping.pk, self.owner)
        if range_id is None:
            return False
        if self._producer is None:
            self._producer = EventProducer(self.kafka)
        try:
            reader = RangeReread(self.mapping, self.client, self._producer, self.kafka.topic_prefix, range_id,
                                 self.owner, self.chunk_size, self._progress)
        except RangeLost:
            return False
        self._lease = CaptureLease(RereadRange, range_id, self.owner, key_ranges.LEASE_TTL)
        if not reader.active or not self._lease.hold():  # finished or replaced since it was claimed
            self._lease.release()
            self._lease = None
            return False
        self._reader = reader
        removed = schema_drift.removed_fields(self.mapping)
        self._fields = [name for name in self.mapping.fields.filter(enabled=True).values_list("sf_field", flat=True)
                        if name not in removed]
        log.info("%s: reading key range %d (%s, %s] from %s", self.name, reader.number, reader.after_id or "start",
                 reader.upto_id or "end", "its start" if not reader.published else f"{reader.published} records in")
        return True

    def _drop(self, why: str) -> None:
        log.info("%s: key range left: %s", self.name, why)
        self.counters["ranges_lost"] += 1
        if self._producer is not None:
            self._producer.abandon()
        if self._reader is not None:
            self._reader.forget()
        if self._lease is not None:
            self._lease.release()  # only if still ours: a lease taken over stays its new holder's
        self._reader, self._lease = None, None

    def _release(self) -> None:
        if self._lease is not None:
            self._lease.release()
        self._reader, self._lease = None, None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.forget()
        if self._lease is not None:
            self._lease.release()
        if self._producer is not None:
            self._producer.close()
