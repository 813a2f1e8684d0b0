"""Salesforce capture by Change Data Capture: Pub/Sub API events -> change envelopes -> Kafka -> replay id.

An alternative to polling for one mapping. It subscribes to `/data/<Object>ChangeEvent`
and turns each event into one envelope per record id: CREATE and UNDELETE carry the
whole record, UPDATE only the mapped fields it changed (nulled ones as null; absent
ones are left alone by the apply side), DELETE none. The replay id is checkpointed
only after Kafka acknowledged every envelope before it.

What an event cannot say is read over REST instead: the records of a GAP_* event (or
of an update that sent a long text as a diff) are re-read and published whole; a
GAP_OVERFLOW, a replay id Salesforce no longer holds, and the very first start re-read
the mapping (records changed since the polling watermark, or all of them) before
the stream's events are taken. Events from the sync's own writes (their changeOrigin
names our client) are skipped and counted as echoes.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from django.db.models import F
from simple_salesforce.format import format_soql

from connectors import events
from connectors.engine.conversion import format_sf_datetime
from connectors.kafka.config import KafkaSettings, salesforce_topic
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.cdc_support import change_event_topic
from connectors.models import CaptureCheckpoint, ObjectMapping, ReplayCheckpoint, SyncError
from connectors.salesforce.client import QueryPage, SalesforceClient
from connectors.salesforce.polling import SYSTEM_FIELDS, capture_query
from connectors.salesforce.pubsub import cdc
from connectors.salesforce.pubsub.client import (
    CUSTOM,
    EARLIEST,
    FetchedBatch,
    PubSubClient,
    ReplayIdInvalid,
    Subscription,
)
from connectors.salesforce.record_ids import chunks
from connectors.workers.lease import CaptureLease
from connectors.workers.pause import RECHECK_SECONDS, PausedMappings
from connectors.workers.sf_capture import record_envelope, salesforce_envelope

log = logging.getLogger(__name__)

#: How long one step waits for the stream; the step is the worker's idle wait too.
POLL_SECONDS = 1.0


def records_query(sf_object: str, fields: list[str], record_ids: list[str]) -> str:
    """SELECT the mapped fields of these records (run through queryAll, so deleted ones come too)."""
    bad = [i for i in record_ids if not i.isalnum()]
    if bad:
        raise ValueError(f"cdc: {bad[0]!r} is not a Salesforce record id")
    selected = list(dict.fromkeys([*SYSTEM_FIELDS, *fields]))
    return format_soql("SELECT {:literal} FROM {:literal} WHERE Id IN {}", ", ".join(selected), sf_object,
                       record_ids)


@dataclass
class _Reread:
    """A re-read of the mapping over REST, page by page; `then_replay_id` is checkpointed once
    every page is in Kafka (None: keep the checkpoint where it is)."""

    pages: Iterator[QueryPage]
    then_replay_id: str | None
    reason: str
    backfill: bool = False  # a backfill job waits for this re-read to finish


class SalesforceCdcCapture:
    """One mapping's CDC capture. Each step handles one batch of events (or one re-read page)."""

    def __init__(self, mapping: ObjectMapping, client: SalesforceClient, pubsub: PubSubClient,
                 kafka: KafkaSettings, owner: str, client_name: str, batch_size: int = 100) -> None:
        self.name = f"sf-capture:{mapping.name}"
        self.mapping = mapping
        self.client = client
        self.pubsub = pubsub
        self.client_name = client_name
        self.batch_size = batch_size
        self.kafka_topic = salesforce_topic(kafka.topic_prefix, mapping.sf_object)
        self.cdc_topic = change_event_topic(mapping.sf_object)
        self.counters: Counter[str] = Counter()
        checkpoint, _ = ReplayCheckpoint.objects.get_or_create(mapping=mapping, defaults={"topic": self.cdc_topic})
        if checkpoint.topic != self.cdc_topic:  # the mapping moved to another object: its replay ids mean nothing
            ReplayCheckpoint.objects.filter(pk=checkpoint.pk).update(topic=self.cdc_topic, replay_id="")
        self._checkpoint_id = checkpoint.pk
        # Backfill requests from the console arrive on the polling checkpoint, whichever capture runs.
        self._backfill_checkpoint_id = CaptureCheckpoint.objects.get_or_create(mapping=mapping)[0].pk
        self._paused = PausedMappings(pk=mapping.pk)
        self._lease = CaptureLease(ReplayCheckpoint, checkpoint.pk, owner)
        self._producer = EventProducer(kafka)
        self._subscription: Subscription | None = None
        self._reread: _Reread | None = None
        self._fields: dict[str, str] = {}  # mapped Salesforce field -> its type
        self._replay_id = ""
        ensure_topics(kafka, [self.kafka_topic])

    def idle_seconds(self) -> float:
        if self._paused.any():
            return RECHECK_SECONDS
        return 0.0  # the step itself waits up to POLL_SECONDS for events

    # -- the loop -------------------------------------------------------------------------

    def step(self) -> bool:
        if not self._lease.hold() or self._paused.any():
            self._stop_stream()  # resumes after the checkpointed replay id
            return False
        if self._subscription is None and not self._start():
            return False
        self._take_backfill_request()
        try:
            if self._reread is not None:
                return self._reread_page()
            assert self._subscription is not None
            batch = self._subscription.poll(POLL_SECONDS)
            if batch is None:
                return False
            return self._handle(batch)
        except ReplayIdInvalid as exc:
            self._fall_back("REPLAY_ID_EXPIRED", str(exc))
            return True
        except Exception:
            # Start again from the checkpoint: nothing since it counts.
            self._stop_stream()
            raise

    def _start(self) -> bool:
        self.mapping.refresh_from_db(fields=["enabled", "direction", "capture_mode"])
        if not self.mapping.captures_salesforce:
            return False
        self._fields = dict(self.mapping.fields.filter(enabled=True).values_list("sf_field", "sf_type"))
        self._replay_id = ReplayCheckpoint.objects.values_list("replay_id", flat=True).get(pk=self._checkpoint_id)
        if self._replay_id:
            self._subscription = self.pubsub.subscribe(self.cdc_topic, CUSTOM, self._replay_id, self.batch_size)
            log.info("%s: resuming %s after replay id %s", self.name, self.cdc_topic, self._replay_id)
            return True
        # First start (or after a fallback): every retained event, and a re-read for what came
        # before them; the version guard on the apply side drops whichever of the two is older.
        self.pubsub.get_topic(self.cdc_topic)  # an unknown topic fails here, in one line
        self._subscription = self.pubsub.subscribe(self.cdc_topic, EARLIEST, batch_size=self.batch_size)
        polled = CaptureCheckpoint.objects.filter(mapping=self.mapping, backfill_done=True).first()
        self._begin_reread(polled.modstamp if polled else None, then_replay_id=None, reason="initial load")
        return True

    def _stop_stream(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        self._subscription = None
        self._reread = None
        self._producer.abandon()

    # -- events ---------------------------------------------------------------------------

    def _handle(self, batch: FetchedBatch) -> bool:
        if not batch.events:
            # A keepalive names the stream position: keep it, so a restart does not start far behind.
            if batch.latest_replay_id and batch.latest_replay_id != self._replay_id:
                self._checkpoint(batch.latest_replay_id, 0)
            return False
        changes = [cdc.decode_change(self.pubsub.get_schema(e.event.schema_id), e.event.payload, e.replay_id)
                   for e in batch.events]
        self.counters["events_received"] += len(changes)
        overflow = next((c for c in changes if c.is_overflow), None)
        for change in cdc.commit_order(changes):
            if not change.is_overflow:
                self._publish_change(change)
        sent = self._producer.confirm()
        if overflow is None:
            self._checkpoint(changes[-1].replay_id, sent)
            return True
        # The checkpoint stays before this batch until the re-read is in Kafka: a restart
        # meanwhile sees the overflow again and re-reads again.
        self._count_published(sent)
        self._fall_back("GAP_OVERFLOW", f"cdc: {self.cdc_topic} sent GAP_OVERFLOW (transaction "
                        f"{overflow.header.transaction_key}): too many changes in one transaction to "
                        "describe them one by one", then_replay_id=changes[-1].replay_id)
        return True

    def _publish_change(self, change: cdc.RecordChange) -> int:
        """Queue the envelopes of one change; returns how many."""
        if change.client == self.client_name:
            self.counters["echoes_skipped"] += 1
            return 0
        diffed = set(change.header.diff_fields) & set(self._fields)
        if change.is_gap or diffed:
            self.counters["gap_rereads" if change.is_gap else "diff_rereads"] += 1
            return self._reread_records(list(change.header.record_ids), change)
        if change.change_type == cdc.DELETE:
            return self._send_all(change, "delete", {})
        values = {name: cdc.rest_value(value, self._fields[name])
                  for name, value in change.values.items() if name in self._fields}
        if change.is_full_image:
            values.update(self._implicit_fields(change))
        elif not values:
            self.counters["unmapped_skipped"] += 1
            return 0
        return self._send_all(change, "undelete" if change.change_type == cdc.UNDELETE else "upsert", values)

    def _implicit_fields(self, change: cdc.RecordChange) -> dict[str, Any]:
        """Mapped fields change events never carry, known from the header."""
        implicit = {"SystemModstamp": format_sf_datetime(change.header.commit_timestamp), "IsDeleted": False}
        return {name: value for name, value in implicit.items() if name in self._fields}

    def _send_all(self, change: cdc.RecordChange, op: str, values: dict[str, Any]) -> int:
        for record_id in change.header.record_ids:
            fields = {**values, "Id": record_id} if "Id" in self._fields and op != "delete" else values
            self._send(salesforce_envelope(self.mapping, record_id, op, fields, change.header.commit_timestamp,
                                           change.replay_id))
        return len(change.header.record_ids)

    def _send(self, envelope: events.ChangeEnvelope) -> None:
        self._producer.send(self.kafka_topic, envelope.key, events.encode(envelope))

    def _checkpoint(self, replay_id: str, published: int) -> None:
        ReplayCheckpoint.objects.filter(pk=self._checkpoint_id).update(
            replay_id=replay_id, events_published=F("events_published") + published
        )
        self._replay_id = replay_id
        self.counters["events_published"] += published

    def _count_published(self, published: int) -> None:
        if published:
            ReplayCheckpoint.objects.filter(pk=self._checkpoint_id).update(
                events_published=F("events_published") + published)
            self.counters["events_published"] += published

    # -- re-reads over REST ---------------------------------------------------------------

    def _reread_records(self, record_ids: list[str], change: cdc.RecordChange) -> int:
        """Publish the current state of these records (a delete for any no longer there at all)."""
        found: set[str] = set()
        for chunk in chunks(record_ids):
            soql = records_query(self.mapping.sf_object, list(self._fields), chunk)
            for page in self.client.query_pages(soql, include_deleted=True):
                for record in page.records:
                    found.add(record["Id"])
                    self._send(record_envelope(self.mapping, self._fields, record, change.replay_id))
        for record_id in record_ids:
            if record_id not in found:  # purged from the recycle bin: gone for good
                self._send(salesforce_envelope(self.mapping, record_id, "delete", {}, change.header.commit_timestamp,
                                               change.replay_id))
        return len(record_ids)

    def _take_backfill_request(self) -> None:
        """A backfill job (connectors.jobs) asked for the whole object again: re-read it over REST
        while the stream goes on. The conditional update takes the request exactly once."""
        taken = CaptureCheckpoint.objects.filter(pk=self._backfill_checkpoint_id, backfill_requested=True).update(
            backfill_requested=False, backfill_done=False)
        if taken:
            self._begin_reread(None, then_replay_id=None, reason="backfill requested", backfill=True)

    def _begin_reread(self, since: datetime | None, then_replay_id: str | None, reason: str,
                      backfill: bool = False) -> None:
        soql = capture_query(self.mapping.sf_object, list(self._fields), since)
        self._reread = _Reread(self.client.query_pages(soql, include_deleted=True), then_replay_id, reason, backfill)
        self.counters["rereads"] += 1
        log.info("%s: re-reading %s (%s)", self.name, self.mapping.sf_object, reason)

    def _reread_page(self) -> bool:
        assert self._reread is not None
        try:
            page = next(self._reread.pages)
        except StopIteration:
            done, self._reread = self._reread, None
            if done.then_replay_id:
                self._checkpoint(done.then_replay_id, 0)
            if done.backfill:
                CaptureCheckpoint.objects.filter(pk=self._backfill_checkpoint_id).update(backfill_done=True)
            log.info("%s: re-read done (%s)", self.name, done.reason)
            return True
        for record in page.records:
            self._send(record_envelope(self.mapping, self._fields, record))
        self._count_published(self._producer.confirm())
        self.counters["records_reread"] += len(page.records)
        return True

    def _fall_back(self, code: str, message: str, then_replay_id: str | None = None) -> None:
        """Events were lost to us: re-read the whole mapping and say so in the error queue.

        An expired replay id starts over (EARLIEST plus a full re-read); an overflow keeps the
        stream and re-reads before the checkpoint moves past it."""
        text = f"{message}; the whole mapping is re-read over the REST API to catch up"
        SyncError.objects.create(
            mapping=self.mapping, stage=SyncError.Stage.CAPTURE, code=code, message=text,
            payload=json.dumps({"topic": self.cdc_topic, "replay_id": self._replay_id}),
        )
        self.counters["fallbacks"] += 1
        log.error("%s: %s", self.name, text)
        if code == "REPLAY_ID_EXPIRED":
            # Start over: every retained event, and everything before them from the re-read.
            self._stop_stream()
            ReplayCheckpoint.objects.filter(pk=self._checkpoint_id).update(replay_id="")
            self._replay_id = ""
            self._subscription = self.pubsub.subscribe(self.cdc_topic, EARLIEST, batch_size=self.batch_size)
        self._begin_reread(None, then_replay_id, reason=code)

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        self.pubsub.close()
        self._producer.close()
        self._lease.release()
