"""Platform event relays: a Pub/Sub channel -> Kafka -> a MongoDB collection.

Capture subscribes to the channel from the replay id of the last event Kafka acknowledged
(EARLIEST the first time, so nothing published before the relay started is missed) and
publishes each event, decoded, under the channel's name so they stay in order. Apply
stores each event once, keyed on its EventUuid: a replay after a crash changes nothing.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

from confluent_kafka import Message
from django.db.models import F
from pymongo import UpdateOne

from connectors.kafka.config import KafkaSettings, dead_letter_topic, relay_topic
from connectors.kafka.consumer import BatchConsumer
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.models import EventRelay, KafkaCluster, SyncError
from connectors.mongo.client import connect
from connectors.salesforce.pubsub.client import CUSTOM, EARLIEST, FetchedBatch, PubSubClient, Subscription
from connectors.wiring import kafka_settings
from connectors.workers.errors import park_message
from connectors.workers.lease import CaptureLease
from connectors.workers.positions import AppliedRecorder, CapturePositions

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
RELAY_MESSAGE_VERSION = 1


def _json_safe(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


class RelayCapture:
    """One relay's capture: each step hands one fetched batch of events to Kafka."""

    def __init__(self, relay: EventRelay, pubsub: PubSubClient, kafka: KafkaSettings, owner: str,
                 batch_size: int = 100) -> None:
        self.name = f"relay-capture:{relay.name}"
        self.relay = relay
        self.pubsub = pubsub
        self.batch_size = batch_size
        self.topic = relay_topic(kafka.topic_prefix, relay.channel)
        self.counters: Counter[str] = Counter()
        self._lease = CaptureLease(EventRelay, relay.pk, owner)
        self._producer = EventProducer(kafka)
        self._subscription: Subscription | None = None
        self._replay_id = relay.replay_id
        ensure_topics(kafka, [self.topic])
        self._positions = CapturePositions(self.name, relay.kafka, kafka, self.topic, self._producer, relay.replay_id)

    def idle_seconds(self) -> float:
        return self._lease.retry_in()  # the step itself waits up to POLL_SECONDS for events

    def step(self) -> bool:
        if not self._lease.hold():
            self._stop()
            return False
        if lost := self._positions.lost():
            self._replay(lost)
            return True
        if self._subscription is None:
            self._replay_id = EventRelay.objects.values_list("replay_id", flat=True).get(pk=self.relay.pk)
            self._subscription = (self.pubsub.subscribe(self.relay.channel, CUSTOM, self._replay_id, self.batch_size)
                                  if self._replay_id else
                                  self.pubsub.subscribe(self.relay.channel, EARLIEST, batch_size=self.batch_size))
        try:
            batch = self._subscription.poll(POLL_SECONDS)
            return self._relay(batch) if batch is not None else False
        except Exception:
            self._stop()  # start again after the checkpoint: nothing since it counts
            raise

    def _relay(self, batch: FetchedBatch) -> bool:
        if not batch.events:
            return False  # a keepalive; the next start resumes after the last event relayed anyway
        received_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        for received in batch.events:
            values = self.pubsub.get_schema(received.event.schema_id).decode(received.event.payload)
            message = {
                "version": RELAY_MESSAGE_VERSION, "relay": self.relay.name, "channel": self.relay.channel,
                "replay_id": _json_safe(received.replay_id),
                "event_uuid": values.get("EventUuid") or received.event.id,
                "received_at": received_at,
                "event": {name: _json_safe(value) for name, value in values.items()},
            }
            self._producer.send(self.topic, self.relay.channel, json.dumps(message).encode())
        self._producer.confirm()
        self._replay_id = _json_safe(batch.events[-1].replay_id)
        EventRelay.objects.filter(pk=self.relay.pk).update(
            replay_id=self._replay_id, events_relayed=F("events_relayed") + len(batch.events),
            last_event_at=datetime.now(timezone.utc),
        )
        self.counters["events_relayed"] += len(batch.events)
        self._positions.mark(self._replay_id, len(batch.events))
        return True

    def _replay(self, reason: str) -> None:
        """The broker lost events: subscribe again after the last one stored (none: EARLIEST)."""
        self._stop()
        self._replay_id = self._positions.rewind(reason) or ""
        EventRelay.objects.filter(pk=self.relay.pk).update(replay_id=self._replay_id)
        self.counters["broker_losses"] += 1

    def _stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        self._subscription = None
        self._producer.abandon()

    def close(self) -> None:
        self._stop()
        self.pubsub.close()
        self._producer.close()
        self._lease.release()


class RelayApply:
    """Stores the relayed events of every relay on one Kafka cluster, then commits."""

    def __init__(self, cluster: KafkaCluster, batch_size: int, should_stop: Callable[[], bool]) -> None:
        self.name = f"relay-apply:{cluster.name}"
        self.kafka = kafka_settings(cluster)
        self.counters: Counter[str] = Counter()
        self.batch_size = batch_size
        self._relays = {relay_topic(self.kafka.topic_prefix, r.channel): r
                        for r in EventRelay.objects.filter(kafka=cluster, enabled=True).select_related("mongo")}
        self._clients: dict[int, Any] = {}
        self._dlq_topic = dead_letter_topic(self.kafka.topic_prefix)
        self._dlq = EventProducer(self.kafka)
        ensure_topics(self.kafka, [*self._relays, self._dlq_topic])
        self._consumer = BatchConsumer(self.kafka, f"{self.kafka.topic_prefix}.relay-apply", sorted(self._relays))
        self._applied = AppliedRecorder(cluster, self._consumer)  # commits recorded for broker-loss replay

    def idle_seconds(self) -> float:
        return 0.05

    def step(self) -> bool:
        self._applied.follow_epochs()
        messages = self._consumer.poll_batch(self.batch_size, timeout=0.25)
        if not messages or not self._applied.admit(messages):
            return False
        try:
            by_relay: dict[str, list[UpdateOne]] = {}
            for message in messages:
                write = self._write_for(message)
                if write is not None:
                    by_relay.setdefault(message.topic() or "", []).append(write)
            for topic, writes in by_relay.items():
                self._store(self._relays[topic], writes)
            self._dlq.confirm()
            self._consumer.commit(messages)
        except BaseException:
            self._consumer.rewind(messages)
            raise
        return True

    def _write_for(self, message: Message) -> UpdateOne | None:
        try:
            relayed = json.loads(message.value() or b"")  # an empty message is parked below
            event, uuid = relayed["event"], relayed["event_uuid"]
            if not isinstance(event, dict) or not uuid:
                raise ValueError("no event values or no EventUuid")
        except (ValueError, KeyError, TypeError) as exc:
            park_message(message, SyncError.Stage.DECODE, "INVALID_RELAYED_EVENT", f"not a relayed event: {exc}",
                         dead_letters=(self._dlq, self._dlq_topic))
            self.counters["dead_lettered"] += 1
            return None
        document = {**event, "_relay": {"channel": relayed.get("channel"), "replay_id": relayed.get("replay_id"),
                                        "received_at": relayed.get("received_at")}}
        created = event.get("CreatedDate")
        if isinstance(created, int):  # Avro carries datetimes as epoch milliseconds
            document["CreatedDate"] = datetime.fromtimestamp(created / 1000, timezone.utc)
        return UpdateOne({"_id": uuid}, {"$setOnInsert": document}, upsert=True)

    def _store(self, relay: EventRelay, writes: list[UpdateOne]) -> None:
        if relay.mongo_id not in self._clients:
            self._clients[relay.mongo_id] = connect(relay.mongo.uri)
        result = self._clients[relay.mongo_id][relay.mongo.database][relay.collection].bulk_write(writes, ordered=False)
        stored = result.upserted_count
        EventRelay.objects.filter(pk=relay.pk).update(events_stored=F("events_stored") + stored)
        self.counters["events_stored"] += stored
        self.counters["replays_ignored"] += len(writes) - stored

    def close(self) -> None:
        self._consumer.close()
        self._dlq.close()
        for client in self._clients.values():
            client.close()
