"""Salesforce capture by polling: SOQL pages -> change envelopes -> Kafka -> checkpoint."""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

from django.db.models import F
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors import events, schema_drift
from connectors.engine.conversion import format_sf_datetime, parse_sf_datetime
from connectors.engine.window import PollWindow
from connectors.kafka.config import KafkaSettings, salesforce_topic
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.metrics import api_usage_gauges
from connectors.models import CaptureCheckpoint, ObjectMapping
from connectors.salesforce.client import ApiLimitReached, QueryPage, SalesforceClient
from connectors.salesforce.polling import capture_query
from connectors.workers.lease import CaptureLease

log = logging.getLogger(__name__)

#: Called as progress(mapping_name, records_done, records_total) during a backfill.
ProgressCallback = Callable[[str, int, int], None]


def salesforce_envelope(mapping: ObjectMapping, record_id: str, op: str, fields: dict[str, Any], stamp: datetime,
                        replay_id: str | None = None) -> events.ChangeEnvelope:
    """A Salesforce change of one record, versioned by its SystemModstamp (and CDC replay id)."""
    version = {"system_modstamp": format_sf_datetime(stamp)}
    if replay_id:
        version["replay_id"] = replay_id
    return events.ChangeEnvelope(
        mapping=mapping.name,
        source="salesforce",
        op=op,  # type: ignore[arg-type]
        object=mapping.sf_object,
        salesforce_id=record_id,
        fields=fields,
        changed_fields=list(fields),
        source_version=version,
        origin="salesforce",
    )


def record_envelope(mapping: ObjectMapping, field_names: Iterable[str], record: dict[str, Any],
                    replay_id: str | None = None) -> events.ChangeEnvelope:
    """The whole state of a record read over REST (deleted ones, from queryAll, as a delete)."""
    values = {name: record.get(name) for name in field_names}
    return salesforce_envelope(mapping, record["Id"], "delete" if record.get("IsDeleted") else "upsert", values,
                               parse_sf_datetime(record["SystemModstamp"]), replay_id)


class SalesforceCapture:
    """One mapping's capture. Each step handles one query page; a poll runs until the
    query has no more pages, then the worker idles for the mapping's poll interval."""

    def __init__(
        self,
        mapping: ObjectMapping,
        client: SalesforceClient,
        kafka: KafkaSettings,
        owner: str,
        lookback: timedelta,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.name = f"sf-capture:{mapping.name}"
        self.mapping = mapping
        self.client = client
        self.kafka = kafka
        self.topic = salesforce_topic(kafka.topic_prefix, mapping.sf_object)
        self.counters: Counter[str] = Counter()
        self._progress = progress
        checkpoint, _ = CaptureCheckpoint.objects.get_or_create(mapping=mapping)
        self._checkpoint_id = checkpoint.pk
        self._backfilling = not checkpoint.backfill_done
        self._window = PollWindow(checkpoint.modstamp, checkpoint.record_id, lookback)
        self._lease = CaptureLease(CaptureCheckpoint, checkpoint.pk, owner)
        self._producer = EventProducer(kafka)
        self._pages: Iterator[QueryPage] | None = None
        self._fields: list[str] = []
        self._done_in_poll = 0
        ensure_topics(kafka, [self.topic])

    def gauges(self) -> dict[str, int]:
        """API usage of the org from the last Sforce-Limit-Info seen, for the heartbeat."""
        return api_usage_gauges(self.mapping.org_id, self.client)

    def idle_seconds(self) -> float:
        return self.mapping.poll_interval_seconds

    def step(self) -> bool:
        if not self._lease.hold():
            return False
        if self._pages is None:
            if not self._start_poll():
                return False
        assert self._pages is not None
        try:
            page = next(self._pages)
            self._publish(page)
        except StopIteration:
            self._finish_poll()
            return False
        except ApiLimitReached as exc:
            self._pages = None
            self._producer.abandon()
            self.counters["api_limit_waits"] += 1
            log.warning("%s: %s; polling waits", self.name, exc)
            return False
        except SalesforceMalformedRequest as exc:
            self._pages = None
            self._producer.abandon()
            # A mapped field deleted in Salesforce: record the drift and poll again without it.
            if not schema_drift.is_invalid_field(exc) or not schema_drift.recheck_after_invalid_field(self.mapping):
                raise
            self.counters["removed_fields_skipped"] += 1
            log.warning("%s: %s; polling goes on without the fields Salesforce no longer has", self.name, exc)
            return True
        except Exception:
            # Start the next poll again from the checkpoint: nothing of this page counts.
            self._pages = None
            self._producer.abandon()
            raise
        return True

    def _start_poll(self) -> bool:
        self.mapping.refresh_from_db(fields=["enabled", "direction", "poll_interval_seconds", "paused"])
        if not self.mapping.captures_salesforce or self.mapping.paused:
            return False  # paused: the checkpoint stays put, so resuming reads everything since
        self._take_backfill_request()
        removed = schema_drift.removed_fields(self.mapping)
        self._fields = [name for name in self.mapping.fields.filter(enabled=True).values_list("sf_field", flat=True)
                        if name not in removed]
        soql = capture_query(self.mapping.sf_object, self._fields, self._window.since())
        self._pages = self.client.query_pages(soql, include_deleted=True)
        self._done_in_poll = 0
        self.counters["polls"] += 1
        return True

    def _take_backfill_request(self) -> None:
        """A backfill job (connectors.jobs) asked to capture the whole object again: restart the
        window from the beginning. The conditional update takes the request exactly once."""
        taken = CaptureCheckpoint.objects.filter(pk=self._checkpoint_id, backfill_requested=True).update(
            backfill_requested=False, backfill_done=False, modstamp=None, record_id=""
        )
        if taken:
            self._window = PollWindow(None, "", self._window.lookback)
            self._backfilling = True
            log.info("%s: backfill requested; capturing %s from the beginning", self.name, self.mapping.sf_object)

    def _finish_poll(self) -> None:
        self._pages = None
        self._window.prune()
        if self._backfilling:
            CaptureCheckpoint.objects.filter(pk=self._checkpoint_id).update(backfill_done=True)
            self._backfilling = False
            log.info("%s: backfill complete", self.name)

    def _publish(self, page: QueryPage) -> None:
        started = time.monotonic()
        sent: list[tuple[str, Any]] = []
        for record in page.records:
            modstamp = parse_sf_datetime(record["SystemModstamp"])
            if not self._window.is_new(record["Id"], modstamp):
                continue
            envelope = record_envelope(self.mapping, self._fields, record)
            self._producer.send(self.topic, envelope.key, events.encode(envelope))
            sent.append((record["Id"], modstamp))
        if sent:
            # The checkpoint moves only once Kafka has acknowledged the whole page.
            self._producer.confirm()
            for record_id, modstamp in sent:
                self._window.mark_emitted(record_id, modstamp)
            CaptureCheckpoint.objects.filter(pk=self._checkpoint_id).update(
                modstamp=self._window.modstamp,
                record_id=self._window.record_id,
                events_published=F("events_published") + len(sent),
            )
        self.counters["events_published"] += len(sent)
        self.counters["records_read"] += len(page.records)
        self._done_in_poll += len(page.records)
        if self._backfilling and self._progress:
            self._progress(self.mapping.name, self._done_in_poll, page.total_size)
        log.debug("%s: page of %d, %d published in %.3f s", self.name, len(page.records), len(sent),
                  time.monotonic() - started)

    def close(self) -> None:
        self._producer.close()
        self._lease.release()
