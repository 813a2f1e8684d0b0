"""MongoDB capture: a change stream per mapped collection -> change envelopes -> Kafka -> resume token."""
from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from bson import json_util
from django.db.models import F
from pymongo.change_stream import CollectionChangeStream
from pymongo.errors import OperationFailure, PyMongoError

from connectors import events
from connectors.engine.canonical import to_salesforce_json
from connectors.engine.conversion import ConversionError
from connectors.kafka.config import KafkaSettings, mongo_topic
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.models import MongoCheckpoint, ObjectMapping, SyncError
from connectors.mongo import tombstones
from connectors.mongo.changes import RESOLUTION, id_text, is_own_write, touched_fields
from connectors.mongo.client import connect
from connectors.mongo.setup import business_references, ensure_collection
from connectors.wiring import mapping_spec
from connectors.workers.lease import CaptureLease
from connectors.workers.pause import RECHECK_SECONDS, PausedMappings
from connectors.workers.positions import CapturePositions

log = logging.getLogger(__name__)

#: Resume token no longer in the oplog: ChangeStreamHistoryLost / InvalidResumeToken.
HISTORY_LOST_CODES = {280, 286}


def _json_value(field: str, sf_type: str, value: Any) -> Any:
    """The Salesforce JSON form, or the value as extended JSON when it has the wrong shape:
    the envelope still carries it and the apply side reports the bad field."""
    try:
        return to_salesforce_json(field, sf_type, value)
    except ConversionError:
        return json.loads(json_util.dumps(value))


def _change_time(change: dict[str, Any]) -> datetime:
    """When the change happened: its wall time (milliseconds) where the server gives it,
    else its cluster time (whole seconds)."""
    wall = change.get("wallTime")
    if isinstance(wall, datetime):
        return wall if wall.tzinfo else wall.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(change["clusterTime"].time, timezone.utc)


def _token_json(token: Any) -> Any:
    """A resume token as JSON (the form checkpoints keep and `watch` takes back)."""
    return json.loads(json_util.dumps(token)) if token is not None else None


class MongoCapture:
    def __init__(self, mapping: ObjectMapping, kafka: KafkaSettings, owner: str, batch_size: int = 500) -> None:
        self.name = f"mongo-capture:{mapping.name}"
        self.mapping = mapping
        self.spec = mapping_spec(mapping)
        self.kafka = kafka
        self.batch_size = batch_size
        self.topic = mongo_topic(kafka.topic_prefix, mapping.collection)
        self.counters: Counter[str] = Counter()
        checkpoint, _ = MongoCheckpoint.objects.get_or_create(mapping=mapping)
        self._checkpoint_id = checkpoint.pk
        self._resume_token = checkpoint.resume_token
        self._lease = CaptureLease(MongoCheckpoint, checkpoint.pk, owner)
        self._holding = False
        self._client = connect(mapping.mongo.uri)
        database = self._client[mapping.mongo.database]
        ensure_collection(database, mapping.collection, business_references(self.spec))
        self._collection = database[mapping.collection]
        self._mapped = {f.mongo_field for f in self.spec.fields} | {RESOLUTION}
        self._producer = EventProducer(kafka)
        self._stream: CollectionChangeStream | None = None
        self._paused = PausedMappings(pk=mapping.pk)
        ensure_topics(kafka, [self.topic])
        self._positions = CapturePositions(self.name, mapping.kafka, kafka, self.topic, self._producer,
                                           self._resume_token, mapping)

    def idle_seconds(self) -> float:
        if self._paused.any():
            return RECHECK_SECONDS
        return self._lease.retry_in()  # the change stream's own await time paces the loop

    def step(self) -> bool:
        if not self._lease.hold():
            self._holding = False
            self._close_stream()  # another process captures this collection now
            return False
        if not self._holding:
            self._take_over()
        if self._paused.any():
            self._close_stream()  # reopened from the last published resume token on resume
            return False
        if lost := self._positions.lost():
            self._replay(lost)
            return True
        try:
            changes = self._read_batch()
            if not changes:
                return False
            self._publish(changes)
        except Exception:
            self._close_stream()  # reopen from the checkpoint: nothing of this batch counts
            self._producer.abandon()
            raise
        return True

    def _take_over(self) -> None:
        """Resume where the last holder of the lease published, not where this process last stood:
        another process (killed since) may have captured the collection meanwhile, and a stream
        opened from a token read at start (or from now) would skip what that process never published."""
        self._close_stream()
        self._resume_token = MongoCheckpoint.objects.get(pk=self._checkpoint_id).resume_token
        self._holding = True

    def _open_stream(self) -> CollectionChangeStream:
        # Neither `updateLookup` nor pre-images: sf-apply reads each document's current state
        # anyway (see `SalesforceApply._apply_target`), and both cost the server on every change.
        options: dict[str, Any] = {"max_await_time_ms": 250}
        if self._resume_token:
            options["resume_after"] = self._resume_token
        try:
            stream = self._collection.watch(**options)
            if not self._resume_token:  # a replay after a broker loss starts here at the earliest
                self._positions.begin(_token_json(stream.resume_token))
            return stream
        except OperationFailure as exc:
            if exc.code not in HISTORY_LOST_CODES:
                raise
            SyncError.objects.create(
                mapping=self.mapping, stage=SyncError.Stage.CAPTURE, code="CHANGE_STREAM_HISTORY_LOST",
                message=f"{self.name}: the resume token is older than the oplog keeps; capture restarts from now. "
                        f"Run `manage.py reconcile {self.mapping.name}` to repair what was missed.",
                payload=json_util.dumps(self._resume_token),
            )
            log.error("%s: resume token lost; restarting from now (run reconcile)", self.name)
            self._resume_token = None
            options.pop("resume_after")
            return self._collection.watch(**options)

    def _read_batch(self) -> list[dict[str, Any]]:
        if self._stream is None:
            self._stream = self._open_stream()
        changes: list[dict[str, Any]] = []
        while len(changes) < self.batch_size:
            change = self._stream.try_next()
            if change is None:
                break
            changes.append(change)
        return changes

    def _publish(self, changes: list[dict[str, Any]]) -> None:
        sent = 0
        deletes = [(c["documentKey"]["_id"], c["clusterTime"]) for c in changes if c["operationType"] == "delete"]
        own_deletes = tombstones.own_deletes(self._collection, deletes)
        for change in changes:
            if (id_text(change["documentKey"]["_id"]), change["clusterTime"]) in own_deletes:
                self.counters["own_deletes_skipped"] += 1  # a Salesforce delete the sync applied: not sent back
                continue
            envelope = self._envelope(change)
            if envelope is None:
                continue
            self._producer.send(self.topic, envelope.key, events.encode(envelope))
            sent += 1
        if sent:
            self._producer.confirm()
        assert self._stream is not None
        self._resume_token = self._stream.resume_token
        last_time = changes[-1]["clusterTime"]
        MongoCheckpoint.objects.filter(pk=self._checkpoint_id).update(
            resume_token=_token_json(self._resume_token),
            cluster_time=f"{last_time.time}.{last_time.inc}",
            events_published=F("events_published") + sent,
        )
        self._positions.mark(_token_json(self._resume_token), sent)
        self.counters["events_published"] += sent
        self.counters["changes_read"] += len(changes)

    def _envelope(self, change: dict[str, Any]) -> events.ChangeEnvelope | None:
        """The envelope for one change, or None for a change that is not for Salesforce."""
        operation = change["operationType"]
        if operation not in ("insert", "update", "replace", "delete"):
            return None
        if is_own_write(change):
            self.counters["own_writes_skipped"] += 1
            return None
        touched = touched_fields(change)
        if touched is not None and not touched & self._mapped:
            self.counters["unmapped_changes_skipped"] += 1
            return None
        # Inserts and replaces carry the whole document; an update only what it set.
        document = change.get("fullDocument") or {}
        if operation == "update":
            document = change.get("updateDescription", {}).get("updatedFields", {})
        fields = {}
        if operation in ("insert", "replace"):
            fields = {f.sf_field: _json_value(f.sf_field, f.sf_type, document.get(f.mongo_field))
                      for f in self.spec.fields if f.sf_writable and f.mongo_field in document}
        elif operation == "update":
            fields = self._updated_values(change)
        cluster_time = change["clusterTime"]
        changed = sorted(fields) if touched is None else sorted(
            f.sf_field for f in self.spec.fields if f.mongo_field in touched and f.sf_writable
        )
        return events.ChangeEnvelope(
            mapping=self.mapping.name,
            source="mongodb",
            op="delete" if operation == "delete" else "upsert",
            object=self.spec.sf_object,
            salesforce_id=document.get(self.spec.key_field),  # sf-apply fills it in where absent
            mongo_id=id_text(change["documentKey"]["_id"]),
            fields=fields,
            changed_fields=changed,
            source_version={"cluster_time": f"{cluster_time.time}.{cluster_time.inc}"},
            origin="mongodb",
            captured_at=_change_time(change).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )

    def _updated_values(self, change: dict[str, Any]) -> dict[str, Any]:
        """The new values of the mapped top-level fields an update set (None for removed ones)."""
        description = change.get("updateDescription", {})
        updated = description.get("updatedFields", {})
        removed = set(description.get("removedFields", []))
        touched = [f for f in self.spec.fields
                   if f.sf_writable and (f.mongo_field in updated or f.mongo_field in removed)]
        return {f.sf_field: None if f.mongo_field in removed
                else _json_value(f.sf_field, f.sf_type, updated[f.mongo_field])
                for f in touched}

    def _replay(self, reason: str) -> None:
        """The broker lost data: read the change stream again from the applied resume token."""
        self._close_stream()
        self._producer.abandon()
        self._resume_token = self._positions.rewind(reason)
        MongoCheckpoint.objects.filter(pk=self._checkpoint_id).update(resume_token=self._resume_token)
        self.counters["broker_losses"] += 1

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except PyMongoError:
                pass
            self._stream = None

    def close(self) -> None:
        self._close_stream()
        self._producer.close()
        self._lease.release()
        self._client.close()
