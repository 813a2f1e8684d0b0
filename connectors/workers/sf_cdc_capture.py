"""Salesforce capture by Change Data Capture: Pub/Sub API events -> change envelopes -> Kafka -> replay id.

An alternative to polling for one mapping. It subscribes to `/data/<Object>ChangeEvent`
and turns each event into one envelope per record id: CREATE and UNDELETE carry the
whole record, UPDATE only the mapped fields it changed (nulled ones as null; absent
ones are left alone by the apply side), DELETE none. The replay id is checkpointed
only after Kafka acknowledged every envelope before it.

What an event cannot say is read over REST instead: the records of a GAP_* event (or
of an update that sent a long text as a diff) are re-read and published whole; a
GAP_OVERFLOW, a replay id Salesforce no longer holds, the very first start (records
changed since the polling watermark, or all of them) and a backfill job re-read the
mapping in chunks beside the stream (connectors.workers.reread): each step takes the
stream's next batch, then one chunk, so live events never wait for a re-read. Updates made by
the sync itself (their changeOrigin names our client) are echoes: only the read-only fields
Salesforce set with them travel.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from django.db.models import F
from django.db.models.functions import Now
from simple_salesforce.format import format_soql

from connectors import events
from connectors.engine.conversion import format_sf_datetime
from connectors.kafka.config import KafkaSettings, salesforce_topic
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.mappings.cdc_support import change_event_topic
from connectors.models import CaptureCheckpoint, ObjectMapping, ReplayCheckpoint, SyncError
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.polling import SYSTEM_FIELDS
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
from connectors.workers.positions import CapturePositions
from connectors.workers.reread import ProgressCallback, Reread
from connectors.workers.sf_envelopes import record_envelope, salesforce_envelope

log = logging.getLogger(__name__)

#: How long one step waits for the stream; the step is the worker's idle wait too.
POLL_SECONDS = 1.0
#: While a re-read runs, at most this many delivered batches are handled between two chunks.
MAX_DRAIN_BATCHES = 50


def records_query(sf_object: str, fields: list[str], record_ids: list[str]) -> str:
    """SELECT the mapped fields of these records (run through queryAll, so deleted ones come too)."""
    bad = [i for i in record_ids if not i.isalnum()]
    if bad:
        raise ValueError(f"cdc: {bad[0]!r} is not a Salesforce record id")
    selected = list(dict.fromkeys([*SYSTEM_FIELDS, *fields]))
    return format_soql("SELECT {:literal} FROM {:literal} WHERE Id IN {}", ", ".join(selected), sf_object,
                       record_ids)


class SalesforceCdcCapture:
    """One mapping's CDC capture. Each step handles one batch of events (or one re-read page)."""

    def __init__(self, mapping: ObjectMapping, client: SalesforceClient, pubsub: PubSubClient,
                 kafka: KafkaSettings, owner: str, client_name: str, batch_size: int = 100, chunk_size: int = 1000,
                 progress: ProgressCallback | None = None) -> None:
        self.name = f"sf-capture:{mapping.name}"
        self.mapping = mapping
        self.client = client
        self.pubsub = pubsub
        self.client_name = client_name
        self.batch_size = batch_size
        self.kafka = kafka
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
        self._reread = Reread(mapping, client, self._producer, kafka.topic_prefix, self._backfill_checkpoint_id,
                              chunk_size, progress)
        self._fields: dict[str, str] = {}  # mapped Salesforce field -> its type
        self._read_only: set[str] = set()  # mapped fields only Salesforce sets
        self._replay_id = ""
        ensure_topics(kafka, [self.kafka_topic, self._reread.topic])
        self._positions = CapturePositions(self.name, mapping.kafka, kafka, self.kafka_topic, self._producer,
                                           checkpoint.replay_id, mapping)

    def idle_seconds(self) -> float:
        if self._paused.any():
            return RECHECK_SECONDS
        return self._lease.retry_in()  # the step itself waits up to POLL_SECONDS for events

    # -- the loop -------------------------------------------------------------------------

    def step(self) -> bool:
        if not self._lease.hold() or self._paused.any():
            self._stop_stream()  # resumes after the checkpointed replay id
            return False
        if lost := self._positions.lost():
            self._replay(lost)
            return True
        if self._subscription is None and not self._start():
            return False
        if self._reread.take_backfill_request():
            self.counters["rereads"] += 1
        try:
            assert self._subscription is not None
            if not self._reread.reads_chunks:  # none, or read in key ranges by the sf-reread workers
                batch = self._subscription.poll(POLL_SECONDS)
                return batch is not None and self._handle(batch)
            # A re-read runs: first everything the stream has already delivered, then one chunk.
            self._drain_stream()
            if self._reread.reads_chunks and self._subscription is not None:
                self._reread_chunk()
            return True
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
        self._read_only = set(self.mapping.fields.filter(enabled=True, sf_writable=False)
                              .values_list("sf_field", flat=True))
        self._replay_id = ReplayCheckpoint.objects.values_list("replay_id", flat=True).get(pk=self._checkpoint_id)
        self._reread.reload()  # a re-read under way resumes where it was
        if self._replay_id:
            self._subscription = self.pubsub.subscribe(self.cdc_topic, CUSTOM, self._replay_id, self.batch_size)
            log.info("%s: resuming %s after replay id %s", self.name, self.cdc_topic, self._replay_id)
            return True
        # First start (or after a fallback): every retained event, and a re-read for what came
        # before them; the version guard on the apply side drops whichever of the two is older.
        self.pubsub.get_topic(self.cdc_topic)  # an unknown topic fails here, in one line
        self._subscription = self.pubsub.subscribe(self.cdc_topic, EARLIEST, batch_size=self.batch_size)
        if not self._reread.active:
            polled = CaptureCheckpoint.objects.filter(mapping=self.mapping, backfill_done=True).first()
            self._reread.start("initial load", polled.modstamp if polled else None)
            self.counters["rereads"] += 1
        return True

    def _drain_stream(self) -> None:
        """Handle the batches the stream has already delivered (at most MAX_DRAIN_BATCHES), so
        live events never wait for more than one re-read chunk."""
        for _ in range(MAX_DRAIN_BATCHES):
            if self._subscription is None or not self._reread.reads_chunks:
                return
            batch = self._subscription.poll(0.0)
            if batch is None:
                return
            self._handle(batch)

    def _stop_stream(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        self._subscription = None
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
        # While a re-read's rows may still be on their way to MongoDB, a record's document may not be
        # there yet: an update naming only its changed fields would make a document of those fields
        # alone (keyed by the Salesforce Id, though the record may carry a MongoDB id), and the older
        # re-read row would then be skipped as stale. Such updates travel whole, read once per batch.
        whole = self._reread.pending()
        partial: dict[str, cdc.RecordChange] = {}
        for change in cdc.commit_order(changes):
            if change.is_overflow:
                continue
            if whole and self._names_changed_fields_only(change):
                partial.update(dict.fromkeys(change.header.record_ids, change))
            else:
                self._publish_change(change)
        if partial:
            self.counters["partial_rereads"] += len(partial)
            self._reread_records(list(partial), changes[-1])
        sent = self._producer.confirm()
        if overflow is None:
            self._checkpoint(changes[-1].replay_id, sent)
            return True
        # The re-read is recorded on the capture checkpoint before the replay id moves past the
        # overflow: a restart meanwhile resumes it.
        self._fall_back("GAP_OVERFLOW", f"cdc: {self.cdc_topic} sent GAP_OVERFLOW (transaction "
                        f"{overflow.header.transaction_key}): too many changes in one transaction to "
                        "describe them one by one")
        self._checkpoint(changes[-1].replay_id, sent)
        return True

    def _names_changed_fields_only(self, change: cdc.RecordChange) -> bool:
        """An update naming only what it changed. The sync's own count too: outside a re-read they
        carry only what Salesforce set with them, onto a document the sync wrote, but a retained
        one replayed on a first start may come from an earlier set-up of the mapping, whose
        document is not here (an audit-fields-only document met the load's row as a conflict on
        every other field)."""
        return change.change_type == cdc.UPDATE and not change.is_full_image and not change.is_gap

    def _publish_change(self, change: cdc.RecordChange) -> int:
        """Queue the envelopes of one change; returns how many."""
        own_update = change.client == self.client_name and change.change_type == cdc.UPDATE
        if own_update:
            # The sync's own update: only what Salesforce set with it (audit stamps, formulas) travels.
            # Creates and deletes travel whole, as polling would read them (owner, defaults).
            self.counters["echoes_skipped"] += 1
        mapped = self._read_only if own_update else set(self._fields)
        # A compound (a person's Name) an update changed only in part is re-read to be whole.
        diffed = (set(change.header.diff_fields) | change.partial_compounds) & mapped
        if change.is_gap or diffed:
            self.counters["gap_rereads" if change.is_gap else "diff_rereads"] += 1
            return self._reread_records(list(change.header.record_ids), change)
        if change.change_type == cdc.DELETE:
            return self._send_all(change, "delete", {})
        values = {name: cdc.rest_value(value, self._fields[name])
                  for name, value in change.values.items() if name in mapped}
        if change.is_full_image:
            values.update(self._implicit_fields(change))
        elif not values:
            if not own_update:  # an echo was counted as one already
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
            # update() leaves auto_now alone: set it, so the console can say when the replay id moved.
            replay_id=replay_id, events_published=F("events_published") + published, updated_at=Now(),
        )
        self._replay_id = replay_id
        self.counters["events_published"] += published
        self._positions.mark(replay_id, published)

    def _replay(self, reason: str) -> None:
        """The broker lost data: subscribe again after the applied replay id (none: start over);
        a replay id Salesforce no longer keeps falls back to a re-read (REPLAY_ID_EXPIRED); a
        re-read whose rows may have been lost runs again."""
        self._stop_stream()
        applied = self._positions.rewind(reason)
        ReplayCheckpoint.objects.filter(pk=self._checkpoint_id).update(replay_id=applied or "")
        self._replay_id = applied or ""
        ensure_topics(self.kafka, [self._reread.topic])  # a fallback may re-read into it too
        self._reread.redo_after_loss()  # its rows may have been lost before they were applied
        self.counters["broker_losses"] += 1

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

    def _reread_chunk(self) -> None:
        try:
            more = self._reread.step(self._fields)
        except Exception:
            self._reread.reload()  # resume at the last chunk Kafka acknowledged
            raise
        self.counters["records_reread"] = self._reread.published
        if not more:
            self.counters["rereads_done"] += 1

    def _fall_back(self, code: str, message: str) -> None:
        """Events were lost to us: re-read the whole mapping (beside the stream) and say so in
        the error queue. An expired replay id starts over from EARLIEST; an overflow keeps the
        stream."""
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
        self._reread.start(code)
        self.counters["rereads"] += 1

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        self.pubsub.close()
        self._producer.close()
        self._lease.release()
