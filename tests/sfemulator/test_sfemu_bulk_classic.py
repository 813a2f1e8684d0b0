"""Bulk API 1.0 (``/services/async/62.0/job``) over HTTPS: XML and JSON job/batch info, CSV and JSON
batches, per-row results in request order, and its error bodies."""
from __future__ import annotations

import csv
import io
import uuid
import xml.etree.ElementTree as ET

import pytest

from tests.connectors.helpers import wait_for

NS = "{http://www.force.com/2009/06/asyncapi/dataload}"
XML = {"Content-Type": "application/xml; charset=UTF-8"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def bulk(emulator, http, token):
    """``bulk("POST", "/job", data=…)`` with the ``X-SFDC-Session`` header."""
    base = f"{emulator.url}/services/async/62.0"

    def call(method: str, path: str, session: str | None = None, **kw):
        headers = {"X-SFDC-Session": session or token, **kw.pop("headers", {})}
        return http.request(method, base + path, headers=headers, **kw)

    return call


def _xml(r) -> dict[str, str]:
    root = ET.fromstring(r.content)
    return {el.tag.removeprefix(NS): el.text or "" for el in root}


def _job_xml(operation: str, obj: str = "Account", extra: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
            f"<operation>{operation}</operation><object>{obj}</object>{extra}<contentType>CSV</contentType></jobInfo>")


def _wait_batch(bulk, job_id: str, batch_id: str, headers: dict | None = None) -> dict:
    def ended():
        r = bulk("GET", f"/job/{job_id}/batch/{batch_id}", headers=headers or {})
        info = r.json() if "json" in r.headers["content-type"] else _xml(r)
        return info if info["state"] in ("Completed", "Failed", "NotProcessed") else None
    return wait_for(ended, timeout=20, message="the batch to end")


def test_an_xml_csv_insert_job_answers_rows_in_request_order(bulk, api):
    tag = uuid.uuid4().hex[:8]
    created = bulk("POST", "/job", data=_job_xml("insert"), headers=XML)
    assert created.status_code == 201 and created.headers["content-type"].startswith("application/xml")
    job = _xml(created)
    assert job["state"] == "Open" and job["id"].startswith("750") and job["apiVersion"] == "62.0"
    assert job["createdDate"].endswith("Z") and job["numberBatchesTotal"] == "0"
    data = f"Name,Rating\nFirst {tag},Hot\n,Cold\nThird {tag},\n"
    added = bulk("POST", f"/job/{job['id']}/batch", data=data.encode(), headers={"Content-Type": "text/csv"})
    assert added.status_code == 201
    batch = _xml(added)
    assert batch["id"].startswith("751") and batch["jobId"] == job["id"]
    assert batch["state"] in ("Queued", "InProgress", "Completed")
    done = _wait_batch(bulk, job["id"], batch["id"])
    assert done["state"] == "Completed"
    assert (done["numberRecordsProcessed"], done["numberRecordsFailed"]) == ("3", "1")
    result = bulk("GET", f"/job/{job['id']}/batch/{batch['id']}/result")
    assert result.text.splitlines()[0] == '"Id","Success","Created","Error"'
    rows = list(csv.DictReader(io.StringIO(result.text)))
    assert [(r["Success"], r["Created"]) for r in rows] == [("true", "true"), ("false", "false"), ("true", "true")]
    assert rows[1]["Error"] == "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"
    assert api("GET", f"/sobjects/Account/{rows[0]['Id']}").json()["Rating"] == "Hot"

    closed = bulk("POST", f"/job/{job['id']}", data=_job_xml("insert").replace(
        "<operation>insert</operation><object>Account</object><contentType>CSV</contentType>", "<state>Closed</state>"),
        headers=XML)
    info = _xml(closed)
    assert info["state"] == "Closed" and info["numberBatchesCompleted"] == "1" and info["numberRecordsFailed"] == "1"
    listing = ET.fromstring(bulk("GET", f"/job/{job['id']}/batch").content)
    assert listing.tag == f"{NS}batchInfoList" and [b.find(f"{NS}id").text for b in listing] == [batch["id"]]
    refused = bulk("POST", f"/job/{job['id']}/batch", data=b"Name\nLate\n", headers={"Content-Type": "text/csv"})
    assert refused.status_code == 400 and _xml(refused)["exceptionCode"] == "InvalidJobState"


def test_a_json_job_takes_json_batches_and_answers_json(bulk):
    tag = uuid.uuid4().hex[:8]
    job = bulk("POST", "/job", json={"operation": "upsert", "object": "Account", "contentType": "JSON",
                                     "externalIdFieldName": "Mongo_Id__c"}, headers=JSON).json()
    assert job["state"] == "Open" and job["contentType"] == "JSON" and job["apiVersion"] == 62.0
    records = [{"Mongo_Id__c": f"j{tag}", "Name": f"Json {tag}", "NumberOfEmployees": 7},
               {"Mongo_Id__c": f"k{tag}", "Name": f"Json {tag}", "NumberOfEmployees": "many"}]
    batch = bulk("POST", f"/job/{job['id']}/batch", json=records, headers=JSON).json()
    assert _wait_batch(bulk, job["id"], batch["id"], JSON)["state"] == "Completed"
    results = bulk("GET", f"/job/{job['id']}/batch/{batch['id']}/result", headers=JSON).json()
    assert results[0]["success"] is True and results[0]["created"] is True and results[0]["id"].startswith("001")
    # A value of the wrong type fails its row with the REST API's error for it.
    assert results[1]["success"] is False and results[1]["id"] is None
    assert set(results[1]["errors"][0]) == {"message", "fields", "statusCode"}


def test_an_unknown_column_fails_the_batch_with_a_state_message(bulk):
    job = _xml(bulk("POST", "/job", data=_job_xml("insert"), headers=XML))
    batch = _xml(bulk("POST", f"/job/{job['id']}/batch", data=b"Name,Nope__c\nA,1\n",
                      headers={"Content-Type": "text/csv"}))
    done = _wait_batch(bulk, job["id"], batch["id"])
    assert done["state"] == "Failed" and done["stateMessage"] == "InvalidBatch : Field name not found : Nope__c"


def test_errors_are_bulk_api_error_bodies(bulk):
    r = bulk("POST", "/job", data=_job_xml("insert"), headers=XML, session="not-a-session")
    assert r.status_code == 400
    assert _xml(r) == {"exceptionCode": "InvalidSessionId", "exceptionMessage": "Invalid session id"}
    r = bulk("POST", "/job", data=_job_xml("merge"), headers=XML)
    assert r.status_code == 400 and _xml(r)["exceptionCode"] == "InvalidJob"
    r = bulk("POST", "/job", data=b"<jobInfo", headers=XML)
    assert r.status_code == 400 and _xml(r)["exceptionCode"] == "InvalidXML"
    r = bulk("GET", "/job/750Hn0000000000AAA", headers=JSON)
    assert r.status_code == 400 and r.json()["exceptionCode"] == "InvalidJob"
    job = _xml(bulk("POST", "/job", data=_job_xml("insert"), headers=XML))
    r = bulk("GET", f"/job/{job['id']}/batch/751Hn0000000000AAA")
    assert r.status_code == 400 and _xml(r)["exceptionCode"] == "InvalidBatch"
    r = bulk("GET", f"/job/{job['id']}/batch/751Hn0000000000AAA/request")
    assert r.status_code == 400  # the batch is looked up first
    r = bulk("GET", "/nothing")
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"


def test_a_query_batch_serves_one_result_file(bulk, api):
    tag = uuid.uuid4().hex[:8]
    for i in range(3):
        api("POST", "/sobjects/Account", json={"Name": f"Q1 {tag} {i}", "Rating": "Hot" if i else None})
    job = _xml(bulk("POST", "/job", data=_job_xml("query"), headers=XML))
    soql = f"SELECT Id, Name, Rating, Owner.Name FROM Account WHERE Name LIKE 'Q1 {tag}%' ORDER BY Name"
    batch = _xml(bulk("POST", f"/job/{job['id']}/batch", data=soql.encode(), headers={"Content-Type": "text/csv"}))
    done = _wait_batch(bulk, job["id"], batch["id"])
    assert done["state"] == "Completed" and done["numberRecordsProcessed"] == "3"
    listing = ET.fromstring(bulk("GET", f"/job/{job['id']}/batch/{batch['id']}/result").content)
    assert listing.tag == f"{NS}result-list"
    [result_id] = [el.text for el in listing]
    assert result_id.startswith("752")
    text = bulk("GET", f"/job/{job['id']}/batch/{batch['id']}/result/{result_id}").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == '"Id","Name","Rating","Owner.Name"'
    assert [(r["Name"], r["Rating"], r["Owner.Name"]) for r in rows] == [
        (f"Q1 {tag} 0", "", "Demo Admin"), (f"Q1 {tag} 1", "Hot", "Demo Admin"), (f"Q1 {tag} 2", "Hot", "Demo Admin")]


def test_a_bad_query_fails_its_batch(bulk):
    job = _xml(bulk("POST", "/job", data=_job_xml("query"), headers=XML))
    batch = _xml(bulk("POST", f"/job/{job['id']}/batch", data=b"SELECT Nope FROM Account",
                      headers={"Content-Type": "text/csv"}))
    done = _wait_batch(bulk, job["id"], batch["id"])
    assert done["state"] == "Failed"
    assert done["stateMessage"].startswith("InvalidBatch : Failed to process query: INVALID_FIELD: ")


def test_simple_salesforce_bulk_api_1_inserts_and_queries(sf):
    tag = uuid.uuid4().hex[:8]
    results = sf.bulk.Account.insert([{"Name": f"SS1 {tag} {i}"} for i in range(3)] + [{"Rating": "Hot"}])
    assert [(r["success"], r["created"]) for r in results] == [(True, True)] * 3 + [(False, False)]
    assert results[3]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    rows = sf.bulk.Account.query(f"SELECT Id, Name FROM Account WHERE Name LIKE 'SS1 {tag}%' ORDER BY Name")
    assert [r["Name"] for r in rows] == [f"SS1 {tag} {i}" for i in range(3)]
    assert [r["Id"] for r in rows] == [r["id"] for r in results[:3]]
