"""SOQL over REST: paging, queryAll, operators, ordering and query errors."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sfemu_support import SEEDED_ACCOUNTS

SEEDED_ONLY = "CreatedDate < 2026-01-01T00:00:00Z"
NEXT_URL_RE = re.compile(r"^/services/data/v62\.0/query/01g[0-9A-Za-z]{15}-(\d+)$")


@pytest.fixture(scope="module")
def marked(sf):
    """Five Accounts sharing a unique marker, for operator tests: {name: id}."""
    marker = f"qtest-{uuid.uuid4().hex[:8]}"
    rows = [
        {"Name": "Alpha", "NumberOfEmployees": 10, "Industry": "Energy", "Rating": "Hot"},
        {"Name": "Beta", "NumberOfEmployees": 20, "Industry": "Banking"},
        {"Name": "Gamma", "NumberOfEmployees": 30, "Industry": "Energy", "Rating": "Cold"},
        {"Name": "delta's", "NumberOfEmployees": 40, "Rating": "Warm"},
        {"Name": "Epsilon_1", "Industry": "Retail", "Rating": "Hot"},
    ]
    created = {r["Name"]: sf.Account.create({**r, "Last_Synced_Note__c": marker})["id"] for r in rows}
    return marker, created


def names(sf, marker, where="", tail=""):
    cond = f"Last_Synced_Note__c = '{marker}'" + (f" AND ({where})" if where else "")
    return [r["Name"] for r in sf.query(f"SELECT Name FROM Account WHERE {cond} {tail}")["records"]]


def test_query_pages_5000_records_in_three_pages_via_next_records_url(sf):
    first = sf.query(f"SELECT Id, Name FROM Account WHERE {SEEDED_ONLY}")
    assert first["totalSize"] == SEEDED_ACCOUNTS and first["done"] is False
    assert len(first["records"]) == 2000
    assert NEXT_URL_RE.match(first["nextRecordsUrl"]).group(1) == "2000"
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert (len(second["records"]), len(third["records"])) == (2000, 1000)
    assert third["done"] is True and "nextRecordsUrl" not in third
    all_ids = {r["Id"] for page in (first, second, third) for r in page["records"]}
    assert len(all_ids) == SEEDED_ACCOUNTS


def test_query_all_helper_returns_every_record(sf):
    result = sf.query_all(f"SELECT Id FROM Account WHERE {SEEDED_ONLY}")
    assert result["totalSize"] == len(result["records"]) == SEEDED_ACCOUNTS


def test_batch_size_header_sets_the_page_size(api):
    r = api("GET", "/query", params={"q": f"SELECT Id FROM Account WHERE {SEEDED_ONLY}"},
            headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(r.json()["records"]) == 500 and r.json()["nextRecordsUrl"].endswith("-500")


def test_keyset_pagination_on_modstamp_and_id_visits_every_record_once(sf):
    fields = "Id, Name, SystemModstamp"
    seen: list[str] = []
    stamp, last_id = "1970-01-01T00:00:00.000Z", "000000000000000AAA"
    total = sf.query(f"SELECT COUNT() FROM Account WHERE {SEEDED_ONLY}")["totalSize"]
    while True:
        page = sf.query(
            f"SELECT {fields} FROM Account WHERE {SEEDED_ONLY} AND (SystemModstamp > {stamp} OR "
            f"(SystemModstamp = {stamp} AND Id > '{last_id}')) ORDER BY SystemModstamp, Id LIMIT 2000")["records"]
        if not page:
            break
        seen += [r["Id"] for r in page]
        stamp, last_id = page[-1]["SystemModstamp"], page[-1]["Id"]
    assert len(seen) == len(set(seen)) == total == SEEDED_ACCOUNTS


def test_query_all_includes_deleted_records(sf):
    rid = sf.Account.create({"Name": "Soon Deleted"})["id"]
    sf.Account.delete(rid)
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Id = '{rid}'"
    assert sf.query(soql)["totalSize"] == 0
    rows = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(rid, True)]


def test_equality_is_case_insensitive_and_not_equals_includes_nulls(sf, marked):
    marker, _ = marked
    assert names(sf, marker, "Name = 'ALPHA'") == ["Alpha"]
    assert sorted(names(sf, marker, "Rating != 'Hot'")) == ["Beta", "Gamma", "delta's"]
    assert names(sf, marker, "Industry = null") == ["delta's"]
    assert len(names(sf, marker, "Rating <> null")) == 4


def test_numeric_comparisons_exclude_nulls(sf, marked):
    marker, _ = marked
    assert sorted(names(sf, marker, "NumberOfEmployees > 15")) == ["Beta", "Gamma", "delta's"]
    assert sorted(names(sf, marker, "NumberOfEmployees <= 20")) == ["Alpha", "Beta"]
    assert names(sf, marker, "NumberOfEmployees >= 40") == ["delta's"]
    assert names(sf, marker, "NumberOfEmployees < 10") == []


def test_in_not_in_like_and_not(sf, marked):
    marker, _ = marked
    assert sorted(names(sf, marker, "Industry IN ('Energy', 'Retail')")) == ["Alpha", "Epsilon_1", "Gamma"]
    assert sorted(names(sf, marker, "Industry NOT IN ('Energy')")) == ["Beta", "Epsilon_1", "delta's"]
    assert sorted(names(sf, marker, "Name LIKE 'a%'")) == ["Alpha"]
    assert names(sf, marker, r"Name LIKE '%\_1'") == ["Epsilon_1"]
    assert names(sf, marker, r"Name = 'delta\'s'") == ["delta's"]
    assert len(names(sf, marker, "NOT Name = 'Alpha'")) == 4


def test_parentheses_group_or_inside_and(sf, marked):
    marker, _ = marked
    assert names(sf, marker, "(Industry = 'Energy' OR Rating = 'Hot') AND NumberOfEmployees < 25") == ["Alpha"]


def test_order_by_with_nulls_limit_and_offset(sf, marked):
    marker, _ = marked
    assert names(sf, marker, tail="ORDER BY NumberOfEmployees DESC NULLS LAST") == \
        ["delta's", "Gamma", "Beta", "Alpha", "Epsilon_1"]
    assert names(sf, marker, tail="ORDER BY NumberOfEmployees") == ["Epsilon_1", "Alpha", "Beta", "Gamma", "delta's"]
    assert names(sf, marker, tail="ORDER BY Name LIMIT 2 OFFSET 1") == ["Beta", "delta's"]


def test_count_query_reports_total_size_only(sf, marked):
    marker, _ = marked
    body = sf.query(f"SELECT COUNT() FROM Account WHERE Last_Synced_Note__c = '{marker}'")
    assert body["totalSize"] == 5 and body["records"] == [] and body["done"] is True


def test_datetime_literals_compare_as_instants(sf, marked):
    marker, created = marked
    stamp = sf.Account.get(created["Alpha"])["SystemModstamp"]
    instant = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")
    shifted = instant.astimezone(timezone(timedelta(hours=2)))  # same instant, other offset
    literal = shifted.strftime("%Y-%m-%dT%H:%M:%S.") + f"{shifted.microsecond // 1000:03d}+02:00"
    assert "Alpha" in names(sf, marker, f"SystemModstamp = {literal}")
    assert len(names(sf, marker, "CreatedDate > 2000-01-01T00:00:00Z")) == 5
    assert names(sf, marker, "CreatedDate > 2099-01-01T00:00:00.000+0000") == []
    assert len(names(sf, marker, "CreatedDate = LAST_N_DAYS:1")) == 5


def test_parent_relationship_fields_are_nested_records(sf):
    acc = sf.Account.create({"Name": "Rel Parent"})["id"]
    sf.Contact.create({"LastName": "Rel Child", "AccountId": acc})
    rec = sf.query("SELECT Id, LastName, Account.Name FROM Contact WHERE Account.Name = 'Rel Parent'")["records"][0]
    assert rec["Account"]["Name"] == "Rel Parent"
    assert rec["Account"]["attributes"]["type"] == "Account"


@pytest.mark.parametrize("soql, code, fragment", [
    ("SELECT Id FORM Account", "MALFORMED_QUERY", "unexpected token: FORM"),
    ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY", "unexpected token: OR"),
    ("SELECT Foo FROM Account", "INVALID_FIELD", "No such column 'Foo' on entity 'Account'"),
    ("SELECT Id FROM Foo", "INVALID_TYPE", "sObject type 'Foo' is not supported"),
    ("SELECT Id FROM Account WHERE CreatedDate > '2020-01-01'", "INVALID_FIELD", "must be of type dateTime"),
])
def test_bad_queries_return_salesforce_errors(api, soql, code, fragment):
    r = api("GET", "/query", params={"q": soql})
    assert r.status_code == 400
    err = r.json()[0]
    assert err["errorCode"] == code and fragment in err["message"]


def test_malformed_query_message_points_at_the_token(api):
    r = api("GET", "/query", params={"q": "SELECT Id FORM Account"})
    assert r.json()[0]["message"] == (
        "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: FORM")


def test_unknown_query_locator_is_invalid_query_locator(api):
    r = api("GET", "/query/01gHn0000000000AAA-2000")
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
