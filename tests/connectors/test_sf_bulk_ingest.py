"""Bulk API 2.0 ingest jobs, as the write-back path uses them, against the emulator: results come
back per record in the order sent, failures with Salesforce's code and message, and every job is
safe to send again (what a redo after a crash does)."""
from __future__ import annotations

import uuid

import pytest

from connectors.salesforce.bulk_ingest import BulkIngest
from tests.connectors.test_salesforce_retries import writer_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def bulk(sync_settings) -> BulkIngest:  # type: ignore[no-untyped-def]
    return BulkIngest(writer_for(sync_settings).client, first_poll=0.05)


def ingest_jobs(sf) -> list[dict]:
    return sf.restful("jobs/ingest")["records"]


def test_an_upsert_sent_twice_creates_each_record_once_and_names_it(sf, bulk):
    tag = uuid.uuid4().hex[:8]
    records = [{"Mongo_Id__c": f"{tag}-{n}", "Name": f"Bulk {tag} {n}", "NumberOfEmployees": n} for n in range(5)]

    first = bulk.upsert("Account", "Mongo_Id__c", records)
    again = bulk.upsert("Account", "Mongo_Id__c", records)  # a redo after a crash before the commit

    assert all(r and r.success and r.created for r in first)
    assert [r and (r.success, r.created, r.id) for r in again] == [(True, False, r.id) for r in first if r]
    found = sf.query_all(f"SELECT Id, Mongo_Id__c, NumberOfEmployees FROM Account WHERE Name LIKE 'Bulk {tag}%'")
    assert sorted((r["Mongo_Id__c"], r["NumberOfEmployees"]) for r in found["records"]) == [
        (f"{tag}-{n}", n) for n in range(5)]
    assert bulk.last_job is not None and bulk.last_job.calls <= 8  # create, upload, close, polls, results
    assert any(j["id"] == bulk.last_job.job_id and j["operation"] == "upsert" for j in ingest_jobs(sf))


def test_a_rejected_row_carries_salesforces_code_message_and_fields_and_the_rest_land(sf, bulk, emulator):
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 3")["records"]]
    emulator.add_rule("test_bulk_no_negative_staff", "Account", "NumberOfEmployees", "<", 0,
                      "Employees cannot be negative")
    results = bulk.update("Account", [{"id": ids[0], "NumberOfEmployees": 11}, {"id": ids[1], "NumberOfEmployees": -1},
                                      {"id": ids[2], "Description": None}])

    assert [r and r.success for r in results] == [True, False, True]
    rejected = results[1]
    assert rejected is not None and (rejected.code, rejected.message, rejected.fields) == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Employees cannot be negative", ["NumberOfEmployees"])
    assert sf.Account.get(ids[0])["NumberOfEmployees"] == 11
    assert sf.Account.get(ids[2])["Description"] is None  # #N/A nulls; an empty cell would leave it


def test_a_delete_sent_again_reports_the_record_already_deleted(sf, bulk):
    created = sf.Account.create({"Name": "Bulk Delete Twice"})["id"]
    assert [r and r.success for r in bulk.delete("Account", [created])] == [True]
    again = bulk.delete("Account", [created])
    assert again[0] is not None and again[0].code == "ENTITY_IS_DELETED"


def test_a_record_named_twice_in_one_job_comes_back_unprocessed_to_be_sent_again(sf, bulk):
    record_id = sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 1")["records"][0]["Id"]
    results = bulk.update("Account", [{"id": record_id, "Description": "first"},
                                      {"id": record_id, "Description": "second"}])
    assert results[0] is not None and results[0].success and results[1] is None


def test_the_jobs_writes_carry_the_client_name_so_they_are_known_as_our_own(sf, bulk, emulator):
    record_id = sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 1")["records"][0]["Id"]
    bulk.update("Account", [{"id": record_id, "Description": f"ours {uuid.uuid4().hex[:6]}"}])
    assert emulator.changes(record_id=record_id)[-1]["client"] == "test"


def test_a_job_that_fails_whole_leaves_every_record_unprocessed_not_lost(sf, bulk):
    record_id = sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 1")["records"][0]["Id"]
    results = bulk.update("Account", [{"id": record_id, "No_Such_Field__c": "x"}])
    assert results == [None]
    assert bulk.last_job is not None and bulk.last_job.state == "Failed"


def test_an_expired_session_logs_in_again_and_the_job_goes_through(sf, bulk, sync_settings):
    import requests

    first = bulk.client.call(lambda s: s.session_id)
    revoked = requests.post(f"{sync_settings['SF_LOGIN_URL']}/services/oauth2/revoke", data={"token": first},
                            verify=sync_settings["SF_CA_BUNDLE"], timeout=10)
    assert revoked.status_code == 200
    record_id = sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 1")["records"][0]["Id"]
    results = bulk.update("Account", [{"id": record_id, "Description": "after a new login"}])
    assert results[0] is not None and results[0].success
    assert bulk.client.call(lambda s: s.session_id) != first
