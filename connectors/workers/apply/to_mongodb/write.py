"""Step 4: a batch's writes, version-guarded, in MongoDB. New records of a one-way mapping are
inserted outright while most are new (a backfill); the others are guarded updates or upserts.
A write MongoDB refuses is parked."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

from connectors.models import SyncError
from connectors.mongo.writer import DocumentChange, WriteOutcome, insert_new, write_changes
from connectors.operations.timeline import Outcome, TimelineBatch
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_mongodb.plan import Changes
from connectors.workers.apply.to_mongodb.target import Target
from connectors.workers.errors import park_message

Retrying = Callable[[Callable[[], Any]], Any]


class WriteToMongo:
    def __init__(self, timeline: TimelineBatch, counters: Counter[str], retrying: Retrying) -> None:
        self._timeline = timeline
        self._counters = counters
        self._retrying = retrying

    def __call__(self, target: Target, items: Batch, changes: Changes) -> None:
        if not changes:
            return
        outcome: WriteOutcome = self._retrying(lambda: write(target, [c for c, _ in changes.values()]))
        for change, code, error in outcome.failures:
            failed_message = changes[change.key][1]
            park_message(failed_message, SyncError.Stage.MONGO_WRITE, code, error,
                         mapping=target.row, record_key=change.key)
            self._timeline.add(target.row, items[change.key][0], failed_message, Outcome.ERROR,
                               detail=f"{code}: {error}")
        self._counters["applied"] += outcome.applied
        self._counters["stale_skipped"] += outcome.stale
        self._counters["errors"] += len(outcome.failures)


def write(target: Target, changes: list[DocumentChange]) -> WriteOutcome:
    now = datetime.now(timezone.utc)
    key_field = target.spec.key_field
    outcome = WriteOutcome()
    # One-way upserts carry the whole document, so a missing one can simply be inserted.
    fresh = [c for c in changes if c.op == "upsert" and c.base is None] if target.inserting() else []
    rest = [c for c in changes if c.op != "upsert" or c.base is not None] if fresh else changes
    if fresh:
        inserted, existing = insert_new(target.collection, key_field, fresh, now)
        target.inserts_tried(len(fresh), len(existing))
        outcome.add(inserted)
        rest = rest + existing
    if rest:
        outcome.add(write_changes(target.collection, key_field, rest, now))
    return outcome
