"""Step 3: what to send to Salesforce for each change. Only fields whose value differs from
the last synced one (the document's `_sync.base`) are sent; a document with none is an echo of
the sync's own write and is dropped. A document born in MongoDB is upserted on the external-id
field holding its `_id`, so a retry after a crash finds the record it created."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from connectors import events
from connectors.engine.canonical import canonical, to_salesforce_json
from connectors.engine.conversion import ConversionError
from connectors.engine.mapping import FieldSpec, MappingSpec
from connectors.engine.merge import changed_fields
from connectors.engine.plan import never_synced_nor_set
from connectors.models import SyncError
from connectors.mongo import sync_state
from connectors.operations.timeline import Outcome
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_salesforce.target import Books, Pending, Target, born_in_mongodb, cluster_datetime
from connectors.workers.errors import park_message

Change = tuple[events.ChangeEnvelope, Message]


@dataclass
class Writes:
    """A mapping's Salesforce calls for one batch."""

    updates: list[Pending] = field(default_factory=list)
    creates: list[Pending] = field(default_factory=list)
    deletes: list[Change] = field(default_factory=list)

    @property
    def delete_ids(self) -> list[str]:
        return [envelope.salesforce_id or "" for envelope, _ in self.deletes]


class PlanWrites:
    def __init__(self, books: Books) -> None:
        self._books = books

    def __call__(self, target: Target, items: Batch, documents: dict[str, dict[str, Any]]) -> Writes:
        writes = Writes()
        for mongo_id, (envelope, message) in items.items():
            if envelope.op == "delete":
                self._delete(target, writes, envelope, message)
                continue
            document = documents.get(mongo_id)
            if document is None:
                self._books.timeline.add(target.row, envelope, message, Outcome.SUPERSEDED,
                                         detail="the document was deleted since; its delete follows")
                continue
            pending = self._pending(target, document, message, envelope)
            if pending is not None:
                (writes.updates if document.get(target.spec.key_field) else writes.creates).append(pending)
        return writes

    def _delete(self, target: Target, writes: Writes, envelope: events.ChangeEnvelope, message: Message) -> None:
        if target.spec.propagate_mongo_deletes and envelope.salesforce_id:
            writes.deletes.append((envelope, message))
        else:
            self._books.timeline.add(target.row, envelope, message, Outcome.IGNORED,
                                     detail="MongoDB deletes are not sent to Salesforce for this mapping"
                                     if envelope.salesforce_id else "never reached Salesforce")

    def _pending(self, target: Target, document: dict[str, Any], message: Message,
                 envelope: events.ChangeEnvelope) -> Pending | None:
        """What to send for one document, or None for an echo or a value of the wrong shape."""
        spec = target.spec
        writable = {f.sf_field: f for f in spec.fields if f.sf_writable}
        try:
            current = {name: canonical(name, f.sf_type, document.get(f.mongo_field)) for name, f in writable.items()}
        except ConversionError as exc:
            self._park_invalid(target, document, message, envelope, exc)
            return None
        base = sync_state.read(document).base
        absent = never_synced_nor_set(spec, document, base)
        delta = changed_fields({name: value for name, value in current.items() if name not in absent}, base)
        record = {name: to_salesforce_json(name, writable[name].sf_type, document.get(writable[name].mongo_field))
                  for name in delta}
        _name_external_id(spec, writable, document, base, delta, record)
        if not delta:
            self._books.timeline.add(target.row, envelope, message, Outcome.ECHO, fields=[])
            self._books.counters["echo_dropped"] += 1
            return None
        if document.get(spec.key_field):
            record["id"] = document[spec.key_field]
        return Pending(message, envelope, document, delta, record, cluster_datetime(envelope))

    def _park_invalid(self, target: Target, document: dict[str, Any], message: Message,
                      envelope: events.ChangeEnvelope, exc: ConversionError) -> None:
        spec = target.spec
        park_message(message, SyncError.Stage.CONVERT, "INVALID_VALUE",
                     f"{exc} (document {document['_id']} in {spec.collection}.{_mongo_name(spec, exc.field)})",
                     mapping=target.row, record_key=str(document["_id"]))
        self._books.timeline.add(target.row, envelope, message, Outcome.ERROR, detail=str(exc))
        self._books.counters["errors"] += 1


def _name_external_id(spec: MappingSpec, writable: dict[str, FieldSpec], document: dict[str, Any],
                      base: dict[str, Any], delta: dict[str, Any], record: dict[str, Any]) -> None:
    """Only a document born in MongoDB has a MongoDB id of its own to give Salesforce (and to
    write back to the document if the external-id field is mapped); changes with nothing else
    to send send nothing."""
    if not delta:
        return
    external_id = spec.sf_external_id_field
    if born_in_mongodb(spec, document):
        record[external_id] = str(document["_id"])
        if external_id in writable and base.get(external_id) != str(document["_id"]):
            delta[external_id] = str(document["_id"])
    else:
        record.pop(external_id, None)
        delta.pop(external_id, None)


def _mongo_name(spec: MappingSpec, sf_field: str) -> str:
    return next((f.mongo_field for f in spec.fields if f.sf_field == sf_field), sf_field)
