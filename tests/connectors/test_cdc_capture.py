"""Salesforce capture through Change Data Capture (Pub/Sub API), on the emulator's real gRPC server."""
from __future__ import annotations

import threading

import pytest
from bson import ObjectId

from connectors.models import Conflict, ObjectMapping, ReplayCheckpoint, SalesforceOrg, SyncError, SyncJob
from connectors.operations import jobs
from connectors.salesforce.pubsub.client import (
    PubSubAuth,
    PubSubAuthError,
    PubSubClient,
    UnknownTopic,
    org_id_from_identity_url,
)
from connectors.workers.job_runner import JobRunner
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.registry import build_workers
from connectors.workers.sf_cdc_capture import SalesforceCdcCapture
from tests.connectors.helpers import step_until, wait_until_replay_expired

pytestmark = pytest.mark.django_db

RETENTION_72H = 72 * 3600.0


@pytest.fixture
def cdc_on(emulator):
    emulator.set_cdc("Account", True)
    yield emulator
    emulator.set_event_retention(RETENTION_72H)


@pytest.fixture
def cdc_workers(make_workers, stack, cdc_on):
    """Capture (CDC) and MongoDB apply for the Account mapping, one way."""

    def prepare(mapping: ObjectMapping) -> None:
        mapping.capture_mode = ObjectMapping.CaptureMode.CDC
        SalesforceOrg.objects.filter(pk=mapping.org_id).update(pubsub_endpoint=stack.salesforce_pubsub_address)

    return lambda: make_workers(prepare=prepare, direction="sf_to_mongo")


def capture_of(workers: list) -> SalesforceCdcCapture:
    return next(w for w in workers if isinstance(w, SalesforceCdcCapture))


def loaded(sf, mongo) -> bool:  # type: ignore[no-untyped-def]
    expected = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    return {d["sf_id"] for d in mongo.accounts.find({}, {"sf_id": 1})} == expected


def document(mongo, record_id: str) -> dict:  # type: ignore[no-untyped-def]
    return mongo.accounts.find_one({"_id": record_id}) or {}


def started(workers, sf, mongo) -> SalesforceCdcCapture:  # type: ignore[no-untyped-def]
    """Steps until the initial load is in MongoDB and the stream is being read."""
    capture = capture_of(workers)
    step_until(workers, lambda: not capture._reread.active and loaded(sf, mongo), message="the initial load")
    return capture


def test_a_rest_edit_reaches_mongodb_as_a_partial_update(sf, mongo, cdc_workers):
    workers = cdc_workers()
    capture = started(workers, sf, mongo)
    created = sf.Account.create({"Name": "CDC Partial", "Phone": "555-0100", "Website": "cdc.example"})["id"]
    step_until(workers, lambda: document(mongo, created).get("phone") == "555-0100", message="the create")

    # A value only MongoDB has: a full image would overwrite it, a partial update leaves it.
    mongo.accounts.update_one({"_id": created}, {"$set": {"website": "kept-in-mongodb"}})
    sf.Account.update(created, {"Name": "CDC Partial Renamed", "Phone": None})
    step_until(workers, lambda: document(mongo, created).get("name") == "CDC Partial Renamed",
               message="the update")
    after = document(mongo, created)
    assert after["phone"] is None  # nulled in Salesforce
    assert after["website"] == "kept-in-mongodb"  # untouched by the update
    checkpoint = ReplayCheckpoint.objects.get(mapping=capture.mapping)
    assert checkpoint.replay_id and checkpoint.topic == "/data/AccountChangeEvent"

    sf.Account.delete(created)
    step_until(workers, lambda: not document(mongo, created), message="the delete")


def test_the_syncs_own_write_back_is_skipped_as_an_echo(sf, mongo, stack, cdc_workers, sync_settings):
    workers = cdc_workers()
    capture = started(workers, sf, mongo)
    own, marker = sf.Account.create({"Name": "Own Write"})["id"], sf.Account.create({"Name": "Marker"})["id"]
    step_until(workers, lambda: document(mongo, marker).get("name") == "Marker", message="both creates")

    echoes_before = capture.counters["echoes_skipped"]  # the initial replay may hold older echoes
    marked = {"Sforce-Call-Options": f"client={sync_settings['CLIENT_NAME']}"}  # as the sync's writer sends it
    sf.Account.update(own, {"Name": "Written Back By The Sync"}, headers=marked)
    sf.Account.update(marker, {"Name": "Marker Moved"})
    step_until(workers, lambda: document(mongo, marker).get("name") == "Marker Moved", message="the marker")

    assert document(mongo, own)["name"] == "Own Write"
    assert capture.counters["echoes_skipped"] == echoes_before + 1


def test_a_restart_resumes_after_the_checkpoint_without_loss_or_duplicates(sf, mongo, cdc_workers):
    workers = cdc_workers()
    capture = started(workers, sf, mongo)
    record = sf.Account.create({"Name": "Before Restart"})["id"]
    step_until(workers, lambda: document(mongo, record).get("name") == "Before Restart", message="the create")
    checkpoint = ReplayCheckpoint.objects.get(mapping=capture.mapping)
    capture.close()
    workers.remove(capture)

    sf.Account.update(record, {"Name": "While Stopped 1"})
    sf.Account.update(record, {"NumberOfEmployees": 7})
    stop = threading.Event()
    again = [w for w in build_workers({"sf-capture"}, stop) if isinstance(w, SalesforceCdcCapture)]
    workers.extend(again)
    step_until(workers, lambda: document(mongo, record).get("numberOfEmployees") == 7, message="both updates")

    assert document(mongo, record)["name"] == "While Stopped 1"
    assert again[0].counters["rereads"] == 0  # resumed from the replay id, no re-read
    assert again[0].counters["events_published"] == 2  # exactly the two changes made while stopped
    moved = ReplayCheckpoint.objects.get(pk=checkpoint.pk)
    assert moved.replay_id > checkpoint.replay_id
    assert moved.updated_at > checkpoint.updated_at, "the console says when the replay id moved"


def test_a_gap_event_re_reads_its_records(sf, mongo, cdc_workers, cdc_on):
    workers = cdc_workers()
    capture = started(workers, sf, mongo)
    record = sf.Account.create({"Name": "Gap Record"})["id"]
    step_until(workers, lambda: document(mongo, record).get("name") == "Gap Record", message="the create")

    cdc_on.set_cdc("Account", False)  # this change makes no event: only the gap tells of it
    sf.Account.update(record, {"Name": "Changed Without An Event"})
    cdc_on.set_cdc("Account", True)
    cdc_on.emit_gap("Account", [record], "GAP_UPDATE")
    step_until(workers, lambda: document(mongo, record).get("name") == "Changed Without An Event",
               message="the re-read record")
    assert capture.counters["gap_rereads"] == 1


def test_an_overflow_re_reads_the_mapping_and_records_an_error(sf, mongo, cdc_workers, cdc_on):
    workers = cdc_workers()
    capture = started(workers, sf, mongo)
    cdc_on.set_cdc("Account", False)
    record = sf.Account.create({"Name": "Overflowed"})["id"]
    cdc_on.set_cdc("Account", True)
    cdc_on.emit_overflow("Account")
    step_until(workers, lambda: document(mongo, record).get("name") == "Overflowed" and not capture._reread.active,
               message="the mapping re-read")
    error = SyncError.objects.filter(mapping=capture.mapping, stage=SyncError.Stage.CAPTURE, code="GAP_OVERFLOW").last()
    assert error is not None and "GAP_OVERFLOW" in error.message and "re-read" in error.message


def test_a_replay_id_past_retention_falls_back_to_a_re_read_and_says_so(sf, mongo, stack, cdc_workers, cdc_on):
    workers = cdc_workers()
    capture = started(workers, sf, mongo)
    record = sf.Account.create({"Name": "Before Expiry"})["id"]
    step_until(workers, lambda: document(mongo, record).get("name") == "Before Expiry", message="the create")
    stored = ReplayCheckpoint.objects.get(mapping=capture.mapping).replay_id
    capture.close()
    workers.remove(capture)

    sf.Account.update(record, {"Name": "Changed While Down"})
    cdc_on.set_event_retention(1)
    wait_until_replay_expired(capture.mapping.org, stored, timeout=30, message="the stored replay id to pass retention")
    again = [w for w in build_workers({"sf-capture"}, threading.Event()) if isinstance(w, SalesforceCdcCapture)]
    workers.extend(again)
    step_until(workers, lambda: document(mongo, record).get("name") == "Changed While Down",
               message="the change made while down")
    # (The initial replay may also meet an older test's overflow event: only this error is ours.)
    error = SyncError.objects.get(mapping=capture.mapping, stage=SyncError.Stage.CAPTURE, code="REPLAY_ID_EXPIRED")
    assert "older than the event retention window" in error.message and "re-read" in error.message


def test_the_client_says_in_one_line_what_is_wrong(stack, sf, cdc_on):
    org = SalesforceOrg(name="probe", login_url=stack.salesforce_url, pubsub_endpoint=stack.salesforce_pubsub_address,
                        ca_bundle=str(stack.salesforce_ca))
    org_id = org_id_from_identity_url(sf.restful("")["identity"])
    good = PubSubAuth(sf.session_id, f"https://{sf.sf_instance}", org_id)
    client = PubSubClient(org.pubsub_endpoint, lambda refresh: good, ca_bundle=org.ca_bundle)
    topic = client.get_topic("/data/AccountChangeEvent")
    assert client.get_schema(topic.schema_id).field_names[0] == "ChangeEventHeader"
    with pytest.raises(UnknownTopic, match="/data/NoSuchChangeEvent"):
        client.get_topic("/data/NoSuchChangeEvent")
    client.close()

    refused = PubSubClient(org.pubsub_endpoint, lambda refresh: PubSubAuth("bad", good.instance_url, good.tenant_id),
                           ca_bundle=org.ca_bundle)
    with pytest.raises(PubSubAuthError, match="refused the session"):
        refused.get_topic("/data/AccountChangeEvent")
    refused.close()


def test_a_backfill_job_on_cdc_re_reads_beside_the_stream_and_reports_what_it_captured(sf, mongo, make_workers,
                                                                                       stack, cdc_on, sync_settings):
    """Issue 11 item 9 and issue 17: the job counts the rows it re-read and is done when they are
    in MongoDB; a live edit made meanwhile reaches MongoDB while the re-read is still going."""
    sync_settings["REREAD_CHUNK_SIZE"] = 5

    def prepare(mapping: ObjectMapping) -> None:
        mapping.capture_mode = ObjectMapping.CaptureMode.CDC
        SalesforceOrg.objects.filter(pk=mapping.org_id).update(pubsub_endpoint=stack.salesforce_pubsub_address)

    workers = make_workers(prepare=prepare, kinds=("sf-capture", "mongo-apply", "jobs"), direction="sf_to_mongo")
    runner = next(w for w in workers if isinstance(w, JobRunner))
    live_apply = next(w for w in workers if type(w) is MongoApply)
    sync = [w for w in workers if w is not runner]
    capture = started(sync, sf, mongo)
    count = len(sf.query_all("SELECT Id FROM Account", include_deleted=True)["records"])
    job = jobs.start(capture.mapping, "backfill")
    assert runner.step() is True
    step_until([capture], lambda: capture._reread.active and capture._reread.published > 0,
               message="the re-read started")
    record = min(r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"])
    sf.Account.update(record, {"Name": "Live Beside A CDC Backfill"})
    step_until([capture, live_apply], lambda: document(mongo, record).get("name") == "Live Beside A CDC Backfill",
               timeout=20, message="the live edit in MongoDB")
    assert capture._reread.active, "the live edit should not wait for the re-read"

    def done() -> bool:
        runner.step()
        return SyncJob.objects.get(pk=job.pk).state == "done"

    step_until(sync, done, message="the backfill job done")
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (count, count)
    assert job.message == f"re-read {count} records from Salesforce; all are in MongoDB"
    assert document(mongo, record)["name"] == "Live Beside A CDC Backfill"


def test_an_update_replayed_before_its_record_is_loaded_makes_one_whole_document_under_its_mongodb_id(
        sf, mongo, make_workers, stack, cdc_on):
    """A record born in MongoDB (it carries the MongoDB id), created before Change Data Capture was
    on and edited after, before the mapping's first start: the edit's event names only the changed
    field, and the record's document is not loaded yet."""
    mongo_id = ObjectId()
    cdc_on.set_cdc("Account", False)
    try:
        record = sf.Account.create({"Name": "Born Elsewhere", "Phone": "555-0199", "Mongo_Id__c": str(mongo_id)})["id"]
    finally:
        cdc_on.set_cdc("Account", True)
    sf.Account.update(record, {"Name": "Born Elsewhere, Renamed"})

    def prepare(mapping: ObjectMapping) -> None:
        mapping.capture_mode = ObjectMapping.CaptureMode.CDC
        SalesforceOrg.objects.filter(pk=mapping.org_id).update(pubsub_endpoint=stack.salesforce_pubsub_address)

    workers = make_workers(prepare=prepare)  # both ways: documents born in MongoDB keep their id
    capture = capture_of(workers)
    live = next(w for w in workers if type(w) is MongoApply)
    # The worst order: the whole initial load in Kafka, the live topic applied before any of it.
    step_until([capture], lambda: capture._reread.published and not capture._reread.active,
               message="the initial load in Kafka")
    step_until([live], lambda: live.counters["applied"] >= 1, message="the replayed edit applied")
    started(workers, sf, mongo)
    assert [(d["_id"], d.get("name"), d.get("phone")) for d in mongo.accounts.find({"sf_id": record})] == [
        (mongo_id, "Born Elsewhere, Renamed", "555-0199")]
    assert not SyncError.objects.exists(), list(SyncError.objects.values_list("code", "message"))
    assert sum(w.counters["partial_rereads"] for w in workers) >= 1


def test_the_syncs_own_update_replayed_before_its_record_is_loaded_makes_no_partial_document(
        sf, mongo, make_workers, stack, cdc_on, settings):
    """A retained event of the sync's own write, from an earlier set-up of the mapping (another
    database, or before a reset), replayed on the first start before the record's document is
    loaded. Carried as only what Salesforce set with it, it made a document of the audit fields
    alone; the initial load's row then met a base that lacked every other field and raised a
    conflict on each of them (CI, stop 19). The next MongoDB edit would have sent them as nulls."""
    cdc_on.set_cdc("Account", False)
    try:
        record = sf.Account.create({"Name": "Synced Before", "Phone": "555-0142"})["id"]
    finally:
        cdc_on.set_cdc("Account", True)
    sf.Account.update(record, {"NumberOfEmployees": 42},
                      headers={"Sforce-Call-Options": f"client={settings.SYNC['CLIENT_NAME']}"})

    def prepare(mapping: ObjectMapping) -> None:
        mapping.capture_mode = ObjectMapping.CaptureMode.CDC
        SalesforceOrg.objects.filter(pk=mapping.org_id).update(pubsub_endpoint=stack.salesforce_pubsub_address)

    workers = make_workers(prepare=prepare)
    capture = capture_of(workers)
    live = next(w for w in workers if type(w) is MongoApply)
    # The worst order: the whole initial load in Kafka, the live topic applied before any of it.
    step_until([capture], lambda: capture._reread.published and not capture._reread.active,
               message="the initial load in Kafka")
    step_until([capture, live], lambda: live.counters["applied"] >= 1, message="the replayed update applied")
    started(workers, sf, mongo)
    assert [(d.get("name"), d.get("phone"), d.get("numberOfEmployees")) for d in mongo.accounts.find({"sf_id": record})
            ] == [("Synced Before", "555-0142", 42)]
    assert not Conflict.objects.exists(), list(Conflict.objects.values_list("salesforce_id", "fields"))
    assert not SyncError.objects.exists(), list(SyncError.objects.values_list("code", "message"))
