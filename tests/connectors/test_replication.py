"""Salesforce -> Kafka -> MongoDB, in process, one worker step at a time, on the real services."""
from __future__ import annotations

from datetime import datetime

import pytest
from bson.decimal128 import Decimal128
from confluent_kafka import Consumer
from django.db.models import Q

from connectors.kafka.config import KafkaSettings, dead_letter_topic, salesforce_topic
from connectors.kafka.producer import EventProducer
from connectors.models import CaptureCheckpoint, SyncError
from tests.connectors.helpers import step_until

pytestmark = pytest.mark.django_db


def live_account_ids(sf) -> set[str]:
    return {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}


def synced_ids(mongo) -> set[str]:
    return {d["sf_id"] for d in mongo.accounts.find({}, {"sf_id": 1})}


def test_backfill_copies_every_account_with_proper_types(sf, mongo, workers):
    expected = live_account_ids(sf)
    step_until(workers, lambda: synced_ids(mongo) == expected, message="every Account in MongoDB")

    soql = "SELECT Id, Name, AnnualRevenue, CreatedDate FROM Account WHERE AnnualRevenue != null LIMIT 1"
    record = sf.query(soql)["records"][0]
    document = mongo.accounts.find_one({"sf_id": record["Id"]})
    assert document["name"] == record["Name"]
    assert isinstance(document["annualRevenue"], Decimal128)
    assert isinstance(document["createdDate"], datetime) and document["createdDate"].tzinfo is not None
    checkpoint = CaptureCheckpoint.objects.get(mapping__name="accounts")
    assert checkpoint.backfill_done or checkpoint.events_published >= len(expected)


def test_creates_updates_and_deletes_in_salesforce_reach_mongodb(sf, mongo, workers):
    step_until(workers, lambda: synced_ids(mongo) == live_account_ids(sf), message="backfill")
    created = sf.Account.create({"Name": "Replication Test Ltd", "NumberOfEmployees": 12})["id"]
    victim = sorted(live_account_ids(sf) - {created})[0]
    sf.Account.update(victim, {"Name": "Renamed In Salesforce"})
    sf.Account.delete(sorted(live_account_ids(sf) - {created, victim})[0])

    step_until(
        workers,
        lambda: synced_ids(mongo) == live_account_ids(sf)
        and (mongo.accounts.find_one({"sf_id": victim}) or {}).get("name") == "Renamed In Salesforce",
        message="the create, update and delete in MongoDB",
    )
    assert mongo.accounts.find_one({"sf_id": created})["numberOfEmployees"] == 12


def test_a_malformed_message_is_dead_lettered_and_the_worker_goes_on(sf, mongo, workers, sync_settings):
    step_until(workers, lambda: synced_ids(mongo) == live_account_ids(sf), message="backfill")
    kafka = KafkaSettings(bootstrap_servers=sync_settings["KAFKA_BOOTSTRAP_SERVERS"],
                          topic_prefix=sync_settings["KAFKA_TOPIC_PREFIX"])
    producer = EventProducer(kafka)
    producer.send(salesforce_topic(kafka.topic_prefix, "Account"), "001000000000000AAA", b'{"not": "an envelope"}')
    producer.confirm()
    sf.Account.create({"Name": "After The Bad Message"})

    step_until(workers, lambda: mongo.accounts.find_one({"name": "After The Bad Message"}) is not None,
               message="the next good change applied")
    error = SyncError.objects.get(code="INVALID_ENVELOPE")
    assert error.payload == '{"not": "an envelope"}' and "envelope invalid" in error.message

    reader = Consumer({**kafka.consumer_config(f"{kafka.topic_prefix}.reader")})
    reader.subscribe([dead_letter_topic(kafka.topic_prefix)])
    try:
        dead = None
        for _ in range(60):
            dead = reader.poll(1.0)
            if dead is not None and dead.error() is None:
                break
        assert dead is not None and dead.value() == b'{"not": "an envelope"}'
    finally:
        reader.close()


def rereads_finished() -> bool:
    return not CaptureCheckpoint.objects.filter(Q(backfill_requested=True) | ~Q(reread_reason="")).exists()


def test_a_value_that_cannot_be_converted_parks_only_that_record(sf, mongo, make_workers):
    # Account names forced into a whole-number conversion: every record fails on Name alone.
    workers = make_workers(lambda mapping: mapping.fields.filter(sf_field="Name").update(conversion="integer"),
                           direction="sf_to_mongo")
    created = sf.Account.create({"Name": "Not A Number"})["id"]
    step_until(workers, lambda: SyncError.objects.filter(stage="convert", record_key=created).exists(),
               message="a conversion error for the new record")
    # Read live and by a re-read alike (the initial load's, and one more to be sure), it is parked once.
    step_until(workers, rereads_finished, message="the initial load")
    CaptureCheckpoint.objects.update(backfill_requested=True)
    parked = SyncError.objects.filter(stage="convert", record_key=created)
    step_until(workers, lambda: sum(e.attempts for e in parked) >= 2, message="the record parked again")
    error = parked.get()
    assert "field Name" in error.message and "'Not A Number'" in error.message
    assert created in error.payload, "the payload is kept for a retry"
    assert mongo.accounts.find_one({"sf_id": created}) is None


def test_an_undeleted_record_comes_back_in_mongodb(sf, mongo, workers, emulator):
    step_until(workers, lambda: synced_ids(mongo) == live_account_ids(sf), message="backfill")
    victim = sorted(live_account_ids(sf))[0]
    sf.Account.delete(victim)
    step_until(workers, lambda: victim not in synced_ids(mongo), message="the delete in MongoDB")
    emulator.undelete("Account", victim)
    step_until(workers, lambda: victim in synced_ids(mongo), message="the undeleted record back in MongoDB")
