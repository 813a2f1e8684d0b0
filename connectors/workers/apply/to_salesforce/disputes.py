"""Step 4, under the `manual` policy only: an update is first checked against Salesforce's
current values (`manual_guard`); a field Salesforce changed meanwhile is a conflict, not an
overwrite, and the update waits behind it."""
from __future__ import annotations

from connectors.mongo import sync_state
from connectors.operations.timeline import Outcome
from connectors.workers.apply.to_salesforce.target import Books, Pending, Target
from connectors.workers.conflict_gate import hold
from connectors.workers.manual_guard import Write, current_values, disputed_fields, record_conflict


class HoldDisputed:
    def __init__(self, books: Books) -> None:
        self._books = books

    def __call__(self, target: Target, updates: list[Pending]) -> list[Pending]:
        """The updates whose fields Salesforce did not change meanwhile; each other one waits
        behind a new conflict."""
        writes = [Write(p.record["id"], str(p.document["_id"]), sync_state.read(p.document).base,
                        p.sent, p.changed_at) for p in updates]
        current = current_values(target.writer.client, target.spec, writes)
        kept = []
        for pending, write in zip(updates, writes, strict=True):
            record = current.get(write.salesforce_id)
            disputed = disputed_fields(target.spec, write, record) if record else {}
            if not record or not disputed:
                kept.append(pending)
                continue
            conflict = record_conflict(target.row, write, disputed, record)
            hold(conflict, pending.message)
            self._books.timeline.add(target.row, pending.envelope, pending.message, Outcome.CONFLICT,
                                     fields=conflict.fields,
                                     detail=f"conflict #{conflict.pk}: changed in Salesforce too")
            self._books.counters["conflicts"] += 1
            self._books.counters["held_behind_conflict"] += 1
        return kept
