"""Step 1: the current state of a batch's documents, and the Salesforce record each change is
about. A change is applied from the document as it is now, not from the envelope: between
capture and apply the sync itself may have written the document."""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from connectors import events
from connectors.mongo.changes import id_value
from connectors.mongo.reads import find_in
from connectors.operations.timeline import Outcome
from connectors.salesforce.record_ids import salesforce_ids_of
from connectors.workers.apply.commit import Commit
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_salesforce.target import Books, Target
from connectors.workers.delete_guard import still_held

T = TypeVar("T")
Retrying = Callable[[Callable[[], T]], T]


class ReadDocuments:
    def __init__(self, books: Books, commit: Commit, retrying: Retrying[Any]) -> None:
        self._books = books
        self._commit = commit
        self._retrying = retrying

    def __call__(self, target: Target, items: Batch) -> dict[str, dict[str, Any]]:
        """The documents of `items` by `_id` (a deleted one is missing). Fills in the Salesforce Id
        of each change, and drops from `items` the deletes of records another document holds."""
        self._commit.wait_for_documents(items)  # a write-back still running would be read half done
        documents = self._retrying(lambda: current_documents(target, list(items)))
        key_field = target.spec.key_field
        for mongo_id, (envelope, _) in items.items():
            if not envelope.salesforce_id and documents.get(mongo_id, {}).get(key_field):
                envelope.salesforce_id = documents[mongo_id][key_field]  # an update names only the `_id`
        if target.spec.propagate_mongo_deletes:
            self._name_deleted_records(target, items)
        return documents

    def _name_deleted_records(self, target: Target, items: Batch) -> None:
        """Fill in the Salesforce Id of deleted documents: capture keeps no pre-images (they cost
        the server on every write), so a delete names only the document's `_id`."""
        deleted = {mongo_id: envelope for mongo_id, (envelope, _) in items.items()
                   if envelope.op == "delete" and not envelope.salesforce_id}
        if not deleted:
            return
        found = salesforce_ids_of(target.writer.client, target.spec.sf_object, target.spec.sf_external_id_field,
                                  list(deleted))
        for mongo_id, envelope in deleted.items():
            envelope.salesforce_id = found.get(mongo_id)
        self._keep_held_records(target, items, deleted)

    def _keep_held_records(self, target: Target, items: Batch, deleted: dict[str, events.ChangeEnvelope]) -> None:
        """A record another document still holds (a duplicate merged by reconcile) is not deleted."""
        named = {mongo_id: e.salesforce_id for mongo_id, e in deleted.items() if e.salesforce_id}
        held = self._retrying(lambda: still_held(target.collection, target.spec.key_field, named)) if named else {}
        for mongo_id, holder in held.items():
            envelope, message = items.pop(mongo_id)
            self._books.timeline.add(target.row, envelope, message, Outcome.IGNORED,
                                     detail=f"document {holder} still holds the Salesforce record: not deleted there")
            self._books.counters["deletes_kept_for_duplicate"] += 1


def current_documents(target: Target, mongo_ids: list[str]) -> dict[str, dict[str, Any]]:
    return {str(d["_id"]): d for d in find_in(target.collection, "_id", [id_value(i) for i in mongo_ids])}
