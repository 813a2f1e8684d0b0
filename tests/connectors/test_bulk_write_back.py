"""A large MongoDB-side backlog reaches Salesforce through one Bulk API 2.0 ingest job, chosen by the
API-budget governor, which the console shows; a record the job rejects is parked like a composite
rejection and a person can retry it; the job's writes come back as echoes and stop there; a small
batch still goes by sObject Collections. On the real services, every worker stepped by the test."""
from __future__ import annotations

import threading
import uuid

import pytest

from connectors.models import SyncError
from connectors.operations import error_queue
from connectors.salesforce.bulk_ingest import BulkIngest
from connectors.workers.apply.to_salesforce import governor
from connectors.workers.runner import WorkerRunner
from dashboard.status import mapping_rows
from tests.connectors.helpers import step_until
from tests.connectors.test_two_way import CLIENT, backfilled, counter
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db

#: Enough records for one job to cost fewer API calls than sObject Collections (15 calls of 200).
BACKLOG = 3000
KINDS = ("sf-capture", "mongo-apply", "mongo-capture", "sf-apply")


def ingest_jobs(sf) -> dict[str, dict]:
    return {j["id"]: j for j in sf.restful("jobs/ingest")["records"]}


def composite_calls(apply) -> int:
    return sum(writer.calls for writer in apply._writers.values())


@pytest.fixture
def bulk_workers(sync_settings, make_workers):  # type: ignore[no-untyped-def]
    sync_settings["BULK_WRITE_THRESHOLD"] = 2500  # the default, 10,000, would make the test slow
    return make_workers(kinds=KINDS)


def test_a_large_backlog_goes_by_one_ingest_job_and_a_rejected_record_is_parked_and_retried(
        sf, mongo, bulk_workers, emulator, client):
    workers = bulk_workers
    backfilled(sf, mongo, workers)
    capture = next(w for w in workers if w.name.startswith("mongo-capture"))
    apply = next(w for w in workers if w.name.startswith("sf-apply"))
    emulator.add_rule("test_bulk_no_negative_staff", "Account", "NumberOfEmployees", "<", 0,
                      "Employees cannot be negative")
    tag = uuid.uuid4().hex[:8]
    documents = [{"name": f"Bulk {tag} {n}", "numberOfEmployees": n} for n in range(BACKLOG - 1)]
    documents.append({"name": f"Bulk {tag} negative", "numberOfEmployees": -5})
    mongo.accounts.insert_many(documents)
    bad = documents[-1]["_id"]
    published = counter([capture], "events_published")
    step_until([capture], lambda: counter([capture], "events_published") >= published + BACKLOG,
               message="the backlog published")

    jobs_before, calls_before = set(ingest_jobs(sf)), composite_calls(apply)
    step_until([apply], lambda: SyncError.objects.filter(record_key=str(bad)).exists()
               and mongo.accounts.count_documents({"name": {"$regex": f"^Bulk {tag}"}, "sf_id": {"$ne": None}})
               == BACKLOG - 1, message="the backlog written and its Ids written back")

    # One ingest job wrote the whole backlog, and no sObject Collections call was made.
    new_jobs = [j for job_id, j in ingest_jobs(sf).items() if job_id not in jobs_before]
    assert [(j["operation"], j["object"]) for j in new_jobs] == [("upsert", "Account")]
    info = sf.restful(f"jobs/ingest/{new_jobs[0]['id']}")
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", BACKLOG, 1)
    assert composite_calls(apply) == calls_before
    # Counted by the worker's own client: the emulator's counter is the org's, and in a full run
    # other clients of the same org were seen adding hundreds of calls meanwhile.
    used = sum(jobs.calls for jobs in apply._write._jobs.values())
    assert used < BACKLOG / 200, f"{used} API calls, where sObject Collections take {BACKLOG // 200}"

    # Nothing lost or duplicated: each document holds the Id of the one record upserted on its _id.
    found = {r["Mongo_Id__c"]: r["Id"] for r in sf.query_all(
        f"SELECT Id, Mongo_Id__c FROM Account WHERE Name LIKE 'Bulk {tag}%'")["records"]}
    held = {str(d["_id"]): d.get("sf_id") for d in mongo.accounts.find({"name": {"$regex": f"^Bulk {tag}"}})}
    assert found == {k: v for k, v in held.items() if k != str(bad)}

    # The rejection is parked as a composite rejection is: Salesforce's code, message, fields, what was sent.
    error = SyncError.objects.get(record_key=str(bad))
    assert (error.stage, error.code) == ("salesforce_write", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert error.message.startswith("Employees cannot be negative (fields: NumberOfEmployees); sent: {")
    assert f'"Mongo_Id__c": "{bad}"' in error.message

    # The console says which way the write-back went and why.
    WorkerRunner([apply], threading.Event())._beat()
    row = next(m for m in mapping_rows() if m.name == "accounts")
    assert row.write_back.startswith(f"write-back: Bulk API 2.0 ingest (backlog {BACKLOG:,}: "
                                     f"{BACKLOG // 200} API calls by sObject Collections vs 8 by Bulk API 2.0")
    client.force_login(user_with_role("operator", OPERATORS))
    assert row.write_back in client.get("/").content.decode()

    # The job's writes come back from Salesforce (capture reads them) and stop there: nothing is
    # written to Salesforce again.
    mongo_apply = next(w for w in workers if w.name.startswith("mongo-apply"))
    jobs_before, calls_before, applied = set(ingest_jobs(sf)), composite_calls(apply), mongo_apply.counters["messages"]
    step_until(workers, lambda: mongo_apply.counters["messages"] >= applied + BACKLOG - 1, timeout=120,
               message="the job's writes read back from Salesforce")
    for _ in range(10):
        for worker in workers:
            worker.step()
    sample = found[str(documents[0]["_id"])]
    assert [c["client"] for c in emulator.changes(record_id=sample)] == [CLIENT]
    assert set(ingest_jobs(sf)) == jobs_before and composite_calls(apply) == calls_before

    # A person fixes the cause and retries: a batch of one, written by sObject Collections.
    emulator.remove_rule("test_bulk_no_negative_staff")
    jobs_before, calls_before = set(ingest_jobs(sf)), composite_calls(apply)
    assert error_queue.retry([error]) == 1
    step_until(workers, lambda: (mongo.accounts.find_one({"_id": bad}) or {}).get("sf_id"),
               message="the retried record created")
    assert sf.Account.get(mongo.accounts.find_one({"_id": bad})["sf_id"])["NumberOfEmployees"] == -5
    assert set(ingest_jobs(sf)) == jobs_before and composite_calls(apply) > calls_before
    WorkerRunner([apply], threading.Event())._beat()
    assert next(m for m in mapping_rows() if m.name == "accounts").write_back.startswith(
        "write-back: sObject Collections (backlog 1: 1 API calls")


def test_what_a_job_leaves_unprocessed_goes_by_composite_in_the_same_batch(sf, make_workers, monkeypatch):
    # One job per two records instead of per 1,600 keeps the test small; the services are the real ones.
    monkeypatch.setattr(governor, "CALLS_PER_JOB", 0)
    apply = make_workers(kinds=("sf-apply",))[0]
    target = apply._targets["accounts"]
    jobs = BulkIngest(target.writer.client, first_poll=0.05)
    first, second = (r["Id"] for r in sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 2")["records"])
    records = [{"id": first, "Description": "by the job"}, {"id": second, "Description": "by the job"},
               {"id": first, "Description": "by composite, after the job"}]  # the same record twice
    calls = target.writer.calls

    results = apply._write._send(target, jobs, records, lambda job, rs: job.update("Account", rs),
                                 lambda rs: target.writer.update("Account", rs))

    assert [(r.success, r.id) for r in results] == [(True, first), (True, second), (True, first)]
    assert jobs.last_job is not None and jobs.last_job.sent == 2 and target.writer.calls == calls + 1
    assert sf.Account.get(first)["Description"] == "by composite, after the job"
