"""connectors.salesforce.bulk against the emulator: pages of dicts, deleted jobs, clear errors."""
from __future__ import annotations

import uuid

import pytest

from connectors.salesforce.bulk import BulkQuery, BulkQueryError


def _query_job_ids(sf) -> set[str]:
    return {j["id"] for j in sf.restful("jobs/query")["records"]}


def test_it_yields_every_record_in_pages_and_deletes_the_job(sf):
    tag = uuid.uuid4().hex[:8]
    for i in range(5):
        sf.Account.create({"Name": f"Paged {tag} {i}", "Description": "x" if i % 2 else None})
    before = _query_job_ids(sf)
    bulk = BulkQuery(sf, page_size=2)
    pages = list(bulk.pages(f"SELECT Id, Name, Description, Owner.Name FROM Account WHERE Name LIKE 'Paged {tag}%' "
                            "ORDER BY Name"))
    assert [len(p) for p in pages] == [2, 2, 1]
    records = [r for p in pages for r in p]
    assert [r["Name"] for r in records] == [f"Paged {tag} {i}" for i in range(5)]
    assert [r["Description"] for r in records] == [None, "x", None, "x", None]  # empty CSV value -> None
    assert {r["Owner.Name"] for r in records} == {"Demo Admin"}
    assert _query_job_ids(sf) == before


def test_include_deleted_reads_the_recycle_bin(sf):
    name = f"Binned {uuid.uuid4().hex[:8]}"
    record_id = sf.Account.create({"Name": name})["id"]
    sf.Account.delete(record_id)
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Name = '{name}'"
    bulk = BulkQuery(sf)
    assert list(bulk.records(soql)) == []
    assert list(bulk.records(soql, include_deleted=True)) == [{"Id": record_id, "IsDeleted": "true"}]


def test_bad_soql_raises_before_any_job_exists(sf):
    with pytest.raises(BulkQueryError) as caught:
        list(BulkQuery(sf).pages("SELECT Nope FROM Account"))
    assert caught.value.job_id is None and caught.value.message.startswith("INVALID_FIELD: ")


def test_a_failed_job_raises_with_salesforce_error_message(sf):
    before = _query_job_ids(sf)
    with pytest.raises(BulkQueryError) as caught:
        list(BulkQuery(sf).pages("SELECT COUNT() FROM Account"))
    assert caught.value.state == "Failed" and "not supported" in caught.value.message
    assert caught.value.job_id.startswith("750") and _query_job_ids(sf) == before


def test_a_job_that_outlasts_the_timeout_raises_and_is_aborted(sf, monkeypatch):
    bulk = BulkQuery(sf, timeout=0.3)
    monkeypatch.setattr(bulk, "_job_info", lambda job_id: {"state": "InProgress", "id": job_id})
    with pytest.raises(BulkQueryError) as caught:
        list(bulk.pages("SELECT Id FROM Account"))
    assert caught.value.state == "InProgress" and "not finished after 0.3s" in caught.value.message


def test_stopping_early_deletes_the_job(sf):
    before = _query_job_ids(sf)
    pages = BulkQuery(sf, page_size=5).pages("SELECT Id FROM Account")
    assert len(next(pages)) == 5
    pages.close()
    assert _query_job_ids(sf) == before
