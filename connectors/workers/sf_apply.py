"""Salesforce apply: Kafka batches of MongoDB changes -> sObject Collections writes -> write-back -> commit
(the write-back and commit overlap the next batch's Salesforce calls: `write_back.py`).

For each changed document the current values are read from MongoDB and compared with
the last synced values kept in its `_sync.base`: only fields that really changed are
sent, an unchanged document is an echo and is dropped. Documents born in MongoDB are
upserted on the external-id field holding their `_id`, so a retry after a crash finds
the record it created instead of creating a second one; the new Salesforce Id is then
written back to the document.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from confluent_kafka import Message
from pymongo import UpdateOne

from connectors import events
from connectors.conflict_queue import newest_side, resolve
from connectors.engine.canonical import canonical, to_salesforce_json, values_hash
from connectors.engine.conversion import ConversionError
from connectors.engine.mapping import MappingSpec
from connectors.engine.merge import NEWEST_WINS, changed_fields
from connectors.kafka.config import mongo_topic
from connectors.metrics import api_usage_gauges
from connectors.models import KafkaCluster, ObjectMapping, SyncError
from connectors.mongo import meta
from connectors.mongo.changes import id_value
from connectors.mongo.reads import find_in
from connectors.salesforce.client import ApiLimitReached
from connectors.salesforce.record_ids import salesforce_ids_of
from connectors.salesforce.writer import RecordResult, SalesforceWriter
from connectors.schema_drift import without_removed_fields
from connectors.timeline import Outcome
from connectors.wiring import mapping_spec, salesforce_client
from connectors.workers.apply_base import ApplyWorker, Batch
from connectors.workers.conflict_gate import hold, open_conflicts
from connectors.workers.errors import park_message
from connectors.workers.write_back import WriteBackPipeline

log = logging.getLogger(__name__)

PAUSED_RECHECK_SECONDS = 30.0
ALREADY_DELETED = {"ENTITY_IS_DELETED", "NOT_FOUND"}


@dataclass
class _Pending:
    """One document's write, waiting for Salesforce's answer."""

    message: Message
    envelope: events.ChangeEnvelope
    document: dict[str, Any]
    sent: dict[str, Any]  # canonical values of the fields sent
    record: dict[str, Any]  # the Salesforce payload
    changed_at: datetime  # when the MongoDB change happened


class _Target:
    def __init__(self, mapping: ObjectMapping, writer: SalesforceWriter, collection: Any) -> None:
        self.row = mapping
        # Fields removed in Salesforce (open schema drift) are not written until the drift is accepted.
        self.spec: MappingSpec = without_removed_fields(mapping_spec(mapping), mapping)
        self.writer = writer
        self.collection = collection


class SalesforceApply(ApplyWorker[_Target]):
    """Applies MongoDB changes to Salesforce."""

    kind = "sf-apply"
    source_label = "MongoDB"

    def __init__(self, cluster: KafkaCluster, batch_size: int, should_stop: Callable[[], bool],
                 pause_at_share: float = 0.9, parallel_calls: int = 4) -> None:
        self.pause_at_share = pause_at_share
        self.parallel_calls = parallel_calls
        self._writers: dict[int, SalesforceWriter] = {}
        self._paused_until = 0.0
        self._paused_writer: SalesforceWriter | None = None
        super().__init__(cluster, batch_size, should_stop)
        self._write_backs = WriteBackPipeline(self._consumer, self.timeline, self.name)

    @property
    def paused(self) -> bool:
        return self._paused_writer is not None

    def _build_target(self, mapping: ObjectMapping) -> _Target | None:
        if not mapping.captures_mongodb:
            return None
        if mapping.org_id not in self._writers:
            client = salesforce_client(mapping.org, should_stop=self._should_stop)
            self._writers[mapping.org_id] = SalesforceWriter(client, self.pause_at_share, self.parallel_calls)
        collection = self._mongo_client(mapping)[mapping.mongo.database][mapping.collection]
        return _Target(mapping, self._writers[mapping.org_id], collection)

    def _topic(self, target: _Target) -> str:
        return mongo_topic(self.kafka.topic_prefix, target.spec.collection)

    def _record_key(self, envelope: events.ChangeEnvelope) -> str | None:
        # The last change of a document wins: its current state is read from MongoDB anyway.
        return envelope.mongo_id

    def step(self) -> bool:
        self._refresh_if_due()
        if self.paused and not self._resume_if_usage_fell():
            return False
        messages = self._consumer.poll_batch(self.batch_size, timeout=0.25)
        if not messages:
            self._write_backs.settle_or_rewind()  # nothing follows: commit the last batch now
            return False
        try:
            self._apply_or_rewind(messages)
        except ApiLimitReached as exc:
            self._pause(exc)
            return False
        return True

    def _apply_or_rewind(self, messages: list[Message]) -> None:
        try:
            super()._apply_or_rewind(messages)
        except BaseException:
            # This batch is rewound; the one before it is kept if its write-back landed.
            self._write_backs.abandon_current()
            try:
                self._write_backs.settle_or_rewind()
            except BaseException as exc:
                log.warning("%s: the previous batch's write-back failed too and is redone: %s", self.name, exc)
            raise

    def _complete(self, messages: list[Message]) -> None:
        # Committed once the write-back landed, while the next batch's Salesforce calls run.
        self._write_backs.hand_over(messages)

    def _pause(self, reason: ApiLimitReached) -> None:
        self._paused_writer = next(iter(self._writers.values()), None)
        self._paused_until = time.monotonic() + PAUSED_RECHECK_SECONDS
        self.counters["api_limit_pauses"] += 1
        log.warning("%s: %s", self.name, reason)

    def _resume_if_usage_fell(self) -> bool:
        if time.monotonic() < self._paused_until:
            return False
        assert self._paused_writer is not None
        self._paused_writer.refresh_usage()
        try:
            self._paused_writer.check_limit()
        except ApiLimitReached:
            self._paused_until = time.monotonic() + PAUSED_RECHECK_SECONDS
            return False
        log.info("%s: API usage is below the limit again; writing resumes", self.name)
        self._paused_writer = None
        return True

    def gauges(self) -> dict[str, int]:
        """API usage per org from the last Sforce-Limit-Info seen, for the heartbeat."""
        return {k: v for org_id, writer in self._writers.items() for k, v in api_usage_gauges(org_id, writer.client).items()}

    def resume_check_now(self) -> None:
        """Let the next step re-read API usage at once (tests, the console's resume button)."""
        self._paused_until = 0.0

    def _apply_target(self, target: _Target, items: Batch) -> None:
        spec = target.spec
        self._write_backs.before_reading(items)
        documents = self._retrying(lambda: self._current_documents(target, list(items)))
        for mongo_id, (envelope, _) in items.items():
            if not envelope.salesforce_id and documents.get(mongo_id, {}).get(spec.key_field):
                envelope.salesforce_id = documents[mongo_id][spec.key_field]  # an update names only the `_id`
        self._name_deleted_records(target, items)
        sf_ids = {e.salesforce_id for e, _ in items.values() if e.salesforce_id}
        waiting = open_conflicts(target.row, sf_ids, set(items))
        updates: list[_Pending] = []
        creates: list[_Pending] = []
        deletes: list[tuple[str, Message]] = []
        for mongo_id, (envelope, message) in items.items():
            blocker = waiting.get(mongo_id) or waiting.get(envelope.salesforce_id or "")
            if blocker is not None and spec.conflict_policy == NEWEST_WINS and "cluster_time" in envelope.source_version:
                # The MongoDB change a newest_wins conflict waited for: now both times are known.
                side = newest_side(blocker, cluster_datetime(envelope))
                resolve(blocker, take={name: side for name in blocker.fields}, by="policy:newest_wins")
                self.counters["conflicts_settled_by_time"] += 1
                continue  # the resolution itself is published as a change of the document
            if blocker is not None:
                hold(blocker, message)
                self.timeline.add(target.row, envelope, message, Outcome.HELD, detail=f"behind conflict #{blocker.pk}")
                self.counters["held_behind_conflict"] += 1
                continue
            if envelope.op == "delete":
                if spec.propagate_mongo_deletes and envelope.salesforce_id:
                    deletes.append((envelope, message))
                else:
                    self.timeline.add(target.row, envelope, message, Outcome.IGNORED,
                                      detail="MongoDB deletes are not sent to Salesforce for this mapping"
                                      if envelope.salesforce_id else "never reached Salesforce")
                continue
            document = documents.get(mongo_id)
            if document is None:
                self.timeline.add(target.row, envelope, message, Outcome.SUPERSEDED,
                                  detail="the document was deleted since; its delete follows")
                continue
            pending = self._pending(target, document, message, envelope)
            if pending is None:
                continue
            (updates if document.get(spec.key_field) else creates).append(pending)
        if updates:
            self._record_results(target, updates, target.writer.update(spec.sf_object, [p.record for p in updates]))
        if creates:
            results = target.writer.upsert(spec.sf_object, spec.sf_external_id_field, [p.record for p in creates])
            self._record_results(target, creates, results)
        if deletes:
            self._record_deletes(target, deletes, target.writer.delete([e.salesforce_id for e, _ in deletes]))

    def close(self) -> None:
        self._write_backs.close()  # before the consumer closes: it commits the last batch
        super().close()

    def _name_deleted_records(self, target: _Target, items: Batch) -> None:
        """Fill in the Salesforce Id of deleted documents: capture keeps no pre-images (they cost
        the server on every write), so a delete names only the document's `_id`."""
        deleted = [(mongo_id, envelope) for mongo_id, (envelope, _) in items.items()
                   if envelope.op == "delete" and not envelope.salesforce_id]
        if not deleted or not target.spec.propagate_mongo_deletes:
            return
        found = salesforce_ids_of(target.writer.client, target.spec.sf_object, target.spec.sf_external_id_field,
                                  [mongo_id for mongo_id, _ in deleted])
        for mongo_id, envelope in deleted:
            envelope.salesforce_id = found.get(mongo_id)

    def _current_documents(self, target: _Target, mongo_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {str(d["_id"]): d for d in find_in(target.collection, "_id", [id_value(i) for i in mongo_ids])}

    def _pending(self, target: _Target, document: dict[str, Any], message: Message,
                 envelope: events.ChangeEnvelope) -> _Pending | None:
        """What to send for one document, or None for an echo or a value of the wrong shape."""
        spec = target.spec
        writable = [f for f in spec.fields if f.sf_writable]
        try:
            current = {f.sf_field: canonical(f.sf_field, f.sf_type, document.get(f.mongo_field)) for f in writable}
        except ConversionError as exc:
            park_message(message, SyncError.Stage.CONVERT, "INVALID_VALUE",
                         f"{exc} (document {document['_id']} in {spec.collection}.{_mongo_name(spec, exc.field)})",
                         mapping=target.row, record_key=str(document["_id"]))
            self.timeline.add(target.row, envelope, message, Outcome.ERROR, detail=str(exc))
            self.counters["errors"] += 1
            return None
        base = meta.sync_state(document).get("base") or {}
        delta = changed_fields(current, base)
        if not delta:
            self.timeline.add(target.row, envelope, message, Outcome.ECHO, fields=[])
            self.counters["echo_dropped"] += 1
            return None
        by_name = {f.sf_field: f for f in writable}
        record = {name: to_salesforce_json(name, by_name[name].sf_type, document.get(by_name[name].mongo_field))
                  for name in delta}
        record[spec.sf_external_id_field] = str(document["_id"])
        if document.get(spec.key_field):
            record["id"] = document[spec.key_field]
        return _Pending(message, envelope, document, delta, record, cluster_datetime(envelope))

    def _record_results(self, target: _Target, pendings: list[_Pending], results: list[RecordResult]) -> None:
        now = datetime.now(timezone.utc)
        write_back = []
        for pending, result in zip(pendings, results):
            if not result.success:
                self._park_rejected(target, pending, result)
                continue
            old_base = meta.sync_state(pending.document).get("base") or {}
            base = {**old_base, **pending.sent}
            fields: dict[str, Any] = {f"{meta.BASE}.{name}": value for name, value in pending.sent.items()}
            fields.update({
                f"{meta.PUSHED}.{name}": {"before": old_base.get(name), "sent": value,
                                           "at": target.writer.server_time, "change_at": pending.changed_at}
                for name, value in pending.sent.items()
            })
            fields.update({meta.HASH: values_hash(base), meta.SYNCED_AT: now, meta.SOURCE: "mongodb"})
            if result.id and not pending.document.get(target.spec.key_field):
                fields[target.spec.key_field] = result.id
            write_back.append(UpdateOne({"_id": pending.document["_id"]}, {"$set": fields}))
            self.timeline.add(target.row, pending.envelope, pending.message, Outcome.APPLIED, fields=sorted(pending.sent),
                              salesforce_id=result.id, detail="created in Salesforce" if result.created else "")
            self.counters["salesforce_created" if result.created else "salesforce_updated"] += 1
        if write_back:
            def write() -> None:
                self._retrying(lambda: target.collection.bulk_write(write_back, ordered=False))
            self._write_backs.submit(write, (str(p.document["_id"]) for p in pendings))

    def _park_rejected(self, target: _Target, pending: _Pending, result: RecordResult) -> None:
        fields = f" (fields: {', '.join(result.fields)})" if result.fields else ""
        park_message(pending.message, SyncError.Stage.SALESFORCE_WRITE, result.code or "UNKNOWN",
                     f"{result.message}{fields}; sent: {json.dumps(pending.record, default=str)}",
                     mapping=target.row, record_key=str(pending.document["_id"]))
        self.timeline.add(target.row, pending.envelope, pending.message, Outcome.ERROR, fields=sorted(pending.sent),
                          detail=f"{result.code}: {result.message}{fields}")
        self.counters["errors"] += 1

    def _record_deletes(self, target: _Target, deletes: list[tuple[events.ChangeEnvelope, Message]],
                        results: list[RecordResult]) -> None:
        for (envelope, message), result in zip(deletes, results):
            if result.success or result.code in ALREADY_DELETED:
                self.timeline.add(target.row, envelope, message, Outcome.DELETED, fields=[])
                self.counters["salesforce_deleted"] += 1
            else:
                park_message(message, SyncError.Stage.SALESFORCE_WRITE, result.code, result.message,
                             mapping=target.row, record_key=envelope.salesforce_id or "")
                self.timeline.add(target.row, envelope, message, Outcome.ERROR, fields=[],
                                  detail=f"{result.code}: {result.message}")
                self.counters["errors"] += 1


def cluster_datetime(envelope: events.ChangeEnvelope) -> datetime:
    """When a MongoDB change happened: capture stamps it from the change event's wall time."""
    return datetime.fromisoformat(envelope.captured_at.replace("Z", "+00:00"))


def _mongo_name(spec: MappingSpec, sf_field: str) -> str:
    return next((f.mongo_field for f in spec.fields if f.sf_field == sf_field), sf_field)
