"""Record CRUD, upsert by external Id, server-maintained fields and write errors."""
from __future__ import annotations

import re
import uuid

import pytest
from simple_salesforce.exceptions import SalesforceMoreThanOneRecord, SalesforceResourceNotFound

from sfemulator import ids

STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def _mongo_id() -> str:
    return uuid.uuid4().hex[:24]


@pytest.mark.parametrize("id15, id18", [
    ("a01M00000062mPg", "a01M00000062mPgIAI"), ("001M000000qfPyS", "001M000000qfPySIAU"),
    ("a0FE000000D6r3F", "a0FE000000D6r3FMAR"), ("0F9E000000092w2", "0F9E000000092w2KAA"),
    ("aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaAAA"), ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
])
def test_id_checksum_matches_salesforce_reference_values(id15, id18):
    assert id15 + ids.checksum(id15) == id18
    assert ids.normalize(id15) == id18
    assert ids.normalize(id18.lower()) == id18


def test_created_ids_have_prefix_pod_counter_and_valid_checksum(sf):
    new_id = sf.Account.create({"Name": "Id Format Co"})["id"]
    assert len(new_id) == 18 and new_id.startswith("001" + ids.POD)
    assert ids.checksum(new_id[:15]) == new_id[15:]


def test_create_returns_201_body_and_record_has_server_fields(sf, api):
    r = api("POST", "/sobjects/Account/", json={"Name": "Acme Create", "Industry": "Energy"})
    assert r.status_code == 201
    body = r.json()
    assert body["success"] is True and body["errors"] == []
    rec = sf.Account.get(body["id"])
    assert rec["attributes"] == {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{body['id']}"}
    assert rec["Name"] == "Acme Create" and rec["IsDeleted"] is False
    for f in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert STAMP_RE.match(rec[f]), rec[f]
    assert rec["CreatedById"].startswith("005") and rec["OwnerId"] == rec["CreatedById"]


def test_get_with_fields_parameter_returns_only_those_fields(api, sf):
    new_id = sf.Account.create({"Name": "Fields Param"})["id"]
    r = api("GET", f"/sobjects/Account/{new_id}", params={"fields": "Name,Industry"})
    assert list(r.json()) == ["attributes", "Id", "Name", "Industry"]


def test_update_changes_values_and_advances_system_modstamp(sf):
    new_id = sf.Account.create({"Name": "Before"})["id"]
    before = sf.Account.get(new_id)
    assert sf.Account.update(new_id, {"Name": "After", "NumberOfEmployees": 42}) == 204
    after = sf.Account.get(new_id)
    assert after["Name"] == "After" and after["NumberOfEmployees"] == 42
    assert after["SystemModstamp"] >= before["SystemModstamp"]
    assert after["CreatedDate"] == before["CreatedDate"]


def test_fifteen_char_id_reads_the_same_record(sf):
    new_id = sf.Account.create({"Name": "Short Id"})["id"]
    assert sf.Account.get(new_id[:15])["Id"] == new_id


def test_delete_is_204_and_record_then_reads_as_not_found(sf, api):
    new_id = sf.Account.create({"Name": "To Delete"})["id"]
    assert sf.Account.delete(new_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(new_id)
    again = api("DELETE", f"/sobjects/Account/{new_id}")
    assert again.status_code == 404 and again.json()[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_upsert_by_external_id_creates_then_updates(api):
    ext = _mongo_id()
    created = api("PATCH", f"/sobjects/Account/Mongo_Id__c/{ext}", json={"Name": "Upsert Co"})
    assert created.status_code == 201
    assert created.json()["created"] is True and created.json()["success"] is True
    updated = api("PATCH", f"/sobjects/Account/Mongo_Id__c/{ext}", json={"Name": "Upsert Co 2"})
    assert updated.status_code == 200
    assert updated.json() == {"id": created.json()["id"], "success": True, "errors": [], "created": False}
    rec = api("GET", f"/sobjects/Account/Mongo_Id__c/{ext}").json()
    assert rec["Name"] == "Upsert Co 2" and rec["Mongo_Id__c"] == ext


def test_upsert_through_simple_salesforce_returns_status_codes(sf):
    ext = _mongo_id()
    assert sf.Contact.upsert(f"Mongo_Id__c/{ext}", {"LastName": "Upserted"}) == 201
    assert sf.Contact.upsert(f"Mongo_Id__c/{ext}", {"LastName": "Upserted Again"}) == 200


def test_upsert_matching_several_records_is_300_with_their_urls(sf):
    email = f"{uuid.uuid4().hex[:8]}@dup.example.com"
    a = sf.Contact.create({"LastName": "Dup A", "Email": email})["id"]
    b = sf.Contact.create({"LastName": "Dup B", "Email": email})["id"]
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Contact.upsert(f"Email/{email}", {"Title": "x"})
    assert exc.value.content == [f"/services/data/v62.0/sobjects/Contact/{a}",
                                 f"/services/data/v62.0/sobjects/Contact/{b}"]


def test_unknown_record_id_is_not_found(api):
    missing = ids.make_id("001", 9_999_999)
    r = api("GET", f"/sobjects/Account/{missing}")
    assert r.status_code == 404
    assert r.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


def test_contact_full_name_is_calculated_and_reference_must_exist(sf, api):
    acc = sf.Account.create({"Name": "Parent"})["id"]
    con = sf.Contact.create({"FirstName": "Ada", "LastName": "Lovelace", "AccountId": acc})["id"]
    assert sf.Contact.get(con)["Name"] == "Ada Lovelace"
    bad = api("POST", "/sobjects/Contact/", json={"LastName": "X", "AccountId": ids.make_id("001", 8_888_888)})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_order_gets_auto_number_and_default_total(sf):
    acc = sf.Account.create({"Name": "Order Parent"})["id"]
    oid = sf.Order.create({"AccountId": acc, "EffectiveDate": "2026-02-01", "Status": "Draft"})["id"]
    rec = sf.Order.get(oid)
    assert oid.startswith("801") and rec["OrderNumber"].isdigit() and len(rec["OrderNumber"]) == 8
    assert rec["TotalAmount"] == 0.0


@pytest.mark.parametrize("obj, body, code, fields", [
    ("Account", {"Industry": "Energy"}, "REQUIRED_FIELD_MISSING", ["Name"]),
    ("Order", {"Status": "Draft"}, "REQUIRED_FIELD_MISSING", ["AccountId", "EffectiveDate"]),
    ("Account", {"Name": "x", "Foo__c": 1}, "INVALID_FIELD", []),
    ("Account", {"Name": "x", "CreatedDate": "2020-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
     ["CreatedDate"]),
    ("Account", {"Name": "x" * 256}, "STRING_TOO_LONG", ["Name"]),
    ("Account", {"Name": "x", "Customer_Tier__c": "Platinum"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
     ["Customer_Tier__c"]),
    ("Account", {"Name": "x", "NumberOfEmployees": 1.5}, "INVALID_TYPE_ON_FIELD_IN_RECORD", ["NumberOfEmployees"]),
    ("Contact", {"LastName": "x", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
    ("Contact", {"LastName": "x", "AccountId": "garbage"}, "MALFORMED_ID", ["AccountId"]),
])
def test_invalid_writes_return_salesforce_error_codes(api, obj, body, code, fields):
    r = api("POST", f"/sobjects/{obj}/", json=body)
    assert r.status_code == 400, r.text
    err = r.json()[0]
    assert err["errorCode"] == code and err["fields"] == fields
    assert err["message"]


def test_missing_required_field_message_names_the_field(api):
    r = api("POST", "/sobjects/Account/", json={})
    assert r.json() == [{"message": "Required fields are missing: [Name]", "errorCode": "REQUIRED_FIELD_MISSING",
                         "fields": ["Name"]}]


def test_unknown_field_message_matches_salesforce(api):
    r = api("POST", "/sobjects/Account/", json={"Name": "x", "Foo": 1})
    assert r.json()[0]["message"] == "No such column 'Foo' on sobject of type Account"


def test_malformed_json_is_json_parser_error(api):
    r = api("POST", "/sobjects/Account/", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_writing_to_unknown_object_is_not_found(api):
    r = api("POST", "/sobjects/Foo/", json={"Name": "x"})
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
