"""Salesforce capture by polling: SOQL pages -> change envelopes -> Kafka -> checkpoint."""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Iterator

import orjson
from django.db.models import F
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors import events
from connectors.engine.conversion import parse_sf_datetime
from connectors.engine.window import PollWindow
from connectors.kafka.config import KafkaSettings, salesforce_topic
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.mappings import schema_drift
from connectors.models import CaptureCheckpoint, ObjectMapping
from connectors.operations.metrics import api_usage_gauges
from connectors.salesforce.client import ApiLimitReached, QueryPage, SalesforceClient
from connectors.salesforce.polling import capture_query, newest_query
from connectors.workers.lease import CaptureLease
from connectors.workers.positions import CapturePositions
from connectors.workers.reread import ProgressCallback, Reread
from connectors.workers.sf_envelopes import record_envelope, salesforce_envelope

log = logging.getLogger(__name__)

__all__ = ["ProgressCallback", "SalesforceCapture", "record_envelope", "salesforce_envelope"]


class SalesforceCapture:
    """One mapping's capture. Live polling keeps its cadence: a poll starts every poll
    interval and each step handles one of its pages. A re-read (initial load, backfill job)
    runs between polls, one chunk a step (connectors.workers.reread); it never moves the
    live watermark, so an edit made while it runs is read by the next poll."""

    def __init__(
        self,
        mapping: ObjectMapping,
        client: SalesforceClient,
        kafka: KafkaSettings,
        owner: str,
        lookback: timedelta,
        progress: ProgressCallback | None = None,
        chunk_size: int = 1000,
    ) -> None:
        self.name = f"sf-capture:{mapping.name}"
        self.mapping = mapping
        self.client = client
        self.kafka = kafka
        self.topic = salesforce_topic(kafka.topic_prefix, mapping.sf_object)
        self.counters: Counter[str] = Counter()
        checkpoint, _ = CaptureCheckpoint.objects.get_or_create(mapping=mapping)
        self._checkpoint_id = checkpoint.pk
        self._loaded = checkpoint.backfill_done
        self._window = PollWindow(checkpoint.modstamp, checkpoint.record_id, lookback)
        self._lease = CaptureLease(CaptureCheckpoint, checkpoint.pk, owner)
        self._producer = EventProducer(kafka)
        self._reread = Reread(mapping, client, self._producer, kafka.topic_prefix, checkpoint.pk, chunk_size, progress)
        self._pages: Iterator[QueryPage] | None = None
        self._fields: list[str] = []
        self._next_poll_at = 0.0
        self._held = False  # paused or no longer capturing: no polls, no re-read chunks
        self._chunk_owed = False
        ensure_topics(kafka, [self.topic, self._reread.topic])
        # No watermark yet: the initial load sets one (`begin`) before the first poll.
        self._positions = CapturePositions(self.name, mapping.kafka, kafka, self.topic, self._producer,
                                           self._position() if self._window.modstamp else None, mapping)

    def gauges(self) -> dict[str, int]:
        """API usage of the org from the last Sforce-Limit-Info seen, for the heartbeat."""
        return api_usage_gauges(self.mapping.org_id, self.client)

    def idle_seconds(self) -> float:
        if standby := self._lease.retry_in():
            return standby
        if self._reread.reads_chunks and not self._held:
            return 0.0  # the step itself interleaves the polls with the re-read's chunks
        return max(0.0, self._next_poll_at - time.monotonic())

    def step(self) -> bool:
        if not self._lease.hold():
            return False
        if lost := self._positions.lost():
            self._replay(lost)
            return True
        if self._pages is None:
            if self._reread.reads_chunks and not self._held and (
                    self._chunk_owed or time.monotonic() < self._next_poll_at):
                self._chunk_owed = False  # polls and chunks take turns at least: neither starves
                return self._reread_chunk()
            if time.monotonic() < self._next_poll_at:
                return False
            if not self._start_poll():
                return False
        assert self._pages is not None
        try:
            page = next(self._pages)
            self._publish(page)
        except StopIteration:
            self._finish_poll()
            return self._reread.reads_chunks
        except ApiLimitReached as exc:
            self._give_up_poll()
            self.counters["api_limit_waits"] += 1
            log.warning("%s: %s; polling waits", self.name, exc)
            return False
        except SalesforceMalformedRequest as exc:
            self._give_up_poll()
            # A mapped field deleted in Salesforce: record the drift and poll again without it.
            if not schema_drift.is_invalid_field(exc) or not schema_drift.recheck_after_invalid_field(self.mapping):
                raise
            self.counters["removed_fields_skipped"] += 1
            self._next_poll_at = 0.0
            log.warning("%s: %s; polling goes on without the fields Salesforce no longer has", self.name, exc)
            return True
        except Exception:
            # Start the next poll again from the checkpoint: nothing of this page counts.
            self._give_up_poll()
            raise
        return True

    def _give_up_poll(self) -> None:
        self._pages = None
        self._producer.abandon()

    def _start_poll(self) -> bool:
        self.mapping.refresh_from_db(fields=["enabled", "direction", "poll_interval_seconds", "paused"])
        self._next_poll_at = time.monotonic() + self.mapping.poll_interval_seconds
        self._held = not self.mapping.captures_salesforce or self.mapping.paused
        if self._held:
            return False  # paused: the checkpoint stays put, so resuming reads everything since
        removed = schema_drift.removed_fields(self.mapping)
        self._fields = [name for name in self.mapping.fields.filter(enabled=True).values_list("sf_field", flat=True)
                        if name not in removed]
        self._reread.reload()  # another process may have held the lease meanwhile
        self._reread.take_backfill_request()
        if not (self._loaded or self._reread.loaded or self._reread.active):
            self._begin_initial_load()
        self._window.begin(datetime.now(timezone.utc))
        soql = capture_query(self.mapping.sf_object, self._fields, self._window.since())
        self._pages = self.client.query_pages(soql, include_deleted=True)
        self.counters["polls"] += 1
        return True

    def _begin_initial_load(self) -> None:
        """First start: live polling begins at the newest change now, and a re-read loads
        everything (all of it, so an edit made meanwhile is read by both: the newer wins)."""
        if self._window.modstamp is None:
            newest = next(self.client.query_pages(newest_query(self.mapping.sf_object), include_deleted=True)).records
            if newest:
                self._window = PollWindow(parse_sf_datetime(newest[0]["SystemModstamp"]), newest[0]["Id"],
                                          self._window.lookback)
                CaptureCheckpoint.objects.filter(pk=self._checkpoint_id).update(
                    modstamp=self._window.modstamp, record_id=self._window.record_id)
                self._positions.begin(self._position())
        self._reread.start("initial load")

    def _reread_chunk(self) -> bool:
        if not self._fields:
            self._fields = list(self.mapping.fields.filter(enabled=True).values_list("sf_field", flat=True))
        more = self._reread.counted_step(self._fields, self.counters, self.name)
        if more is None:
            return False
        if not more:
            self._loaded = True
        return True

    def _finish_poll(self) -> None:
        self._pages = None
        self._chunk_owed = True
        self._window.prune()

    def _publish(self, page: QueryPage) -> None:
        started = time.monotonic()
        sent: list[tuple[str, datetime, int]] = []
        for record in page.records:
            modstamp = parse_sf_datetime(record["SystemModstamp"])
            content = hash(orjson.dumps(record))
            if not self._window.is_new(record["Id"], modstamp, content):
                continue
            envelope = record_envelope(self.mapping, self._fields, record)
            self._producer.send(self.topic, envelope.key, events.encode(envelope))
            sent.append((record["Id"], modstamp, content))
        if sent:
            # The checkpoint moves only once Kafka has acknowledged the whole page.
            self._producer.confirm()
            for record_id, modstamp, content in sent:
                self._window.mark_emitted(record_id, modstamp, content)
            CaptureCheckpoint.objects.filter(pk=self._checkpoint_id).update(
                modstamp=self._window.modstamp,
                record_id=self._window.record_id,
                events_published=F("events_published") + len(sent),
            )
            self._positions.mark(self._position(), len(sent))
        self.counters["events_published"] += len(sent)
        self.counters["records_read"] += len(page.records)
        log.debug("%s: page of %d, %d published in %.3f s", self.name, len(page.records), len(sent),
                  time.monotonic() - started)

    def _position(self) -> dict[str, str | None]:
        """The published position (the window's watermark) in the form CapturePositions keeps."""
        modstamp = self._window.modstamp
        return {"modstamp": modstamp.isoformat() if modstamp else None, "record_id": self._window.record_id}

    def _replay(self, reason: str) -> None:
        """The broker lost data: poll again from the applied position (None: from the beginning),
        and run again a re-read whose rows may have been lost before they were applied."""
        self._give_up_poll()
        applied = self._positions.rewind(reason) or {}
        modstamp = datetime.fromisoformat(applied["modstamp"]) if applied.get("modstamp") else None
        self._window = PollWindow(modstamp, applied.get("record_id", ""), self._window.lookback)
        CaptureCheckpoint.objects.filter(pk=self._checkpoint_id).update(modstamp=modstamp,
                                                                        record_id=self._window.record_id)
        ensure_topics(self.kafka, [self._reread.topic])  # a fallback may re-read into it too
        self._reread.redo_after_loss()
        self._next_poll_at = 0.0
        self.counters["broker_losses"] += 1

    def close(self) -> None:
        self._producer.close()
        self._lease.release()
