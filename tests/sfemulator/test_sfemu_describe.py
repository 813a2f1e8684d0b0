"""Describe payloads have Salesforce's shape and reflect the demo schema."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest


def _fields(sf, name):
    return {f["name"]: f for f in getattr(sf, name).describe()["fields"]}


def test_global_describe_lists_the_demo_objects_with_key_prefixes(sf):
    body = sf.describe()
    assert body["encoding"] == "UTF-8" and body["maxBatchSize"] == 200
    prefixes = {o["name"]: o["keyPrefix"] for o in body["sobjects"]}
    assert prefixes["Account"] == "001" and prefixes["Contact"] == "003"
    assert prefixes["Opportunity"] == "006" and prefixes["Order"] == "801"
    account = next(o for o in body["sobjects"] if o["name"] == "Account")
    for key in ("label", "createable", "updateable", "queryable", "custom", "urls"):
        assert key in account
    assert account["urls"]["describe"] == "/services/data/v62.0/sobjects/Account/describe"


def test_account_describe_has_real_field_attributes(sf):
    body = sf.Account.describe()
    assert body["name"] == "Account" and body["keyPrefix"] == "001"
    assert body["recordTypeInfos"][0]["master"] is True
    assert any(r["childSObject"] == "Contact" and r["field"] == "AccountId" for r in body["childRelationships"])
    fields = {f["name"]: f for f in body["fields"]}
    required = {"name", "label", "type", "length", "precision", "scale", "createable", "updateable",
                "nillable", "externalId", "unique", "idLookup", "referenceTo", "relationshipName",
                "picklistValues", "defaultedOnCreate", "calculated", "soapType"}
    assert required <= set(fields["Name"])
    assert fields["Id"]["type"] == "id" and not fields["Id"]["createable"] and not fields["Id"]["updateable"]
    assert fields["Name"]["nillable"] is False
    mongo = fields["Mongo_Id__c"]
    assert (mongo["externalId"], mongo["unique"], mongo["length"], mongo["custom"]) == (True, True, 24, True)
    tier = fields["Customer_Tier__c"]
    assert tier["type"] == "picklist"
    assert [v["value"] for v in tier["picklistValues"]] == ["Gold", "Silver", "Bronze"]
    assert fields["AnnualRevenue"]["type"] == "currency" and fields["AnnualRevenue"]["soapType"] == "xsd:double"
    assert fields["NumberOfEmployees"]["type"] == "int"
    assert fields["SystemModstamp"]["type"] == "datetime"
    assert fields["OwnerId"]["referenceTo"] == ["User"]


def test_contact_and_order_describe_reflect_references_and_read_only_fields(sf):
    contact = _fields(sf, "Contact")
    assert contact["AccountId"]["referenceTo"] == ["Account"]
    assert contact["AccountId"]["relationshipName"] == "Account"
    assert contact["LastName"]["nillable"] is False
    assert contact["Email"]["type"] == "email"
    order = _fields(sf, "Order")
    assert order["OrderNumber"]["createable"] is False and order["OrderNumber"]["autoNumber"] is True
    assert order["TotalAmount"]["createable"] is False
    assert [v["value"] for v in order["Status"]["picklistValues"]] == ["Draft", "Activated"]


def test_sobject_basic_info_has_object_describe_and_recent_items(sf):
    body = sf.Account.metadata()
    assert body["objectDescribe"]["name"] == "Account"
    assert isinstance(body["recentItems"], list)


def test_describe_of_unknown_object_is_not_found(api):
    r = api("GET", "/sobjects/Foo/describe")
    assert r.status_code == 404
    assert r.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


# -- If-Modified-Since and sub-resources the emulator does not serve ---------------------------

def test_describe_answers_304_when_the_schema_has_not_changed_since(api):
    later = format_datetime(datetime.now(UTC) + timedelta(minutes=1), usegmt=True)
    for path in ("/sobjects/Account/describe", "/sobjects"):
        r = api("GET", path, headers={"If-Modified-Since": later})
        assert (r.status_code, r.content) == (304, b"")
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert api("GET", "/sobjects/Account/describe", headers={"If-Modified-Since": old}).status_code == 200


def test_describe_answers_200_again_after_a_schema_change(api, ctl):
    stamp = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True)
    try:
        ctl.alter_field("Account", "Ims_Probe__c", "string")
        r = api("GET", "/sobjects/Account/describe", headers={"If-Modified-Since": stamp})
        assert r.status_code == 200 and "Ims_Probe__c" in {f["name"] for f in r.json()["fields"]}
    finally:
        ctl.reset_schema()


@pytest.mark.parametrize("path", ["/sobjects/Account/describe/nothing", "/sobjects/Account/listviews/recent",
                                  "/sobjects/Account/quickActions/x", "/sobjects/Account/001Hn0000000001IAA/Nothing"])
def test_unknown_sub_resources_say_the_resource_does_not_exist(api, path):
    r = api("GET", path)
    assert r.status_code == 404
    assert r.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


def test_every_object_has_an_all_records_list_view(api, sf):
    listing = api("GET", "/sobjects/Account/listviews").json()
    assert (listing["size"], listing["sobjectType"], listing["done"]) == (1, "Account", True)
    view = listing["listviews"][0]
    assert (view["label"], view["developerName"], view["id"][:3]) == ("All Accounts", "AllAccounts", "00B")
    described = api("GET", view["describeUrl"].split("/v62.0")[1]).json()
    assert described["query"].startswith("SELECT Name, Id, CreatedDate") and described["scope"] == "everything"
    rows = api("GET", view["resultsUrl"].split("/v62.0")[1], params={"limit": 3}).json()
    assert rows["size"] == 3 and [c["fieldNameOrPath"] for c in rows["records"][0]["columns"]][:2] == ["Name", "Id"]
    names = [r["columns"][0]["value"] for r in rows["records"]]
    expected = sf.query("SELECT Name FROM Account ORDER BY Name ASC NULLS FIRST, Id LIMIT 3")["records"]
    assert names == [r["Name"] for r in expected]


def test_relationship_urls_return_children_or_the_parent(api, sf):
    account = sf.Account.create({"Name": "Traversal Parent"})["id"]
    kids = [sf.Contact.create({"LastName": n, "AccountId": account})["id"] for n in ("One", "Two")]
    children = api("GET", f"/sobjects/Account/{account}/Contacts", params={"fields": "Id,LastName"}).json()
    assert children["totalSize"] == 2 and [c["Id"] for c in children["records"]] == sorted(kids)
    assert set(children["records"][0]) == {"attributes", "Id", "LastName"}
    parent = api("GET", f"/sobjects/Contact/{kids[0]}/Account").json()
    assert parent["Id"] == account and parent["Name"] == "Traversal Parent"
    orphan = sf.Contact.create({"LastName": "Alone"})["id"]
    assert api("GET", f"/sobjects/Contact/{orphan}/Account").status_code == 404
