"""Re-reads of a whole mapping over REST, in chunks by Id, beside live capture.

An initial load, a backfill job, and Change Data Capture's gap-overflow and expired-replay
fallbacks all read the whole object again. They run the way Netflix's DBLog and Debezium's
incremental snapshots do: one chunk at a time (`WHERE Id > :last ORDER BY Id LIMIT n`), with
the capture worker's live poll or stream running between two chunks, so a re-read never holds
live changes up. Each chunk goes to the object's re-read topic (not the live one), applied
by its own worker (connectors.workers.mongo_reread). A chunk row can be older than a live
change applied before it; the apply side keeps the newer one by SystemModstamp, and a
removed document's tombstone (connectors.mongo.tombstones) keeps an older row from bringing
it back.

A re-read of more than SYNC["BULK_REREAD_THRESHOLD"] records runs as ONE Bulk API 2.0 query
job instead (`... WHERE Id > :last`): a few API calls per million records where REST pages of
2,000 take 500+. Its result pages (SYNC["BULK_PAGE_SIZE"] records, one call each) are streamed,
and each step still publishes only one chunk of rows, so live capture keeps running between
chunks. Salesforce advises against ORDER BY in a Bulk query (it turns off PK chunking), so the
rows come in no useful order and the position is the job's: its id, the locator of the page
being read and how many of that page's rows are in Kafka, all on the checkpoint. A job's
results do not change, so after a restart the page is fetched again and those rows skipped. If
Salesforce no longer has the job (deleted, results expired) or fails it, the rows after
`reread_after_id` (the job's lower bound) are read again, by a new job or over REST; the apply
side skips the rows MongoDB already holds.

A re-read of more than SYNC["REREAD_RANGE_SIZE"] records is split into key ranges of the
object's Id space when it starts (connectors.workers.key_ranges, as PK chunking does), each with
its own lease and position, read by the sf-reread workers of every runconsumers process that runs
sf-capture (connectors.workers.reread_ranges): the capture worker then runs no chunks itself.

The position (every record up to `reread_after_id` is in Kafka) is on the mapping's
CaptureCheckpoint, moved only after Kafka acknowledged the chunk, so a restart resumes the
re-read where it was. Each row carries a header naming the checkpoint and the re-read's
generation; the apply side counts the rows of the current generation it has applied, which
is how a backfill job knows its last row is in MongoDB (connectors.operations.jobs.settle_backfills).
"""
from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from django.conf import settings
from django.db.models import F

from connectors import events
from connectors.engine.canonical import NUMBER_TYPES
from connectors.kafka.config import salesforce_reread_topic
from connectors.kafka.producer import EventProducer
from connectors.models import CaptureCheckpoint, ObjectMapping
from connectors.salesforce.bulk import LAST_PAGE, BulkQuery, BulkQueryError, ResultsPage
from connectors.salesforce.client import ApiLimitReached, SalesforceClient
from connectors.salesforce.polling import chunk_query, count_query
from connectors.workers import key_ranges
from connectors.workers.sf_envelopes import record_envelope

log = logging.getLogger(__name__)

#: Kafka header on every re-read row: "<capture checkpoint id>:<generation>".
REREAD_HEADER = "sync-reread"
#: Called as progress(mapping_name, records_published, records_total).
ProgressCallback = Callable[[str, int, int], None]


#: Salesforce type -> the JSON value of its Bulk API CSV text ("" is None already).
_CSV_CONVERSIONS: dict[str, Callable[[str], Any]] = {
    "boolean": lambda text: text == "true", "int": int,
    **{sf_type: float for sf_type in NUMBER_TYPES if sf_type != "int"},
}


def reread_tag(header_value: bytes | str) -> tuple[int, int] | None:
    """(checkpoint id, generation) from a re-read row's header; None if it is not one."""
    text = header_value.decode() if isinstance(header_value, bytes) else header_value
    checkpoint, _, generation = text.partition(":")
    return (int(checkpoint), int(generation)) if checkpoint.isdigit() and generation.isdigit() else None


class Reread:
    """One mapping's re-read, its state kept on the CaptureCheckpoint `checkpoint_id`."""

    def __init__(self, mapping: ObjectMapping, client: SalesforceClient, producer: EventProducer, topic_prefix: str,
                 checkpoint_id: int, chunk_size: int, progress: ProgressCallback | None = None) -> None:
        self.mapping = mapping
        self.client = client
        self.topic = salesforce_reread_topic(topic_prefix, mapping.sf_object)
        self.chunk_size = chunk_size
        self._producer = producer
        self._checkpoint_id = checkpoint_id
        self._progress = progress
        self.label = "re-read"
        self.upto_id = ""  # the last Id this re-read reads ("": no end); a key range has one
        self.split = False  # read in key ranges by the sf-reread workers, not by this one's steps
        self.loaded = False  # the checkpoint says the whole object has been read (backfill_done)
        self.bulk_threshold: int = settings.SYNC["BULK_REREAD_THRESHOLD"]
        self.bulk = BulkQuery(lambda: client.call(lambda sf: sf), page_size=settings.SYNC["BULK_PAGE_SIZE"])
        self._page: ResultsPage | None = None  # the Bulk results page being published, open across steps
        self._page_at: tuple | None = None  # (generation, job, locator, row) of the open page's next row
        self._rows: Iterator[dict[str, Any]] | None = None
        self._bulk_refused = False  # Salesforce failed this re-read's job: REST reads the rest
        self._status_wait = 0.0
        self._bulk_done = ""  # the Bulk job seen complete: its pages need no further status call
        #: (field, converter) for Bulk's CSV text of each mapped field that is not text
        self._conversions: list[tuple[str, Callable[[str], Any]]] | None = None
        self.reload()

    def reload(self) -> None:
        """Take the state from the checkpoint (after a restart, or a lost lease)."""
        self._load()
        # The open page is kept only where the checkpoint says this process left it (a reload
        # comes with every poll); else it is fetched again at the saved locator.
        if self._page_at != (self.generation, self.bulk_job, self.bulk_locator, self.bulk_row):
            self._close_page()

    def _load(self) -> None:
        row = CaptureCheckpoint.objects.values(
            "reread_reason", "reread_after_id", "reread_since", "reread_generation", "reread_total",
            "reread_published", "reread_bulk_job", "reread_bulk_locator", "reread_bulk_row",
            "backfill_done").get(pk=self._checkpoint_id)
        self.reason: str = row["reread_reason"]
        self.after_id: str = row["reread_after_id"]
        self.since: datetime | None = row["reread_since"]
        self.generation: int = row["reread_generation"]
        self.total: int | None = row["reread_total"]
        self.published: int = row["reread_published"]
        self.bulk_job: str = row["reread_bulk_job"]
        self.bulk_locator: str = row["reread_bulk_locator"]
        self.bulk_row: int = row["reread_bulk_row"]
        self.loaded = row["backfill_done"]
        self.split = bool(self.reason) and key_ranges.is_split(self._checkpoint_id, self.generation)

    @property
    def active(self) -> bool:
        return bool(self.reason)

    @property
    def reads_chunks(self) -> bool:
        """Running, with chunks for this worker's steps (a split one's are the sf-reread workers')."""
        return self.active and not self.split

    def pending(self) -> bool:
        """Running, or some of its rows not yet applied in MongoDB."""
        if self.split:
            self.reload()  # the sf-reread workers may have finished it
        if self.active:
            return True
        applied = CaptureCheckpoint.objects.values_list("reread_applied", flat=True).get(pk=self._checkpoint_id)
        return applied < self.published

    def start(self, reason: str, since: datetime | None = None) -> None:
        """Begin a re-read from the first Id (of records changed since `since`). A re-read
        already running is replaced: the new one reads everything it would have."""
        pages = self.client.query_pages(count_query(self.mapping.sf_object, since), include_deleted=True)
        total = next(pages).total_size
        replaced_job = self.bulk_job
        CaptureCheckpoint.objects.filter(pk=self._checkpoint_id).update(
            reread_reason=reason, reread_after_id="", reread_since=since, reread_total=total,
            reread_generation=F("reread_generation") + 1, reread_published=0, reread_applied=0,
            reread_bulk_job="", reread_bulk_locator="", reread_bulk_row=0)
        self.reload()
        self._bulk_refused = False
        if replaced_job:
            self.bulk.discard(replaced_job)
        ranges = key_ranges.split(self.client, self.mapping.sf_object, self._checkpoint_id, self.generation, total)
        self.split = ranges > 0
        log.info("sf-capture:%s: re-reading %s, %d records, beside live capture (%s)%s", self.mapping.name,
                 self.mapping.sf_object, total, reason, f", in {ranges} key ranges" if ranges else "")

    def redo_after_loss(self) -> bool:
        """The broker lost data: rows of this re-read may be gone before they were applied. Start
        it again if it runs or its rows are not all applied (MongoDB skips those it holds)."""
        self.reload()
        if not self.pending():
            return False
        self.start(self.reason or "backfill again after a broker loss", self.since)
        return True

    def take_backfill_request(self) -> bool:
        """A backfill job (connectors.operations.jobs) asked for the whole object again: start a re-read.
        The conditional update takes the request exactly once."""
        taken = CaptureCheckpoint.objects.filter(pk=self._checkpoint_id, backfill_requested=True).update(
            backfill_requested=False, backfill_done=False)
        if taken:
            self.start("backfill")
        return bool(taken)

    def counted_step(self, fields: Iterable[str], counters: Counter[str], worker: str) -> bool | None:
        """`step`, counting the records it published. None while the org is at its API limit (the
        re-read waits; nothing is lost). On any other failure what is still queued is dropped and
        the position reloaded, so the next step resumes at the last chunk Kafka acknowledged."""
        before = self.published
        try:
            more = self.step(fields)
        except ApiLimitReached as exc:
            counters["api_limit_waits"] += 1
            log.warning("%s: %s; the %s waits", worker, exc, self.label)
            return None
        except Exception:
            self._producer.abandon()
            self.reload()
            raise
        counters["records_reread"] += self.published - before
        return more

    def step(self, fields: Iterable[str]) -> bool:
        """Read one chunk, publish it and move the position once Kafka has it; True while
        chunks remain."""
        assert self.active
        names = list(fields)
        if self.bulk_job or self._wants_bulk():
            try:
                return self._bulk_step(names)
            except BulkQueryError as exc:
                log.warning("sf-capture:%s: %s; the re-read carries on over REST", self.mapping.name, exc)
                self._drop_bulk_job()
                self._bulk_refused = True
        soql = chunk_query(self.mapping.sf_object, names, self.after_id, self.chunk_size, self.since,
                           upto_id=self.upto_id)
        records = [r for page in self.client.query_pages(soql, include_deleted=True) for r in page.records]
        self._publish(names, records)
        return self._advance(records, finished=len(records) < self.chunk_size)

    def _publish(self, names: list[str], records: list[dict[str, Any]]) -> None:
        header = {REREAD_HEADER: f"{self._checkpoint_id}:{self.generation}"}
        for record in records:
            envelope = record_envelope(self.mapping, names, record)
            self._producer.send(self.topic, envelope.key, events.encode(envelope), header)
        self._producer.confirm()

    def _advance(self, records: list[dict[str, Any]], finished: bool, **bulk_state: Any) -> bool:
        """Record on the checkpoint that these records are in Kafka; True while more remain.
        A Bulk job's rows come unordered: the position is then `bulk_state`, not the last Id."""
        if not bulk_state and records:
            self.after_id = records[-1]["Id"]
        self.published += len(records)
        self._store(len(records), finished, bulk_state)
        if finished:
            log.info("sf-capture:%s: %s done (%s), %d records in Kafka, %d Bulk API calls", self.mapping.name,
                     self.label, self.reason, self.published, self.bulk.calls)
            self.reason, self.total = "", self.published
        return not finished

    def _store(self, count: int, finished: bool, bulk_state: dict[str, Any]) -> None:
        """Move the position on the checkpoint (`count` more records in Kafka)."""
        moved: dict[str, Any] = {"reread_after_id": self.after_id, "reread_published": self.published,
                                 **{f"reread_{name}": value for name, value in bulk_state.items()}}
        if finished:
            moved.update(reread_reason="", reread_total=self.published, reread_bulk_job="", reread_bulk_locator="",
                         reread_bulk_row=0)
            if self.since is None:  # every record read again: loaded (a backfill replaced by a fallback too)
                moved["backfill_done"] = True
        # Only the generation this worker runs: a newer request meanwhile is not overwritten.
        CaptureCheckpoint.objects.filter(pk=self._checkpoint_id, reread_generation=self.generation).update(
            events_published=F("events_published") + count, **moved)
        if self._progress:
            self._progress(self.mapping.name, self.published, max(self.total or 0, self.published))

    # -- Bulk API 2.0 --------------------------------------------------------------------
    def _wants_bulk(self) -> bool:
        return not self._bulk_refused and (self.total or 0) - self.published > self.bulk_threshold

    def _bulk_step(self, names: list[str]) -> bool:
        """One chunk of the Bulk job's results (creating the job, or waiting a moment for it, first)."""
        if not self.bulk_job:
            soql = chunk_query(self.mapping.sf_object, names, self.after_id, None, self.since, ordered=False,
                               upto_id=self.upto_id)
            self.bulk_job = self.bulk.create(soql, include_deleted=True)
            self.bulk_locator, self.bulk_row = "", 0
            self._save_bulk_state()
            log.info("sf-capture:%s: re-reading through Bulk API 2.0 job %s", self.mapping.name, self.bulk_job)
        if self._rows is None:
            if not self._open_page():
                return True
            assert self._rows is not None  # the page just opened
            for _ in itertools.islice(self._rows, self.bulk_row):  # in Kafka before a restart
                pass
            self._page_at = (self.generation, self.bulk_job, self.bulk_locator, self.bulk_row)
        assert self._rows is not None and self._page is not None
        self._page_at = None  # rows are taken from the page: only a completed step says where it is
        records = [self._typed(row) for row in itertools.islice(self._rows, self.chunk_size)]
        self.bulk_row += len(records)
        if len(records) == self.chunk_size:
            self._publish(names, records)
            more = self._advance(records, finished=False, bulk_row=self.bulk_row)
            self._page_at = (self.generation, self.bulk_job, self.bulk_locator, self.bulk_row)
            return more
        following = self._page.next_locator  # the page is read to its end
        self._close_page()
        self._publish(names, records)
        if following == LAST_PAGE:
            done, self.bulk_job, self.bulk_locator, self.bulk_row = self.bulk_job, "", "", 0
            more = self._advance(records, finished=True)
            self.bulk.discard(done)
            return more
        self.bulk_locator, self.bulk_row = following, 0
        return self._advance(records, finished=False, bulk_locator=following, bulk_row=0)

    def _open_page(self) -> bool:
        """Open the results page at the saved locator once the job is done; False while it runs
        (after a short, growing wait, so live capture gets its turn between two status calls)."""
        if self._bulk_done != self.bulk_job:
            self._check_job()
        if self._bulk_done != self.bulk_job:
            return False
        self._page = self.bulk.open_page(self.bulk_job, self.bulk_locator)
        self._rows = self._page.rows
        if self._conversions is None:
            types = dict(self.mapping.fields.filter(enabled=True).values_list("sf_field", "sf_type"))
            types["IsDeleted"] = "boolean"
            self._conversions = [(name, _CSV_CONVERSIONS[sf_type]) for name, sf_type in types.items()
                                 if sf_type in _CSV_CONVERSIONS]
        return True

    def _check_job(self) -> None:
        """One status call: note the job done, drop it if Salesforce no longer has it, raise if it
        failed, or wait a moment (growing) while it runs."""
        info = self.bulk.info(self.bulk_job)
        if info is None:  # Salesforce no longer has it: the job's rows are read again
            log.info("sf-capture:%s: Bulk API job %s is gone; reading again after %s", self.mapping.name,
                     self.bulk_job, self.after_id or "the first Id")
            self._drop_bulk_job()
        elif info["state"] in ("Failed", "Aborted"):
            raise BulkQueryError(info.get("errorMessage") or "no error message", self.bulk_job, info["state"])
        elif info["state"] == "JobComplete":
            self._bulk_done, self._status_wait = self.bulk_job, 0.0
        else:
            self._status_wait = min(max(self._status_wait * 2, 0.05), 2.0)
            time.sleep(self._status_wait)

    def _typed(self, row: dict[str, Any]) -> dict[str, Any]:
        """A CSV row with the JSON types a REST query gives (numbers, booleans), so both paths
        publish the same envelope."""
        for name, convert in self._conversions or ():
            value = row.get(name)
            if value is not None:
                row[name] = convert(value)
        return row

    def _save_bulk_state(self) -> None:
        CaptureCheckpoint.objects.filter(pk=self._checkpoint_id, reread_generation=self.generation).update(
            reread_bulk_job=self.bulk_job, reread_bulk_locator=self.bulk_locator, reread_bulk_row=self.bulk_row)

    def _drop_bulk_job(self) -> None:
        if self.bulk_job:
            self.bulk.discard(self.bulk_job)
        self.bulk_job, self.bulk_locator, self.bulk_row = "", "", 0
        self._close_page()
        self._save_bulk_state()

    def _close_page(self) -> None:
        if self._page is not None:
            self._page.close()
        self._page, self._rows, self._page_at = None, None, None
