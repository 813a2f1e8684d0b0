"""Backfills and other re-reads beside live capture: no live edit lost or held up, the version
guard and tombstones keep the newer of a re-read row and a live change, in both orders, and a
backfill job is done only when its last row is in MongoDB."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connectors import events
from connectors.engine.conversion import parse_sf_datetime
from connectors.kafka.config import KafkaSettings, salesforce_reread_topic, salesforce_topic
from connectors.kafka.producer import EventProducer
from connectors.models import CaptureCheckpoint, ObjectMapping, SyncJob
from connectors.operations import jobs
from connectors.workers.job_runner import JobRunner
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.mongo_reread import MongoRereadApply
from connectors.workers.reread import REREAD_HEADER
from connectors.workers.sf_capture import SalesforceCapture
from connectors.workers.sf_envelopes import salesforce_envelope
from tests.connectors.helpers import step_until, wait_for

pytestmark = pytest.mark.django_db

CHUNK = 20
LOOKBACK = 0.5


def of_type(workers: list, kind: type):  # type: ignore[no-untyped-def]
    return next(w for w in workers if type(w) is kind)


def accounts(sf) -> list[dict]:  # type: ignore[no-untyped-def]
    return sf.query_all("SELECT Id, Name, SystemModstamp FROM Account")["records"]


def synced(sf, mongo) -> bool:  # type: ignore[no-untyped-def]
    return {d["_id"] for d in mongo.accounts.find({}, {"_id": 1})} == {r["Id"] for r in accounts(sf)}


def name_in_mongo(mongo, record_id: str) -> str | None:  # type: ignore[no-untyped-def]
    return (mongo.accounts.find_one({"_id": record_id}, {"name": 1}) or {}).get("name")


def create_accounts(sf, count: int, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Create `count` Accounts through sObject Collections (200 a call); their Ids, in order."""
    created: list[str] = []
    for start in range(0, count, 200):
        records = [{"attributes": {"type": "Account"}, "Name": f"{prefix} {i}"}
                   for i in range(start, min(count, start + 200))]
        results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
        created += [r["id"] for r in results]
    return created


def stamp_of(sf, record_id: str) -> datetime:  # type: ignore[no-untyped-def]
    row = sf.query(f"SELECT SystemModstamp FROM Account WHERE Id = '{record_id}'")["records"][0]
    return parse_sf_datetime(row["SystemModstamp"])


@pytest.fixture
def polling(make_workers, sync_settings):  # type: ignore[no-untyped-def]
    sync_settings["REREAD_CHUNK_SIZE"] = CHUNK
    sync_settings["CAPTURE_LOOKBACK_SECONDS"] = LOOKBACK
    return make_workers(kinds=("sf-capture", "mongo-apply", "jobs"), direction="sf_to_mongo")


def start_backfill(runner: JobRunner) -> SyncJob:
    job = jobs.start(ObjectMapping.objects.get(name="accounts"), "backfill")
    assert runner.step() is True  # the request is handed to the capture worker
    return job


def test_edits_made_while_a_backfill_reads_are_never_lost(sf, mongo, polling):
    """The issue-17 loss: an edit to a record the backfill had already read, then an edit
    (more than the lookback later) to one it had not. The backfill used to read the second
    and move the live watermark past the first, which no poll read again."""
    created = create_accounts(sf, 250, "Backfill Live")
    runner = of_type(polling, JobRunner)
    sync = [w for w in polling if w is not runner]
    step_until(sync, lambda: synced(sf, mongo), message="the initial load")
    capture = of_type(polling, SalesforceCapture)
    checkpoint = CaptureCheckpoint.objects.get(mapping__name="accounts")
    before = checkpoint.events_published
    job = start_backfill(runner)

    def backfill_under_way() -> bool:
        capture.step()
        row = CaptureCheckpoint.objects.get(pk=checkpoint.pk)
        read = getattr(row, "reread_published", 0) or row.events_published - before
        return not row.backfill_requested and read > 0 and not row.backfill_done

    wait_for(backfill_under_way, timeout=30, message="the backfill's first chunk read")
    older = {r["Id"] for r in accounts(sf)} - set(created)
    first = min(older)  # read already: the smallest Id, and older than every record created above
    sf.Account.update(first, {"Name": "Edited During Backfill 1"})
    edited_at = stamp_of(sf, first)
    wait_for(lambda: datetime.now(timezone.utc) > edited_at + timedelta(seconds=2 * LOOKBACK), message="the lookback")
    last = created[-1]  # not read yet: the largest Id and the newest stamp
    sf.Account.update(last, {"Name": "Edited During Backfill 2"})
    assert stamp_of(sf, last) > edited_at + timedelta(seconds=LOOKBACK)

    def job_done() -> bool:
        runner.step()
        return SyncJob.objects.get(pk=job.pk).state == "done"

    step_until(sync, job_done, message="the backfill job done")
    step_until(sync, lambda: name_in_mongo(mongo, last) == "Edited During Backfill 2", timeout=20,
               message="the second edit in MongoDB")
    step_until(sync, lambda: name_in_mongo(mongo, first) == "Edited During Backfill 1", timeout=10,
               message="the first edit in MongoDB (lost before the fix)")


def test_live_edits_reach_mongodb_while_a_backfill_is_still_reading(sf, mongo, polling):
    runner = of_type(polling, JobRunner)
    capture = of_type(polling, SalesforceCapture)
    live_apply = of_type(polling, MongoApply)
    reread_apply = of_type(polling, MongoRereadApply)
    step_until([capture, live_apply, reread_apply], lambda: synced(sf, mongo), message="the initial load")
    job = start_backfill(runner)
    step_until([capture], lambda: capture._reread.active and capture._reread.published > 0,
               message="the backfill started")
    record = min(r["Id"] for r in accounts(sf))
    sf.Account.update(record, {"Name": "Live Beside The Backfill"})
    # The re-read rows are not applied at all here: the live edit needs only capture and live apply.
    step_until([capture, live_apply], lambda: name_in_mongo(mongo, record) == "Live Beside The Backfill",
               timeout=20, message="the live edit in MongoDB")
    assert capture._reread.active, "the edit should arrive while the backfill is still reading"
    job.refresh_from_db()
    assert job.state == "running"


def test_a_backfill_job_is_done_only_when_its_rows_are_in_mongodb(sf, mongo, polling):
    runner = of_type(polling, JobRunner)
    capture = of_type(polling, SalesforceCapture)
    live_apply = of_type(polling, MongoApply)
    reread_apply = of_type(polling, MongoRereadApply)
    step_until([capture, live_apply, reread_apply], lambda: synced(sf, mongo), message="the initial load")
    count = len(sf.query_all("SELECT Id FROM Account", include_deleted=True)["records"])
    applied_before = reread_apply.counters["applied"]
    job = start_backfill(runner)
    step_until([capture, live_apply], lambda: not capture._reread.active and capture._reread.published > 0,
               message="every chunk read")
    runner.step()
    job.refresh_from_db()
    assert job.state == "running" and job.progress_done == 0, job.message
    assert f"all {count} records read" in job.message

    def done() -> bool:
        runner.step()
        return SyncJob.objects.get(pk=job.pk).state == "done"

    step_until([reread_apply], done, message="the job done")
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (count, count)
    assert job.message == f"re-read {count} records from Salesforce; all are in MongoDB"
    # Every row was already in MongoDB as it is: none cost a write.
    assert reread_apply.counters["applied"] == applied_before


# -- the version guard between re-read rows and live changes, both orders -----------------------
@pytest.fixture
def appliers(make_workers, sync_settings):  # type: ignore[no-untyped-def]
    workers = make_workers(kinds=("mongo-apply",), direction="sf_to_mongo")
    kafka = KafkaSettings(sync_settings["KAFKA_BOOTSTRAP_SERVERS"], topic_prefix=sync_settings["KAFKA_TOPIC_PREFIX"])
    producer = EventProducer(kafka)
    mapping = ObjectMapping.objects.get(name="accounts")
    checkpoint = CaptureCheckpoint.objects.get_or_create(mapping=mapping)[0]

    def send(reread: bool, record_id: str, op: str, name: str | None, stamp: datetime) -> None:
        fields = {} if op == "delete" else {"Id": record_id, "Name": name}
        envelope = salesforce_envelope(mapping, record_id, op, fields, stamp)
        if reread:
            producer.send(salesforce_reread_topic(kafka.topic_prefix, "Account"), envelope.key, events.encode(envelope),
                          {REREAD_HEADER: f"{checkpoint.pk}:{checkpoint.reread_generation}"})
        else:
            producer.send(salesforce_topic(kafka.topic_prefix, "Account"), envelope.key, events.encode(envelope))
        producer.confirm()

    yield send, of_type(workers, MongoApply), of_type(workers, MongoRereadApply)
    producer.close()


RECORD = "001000000000777AAA"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def drain(worker) -> None:  # type: ignore[no-untyped-def]
    """Step until the worker has consumed what was sent (it gets one batch here)."""
    applied = sum(worker.counters.values())
    step_until([worker], lambda: sum(worker.counters.values()) > applied, timeout=20, message=f"{worker.name} applied")


def test_an_older_reread_row_never_overwrites_a_newer_live_update(mongo, appliers):
    send, live, reread = appliers
    send(False, RECORD, "upsert", "Live", T0 + timedelta(seconds=2))
    drain(live)
    send(True, RECORD, "upsert", "Re-read", T0 + timedelta(seconds=1))
    drain(reread)
    assert name_in_mongo(mongo, RECORD) == "Live"
    assert reread.counters["reread_unchanged"] == 1  # dropped before any write


def test_a_newer_live_update_wins_over_an_older_reread_row_applied_first(mongo, appliers):
    send, live, reread = appliers
    send(True, RECORD, "upsert", "Re-read", T0 + timedelta(seconds=1))
    drain(reread)
    assert name_in_mongo(mongo, RECORD) == "Re-read"
    send(False, RECORD, "upsert", "Live", T0 + timedelta(seconds=2))
    drain(live)
    assert name_in_mongo(mongo, RECORD) == "Live"


def test_a_record_deleted_live_does_not_come_back_from_an_older_reread_row(mongo, appliers):
    send, live, reread = appliers
    send(False, RECORD, "upsert", "Live", T0)
    drain(live)
    send(False, RECORD, "delete", None, T0 + timedelta(seconds=2))
    drain(live)
    assert mongo.accounts.find_one({"_id": RECORD}) is None
    send(True, RECORD, "upsert", "Read Before The Delete", T0 + timedelta(seconds=1))
    drain(reread)
    assert mongo.accounts.find_one({"_id": RECORD}) is None


def test_a_live_delete_after_an_older_reread_row_removes_the_document(mongo, appliers):
    send, live, reread = appliers
    send(True, RECORD, "upsert", "Re-read", T0 + timedelta(seconds=1))
    drain(reread)
    send(False, RECORD, "delete", None, T0 + timedelta(seconds=2))
    drain(live)
    assert mongo.accounts.find_one({"_id": RECORD}) is None


def test_a_reread_row_newer_than_a_delete_brings_the_record_back(mongo, appliers):
    """An undelete in Salesforce after the delete: the re-read row is newer than the tombstone."""
    send, live, reread = appliers
    send(False, RECORD, "delete", None, T0 + timedelta(seconds=1))
    drain(live)
    send(True, RECORD, "upsert", "Undeleted", T0 + timedelta(seconds=2))
    drain(reread)
    assert name_in_mongo(mongo, RECORD) == "Undeleted"


def test_a_restart_resumes_the_reread_where_kafka_has_it(sf, mongo, polling):
    capture = of_type(polling, SalesforceCapture)
    reread_apply = of_type(polling, MongoRereadApply)
    live_apply = of_type(polling, MongoApply)
    step_until([capture, live_apply, reread_apply], lambda: synced(sf, mongo), message="the initial load")
    count = len(sf.query_all("SELECT Id FROM Account", include_deleted=True)["records"])
    start_backfill(of_type(polling, JobRunner))
    step_until([capture], lambda: capture._reread.published >= 2 * CHUNK, message="two chunks read")
    generation, position = capture._reread.generation, capture._reread.after_id
    capture.close()
    polling.remove(capture)

    again = SalesforceCapture(capture.mapping, capture.client, capture.kafka, owner="another process",
                              lookback=timedelta(seconds=LOOKBACK), chunk_size=CHUNK)
    polling.append(again)
    assert (again._reread.generation, again._reread.after_id) == (generation, position)
    step_until([again], lambda: not again._reread.active, message="the re-read finished")
    # Resumed, not restarted: the same re-read, every record read once.
    assert again._reread.generation == generation
    assert CaptureCheckpoint.objects.get(pk=again._checkpoint_id).reread_published == count
