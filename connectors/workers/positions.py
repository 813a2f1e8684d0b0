"""Published and applied positions, and the replay after a broker lost data.

A capture's checkpoint is its *published* position: Kafka acknowledged everything before
it. That is not enough when the broker loses acknowledged data (a memory-only broker
restarted, an unclean leader election, a topic deleted, retention shorter than an outage):
the changes between what the other side applied and what Kafka acknowledged are gone
from Kafka while the checkpoint has moved past them. So:

* apply workers record, right after each Kafka commit, the committed offsets per
  (topic, partition) in AppliedOffset (`AppliedRecorder`);
* a capture records a PublishMark per confirmed publish: the source position it reached
  and the highest offset produced so far per partition; the newest mark whose offsets
  are all applied becomes its *applied* position (`CapturePositions.advance`), older marks
  are pruned;
* when the broker lost data (connectors.kafka.loss, a fatal producer error, or offsets
  that start again), the capture rewinds its checkpoint to the applied position and
  publishes again (`CapturePositions.rewind`); the topic's epoch moves, so apply workers
  read it again from its start. The apply side's version guards make the repeat harmless.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from confluent_kafka import KafkaException, Message
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from connectors.kafka.config import KafkaSettings, live_topic_of
from connectors.kafka.consumer import EPOCH_HEADER, BatchConsumer, message_epoch
from connectors.kafka.loss import BrokerProbe, Expected, lost
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.models import AppliedOffset, CapturePosition, KafkaCluster, ObjectMapping, PublishMark, SyncError

log = logging.getLogger(__name__)

#: How often a capture compares the broker with what it published, and advances its applied position.
CHECK_SECONDS = 3.0
#: How often a confirm waiting on the broker asks whether it lost data.
WATCH_SECONDS = 2.0
#: How often an apply worker looks for topics whose epoch moved.
EPOCH_SECONDS = 1.0


class CapturePositions:
    """The applied position of one capture and its watch on the broker. Not thread-safe: one
    capture worker calls it from its own steps."""

    def __init__(self, name: str, cluster: KafkaCluster, kafka: KafkaSettings, topic: str,
                 producer: EventProducer, initial: Any, mapping: ObjectMapping | None = None,
                 check_seconds: float = CHECK_SECONDS) -> None:
        """`initial` is the capture's checkpoint now: the applied position until a mark is applied."""
        self.name = name
        self._kafka_id = cluster.pk
        self._kafka = kafka
        self._topic = topic
        self._producer = producer
        self._mapping = mapping
        self._check_seconds = check_seconds
        row, created = CapturePosition.objects.get_or_create(
            name=name, defaults={"kafka_id": cluster.pk, "topic": topic, "applied": initial})
        if not created and (row.topic != topic or row.kafka_id != cluster.pk):
            # Another topic or cluster: marks and offsets of the old one mean nothing here.
            row.marks.all().delete()
            CapturePosition.objects.filter(pk=row.pk).update(topic=topic, kafka_id=cluster.pk, applied=initial,
                                                             cluster_id="", topic_id="")
            row.refresh_from_db()
        self._row = row
        producer.headers = [(EPOCH_HEADER, str(row.epoch).encode())]
        last = row.marks.order_by("-id").first()
        self._highest: dict[int, int] = {int(p): o for p, o in (last.offsets if last else {}).items()}
        self._floors: dict[int, int] = {}
        self._probe = BrokerProbe(kafka)
        self._checked_at = 0.0
        self._watched_at = 0.0
        producer.watch = self._watch

    # -- after each confirmed publish -------------------------------------------------

    def begin(self, source: Any) -> None:
        """The capture starts reading at `source` with no position of its own: if nothing is
        applied yet, a replay starts there."""
        if self._row.applied is None and source is not None:
            self._row.applied = source
            CapturePosition.objects.filter(pk=self._row.pk, applied__isnull=True).update(applied=source)

    def mark(self, source: Any, published: int) -> None:
        """The capture checkpointed `source` after Kafka acknowledged `published` changes."""
        for (topic, partition), (low, high) in self._producer.acked.items():
            if topic == self._topic:
                self._floors[partition] = low
                self._highest[partition] = max(high, self._highest.get(partition, -1))
        self._producer.acked = {}
        PublishMark.objects.create(position_id=self._row.pk, source=source, published=published,
                                   offsets={str(p): o for p, o in self._highest.items()})

    # -- each step ----------------------------------------------------------------------

    def lost(self) -> str | None:
        """Why the broker lost data this capture published, or None. Compares with the broker
        every `check_seconds` (and advances the applied position then); a fatal producer error
        or offsets that started again count at once."""
        if self._producer.loss or self._producer.regressed:
            return self._producer.loss or self._producer.regressed
        if time.monotonic() - self._checked_at < self._check_seconds:
            return None
        self._checked_at = time.monotonic()
        reason = self._compare()
        if reason is None:
            self.advance()
        return reason

    def _watch(self) -> str | None:
        if time.monotonic() - self._watched_at < WATCH_SECONDS:
            return None
        self._watched_at = time.monotonic()
        return self._compare()

    def _compare(self) -> str | None:
        try:
            state = self._probe.state(self._topic)
        except KafkaException as exc:  # the broker does not answer: nothing is known yet
            log.info("%s: could not read %s from the broker: %s", self.name, self._topic, exc)
            return None
        applied = self._applied_offsets()
        unread = {p: applied[p] for p, high in self._highest.items() if p in applied and high >= applied[p]}
        reason = lost(Expected(self._row.cluster_id, self._row.topic_id, dict(self._floors), unread), state)
        if reason is None and state.exists and not self._row.topic_id:
            self._row.cluster_id, self._row.topic_id = state.cluster_id, state.topic_id
            CapturePosition.objects.filter(pk=self._row.pk).update(cluster_id=state.cluster_id,
                                                                  topic_id=state.topic_id)
        return reason

    def _applied_offsets(self) -> dict[int, int]:
        rows = AppliedOffset.objects.filter(kafka_id=self._kafka_id, topic=self._topic, epoch=self._row.epoch)
        return dict(rows.values_list("partition", "offset"))

    def advance(self) -> Any:
        """Move the applied position to the newest mark whose offsets are all applied and prune
        the marks before it; returns the applied position."""
        applied = self._applied_offsets()
        for mark in self._row.marks.order_by("-id")[:1000]:
            if all(applied.get(int(p), 0) > o for p, o in mark.offsets.items()):
                with transaction.atomic():
                    CapturePosition.objects.filter(pk=self._row.pk).update(applied=mark.source,
                                                                          applied_at=timezone.now())
                    self._row.marks.filter(id__lte=mark.pk).delete()
                self._row.applied = mark.source
                break
        return self._row.applied

    # -- after a loss -------------------------------------------------------------------

    def rewind(self, reason: str, describe: str = "") -> Any:
        """Handle a broker loss: record it, move the topic's epoch (apply workers read it again
        from the start), forget the marks and offsets of the lost log, rebuild the producer and
        recreate the topic. Returns the applied position the capture must publish again from.
        `describe` names that position for people (default: its JSON)."""
        self.advance()  # offsets applied up to the loss still count
        with transaction.atomic():
            row = CapturePosition.objects.select_for_update().get(pk=self._row.pk)
            unapplied = sum(row.marks.values_list("published", flat=True))
            row.marks.all().delete()
            row.epoch += 1
            row.losses += 1
            row.cluster_id = row.topic_id = ""
            row.save(update_fields=["epoch", "losses", "cluster_id", "topic_id", "updated_at"])
            AppliedOffset.objects.filter(kafka_id=self._kafka_id, topic=self._topic).delete()
        self._row = row
        self._highest, self._floors = {}, {}
        self._producer.rebuild(reason)
        self._producer.headers = [(EPOCH_HEADER, str(row.epoch).encode())]
        self._producer.forget_offsets()
        self._checked_at = time.monotonic()
        where = describe or _describe(row.applied)
        text = (f"broker lost data at {timezone.now():%Y-%m-%d %H:%M:%S} UTC ({reason}); {self.name} publishes "
                f"again from {where}: {unapplied} changes published since then were not yet applied")
        SyncError.objects.create(
            # No topic: this is a notice, nothing a retry could send again (the replay does that).
            mapping=self._mapping, stage=SyncError.Stage.CAPTURE, code="BROKER_DATA_LOST", message=text,
            payload=json.dumps({"topic": self._topic, "reason": reason, "applied": row.applied,
                                "epoch": row.epoch, "unapplied": unapplied}, default=str),
        )
        log.error("%s: %s", self.name, text)
        ensure_topics(self._kafka, [self._topic])
        return row.applied


def _describe(position: Any) -> str:
    """A position for people: a replay id as it is, a watermark as its fields, none as the start."""
    if position in (None, "", {}):
        return "the beginning"
    if isinstance(position, str):
        return position
    if isinstance(position, dict) and "modstamp" in position:
        return f"SystemModstamp {position['modstamp'] or 'start'} / Id {position.get('record_id') or '-'}"
    return json.dumps(position, default=str)


class AppliedRecorder:
    """An apply worker's half: records each Kafka commit in AppliedOffset, and reads a topic
    again from its start when its epoch moved (the broker lost it and captures publish again).

    A commit is recorded under the epoch its last message was published in (a header the
    capture sets), so a batch read from the lost log or before the rewind never counts for
    the new one."""

    def __init__(self, cluster: KafkaCluster, consumer: BatchConsumer) -> None:
        self._kafka_id = cluster.pk
        self._consumer = consumer
        self._epochs: dict[str, int] = {}
        self._epochs_known = False
        self._checked_at = 0.0
        consumer.on_commit = self.record
        self.follow_epochs()

    def record(self, offsets: dict[tuple[str, int], tuple[int, int]]) -> None:
        """Called by the consumer after a commit: (topic, partition) -> (next offset to read, epoch)."""
        for (topic, partition), (offset, epoch) in offsets.items():
            updated = AppliedOffset.objects.filter(kafka_id=self._kafka_id, topic=topic, partition=partition,
                                                   epoch__lte=epoch).update(offset=offset, epoch=epoch)
            if not updated:
                AppliedOffset.objects.get_or_create(kafka_id=self._kafka_id, topic=topic, partition=partition,
                                                    defaults={"offset": offset, "epoch": epoch})

    def admit(self, messages: list[Message]) -> bool:
        """False if a message was published in an epoch newer than this worker knows: the topic
        was lost and is published again, and this consumer may be reading the new log from the
        old log's position. Its topics are then read again from the start; drop the batch."""
        if all(message_epoch(m) <= self._epochs.get(str(m.topic()), 0) for m in messages):
            return True
        self.follow_epochs(force=True)
        return False

    def follow_epochs(self, force: bool = False) -> set[str]:
        """Seek the topics whose epoch moved to their start; returns them. Cheap when not due."""
        if not force and time.monotonic() - self._checked_at < EPOCH_SECONDS:
            return set()
        self._checked_at = time.monotonic()
        live = {topic: live_topic_of(topic) for topic in self._consumer.topics}
        epochs = dict(CapturePosition.objects.filter(kafka_id=self._kafka_id, topic__in=set(live.values()))
                      .values("topic").annotate(newest=Max("epoch")).values_list("topic", "newest"))
        now = {topic: epochs[name] for topic, name in live.items() if name in epochs}
        moved = {topic for topic, epoch in now.items() if epoch != self._epochs.get(topic, 0)}
        if not self._epochs_known:  # at start the consumer reads from its commits anyway
            moved, self._epochs_known = set(), True
        self._epochs.update(now)
        if moved:
            log.warning("kafka: %s lost by the broker and published again; reading from the start", sorted(moved))
            self._consumer.seek_to_beginning(moved)
        return moved
