"""Step 6: after a Salesforce write, what the document learns, written back on the write-back
thread (`connectors.workers.apply.write_back`): its `_sync` state (the values now synced, what
was pushed when) and, for a record just created, its Salesforce Id."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from pymongo import UpdateOne

from connectors.engine.canonical import values_hash
from connectors.mongo import sync_state
from connectors.salesforce.writer import RecordResult
from connectors.workers.apply.to_salesforce.target import Pending, Target
from connectors.workers.apply.write_back import WriteBacks

Retrying = Callable[[Callable[[], Any]], Any]


def sync_state_set(document: dict[str, Any], sent: dict[str, Any], pushed_at: Any, changed_at: datetime,
                   now: datetime) -> dict[str, Any]:
    """The `$set` of a document's sync state after `sent` (canonical values) was written to
    Salesforce: the new base, what each field was before and when it was pushed, and the hash
    capture compares with to know the sync's own write when it comes back."""
    state = sync_state.read(document)
    return sync_state.update(base_values=sent, pushes=state.pushes_of(sent, pushed_at, changed_at),
                             base_hash=values_hash({**state.base, **sent}), synced_at=now, source="mongodb")


class WriteBackSyncState:
    def __init__(self, write_backs: WriteBacks, retrying: Retrying) -> None:
        self._write_backs = write_backs
        self._retrying = retrying

    def __call__(self, target: Target, written: list[tuple[Pending, RecordResult]],
                 pushed_at: datetime | None = None) -> None:
        """Start writing back what these successful writes taught their documents; `pushed_at` is
        Salesforce's clock once they landed (by default that of the writer's last call)."""
        if not written:
            return
        now = datetime.now(timezone.utc)
        pushed_at = pushed_at or target.writer.server_time
        updates = [UpdateOne({"_id": p.document["_id"]}, {"$set": self._fields(target, p, result, now, pushed_at)})
                   for p, result in written]

        def write() -> None:
            self._retrying(lambda: target.collection.bulk_write(updates, ordered=False))
        self._write_backs.submit(write, (str(p.document["_id"]) for p, _ in written))

    def _fields(self, target: Target, pending: Pending, result: RecordResult, now: datetime,
                pushed_at: datetime) -> dict[str, Any]:
        spec = target.spec
        fields = sync_state_set(pending.document, pending.sent, pushed_at, pending.changed_at, now)
        if result.id and not pending.document.get(spec.key_field):
            fields[spec.key_field] = result.id
        external_id = next((f.mongo_field for f in spec.fields if f.sf_field == spec.sf_external_id_field), None)
        if external_id and spec.sf_external_id_field in pending.sent:
            fields[external_id] = pending.sent[spec.sf_external_id_field]
        return fields
