"""Step 2: a change of a record with an open conflict waits behind it, in order. Under
`newest_wins`, the MongoDB change a conflict waited for settles it instead: now both sides'
change times are known."""
from __future__ import annotations

from confluent_kafka import Message

from connectors import events
from connectors.engine.merge import NEWEST_WINS
from connectors.models import Conflict
from connectors.operations.conflict_queue import newest_side, resolve
from connectors.operations.timeline import Outcome
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_salesforce.target import Books, Target, cluster_datetime
from connectors.workers.conflict_gate import hold, open_conflicts


class ConflictGate:
    def __init__(self, books: Books) -> None:
        self._books = books

    def __call__(self, target: Target, items: Batch) -> Batch:
        """The changes of `items` that go on; the others wait behind, or settled, a conflict."""
        sf_ids = {e.salesforce_id for e, _ in items.values() if e.salesforce_id}
        waiting = open_conflicts(target.row, sf_ids, set(items))
        if not waiting:
            return items
        passing: Batch = {}
        for mongo_id, (envelope, message) in items.items():
            blocker = waiting.get(mongo_id) or waiting.get(envelope.salesforce_id or "")
            if blocker is None:
                passing[mongo_id] = (envelope, message)
            elif target.spec.conflict_policy == NEWEST_WINS and "cluster_time" in envelope.source_version:
                self._settle(blocker, envelope)
            else:
                self._hold(target, blocker, envelope, message)
        return passing

    def _settle(self, conflict: Conflict, envelope: events.ChangeEnvelope) -> None:
        """The MongoDB change a newest_wins conflict waited for: the later side wins. The
        resolution itself is published as a change of the document."""
        side = newest_side(conflict, cluster_datetime(envelope))
        resolve(conflict, take={name: side for name in conflict.fields}, by="policy:newest_wins")
        self._books.counters["conflicts_settled_by_time"] += 1

    def _hold(self, target: Target, conflict: Conflict, envelope: events.ChangeEnvelope, message: Message) -> None:
        hold(conflict, message, mongo_changed_at=cluster_datetime(envelope), fields=envelope.changed_fields)
        self._books.timeline.add(target.row, envelope, message, Outcome.HELD, detail=f"behind conflict #{conflict.pk}")
        self._books.counters["held_behind_conflict"] += 1
