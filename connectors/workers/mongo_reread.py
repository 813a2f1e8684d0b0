"""MongoDB apply of re-read rows (initial load, backfill, CDC fallbacks), beside live apply.

Re-read rows come on their own topic (connectors.workers.reread) and are applied by this
worker, with its own consumer group and thread, so live changes never queue behind them.
Most rows of a backfill are already in MongoDB as they are: a read of the stored documents
per batch drops those (same SystemModstamp and the same mapped values) and those a live
change has overtaken (stored stamp newer, or a newer tombstone for a removed document), so
only what is new costs a write. What is left goes through the same version-guarded writes
as live changes. Applied rows of the current re-read are counted on the mapping's
CaptureCheckpoint, so a backfill job is done only when its last row is in MongoDB.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from confluent_kafka import Message
from django.db.models import F

from connectors.engine.conversion import ConversionError
from connectors.engine.mapping import to_document
from connectors.engine.plan import modstamp_of
from connectors.kafka.config import salesforce_reread_topic
from connectors.kafka.consumer import message_headers
from connectors.models import CaptureCheckpoint
from connectors.mongo import sync_state
from connectors.mongo.reads import find_in
from connectors.mongo.tombstones import deleted_at
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_mongodb.target import Target, document_id
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.reread import REREAD_HEADER, reread_tag

_MISSING = object()


def _stored_stamp(document: dict[str, Any]) -> Any:
    return sync_state.read(document).sf_modstamp


def _same_values(spec: Any, fields: dict[str, Any], document: dict[str, Any]) -> bool:
    try:
        wanted = to_document(spec, fields)
    except (ConversionError, KeyError, ValueError):
        return False  # let the normal path park it with its reason
    return all(document.get(name, _MISSING) == value for name, value in wanted.items())


def unapplied(target: Target, items: Batch) -> Batch:
    """The rows of `items` MongoDB does not already hold (as new or newer)."""
    by_document = {document_id(target.spec, envelope): key for key, (envelope, _) in items.items()}
    stored = {by_document[d["_id"]]: d for d in find_in(target.collection, "_id", list(by_document))}
    missing = [key for key in items if key not in stored]
    buried = deleted_at(target.collection, missing) if missing else {}
    keep: Batch = {}
    for key, (envelope, message) in items.items():
        stamp = modstamp_of(envelope.source_version)
        document = stored.get(key)
        if document is None:
            gone = buried.get(key)
            if envelope.op == "delete" or (gone is not None and gone >= stamp):
                continue  # nothing to delete, or deleted after this row was read
        else:
            current = _stored_stamp(document)
            if current is not None and (current > stamp or (
                    current == stamp and envelope.op != "delete"
                    and _same_values(target.spec, envelope.fields, document))):
                continue  # a live change overtook this row, or it is there as it is
        keep[key] = (envelope, message)
    return keep


class MongoRereadApply(MongoApply):
    """Applies re-read rows to MongoDB, skipping what is already there."""

    kind = "mongo-reread"

    def _topic(self, target: Target) -> str:
        return salesforce_reread_topic(self.kafka.topic_prefix, target.spec.sf_object)

    def _apply_target(self, target: Target, items: Batch) -> None:
        fresh = self._retrying(lambda: unapplied(target, items))
        self.counters["reread_unchanged"] += len(items) - len(fresh)
        if fresh:
            super()._apply_target(target, fresh)

    def _before_commit(self, messages: list[Message]) -> None:
        # Counted before the commit: a crash in between counts a batch twice (the job may say
        # done a moment early), never never.
        count_applied(messages)


def count_applied(messages: list[Message]) -> None:
    """Add the applied rows to their re-read's count (rows of an older generation are not counted)."""
    tags: Counter[tuple[int, int]] = Counter()
    for message in messages:
        for name, value in message_headers(message):
            tag = reread_tag(value) if name == REREAD_HEADER and value else None
            if tag:
                tags[tag] += 1
    for (checkpoint_id, generation), count in tags.items():
        CaptureCheckpoint.objects.filter(pk=checkpoint_id, reread_generation=generation).update(
            reread_applied=F("reread_applied") + count)
