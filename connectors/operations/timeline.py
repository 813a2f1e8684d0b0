"""Record timelines: every change that touched a record, in order, and what became of it.

Apply workers collect one line per change while they apply a batch and write them all
with one insert just before the batch's offsets are committed; a batch that is rewound
drops its lines with it, so a change consumed twice is still shown once.
"""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from confluent_kafka import Message
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from connectors import events
from connectors.kafka.config import REREAD_SUFFIX
from connectors.models import ObjectMapping, RecordEvent

Outcome = RecordEvent.Outcome
PRUNE_EVERY_SECONDS = 600.0


def source_version_text(version: dict[str, str]) -> str:
    """The source's own version in one string: SystemModstamp, replay id or cluster time."""
    return ", ".join(f"{name}={value}" for name, value in sorted(version.items()))


#: The columns a timeline line writes, in the order `TimelineBatch` builds its rows.
_COLUMNS = ("mapping_id", "salesforce_id", "mongo_id", "source", "outcome", "operation", "source_version",
            "topic", "partition", "offset", "fields", "event_id", "detail", "created_at")


class TimelineBatch:
    """A batch's timeline lines, written together by `flush` or dropped by `discard`.

    Lines are plain rows written with one `executemany`: building model instances and
    Django's bulk insert cost ~70 ms a thousand lines, this ~6 ms (plus the commit), on a hot
    path that writes a line for every change applied.
    """

    def __init__(self, retention: timedelta) -> None:
        self._retention = retention  # lines older than this are pruned now and then
        self._rows: list[tuple[Any, ...]] = []
        self._pruned_at: float | None = None  # the first flush prunes

    def add(self, mapping: ObjectMapping, envelope: events.ChangeEnvelope, message: Message | None,
            outcome: str, *, fields: list[str] | None = None, detail: str = "",
            salesforce_id: str | None = None, mongo_id: Any = None) -> None:
        self._rows.append((
            mapping.pk,
            salesforce_id or envelope.salesforce_id or "",
            str(mongo_id or envelope.mongo_id or ""),
            envelope.source,
            outcome,
            envelope.op,
            source_version_text(envelope.source_version),
            message.topic() if message is not None else "",
            message.partition() if message is not None else None,
            message.offset() if message is not None else None,
            fields if fields is not None else sorted(envelope.changed_fields or envelope.fields),
            envelope.event_id,
            detail,
        ))

    def detach(self) -> list[tuple[Any, ...]]:
        """Take the lines out, to be written later by `flush(lines)` (sf-apply settles a batch
        after the next one has started collecting its own)."""
        lines, self._rows = self._rows, []
        return lines

    def flush(self, lines: list[tuple[Any, ...]] | None = None) -> None:
        """Write these detached lines, or the batch's own."""
        rows = self._rows if lines is None else lines
        if rows:
            _insert(rows)
        if lines is None:
            self._rows = []
        if self._pruned_at is None or time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
            prune(self._retention)
            self._pruned_at = time.monotonic()

    def discard(self) -> None:
        self._rows = []


def _insert(rows: list[tuple[Any, ...]]) -> None:
    """One INSERT run for every row, values prepared by the model's own fields (JSON, dates)."""
    meta = RecordEvent._meta
    fields_column, created_column = meta.get_field("fields"), meta.get_field("created_at")
    now = created_column.get_db_prep_save(timezone.now(), connection)
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in _COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})")
    # A backfill's lines all name the same fields: each list is prepared (as JSON) once a batch.
    fields_values: dict[tuple[str, ...], Any] = {}
    prepared = []
    for row in rows:
        names = tuple(row[10])
        if names not in fields_values:
            fields_values[names] = fields_column.get_db_prep_save(row[10], connection)
        prepared.append((*row[:10], fields_values[names], *row[11:], now))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def record_resolution(mapping: ObjectMapping, salesforce_id: str, mongo_id: str, values: dict[str, Any],
                      by: str) -> None:
    """A person (or a policy) settled a conflict: a timeline line of its own."""
    RecordEvent.objects.create(
        mapping=mapping, salesforce_id=salesforce_id, mongo_id=mongo_id, source=RecordEvent.Source.CONSOLE,
        outcome=Outcome.RESOLVED, fields=sorted(values), detail=f"resolved by {by}",
    )


def prune(older_than: timedelta) -> int:
    """Drop lines older than the retention."""
    deleted, _ = RecordEvent.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def live_lines() -> QuerySet[RecordEvent]:
    """The lines of live changes, newest first: what the console's activity feed shows.

    A re-read's rows (initial load, backfill, CDC fallback) come on the re-read topic. They stay on
    each record's timeline, but thousands of them would push every live change out of a feed of
    the newest lines within one refresh; the job's progress tells how a re-read is going."""
    return RecordEvent.objects.exclude(topic__endswith=REREAD_SUFFIX).order_by("-id")


def record_key_filter(key: str) -> Q:
    """A record is named by its Salesforce Id or its MongoDB _id; either finds its lines."""
    return Q(salesforce_id=key) | Q(mongo_id=key)


def timeline(mapping: ObjectMapping, key: str) -> QuerySet[RecordEvent]:
    """Every line of one record, oldest first, including those filed under its other id."""
    lines = RecordEvent.objects.filter(record_key_filter(key), mapping=mapping)
    other_ids = {v for pair in lines.values_list("salesforce_id", "mongo_id") for v in pair if v and v != key}
    wider = record_key_filter(key)
    for other in other_ids:
        wider |= record_key_filter(other)
    return RecordEvent.objects.filter(wider, mapping=mapping).order_by("created_at", "id")
