"""``/tooling/query``: EntityDefinition and FieldDefinition from the emulator's schema, through the
ordinary SOQL engine."""
from __future__ import annotations

import pytest


def _tooling(api, soql: str, **params):
    return api("GET", "/tooling/query", params={"q": soql, **params})


def test_entity_definitions_list_the_org_objects(api):
    r = _tooling(api, "SELECT QualifiedApiName, Label, KeyPrefix FROM EntityDefinition "
                      "WHERE IsQueryable = true ORDER BY QualifiedApiName")
    assert r.status_code == 200
    body = r.json()
    rows = [(x["QualifiedApiName"], x["Label"], x["KeyPrefix"]) for x in body["records"]]
    assert rows == [("Account", "Account", "001"), ("Contact", "Contact", "003"),
                    ("Opportunity", "Opportunity", "006"), ("Order", "Order", "801"), ("User", "User", "005")]
    assert body["done"] is True and body["totalSize"] == 5
    events = _tooling(api, "SELECT QualifiedApiName FROM EntityDefinition WHERE IsQueryable = false").json()
    assert [e["QualifiedApiName"] for e in events["records"]] == ["Order_Update__e"]
    assert body["records"][0]["attributes"] == {
        "type": "EntityDefinition", "url": "/services/data/v62.0/tooling/sobjects/EntityDefinition/Account"}


def test_field_definitions_of_one_object_through_the_entity_relationship(api, sf):
    r = _tooling(api, "SELECT QualifiedApiName, DataType, EntityDefinition.QualifiedApiName FROM FieldDefinition "
                      "WHERE EntityDefinition.QualifiedApiName = 'Account'")
    assert r.status_code == 200
    types = {x["QualifiedApiName"]: x["DataType"] for x in r.json()["records"]}
    assert set(types) == {f["name"] for f in sf.Account.describe()["fields"]}
    assert (types["Name"], types["OwnerId"], types["Industry"]) == ("Text(255)", "Lookup(User)", "Picklist")
    assert (types["AnnualRevenue"], types["SystemModstamp"]) == ("Currency(18, 0)", "Date/Time")
    assert types["Id"] == "Lookup()"
    assert r.json()["records"][0]["EntityDefinition"]["QualifiedApiName"] == "Account"


def test_field_definitions_filter_aggregate_and_follow_schema_changes(api, ctl):
    count = _tooling(api, "SELECT COUNT() FROM FieldDefinition WHERE EntityDefinitionId = 'Contact'").json()
    try:
        ctl.alter_field("Contact", "Tooling_Probe__c", "double")
        after = _tooling(api, "SELECT COUNT() FROM FieldDefinition WHERE EntityDefinitionId = 'Contact'").json()
        assert after["totalSize"] == count["totalSize"] + 1
        probe = _tooling(api, "SELECT DeveloperName, ValueTypeId FROM FieldDefinition "
                              "WHERE DurableId = 'Contact.Tooling_Probe__c'").json()["records"]
        assert [(p["DeveloperName"], p["ValueTypeId"]) for p in probe] == [("Tooling_Probe", "double")]
    finally:
        ctl.reset_schema()
    groups = _tooling(api, "SELECT EntityDefinitionId, COUNT(Id) n FROM FieldDefinition "
                           "GROUP BY EntityDefinitionId ORDER BY EntityDefinitionId").json()["records"]
    assert {g["EntityDefinitionId"]: g["n"] for g in groups}["Contact"] == count["totalSize"]


def test_columns_metadata_for_the_cli(api):
    body = _tooling(api, "SELECT QualifiedApiName, Label FROM EntityDefinition", columns="true").json()
    assert [c["columnName"] for c in body["columnMetadata"]] == ["QualifiedApiName", "Label"]
    assert body["entityName"] == "EntityDefinition"


@pytest.mark.parametrize("soql, code", [
    ("SELECT Id FROM ApexClass", "INVALID_TYPE"),
    ("SELECT Id FROM Account", "INVALID_TYPE"),
    ("SELECT Nope FROM EntityDefinition", "INVALID_FIELD"),
    ("SELECT FROM EntityDefinition", "MALFORMED_QUERY"),
])
def test_unknown_tooling_objects_and_bad_soql_are_refused(api, soql, code):
    r = _tooling(api, soql)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == code


def test_other_tooling_resources_are_not_found(api):
    r = api("GET", "/tooling/sobjects")
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"


def test_an_unknown_tooling_query_locator_is_refused(api):
    r = api("GET", "/tooling/query/01gHn0000000001AAA-200")
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
