"""Operator controls on the real services: pause and resume lose nothing, backfill and
reconcile jobs run in the job-runner worker to the end, the metrics sampler and Kafka lag."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from connectors.kafka.config import KafkaSettings, salesforce_topic
from connectors.kafka.consumer import BatchConsumer
from connectors.kafka.producer import EventProducer
from connectors.kafka.topics import ensure_topics
from connectors.models import CaptureCheckpoint, MetricSample, MongoCheckpoint, ObjectMapping, SyncJob
from connectors.operations import controls
from connectors.operations.metrics import LagReader
from connectors.workers.job_runner import JobRunner
from connectors.workers.metrics_sampler import MetricsSampler
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.mongo_capture import MongoCapture
from connectors.workers.runner import WorkerRunner
from connectors.workers.sf_apply import SalesforceApply
from connectors.workers.sf_capture import SalesforceCapture
from tests.connectors.helpers import step_until, wait_for
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db

SYNC_KINDS = ("sf-capture", "mongo-apply", "mongo-capture", "sf-apply")


def ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def of_type(workers: list, kind: type) -> object:
    return next(w for w in workers if isinstance(w, kind))


def synced(mongo, sf) -> bool:  # type: ignore[no-untyped-def]
    live = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    return {d["sf_id"] for d in mongo.accounts.find({}, {"sf_id": 1}) if d.get("sf_id")} == live


def lag_of(mapping_prefix: str, settings: dict, group_kind: str, topic: str) -> int | None:
    reader = LagReader(KafkaSettings(settings["KAFKA_BOOTSTRAP_SERVERS"], topic_prefix=mapping_prefix))
    return reader.lag(f"{mapping_prefix}.{group_kind}", topic)


def test_kafka_lag_is_end_offset_minus_the_committed_offset(sync_settings, unique):
    kafka = KafkaSettings(sync_settings["KAFKA_BOOTSTRAP_SERVERS"], topic_prefix=unique)
    topic = salesforce_topic(unique, "Account")
    ensure_topics(kafka, [topic])
    reader = LagReader(kafka)
    assert reader.lag(f"{unique}.mongo-apply", topic) == 0
    producer = EventProducer(kafka)
    for n in range(10):
        # One record per batch: Tansu gives a partition's end offset as its last batch's base
        # offset + 1, so only single-record batches make its end offsets exact.
        producer.send(topic, f"key-{n}", b"{}")
        producer.confirm()
    producer.close()
    assert reader.lag(f"{unique}.mongo-apply", topic) == 10  # nothing committed: all of it is behind

    consumer = BatchConsumer(kafka, f"{unique}.mongo-apply", [topic])
    taken: list = []
    wait_for(lambda: taken.extend(consumer.poll_batch(4 - len(taken), timeout=0.5)) or len(taken) >= 4,
             message="four messages consumed")
    consumer.commit(taken)
    consumer.close()
    assert reader.lag(f"{unique}.mongo-apply", topic) == 6
    assert reader.lag(f"{unique}.other-group", topic) == 10
    assert reader.lag(f"{unique}.mongo-apply", f"{unique}.sf.NoSuchObject") == 0


def test_a_paused_mapping_captures_and_applies_nothing_and_resume_catches_up(sf, mongo, make_workers, sync_settings):
    workers = make_workers(kinds=SYNC_KINDS)
    step_until(workers, lambda: synced(mongo, sf), message="backfill")
    sf_capture, mongo_apply = of_type(workers, SalesforceCapture), of_type(workers, MongoApply)
    mongo_capture, sf_apply = of_type(workers, MongoCapture), of_type(workers, SalesforceApply)
    mapping = ObjectMapping.objects.get(name="accounts")
    record = sf.query("SELECT Id FROM Account ORDER BY Name LIMIT 2")["records"]
    topic = salesforce_topic(sync_settings["KAFKA_TOPIC_PREFIX"], "Account")

    # A Salesforce change captured into Kafka, then the mapping paused before it is applied.
    sf.Account.update(record[0]["Id"], {"Name": "Changed while paused"})
    step_until([sf_capture], lambda: lag_of(sync_settings["KAFKA_TOPIC_PREFIX"], sync_settings, "mongo-apply",
                                            topic), message="the change in Kafka")
    controls.set_paused(mapping, True)
    # Not stepped meanwhile: the apply worker would take the change before it saw the pause.
    wait_for(lambda: mongo_apply._paused.names() == {"accounts"} and mongo_capture._paused.any(),
             message="workers see the pause")
    # Changes on both sides while paused.
    sf.Account.update(record[1]["Id"], {"Name": "Also changed while paused"})
    mongo.accounts.update_one({"sf_id": record[0]["Id"]}, {"$set": {"phone": "+1 555 0100"}})
    published = (CaptureCheckpoint.objects.get(mapping=mapping).events_published,
                 MongoCheckpoint.objects.get(mapping=mapping).events_published)
    for _ in range(5):
        for worker in (sf_capture, mongo_apply, mongo_capture, sf_apply):
            assert worker.step() is False
    assert (CaptureCheckpoint.objects.get(mapping=mapping).events_published,
            MongoCheckpoint.objects.get(mapping=mapping).events_published) == published
    assert mongo.accounts.find_one({"sf_id": record[0]["Id"]})["name"] != "Changed while paused"
    assert lag_of(sync_settings["KAFKA_TOPIC_PREFIX"], sync_settings, "mongo-apply", topic) >= 1

    controls.set_paused(mapping, False)

    def caught_up() -> bool:
        names = {d["sf_id"]: d["name"] for d in mongo.accounts.find({"sf_id": {"$in": [r["Id"] for r in record]}})}
        phone = sf.Account.get(record[0]["Id"])["Phone"]
        return names == {record[0]["Id"]: "Changed while paused", record[1]["Id"]: "Also changed while paused"} \
            and phone == "+1 555 0100"

    step_until(workers, caught_up, message="both sides caught up after resume")


def test_a_reconcile_started_from_the_console_runs_in_the_job_runner_to_done(sf, mongo, make_workers):
    workers = make_workers(kinds=("sf-capture", "mongo-apply", "jobs"), direction="sf_to_mongo")
    sync = [w for w in workers if not isinstance(w, JobRunner)]
    step_until(sync, lambda: synced(mongo, sf), message="backfill")
    mongo.accounts.update_one({}, {"$set": {"name": "Drifted behind the sync's back"}})
    staff = Client()
    staff.force_login(user_with_role("op", OPERATORS))

    assert staff.post("/mappings/accounts/reconcile/").status_code == 302
    job = SyncJob.objects.get()
    assert (job.kind, job.state, job.requested_by) == ("reconcile", "queued", "op")

    runner = of_type(workers, JobRunner)
    assert runner.step() is True
    job.refresh_from_db()
    documents = mongo.accounts.count_documents({})
    assert (job.state, job.progress_done, job.progress_total) == ("done", documents, documents), job.message
    assert "updated_in_mongodb 1" in job.message
    assert mongo.accounts.count_documents({"name": "Drifted behind the sync's back"}) == 0
    assert runner.step() is False  # nothing left to run


def test_a_backfill_job_captures_everything_again_with_progress(sf, mongo, make_workers):
    workers = make_workers(kinds=("sf-capture", "mongo-apply", "jobs"), direction="sf_to_mongo")
    sync = [w for w in workers if not isinstance(w, JobRunner)]
    runner = of_type(workers, JobRunner)
    step_until(sync, lambda: synced(mongo, sf), message="backfill")
    before = CaptureCheckpoint.objects.get(mapping__name="accounts").events_published
    count = len(sf.query_all("SELECT Id FROM Account")["records"])

    staff = Client()
    staff.force_login(user_with_role("op", OPERATORS))
    staff.post("/mappings/accounts/backfill/")
    assert runner.step() is True  # the request is handed to the capture worker

    def finished() -> bool:
        runner.step()
        return SyncJob.objects.get().state == "done"

    step_until(sync, finished, message="the backfill job done")
    job = SyncJob.objects.get()
    assert job.progress_total is not None and job.progress_done == job.progress_total >= count
    assert CaptureCheckpoint.objects.get(mapping__name="accounts").events_published >= before + count


def test_the_sampler_records_throughput_lag_and_api_usage_and_forgets_old_samples(sf, mongo, make_workers):
    workers = make_workers(kinds=("sf-capture", "mongo-apply", "metrics"), direction="sf_to_mongo")
    sampler = of_type(workers, MetricsSampler)
    capture = of_type(workers, SalesforceCapture)
    mapping = ObjectMapping.objects.get(name="accounts")
    stale = MetricSample.objects.create(mapping=mapping, taken_at=ago(2 * 3600))
    first = sampler.sample()
    step_until([capture], lambda: capture.counters["events_published"] > 0, message="something captured")
    first[0].taken_at = ago(10)  # as if sampled one interval ago
    first[0].save()
    WorkerRunner([capture], stop=None)._beat()  # type: ignore[arg-type]  # the heartbeat carries API usage
    (sample,) = sampler.sample()
    assert sample.sf_to_mongo_events == capture.counters["events_published"]
    # Captured, nothing applied yet (not compared with the event count: see the Tansu note above).
    assert sample.sf_to_mongo_lag and 0 < sample.sf_to_mongo_lag <= sample.sf_to_mongo_events
    assert sample.mongo_to_sf_lag is None  # one-way mapping
    assert sample.api_used and sample.api_limit and sample.api_used <= sample.api_limit
    assert not MetricSample.objects.filter(pk=stale.pk).exists()
