"""Platform event relays: Order_Update__e published in Salesforce lands once in MongoDB, via Kafka."""
from __future__ import annotations

import threading

import pytest
from django.core.management import call_command

from connectors.kafka.config import relay_topic
from connectors.models import EventRelay, SyncError
from connectors.operations import platform_events
from connectors.workers.registry import build_workers
from tests.connectors.helpers import step_until
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db
ORDER_ID = "801Hn0000000001AAA"


@pytest.fixture
def relay(sync_settings):
    call_command("setupsync", no_mappings=True, relays="/event/Order_Update__e")
    return EventRelay.objects.get()


@pytest.fixture
def relay_workers():
    stop = threading.Event()
    built: list = []

    def build() -> list:
        workers = build_workers({"relays"}, stop)
        built.extend(workers)
        return workers

    yield build
    stop.set()
    for worker in built:
        worker.close()


def stored(mongo, status: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return list(mongo.order_updates.find({"Status__c": status}))


def test_an_order_update_travels_salesforce_kafka_mongodb_once(relay, relay_workers, mongo, unique):
    # Statuses unique to this test: the channel replays every retained event, other tests' too.
    shipped, delivered = f"Shipped {unique}", f"Delivered {unique}"
    workers = relay_workers()
    assert sorted(w.name for w in workers) == ["relay-apply:default", "relay-capture:order-update"]
    published = platform_events.publish_order_update(relay.org, ORDER_ID, shipped)

    step_until(workers, lambda: stored(mongo, shipped), message="the event in MongoDB")
    [document] = stored(mongo, shipped)
    assert document["Order_Id__c"] == ORDER_ID and document["_relay"]["channel"] == "/event/Order_Update__e"
    assert document["CreatedDate"].year >= 2024 and published.event_id.startswith("e00")
    relay.refresh_from_db()
    assert relay.replay_id and relay.events_relayed >= 1 and relay.events_stored >= 1

    # A restart resumes after the last relayed event: nothing is stored twice.
    for worker in workers:
        worker.close()
    platform_events.publish_order_update(relay.org, ORDER_ID, delivered)
    restarted = relay_workers()
    step_until(restarted, lambda: stored(mongo, delivered), message="the second event after a restart")
    assert len(stored(mongo, shipped)) == 1 and len(stored(mongo, delivered)) == 1


def test_a_message_that_is_not_a_relayed_event_is_parked(relay, relay_workers, mongo, sync_settings):
    from connectors.kafka.producer import EventProducer
    from connectors.wiring import kafka_settings

    workers = relay_workers()
    kafka = kafka_settings(relay.kafka)
    producer = EventProducer(kafka)
    producer.send(relay_topic(kafka.topic_prefix, relay.channel), relay.channel, b"{not json")
    producer.confirm()
    producer.close()
    step_until(workers, lambda: SyncError.objects.filter(code="INVALID_RELAYED_EVENT").exists(),
               message="the bad message parked")


def test_relays_show_in_the_status_and_the_metrics(relay, relay_workers, mongo, client, unique):
    workers = relay_workers()
    platform_events.publish_order_update(relay.org, ORDER_ID, f"Packed {unique}")
    step_until(workers, lambda: stored(mongo, f"Packed {unique}"), message="the event in MongoDB")
    client.force_login(user_with_role("op", OPERATORS))
    in_mongo = mongo.order_updates.count_documents({})  # the channel's earlier events too: EARLIEST on first start
    [shown] = client.get("/api/v1/status").json()["relays"]
    assert (shown["channel"], shown["collection"], shown["events_stored"]) == ("/event/Order_Update__e",
                                                                               "order_updates", in_mongo)
    assert shown["topic"].endswith(".event.Order_Update__e")
    metrics = client.get("/metrics").content.decode()
    assert f'sync_relay_events_stored_total{{relay="order-update"}} {float(in_mongo)}' in metrics
