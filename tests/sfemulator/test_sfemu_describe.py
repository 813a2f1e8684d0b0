"""Describe payloads have Salesforce's shape and reflect the demo schema."""
from __future__ import annotations


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
