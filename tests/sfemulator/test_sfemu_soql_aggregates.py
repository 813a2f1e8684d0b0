"""SOQL beyond plain selects: aggregates, GROUP BY/HAVING, child subqueries, semi-/anti-joins,
FIELDS(), multi-level parent paths, and the column metadata the Salesforce CLI asks for."""
from __future__ import annotations

import uuid

import pytest

from sfemulator import ids


@pytest.fixture(scope="module")
def org(sf):
    """Accounts (with a unique marker) and their Contacts: {"marker", "accounts": {name: id}}."""
    marker = f"agg-{uuid.uuid4().hex[:8]}"
    rows = [("Acme", "Energy", 10, 100.0), ("Bolt", "Energy", 30, 300.0), ("Core", "Banking", 5, None),
            ("Dune", None, 7, 50.0)]
    accounts = {}
    for name, industry, staff, revenue in rows:
        accounts[name] = sf.Account.create({"Name": name, "Industry": industry, "NumberOfEmployees": staff,
                                            "AnnualRevenue": revenue, "Last_Synced_Note__c": marker})["id"]
    for account, last in [("Acme", "Ames"), ("Acme", "Zorn"), ("Acme", "Baker"), ("Bolt", "Cole")]:
        sf.Contact.create({"LastName": last, "AccountId": accounts[account], "Loyalty_Points__c": 1.5})
    return {"marker": marker, "accounts": accounts}


def where(org) -> str:
    return f"Last_Synced_Note__c = '{org['marker']}'"


def test_group_by_with_count_sum_avg_min_max_names_columns_expr0_on(sf, org):
    result = sf.query(f"SELECT Industry, COUNT(Id), SUM(NumberOfEmployees), AVG(NumberOfEmployees), "
                      f"MIN(Name), MAX(AnnualRevenue) FROM Account WHERE {where(org)} "
                      "GROUP BY Industry ORDER BY Industry NULLS FIRST")
    assert result["totalSize"] == 3 and result["done"] is True
    assert result["records"] == [
        {"attributes": {"type": "AggregateResult"}, "Industry": None, "expr0": 1, "expr1": 7, "expr2": 7.0,
         "expr3": "Dune", "expr4": 50.0},
        {"attributes": {"type": "AggregateResult"}, "Industry": "Banking", "expr0": 1, "expr1": 5, "expr2": 5.0,
         "expr3": "Core", "expr4": None},
        {"attributes": {"type": "AggregateResult"}, "Industry": "Energy", "expr0": 2, "expr1": 40, "expr2": 20.0,
         "expr3": "Acme", "expr4": 300.0},
    ]


def test_aliases_having_and_order_by_an_aggregate(sf, org):
    rows = sf.query(f"SELECT Industry ind, COUNT(Id) n, COUNT_DISTINCT(Name), MAX(NumberOfEmployees) FROM Account "
                    f"WHERE {where(org)} GROUP BY Industry HAVING COUNT(Id) > 0 AND MAX(NumberOfEmployees) >= 5 "
                    "ORDER BY COUNT(Id) DESC, Industry NULLS LAST LIMIT 2")["records"]
    assert [(r["ind"], r["n"], r["expr0"], r["expr1"]) for r in rows] == [("Energy", 2, 2, 30), ("Banking", 1, 1, 5)]


def test_aggregate_without_group_by_is_one_row_and_count_field_skips_nulls(sf, org):
    rows = sf.query(f"SELECT COUNT(Id), COUNT(AnnualRevenue), SUM(AnnualRevenue) total FROM Account "
                    f"WHERE {where(org)}")["records"]
    assert rows == [{"attributes": {"type": "AggregateResult"}, "expr0": 4, "expr1": 3, "total": 450.0}]


def test_group_by_a_parent_field_flattens_it(sf, org):
    rows = sf.query(f"SELECT Account.Name, COUNT(Id) FROM Contact WHERE Account.{where(org)} "
                    "GROUP BY Account.Name ORDER BY Account.Name")["records"]
    assert [(r["Name"], r["expr0"]) for r in rows] == [("Acme", 3), ("Bolt", 1)]


@pytest.mark.parametrize("soql, code, message", [
    ("SELECT Name, COUNT(Id) FROM Account GROUP BY Industry", "MALFORMED_QUERY",
     "Field must be grouped or aggregated: Name"),
    ("SELECT SUM(Name) FROM Account", "INVALID_FIELD", "field Name does not support aggregate operator SUM"),
    ("SELECT Id FROM Account WHERE COUNT(Id) > 1", "MALFORMED_QUERY", "HAVING"),
    ("SELECT Id, COUNT() FROM Account", "MALFORMED_QUERY", "COUNT() must be the only element"),
])
def test_invalid_aggregate_queries_are_refused(api, soql, code, message):
    r = api("GET", "/query", params={"q": soql})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == code and message in r.json()[0]["message"]


def test_count_with_group_by_counts_groups(sf, org):
    assert sf.query(f"SELECT COUNT() FROM Account WHERE {where(org)} GROUP BY Industry")["totalSize"] == 3


def test_parent_to_child_subquery_nests_records_per_parent(sf, org):
    rows = sf.query(f"SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName LIMIT 2), Industry "
                    f"FROM Account WHERE {where(org)} ORDER BY Name")["records"]
    acme, bolt, core = rows[0], rows[1], rows[2]
    assert list(acme) == ["attributes", "Name", "Contacts", "Industry"]
    assert acme["Contacts"]["totalSize"] == 2 and acme["Contacts"]["done"] is True
    assert [c["LastName"] for c in acme["Contacts"]["records"]] == ["Ames", "Baker"]
    assert acme["Contacts"]["records"][0]["attributes"]["type"] == "Contact"
    assert [c["LastName"] for c in bolt["Contacts"]["records"]] == ["Cole"]
    assert core["Contacts"] is None


def test_child_subquery_with_its_own_where(sf, org):
    rows = sf.query(f"SELECT Name, (SELECT Id FROM Contacts WHERE LastName LIKE 'Z%') FROM Account "
                    f"WHERE Name = 'Acme' AND {where(org)}")["records"]
    assert rows[0]["Contacts"]["totalSize"] == 1


def test_unknown_child_relationship_is_invalid_type(api):
    r = api("GET", "/query", params={"q": "SELECT Id, (SELECT Id FROM Nothings) FROM Account"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_TYPE"
    assert "Didn't understand relationship 'Nothings'" in r.json()[0]["message"]


def test_semi_join_and_anti_join(sf, org):
    base = f"SELECT Name FROM Account WHERE {where(org)} AND "
    semi = sf.query(base + "Id IN (SELECT AccountId FROM Contact WHERE LastName != 'Cole') ORDER BY Name")
    assert [r["Name"] for r in semi["records"]] == ["Acme"]
    anti = sf.query(base + "Id NOT IN (SELECT AccountId FROM Contact) ORDER BY Name")
    assert [r["Name"] for r in anti["records"]] == ["Core", "Dune"]


def test_semi_join_must_select_an_id_field(api):
    r = api("GET", "/query", params={"q": "SELECT Id FROM Account WHERE Id IN (SELECT LastName FROM Contact)"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_FIELD"


def test_fields_standard_selects_every_standard_field(sf, org):
    rec = sf.query(f"SELECT FIELDS(STANDARD) FROM Account WHERE Name = 'Acme' AND {where(org)}")["records"][0]
    assert rec["Name"] == "Acme" and rec["Industry"] == "Energy" and "Id" in rec and "SystemModstamp" in rec
    assert not any(k.endswith("__c") for k in rec)


def test_fields_all_needs_a_limit_of_at_most_200(api, sf, org):
    r = api("GET", "/query", params={"q": "SELECT FIELDS(ALL) FROM Account"})
    assert r.status_code == 400 and "must have a LIMIT of at most 200" in r.json()[0]["message"]
    rec = sf.query(f"SELECT FIELDS(ALL) FROM Account WHERE {where(org)} LIMIT 1")["records"][0]
    assert rec["Last_Synced_Note__c"] == org["marker"]


def test_two_level_parent_path_nests_both_parents(sf, org):
    rec = sf.query(f"SELECT LastName, Account.Name, Account.Owner.Name FROM Contact "
                   f"WHERE AccountId = '{org['accounts']['Bolt']}'")["records"][0]
    account = rec["Account"]
    assert account["attributes"]["type"] == "Account" and account["Name"] == "Bolt"
    assert account["Owner"]["attributes"] == {"type": "User",
                                              "url": f"/services/data/v62.0/sobjects/User/{ids.ADMIN_USER_ID}"}
    assert account["Owner"]["Name"] == "Demo Admin"


def test_multi_level_path_filters_and_a_missing_parent_is_null(sf, org):
    orphan = sf.Contact.create({"LastName": f"Orphan-{org['marker']}"})["id"]
    rec = sf.query(f"SELECT Account.Owner.Name FROM Contact WHERE Id = '{orphan}'")["records"][0]
    assert rec["Account"] is None
    hits = sf.query(f"SELECT Id FROM Contact WHERE Account.Owner.Name = 'Demo Admin' AND Account.{where(org)}")
    assert hits["totalSize"] == 4


# -- /query?columns=true: the column metadata the CLI reads before printing rows ----------------

def columns(api, soql: str) -> dict:
    r = api("GET", "/query", params={"q": soql, "columns": "true"})
    assert r.status_code == 200, r.text
    return r.json()


def test_columns_of_a_plain_query(api):
    body = columns(api, "SELECT Id, Name, NumberOfEmployees FROM Account LIMIT 5")
    assert (body["entityName"], body["groupBy"], body["idSelected"], body["keyPrefix"]) == \
        ("Account", False, True, "001")
    first = body["columnMetadata"][0]
    assert set(first) == {"aggregate", "apexType", "booleanType", "columnName", "custom", "displayName",
                          "foreignKeyName", "insertable", "joinColumns", "numberType", "textType", "updatable"}
    assert [(c["columnName"], c["apexType"]) for c in body["columnMetadata"]] == \
        [("Id", "Id"), ("Name", "String"), ("NumberOfEmployees", "Integer")]


def test_columns_of_parent_paths_and_subqueries_nest_join_columns(api):
    body = columns(api, "SELECT Name, Owner.Name, (SELECT LastName, Account.Owner.Name FROM Contacts) FROM Account")
    name, owner, contacts = body["columnMetadata"]
    assert owner["columnName"] == "Owner" and [c["columnName"] for c in owner["joinColumns"]] == ["Name"]
    assert contacts["aggregate"] is True and contacts["columnName"] == "Contacts"
    last, account = contacts["joinColumns"]
    assert account["joinColumns"][0]["columnName"] == "Owner"
    assert account["joinColumns"][0]["joinColumns"][0]["columnName"] == "Name"


def test_columns_of_aggregates_and_count(api):
    body = columns(api, "SELECT Industry, COUNT(Id), MAX(NumberOfEmployees) most FROM Account GROUP BY Industry")
    assert body["entityName"] == "AggregateResult" and body["groupBy"] is True
    assert [(c["columnName"], c["displayName"], c["aggregate"]) for c in body["columnMetadata"]] == \
        [("Industry", "Industry", False), ("expr0", "COUNT(Id)", True), ("most", "MAX(NumberOfEmployees)", True)]
    assert columns(api, "SELECT COUNT() FROM Account")["columnMetadata"] == []


def test_group_by_rollup_adds_subtotals_and_a_grand_total(sf, org):
    rows = sf.query(f"SELECT Industry, Name, COUNT(Id) n, GROUPING(Name) g FROM Account WHERE {where(org)} "
                    "AND Industry != null GROUP BY ROLLUP(Industry, Name)")["records"]
    assert [(r["Industry"], r["Name"], r["n"], r["g"]) for r in rows] == [
        ("Banking", "Core", 1, 0), ("Banking", None, 1, 1),
        ("Energy", "Acme", 1, 0), ("Energy", "Bolt", 1, 0), ("Energy", None, 2, 1),
        (None, None, 3, 1)]


def test_rollup_limit_and_grouping_outside_rollup_refused(api, sf, org):
    rows = sf.query(f"SELECT Industry, COUNT(Id) FROM Account WHERE {where(org)} GROUP BY ROLLUP(Industry) "
                    "LIMIT 2")["records"]
    assert [(r["Industry"], r["expr0"]) for r in rows] == [(None, 1), ("Banking", 1)]
    r = api("GET", "/query", params={"q": "SELECT Industry, GROUPING(Industry) FROM Account GROUP BY Industry"})
    assert r.status_code == 400 and "GROUPING()" in r.json()[0]["message"]
