"""Bulk API 2.0 (``/jobs/ingest``, ``/jobs/query``) over HTTPS: job states, CSV results, errors,
and that bulk writes are ordinary writes (validation, audit stamps, change log)."""
from __future__ import annotations

import base64
import csv
import io
import uuid

import pytest
from pubsub_support import collect, for_records

from tests.connectors.helpers import wait_for

CSV_HEADERS = {"Content-Type": "text/csv"}
INFO_KEYS = {"id", "operation", "object", "createdById", "createdDate", "systemModstamp", "state",
             "concurrencyMode", "contentType", "apiVersion", "jobType", "lineEnding", "columnDelimiter"}


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _ingest(api, operation: str, body: str, sobject: str = "Account", **job) -> dict:
    """Create, upload, close and wait for an ingest job; returns the final job info."""
    created = api("POST", "/jobs/ingest", json={"object": sobject, "operation": operation, **job})
    assert created.status_code == 200, created.text
    job_id = created.json()["id"]
    assert api("PUT", f"/jobs/ingest/{job_id}/batches", data=body.encode(), headers=CSV_HEADERS).status_code == 201
    closed = api("PATCH", f"/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete", closed.text
    return _finished(api, f"/jobs/ingest/{job_id}")


def _finished(api, path: str) -> dict:
    def ended() -> dict | None:
        info = api("GET", path).json()
        return info if info["state"] in ("JobComplete", "Failed", "Aborted") else None
    return wait_for(ended, timeout=20, message=f"{path} to end")


def _query_job(api, soql: str, operation: str = "query") -> dict:
    created = api("POST", "/jobs/query", json={"operation": operation, "query": soql})
    assert created.status_code == 200, created.text
    assert created.json()["state"] == "UploadComplete"
    return _finished(api, f"/jobs/query/{created.json()['id']}")


# -- ingest -----------------------------------------------------------------------
def test_an_insert_job_goes_open_to_complete_and_reports_each_row(api):
    tag = _tag()
    created = api("POST", "/jobs/ingest", json={"object": "Account", "operation": "insert", "lineEnding": "LF"})
    info = created.json()
    assert INFO_KEYS <= set(info) and info["state"] == "Open" and info["jobType"] == "V2Ingest"
    assert info["id"].startswith("750") and info["apiVersion"] == 62.0
    assert info["contentUrl"] == f"services/data/v62.0/jobs/ingest/{info['id']}/batches"
    body = f'Name,NumberOfEmployees,Description\n"Bulk, {tag}",12,"two\nlines"\n,3,missing name\n'
    api("PUT", f"/jobs/ingest/{info['id']}/batches", data=body.encode(), headers=CSV_HEADERS)
    assert api("GET", f"/jobs/ingest/{info['id']}").json()["state"] == "Open"
    api("PATCH", f"/jobs/ingest/{info['id']}", json={"state": "UploadComplete"})
    done = _finished(api, f"/jobs/ingest/{info['id']}")
    assert done["state"] == "JobComplete"
    assert (done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (2, 1)

    ok = api("GET", f"/jobs/ingest/{info['id']}/successfulResults")
    assert ok.headers["content-type"].startswith("text/csv")
    assert ok.text.splitlines()[0] == '"sf__Id","sf__Created","Name","NumberOfEmployees","Description"'
    [row] = _rows(ok.text)
    assert row["sf__Created"] == "true" and row["Name"] == f"Bulk, {tag}" and row["Description"] == "two\nlines"
    record = api("GET", f"/sobjects/Account/{row['sf__Id']}").json()
    assert record["NumberOfEmployees"] == 12 and record["Description"] == "two\nlines"

    [bad] = _rows(api("GET", f"/jobs/ingest/{info['id']}/failedResults").text)
    assert bad["sf__Id"] == "" and bad["Description"] == "missing name"
    assert bad["sf__Error"] == "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"
    assert _rows(api("GET", f"/jobs/ingest/{info['id']}/unprocessedrecords").text) == []


def test_update_upsert_and_delete_jobs_write_like_rest(api):
    tag = _tag()
    a = api("POST", "/sobjects/Account", json={"Name": f"Up {tag}"}).json()["id"]
    done = _ingest(api, "update", f"Id,Rating,Website\n{a},Hot,#N/A\n001Hn0000zzzzzzIAA,Hot,\n")
    assert (done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (2, 1)
    assert api("GET", f"/sobjects/Account/{a}").json()["Rating"] == "Hot"

    done = _ingest(api, "upsert", f"Mongo_Id__c,Name\nm{tag},Upserted {tag}\n", externalIdFieldName="Mongo_Id__c")
    [row] = _rows(api("GET", f"/jobs/ingest/{done['id']}/successfulResults").text)
    assert row["sf__Created"] == "true"
    done = _ingest(api, "upsert", f"Mongo_Id__c,Name\nm{tag},Renamed {tag}\n", externalIdFieldName="Mongo_Id__c")
    [again] = _rows(api("GET", f"/jobs/ingest/{done['id']}/successfulResults").text)
    assert again["sf__Id"] == row["sf__Id"] and again["sf__Created"] == "false"
    assert api("GET", f"/sobjects/Account/{row['sf__Id']}").json()["Name"] == f"Renamed {tag}"

    done = _ingest(api, "delete", f"Id\n{a}\n")
    assert done["state"] == "JobComplete" and done["numberRecordsFailed"] == 0
    assert api("GET", f"/sobjects/Account/{a}").status_code == 404
    in_bin = api("GET", "/queryAll", params={"q": f"SELECT Id FROM Account WHERE Id = '{a}'"}).json()
    assert in_bin["totalSize"] == 1

    done = _ingest(api, "hardDelete", f"Id\n{a}\n{row['sf__Id']}\n")
    assert (done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (2, 0)
    gone = api("GET", "/queryAll", params={"q": f"SELECT Id FROM Account WHERE Id IN ('{a}', '{row['sf__Id']}')"})
    assert gone.json()["totalSize"] == 0


def test_ingest_writes_pass_validation_and_feed_the_change_log(api, ctl):
    tag = _tag()
    ctl.add_rule(f"bulk_{tag}", "Account", "Description", "=", f"forbidden {tag}")
    try:
        done = _ingest(api, "insert", f"Name,Description\nRule {tag},forbidden {tag}\nFine {tag},ok\n")
    finally:
        ctl.remove_rule(f"bulk_{tag}")
    assert done["numberRecordsFailed"] == 1
    [bad] = _rows(api("GET", f"/jobs/ingest/{done['id']}/failedResults").text)
    assert bad["sf__Error"].startswith("FIELD_CUSTOM_VALIDATION_EXCEPTION:")
    [ok] = _rows(api("GET", f"/jobs/ingest/{done['id']}/successfulResults").text)
    [event] = ctl.changes(record_id=ok["sf__Id"])
    assert event["changeType"] == "CREATE" and "Description" in event["fields"]
    record = api("GET", f"/sobjects/Account/{ok['sf__Id']}").json()
    assert record["SystemModstamp"] == record["CreatedDate"] == event["commitTimestamp"]


def test_an_ingest_publishes_change_events_with_the_job_creator_client(api, subscribe, decoder):
    tag = _tag()
    headers = {"Sforce-Call-Options": "client=mongo-sync"}
    created = api("POST", "/jobs/ingest", json={"object": "Account", "operation": "insert"}, headers=headers).json()
    api("PUT", f"/jobs/ingest/{created['id']}/batches", data=f"Name\nCdc {tag} 1\nCdc {tag} 2\n".encode(),
        headers=CSV_HEADERS)
    api("PATCH", f"/jobs/ingest/{created['id']}", json={"state": "UploadComplete"})
    done = _finished(api, f"/jobs/ingest/{created['id']}")
    ids = [r["sf__Id"] for r in _rows(api("GET", f"/jobs/ingest/{done['id']}/successfulResults").text)]
    events = collect(subscribe("/data/AccountChangeEvent"), decoder, for_records(*ids), 2)
    heads = [p["ChangeEventHeader"] for _, p, _ in events]
    assert [h["recordIds"] for h in heads] == [[ids[0]], [ids[1]]]
    assert {h["changeType"] for h in heads} == {"CREATE"}
    assert heads[0]["transactionKey"] == heads[1]["transactionKey"]  # one chunk, one transaction
    assert all(h["changeOrigin"].endswith(";client=mongo-sync") for h in heads)
    assert [p["Name"] for _, p, _ in events] == [f"Cdc {tag} 1", f"Cdc {tag} 2"]


def test_an_unknown_column_fails_the_job_and_leaves_every_row_unprocessed(api):
    done = _ingest(api, "insert", "Name,Nope__c\nA,1\nB,2\n")
    assert done["state"] == "Failed" and done["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    assert [r["Name"] for r in _rows(api("GET", f"/jobs/ingest/{done['id']}/unprocessedrecords").text)] == ["A", "B"]


def test_an_aborted_job_keeps_its_rows_as_unprocessed_and_writes_nothing(api):
    job = api("POST", "/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    tag = _tag()
    api("PUT", f"/jobs/ingest/{job['id']}/batches", data=f"Name\nAborted {tag}\n".encode(), headers=CSV_HEADERS)
    aborted = api("PATCH", f"/jobs/ingest/{job['id']}", json={"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    assert _rows(api("GET", f"/jobs/ingest/{job['id']}/unprocessedrecords").text) == [{"Name": f"Aborted {tag}"}]
    assert api("GET", "/query", params={"q": f"SELECT Id FROM Account WHERE Name = 'Aborted {tag}'"}
               ).json()["totalSize"] == 0


def test_wrong_state_changes_answer_400_invalidjobstate(api):
    job = api("POST", "/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    path = f"/jobs/ingest/{job['id']}"
    r = api("DELETE", path)  # an Open job can't be deleted
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    r = api("GET", f"{path}/successfulResults")
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    api("PUT", f"{path}/batches", data=b"Name\nX\n", headers=CSV_HEADERS)
    assert api("PATCH", path, json={"state": "Aborted"}).status_code == 200
    for method, sub, kw in (("PATCH", "", {"json": {"state": "UploadComplete"}}),
                            ("PATCH", "", {"json": {"state": "Aborted"}}),
                            ("PUT", "/batches", {"data": b"Name\nY\n", "headers": CSV_HEADERS})):
        r = api(method, path + sub, **kw)
        assert r.status_code == 400, (method, sub, r.text)
        assert set(r.json()[0]) == {"errorCode", "message"} and r.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert api("DELETE", path).status_code == 204
    assert api("GET", path).json() == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


def test_bad_job_requests_are_refused(api):
    r = api("POST", "/jobs/ingest", json={"object": "Nope__c", "operation": "insert"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALIDJOB"
    r = api("POST", "/jobs/ingest", json={"object": "Account", "operation": "merge"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALIDJOB"
    r = api("POST", "/jobs/ingest", json={"object": "Account", "operation": "upsert"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALIDJOB"
    r = api("GET", "/jobs/ingest/750Hn0000000000AAA")
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
    assert api("GET", "/jobs/nothing").status_code == 404


def test_jobs_are_listed_per_kind(api):
    job = api("POST", "/jobs/ingest", json={"object": "Contact", "operation": "insert"}).json()
    listing = api("GET", "/jobs/ingest").json()
    assert listing["done"] is True and listing["nextRecordsUrl"] is None
    assert job["id"] in {j["id"] for j in listing["records"]}
    assert job["id"] not in {j["id"] for j in api("GET", "/jobs/query").json()["records"]}
    assert api("GET", f"/jobs/query/{job['id']}").status_code == 404


# -- query --------------------------------------------------------------------------
def test_a_query_job_serves_csv_pages_through_sforce_locator(api):
    done = _query_job(api, "SELECT Id, Name, Owner.Name, Mongo_Id__c, IsDeleted FROM Account")
    assert done["state"] == "JobComplete" and done["jobType"] == "V2Query"
    total = done["numberRecordsProcessed"]
    assert total >= 5000
    path = f"/jobs/query/{done['id']}/results"
    seen: list[dict] = []
    locator = None
    while True:
        r = api("GET", path, params={"maxRecords": 2000, **({"locator": locator} if locator else {})})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        page = _rows(r.text)
        assert int(r.headers["Sforce-NumberOfRecords"]) == len(page)
        seen.extend(page)
        locator = r.headers["Sforce-Locator"]
        if locator == "null":
            break
        assert base64.b64decode(locator + "=" * (-len(locator) % 4)) == str(len(seen)).encode()
    assert len(seen) == total == len({row["Id"] for row in seen})
    assert r.text.splitlines()[0] == '"Id","Name","Owner.Name","Mongo_Id__c","IsDeleted"'
    assert seen[0]["Owner.Name"] == "Demo Admin" and seen[0]["IsDeleted"] == "false"
    assert any(row["Mongo_Id__c"] == "" for row in seen)  # null is an empty value


def test_a_null_parent_leaves_its_relationship_columns_empty(api):
    tag = _tag()
    a = api("POST", "/sobjects/Account", json={"Name": f"Parent {tag}"}).json()["id"]
    api("POST", "/sobjects/Contact", json={"LastName": f"Child {tag}", "AccountId": a})
    api("POST", "/sobjects/Contact", json={"LastName": f"Orphan {tag}"})
    done = _query_job(api, f"SELECT LastName, Account.Name FROM Contact WHERE LastName LIKE '% {tag}' "
                           "ORDER BY LastName")
    rows = _rows(api("GET", f"/jobs/query/{done['id']}/results").text)
    assert rows == [{"LastName": f"Child {tag}", "Account.Name": f"Parent {tag}"},
                    {"LastName": f"Orphan {tag}", "Account.Name": ""}]


def test_query_all_jobs_include_deleted_records(api):
    tag = _tag()
    a = api("POST", "/sobjects/Account", json={"Name": f"Gone {tag}"}).json()["id"]
    api("DELETE", f"/sobjects/Account/{a}")
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Name = 'Gone {tag}'"
    assert _query_job(api, soql)["numberRecordsProcessed"] == 0
    done = _query_job(api, soql, operation="queryAll")
    assert _rows(api("GET", f"/jobs/query/{done['id']}/results").text) == [{"Id": a, "IsDeleted": "true"}]


def test_bad_soql_is_refused_when_the_job_is_created(api):
    r = api("POST", "/jobs/query", json={"operation": "query", "query": "SELECT Nope FROM Account"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_FIELD"
    r = api("POST", "/jobs/query", json={"operation": "query", "query": "SELEKT"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "MALFORMED_QUERY"


@pytest.mark.parametrize("soql", ["SELECT COUNT() FROM Account",
                                  "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
                                  "SELECT Id FROM Account LIMIT 5 OFFSET 5"])
def test_soql_bulk_queries_cannot_run_fails_the_job_with_an_error_message(api, soql):
    done = _query_job(api, soql)
    assert done["state"] == "Failed" and "not supported" in done["errorMessage"]
    r = api("GET", f"/jobs/query/{done['id']}/results")
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_a_query_job_can_be_aborted_or_deleted_once_finished(api):
    done = _query_job(api, "SELECT Id FROM Account LIMIT 1")
    r = api("PATCH", f"/jobs/query/{done['id']}", json={"state": "Aborted"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert api("DELETE", f"/jobs/query/{done['id']}").status_code == 204
    assert api("GET", f"/jobs/query/{done['id']}").status_code == 404


# -- simple-salesforce's own Bulk 2.0 client ---------------------------------------------
def test_simple_salesforce_bulk2_inserts_and_queries(sf):
    tag = _tag()
    [result] = sf.bulk2.Account.insert(records=[{"Name": f"SS {tag} {i}", "Rating": "Warm"} for i in range(3)],
                                       wait=0.1)
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (3, 0)
    pages = list(sf.bulk2.Account.query(f"SELECT Name, Rating FROM Account WHERE Name LIKE 'SS {tag}%' "
                                        "ORDER BY Name", max_records=2, wait=0.1))
    assert [r["Name"] for p in pages for r in _rows(p)] == [f"SS {tag} {i}" for i in range(3)]
    assert len(pages) == 2


def test_a_multipart_request_creates_fills_and_closes_a_job(api):
    tag = _tag()
    boundary = "BOUNDARY"
    body = (f'--{boundary}\r\nContent-Type: application/json\r\nContent-Disposition: form-data; name="job"\r\n\r\n'
            '{"object": "Contact", "contentType": "CSV", "operation": "insert", "lineEnding": "LF"}\r\n'
            f'--{boundary}\r\nContent-Type: text/csv\r\nContent-Disposition: form-data; name="content"; '
            f'filename="content"\r\n\r\nFirstName,LastName\nAstro,Nomical {tag}\nHootie,McOwl {tag}\n\r\n'
            f'--{boundary}--\r\n')
    created = api("POST", "/jobs/ingest", data=body.encode(),
                  headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert created.status_code == 200, created.text
    assert created.json()["state"] == "UploadComplete" and created.json()["object"] == "Contact"
    done = _finished(api, f"/jobs/ingest/{created.json()['id']}")
    assert (done["state"], done["numberRecordsProcessed"], done["numberRecordsFailed"]) == ("JobComplete", 2, 0)
    names = [r["LastName"] for r in _rows(api("GET", f"/jobs/ingest/{done['id']}/successfulResults").text)]
    assert names == [f"Nomical {tag}", f"McOwl {tag}"]
