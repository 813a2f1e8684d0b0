"""The broker loses everything (SIGKILL of the memory-only Tansu, restarted empty on the same
port): captures rewind to what the other side applied and publish again; nothing is lost and
nothing duplicated; fatal client errors heal without restarting a worker."""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from django.core.management import call_command
from pymongo import MongoClient

from connectors.models import CapturePosition, EventRelay, MongoCheckpoint, ObjectMapping, SalesforceOrg, SyncError
from connectors.operations import platform_events
from connectors.workers.registry import build_workers
from devstack import Stack, StackConfig
from devstack.health import free_port
from tests.connectors.helpers import wait_until_replay_expired

pytestmark = pytest.mark.django_db

log = logging.getLogger(__name__)

RETENTION_72H = 72 * 3600.0
ORDER_ID = "801Hn0000000001AAA"


class Service:
    """One embedded service of the test's own (Tansu or SecantusDB), which the test can SIGKILL
    and start again on the same port (Tansu empty: it keeps topics in memory; SecantusDB on its
    data directory)."""

    def __init__(self, root: Path, name: str) -> None:
        ports = {"kafka_port": free_port()} if name == "kafka" else {"mongo_port": free_port()}
        self.name = name
        self.stack = Stack(StackConfig(root=root, services=(name,), stop_grace=2.0, **ports), echo=None).start()

    def kill_and_restart(self) -> None:
        process = self.stack.processes[self.name]
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
        self.stack.stop(quiet=True)
        self.stack.start()

    kill_and_restart_empty = kill_and_restart

    def stop(self) -> None:
        self.stack.stop(quiet=True)


@pytest.fixture
def broker(sync_settings, tmp_path) -> Iterator[Service]:
    running = Service(tmp_path / "broker", "kafka")
    sync_settings["KAFKA_BOOTSTRAP_SERVERS"] = running.stack.kafka_bootstrap
    yield running
    running.stop()


def step_through(workers: list, condition: Callable[[], object], timeout: float = 45.0,
                 message: str = "condition") -> None:
    """Step each worker in turn, as the runner does (a failing step is logged, never fatal),
    until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            try:
                worker.step()
            except Exception as exc:  # the runner logs it and steps again
                log.info("%s failed a step: %s", worker.name, exc)
        if condition():
            return
    raise AssertionError(f"timed out after {timeout:.0f} s stepping workers until {message}")


def by_name(workers: list, prefix: str) -> list:
    return [w for w in workers if w.name.startswith(prefix)]


def applied_position(name: str) -> object:
    row = CapturePosition.objects.filter(name=name).first()
    return row.applied if row else None


def broker_losses() -> list[SyncError]:
    return list(SyncError.objects.filter(code="BROKER_DATA_LOST"))


def salesforce_ids(mongo) -> list[str]:
    return [d["sf_id"] for d in mongo.accounts.find({"sf_id": {"$exists": True}}, {"sf_id": 1})]


def test_salesforce_changes_published_but_not_applied_reach_mongodb_after_the_broker_lost_them(
        broker, sf, mongo, make_workers, admin_client):
    workers = make_workers(direction="sf_to_mongo")
    capture = by_name(workers, "sf-capture")[0]
    seeded = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    step_through(workers, lambda: set(salesforce_ids(mongo)) >= seeded, message="the backfill")
    step_through([capture], lambda: applied_position(capture.name), message="the backfill counted as applied")

    # Apply stops; changes are published (Kafka acknowledged them) but not applied.
    created = [sf.Account.create({"Name": f"Lost In Kafka {i}"})["id"] for i in range(4)]
    updated = sorted(seeded)[:3]
    for record_id in updated:
        sf.Account.update(record_id, {"Name": f"Renamed {record_id}"})
    deleted = sorted(seeded)[-1]
    sf.Account.delete(deleted)
    published = capture.counters["events_published"]
    step_through([capture], lambda: capture.counters["events_published"] >= published + 8,
                 message="the changes in Kafka")

    broker.kill_and_restart_empty()

    def converged() -> bool:
        names = {d["sf_id"]: d.get("name") for d in mongo.accounts.find({}, {"sf_id": 1, "name": 1})}
        return (all(names.get(i, "").startswith("Lost In Kafka") for i in created)
                and all(names.get(i) == f"Renamed {i}" for i in updated) and deleted not in names)

    # Apply may have fetched the changes before the broker died and apply them anyway: MongoDB can
    # be right before the capture's next look at the broker finds the loss (CI, once).
    step_through(workers, lambda: converged() and broker_losses(), message="every change in MongoDB, the loss noticed")
    ids = salesforce_ids(mongo)
    assert len(ids) == len(set(ids)) == len(seeded) - 1 + len(created)
    [loss] = broker_losses()
    assert "broker lost data at" in loss.message and "publishes again from SystemModstamp" in loss.message
    # The console's error queue (and its API) shows it; a retry has nothing to send again.
    shown = admin_client.get("/api/v1/errors", {"mapping": "accounts"}).json()
    assert [(e["code"], e["message"]) for e in shown] == [("BROKER_DATA_LOST", loss.message)]
    assert admin_client.post(f"/api/v1/errors/{loss.pk}/retry").status_code == 409


def test_mongodb_changes_published_but_not_applied_reach_salesforce_after_the_broker_lost_them(
        broker, sf, mongo, make_workers):
    workers = make_workers(kinds=("sf-capture", "mongo-apply", "mongo-capture", "sf-apply"))
    seeded = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    step_through(workers, lambda: set(salesforce_ids(mongo)) >= seeded, message="the backfill")
    capture = by_name(workers, "mongo-capture")[0]
    first = mongo.accounts.insert_one({"name": "Before The Loss"}).inserted_id
    step_through(workers, lambda: (mongo.accounts.find_one({"_id": first}) or {}).get("sf_id"),
                 message="a first document in Salesforce")
    step_through(workers, lambda: applied_position(capture.name) ==
                 MongoCheckpoint.objects.get(mapping__name="accounts").resume_token,
                 message="mongo-capture's applied position caught up")

    # sf-apply stops; MongoDB changes are published but not applied.
    without_sf_apply = [w for w in workers if not w.name.startswith("sf-apply")]
    inserted = [mongo.accounts.insert_one({"name": f"Born Before The Loss {i}"}).inserted_id for i in range(3)]
    edited = mongo.accounts.find_one({"_id": {"$nin": [first, *inserted]}, "sf_id": {"$exists": True}})
    mongo.accounts.update_one({"_id": edited["_id"]}, {"$set": {"name": "Edited Before The Loss"}})
    published = capture.counters["events_published"]
    step_through(without_sf_apply, lambda: capture.counters["events_published"] >= published + 4,
                 message="the MongoDB changes in Kafka")

    broker.kill_and_restart_empty()

    def in_salesforce() -> bool:
        found = sf.query_all("SELECT Mongo_Id__c FROM Account WHERE Name LIKE 'Born Before The Loss%'")["records"]
        return ({r["Mongo_Id__c"] for r in found} == {str(i) for i in inserted}
                and sf.Account.get(edited["sf_id"])["Name"] == "Edited Before The Loss")

    def noticed_by_mongo_capture() -> bool:
        return any(e.message.startswith("broker lost data at") and "mongo-capture:accounts" in e.message
                   for e in broker_losses())

    step_through(workers, lambda: in_salesforce() and noticed_by_mongo_capture(),
                 message="every MongoDB change in Salesforce, the loss noticed by mongo-capture")
    for document_id in [first, *inserted]:
        found = sf.query_all(f"SELECT Id FROM Account WHERE Mongo_Id__c = '{document_id}'")["records"]
        assert len(found) == 1, f"{document_id} is in Salesforce {len(found)} times"


def test_a_capture_whose_broker_restarted_under_its_idempotent_producer_heals_without_a_restart(
        broker, sf, mongo, make_workers):
    workers = make_workers(direction="sf_to_mongo")
    capture = by_name(workers, "sf-capture")[0]
    seeded = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    step_through(workers, lambda: set(salesforce_ids(mongo)) >= seeded, message="the backfill")

    # The producer keeps its producer id and sequence numbers; the new broker knows neither
    # (UnknownProducerId): left alone it retries until its delivery timeout, minutes later.
    broker.kill_and_restart_empty()
    record_id = sf.Account.create({"Name": "After The Restart"})["id"]

    started = time.monotonic()
    step_through(workers, lambda: (mongo.accounts.find_one({"sf_id": record_id}) or {}).get("name"),
                 timeout=40, message="a change made after the restart in MongoDB")
    assert time.monotonic() - started < 30
    assert capture._producer.rebuilds >= 1  # the same worker, a new producer


@pytest.fixture
def cdc_workers(make_workers, stack, emulator):
    emulator.set_cdc("Account", True)

    def prepare(mapping: ObjectMapping) -> None:
        mapping.capture_mode = ObjectMapping.CaptureMode.CDC
        SalesforceOrg.objects.filter(pk=mapping.org_id).update(pubsub_endpoint=stack.salesforce_pubsub_address)

    yield make_workers(prepare=prepare, direction="sf_to_mongo")
    emulator.set_event_retention(RETENTION_72H)


def cdc_applied(workers: list, sf, mongo) -> tuple:  # type: ignore[no-untyped-def]
    """The initial load and one event applied; returns the capture and its applied replay id."""
    capture = by_name(workers, "sf-capture")[0]
    seeded = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    step_through(workers, lambda: set(salesforce_ids(mongo)) >= seeded, message="the initial load")
    first = sf.Account.create({"Name": "Applied Before The Loss"})["id"]
    step_through(workers, lambda: mongo.accounts.find_one({"sf_id": first}), message="a first event applied")
    step_through([capture], lambda: applied_position(capture.name) == capture._replay_id,
                 message="the applied replay id caught up")
    return capture, capture._replay_id


def test_cdc_capture_subscribes_again_after_the_applied_replay_id_when_the_broker_lost_its_events(
        broker, sf, mongo, cdc_workers):
    capture, applied = cdc_applied(cdc_workers, sf, mongo)

    published = capture.counters["events_published"]
    lost = [sf.Account.create({"Name": f"Lost Event {i}"})["id"] for i in range(3)]
    step_through([capture], lambda: capture.counters["events_published"] >= published + 3,
                 message="the events in Kafka")

    broker.kill_and_restart_empty()

    step_through(cdc_workers, lambda: all(mongo.accounts.find_one({"sf_id": i}) for i in lost),
                 message="the lost events in MongoDB")
    [loss] = broker_losses()
    assert f"publishes again from {applied}" in loss.message
    assert "3 changes published since then were not yet applied" in loss.message
    assert capture.counters["rereads"] == 1  # only the initial load: the replay came from the event bus
    ids = salesforce_ids(mongo)
    assert len(ids) == len(set(ids))


def test_a_replay_beyond_cdc_retention_falls_back_to_a_re_read_and_says_so(broker, sf, mongo, emulator, cdc_workers):
    capture, applied = cdc_applied(cdc_workers, sf, mongo)
    published = capture.counters["events_published"]
    lost = sf.Account.create({"Name": "Lost Beyond Retention"})["id"]
    step_through([capture], lambda: capture.counters["events_published"] > published, message="the event in Kafka")
    emulator.set_event_retention(1)
    wait_until_replay_expired(capture.mapping.org, applied, timeout=20, message="the applied id to pass retention")

    broker.kill_and_restart_empty()

    step_through(cdc_workers, lambda: mongo.accounts.find_one({"sf_id": lost}), message="the lost change in MongoDB")
    assert len(broker_losses()) == 1
    fallback = SyncError.objects.get(code="REPLAY_ID_EXPIRED", mapping=capture.mapping)
    assert "the whole mapping is re-read" in fallback.message


@pytest.fixture
def relay(sync_settings, broker):  # type: ignore[no-untyped-def]
    call_command("setupsync", no_mappings=True, relays="/event/Order_Update__e")
    return EventRelay.objects.get()


def test_platform_events_relayed_but_not_stored_are_relayed_again_after_the_broker_lost_them(
        broker, relay, mongo, unique):
    workers = build_workers({"relays"}, threading.Event())
    try:
        capture = by_name(workers, "relay-capture")[0]
        stored = lambda status: list(mongo.order_updates.find({"Status__c": status}))  # noqa: E731
        platform_events.publish_order_update(relay.org, ORDER_ID, f"Stored {unique}")
        step_through(workers, lambda: stored(f"Stored {unique}"), message="a first event stored")
        step_through([capture], lambda: applied_position(capture.name) == capture._replay_id,
                     message="the applied replay id caught up")

        relayed = capture.counters["events_relayed"]
        platform_events.publish_order_update(relay.org, ORDER_ID, f"Lost {unique}")
        step_through([capture], lambda: capture.counters["events_relayed"] > relayed, message="the event in Kafka")

        broker.kill_and_restart_empty()

        step_through(workers, lambda: stored(f"Lost {unique}"), message="the lost event in MongoDB")
        assert len(stored(f"Stored {unique}")) == len(stored(f"Lost {unique}")) == 1
        [loss] = broker_losses()
        assert loss.mapping is None and "relay-capture:order-update publishes again from" in loss.message
    finally:
        for worker in workers:
            worker.close()


@pytest.fixture
def own_mongo(sync_settings, tmp_path) -> Iterator[Service]:
    running = Service(tmp_path / "mongo", "mongo")
    sync_settings["MONGODB_URI"] = running.stack.mongodb_uri
    yield running
    running.stop()


def test_mongodb_capture_carries_on_after_mongodb_was_killed_and_restarted(broker, own_mongo, sf, make_workers,
                                                                           sync_settings):
    workers = make_workers(kinds=("mongo-capture", "sf-apply"))
    client = MongoClient(own_mongo.stack.mongodb_uri, serverSelectionTimeoutMS=20_000)
    accounts = client[sync_settings["MONGODB_DATABASE"]].accounts

    def in_salesforce(document_id: object) -> list:
        return sf.query_all(f"SELECT Id FROM Account WHERE Mongo_Id__c = '{document_id}'")["records"]

    try:
        for worker in workers:
            worker.step()  # opens the change stream
        before = accounts.insert_one({"name": "Before MongoDB Died"}).inserted_id
        step_through(workers, lambda: in_salesforce(before), message="a document in Salesforce")

        own_mongo.kill_and_restart()
        after = accounts.insert_one({"name": "After MongoDB Came Back"}).inserted_id

        step_through(workers, lambda: in_salesforce(after), message="a document inserted after the restart")
        assert len(in_salesforce(before)) == len(in_salesforce(after)) == 1
    finally:
        client.close()
