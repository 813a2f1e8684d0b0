"""sObject Collections (/composite/sobjects), per-record errors, validation rules, unique external Ids."""
from __future__ import annotations

import uuid

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sfemulator import ids

ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def _mongo_id() -> str:
    return uuid.uuid4().hex[:24]


def _account(**fields) -> dict:
    return {"attributes": {"type": "Account"}, **fields}


def _codes(result: dict) -> list[str]:
    return [e["statusCode"] for e in result["errors"]]


def _create(sf, records, all_or_none=False):
    return sf.restful("composite/sobjects", method="POST", json={"allOrNone": all_or_none, "records": records})


def _names_in_org(sf, names) -> set[str]:
    quoted = ", ".join(f"'{n}'" for n in names)
    return {r["Name"] for r in sf.query(f"SELECT Name FROM Account WHERE Name IN ({quoted})")["records"]}


def test_collection_create_keeps_good_records_and_reports_bad_ones_in_request_order(sf):
    tag = uuid.uuid4().hex[:8]
    results = _create(sf, [_account(Name=f"Coll A {tag}"), _account(Industry="Energy"),
                           {"attributes": {"type": "Contact"}, "LastName": f"Coll C {tag}"}])
    assert [r["success"] for r in results] == [True, False, True]
    assert results[0]["id"].startswith("001") and results[2]["id"].startswith("003")
    assert results[0]["errors"] == []
    assert "id" not in results[1]
    assert results[1]["errors"] == [{"statusCode": "REQUIRED_FIELD_MISSING",
                                     "message": "Required fields are missing: [Name]", "fields": ["Name"]}]
    assert sf.Contact.get(results[2]["id"])["LastName"] == f"Coll C {tag}"


def test_collection_create_with_all_or_none_writes_nothing_when_one_record_fails(sf):
    tag = uuid.uuid4().hex[:8]
    names = [f"AON {tag} 1", f"AON {tag} 2"]
    results = _create(sf, [_account(Name=names[0]), _account(Name=names[1], BillingCity="c" * 41),
                           _account(Name=names[0] + "x", Customer_Tier__c="Platinum")], all_or_none=True)
    assert [r["success"] for r in results] == [False, False, False]
    assert _codes(results[0]) == [ROLLED_BACK]
    assert results[0]["errors"][0]["message"].startswith("Record rolled back because not all records were valid")
    assert "id" not in results[0]
    assert _codes(results[1]) == ["STRING_TOO_LONG"]
    assert _codes(results[2]) == ["INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"]
    assert _names_in_org(sf, names + [names[0] + "x"]) == set()


def test_collection_update_applies_good_records_and_reports_each_failure(sf):
    keep = sf.Account.create({"Name": "Upd Keep"})["id"]
    gone = sf.Account.create({"Name": "Upd Gone"})["id"]
    sf.Account.delete(gone)
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        _account(id=keep, Name="Upd Kept"),
        _account(id=gone, Name="Upd Zombie"),
        _account(id="001notAnId", Name="x"),
        _account(Name="no id"),
    ]})
    assert results[0] == {"id": keep, "success": True, "errors": []}
    assert results[1] == {"id": gone, "success": False, "errors": [
        {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}
    assert results[2]["errors"] == [{"statusCode": "MALFORMED_ID",
                                     "message": "Account ID: id value of incorrect type: 001notAnId",
                                     "fields": ["Id"]}]
    assert _codes(results[3]) == ["MISSING_ARGUMENT"]
    assert sf.Account.get(keep)["Name"] == "Upd Kept"


def test_collection_update_with_all_or_none_rolls_back_and_keeps_known_ids(sf):
    a = sf.Account.create({"Name": "AON Upd A"})["id"]
    b = sf.Account.create({"Name": "AON Upd B"})["id"]
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": [
        _account(id=a, Name="AON Upd A2"), _account(id=b, Name=None)]})
    assert results[0] == {"id": a, "success": False, "errors": [
        {"statusCode": ROLLED_BACK, "fields": [],
         "message": "Record rolled back because not all records were valid "
                    "and the request was using AllOrNone header"}]}
    assert _codes(results[1]) == ["REQUIRED_FIELD_MISSING"]
    assert sf.Account.get(a)["Name"] == "AON Upd A"


def test_collection_upsert_reports_created_per_record_and_matches_existing_external_ids(sf):
    existing_ext, new_ext = _mongo_id(), _mongo_id()
    existing = sf.Account.create({"Name": "Ups Old", "Mongo_Id__c": existing_ext})["id"]
    results = sf.restful("composite/sobjects/Account/Mongo_Id__c", method="PATCH", json={
        "allOrNone": False, "records": [
            _account(Mongo_Id__c=existing_ext, Name="Ups Old 2"),
            _account(Mongo_Id__c=new_ext, Name="Ups New"),
            _account(Mongo_Id__c=_mongo_id()),
            _account(Name="no external id"),
        ]})
    assert results[0] == {"id": existing, "success": True, "errors": [], "created": False}
    assert results[1]["success"] is True and results[1]["created"] is True
    assert results[2] == {"success": False, "created": False, "errors": [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]", "fields": ["Name"]}]}
    assert _codes(results[3]) == ["MISSING_ARGUMENT"]
    assert sf.Account.get_by_custom_id("Mongo_Id__c", new_ext)["Id"] == results[1]["id"]
    assert sf.Account.get(existing)["Name"] == "Ups Old 2"


def test_collection_delete_reports_malformed_and_already_deleted_ids(sf):
    live = sf.Account.create({"Name": "Del Live"})["id"]
    contact = sf.Contact.create({"LastName": "Del Contact"})["id"]
    gone = sf.Account.create({"Name": "Del Gone"})["id"]
    sf.Account.delete(gone)
    results = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": f"{live},{contact},001RM000003oLrB000,{gone}", "allOrNone": "false"})
    assert results[0] == {"id": live, "success": True, "errors": []}
    assert results[1] == {"id": contact, "success": True, "errors": []}
    assert results[2] == {"success": False, "errors": [
        {"statusCode": "MALFORMED_ID", "message": "malformed id 001RM000003oLrB000", "fields": []}]}
    assert _codes(results[3]) == ["ENTITY_IS_DELETED"]
    assert sf.query(f"SELECT Id FROM Account WHERE Id = '{live}'")["totalSize"] == 0


def test_collection_delete_with_all_or_none_keeps_every_record(sf):
    live = sf.Account.create({"Name": "Del AON"})["id"]
    results = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": f"{live},001000000000000AAA", "allOrNone": "true"})
    assert _codes(results[0]) == [ROLLED_BACK] and results[0]["id"] == live
    assert sf.Account.get(live)["IsDeleted"] is False


def test_collections_refuse_more_than_200_records_as_a_whole(sf, api):
    r = api("POST", "/composite/sobjects", json={"records": [_account(Name=f"n{i}") for i in range(201)]})
    assert r.status_code == 400
    assert r.json() == [{"message": "record limit reached. cannot submit more than 200 records into this call",
                         "errorCode": "EXCEEDED_ID_LIMIT"}]
    many_ids = ",".join(ids.make_id("001", 10_000_000 + i) for i in range(201))
    assert api("DELETE", "/composite/sobjects", params={"ids": many_ids}).json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_collection_of_200_records_is_accepted(sf):
    tag = uuid.uuid4().hex[:8]
    results = _create(sf, [_account(Name=f"Bulk {tag} {i}") for i in range(200)])
    assert len(results) == 200 and all(r["success"] for r in results)
    assert len({r["id"] for r in results}) == 200


def test_records_without_a_type_or_with_an_unknown_field_fail_the_whole_request(sf, api):
    r = api("POST", "/composite/sobjects", json={"records": [{"Name": "no attributes"}]})
    assert (r.status_code, r.json()[0]["errorCode"]) == (400, "INVALID_TYPE")
    tag = uuid.uuid4().hex[:8]
    r = api("POST", "/composite/sobjects", json={"records": [_account(Name=f"Ok {tag}"), _account(Nope__c=1)]})
    assert (r.status_code, r.json()[0]["errorCode"]) == (400, "INVALID_FIELD")
    assert _names_in_org(sf, [f"Ok {tag}"]) == set()


def test_each_per_record_error_code_matches_the_real_api(sf):
    taken = _mongo_id()
    holder = sf.Account.create({"Name": "Dup Holder", "Mongo_Id__c": taken})["id"]
    deleted_account = sf.Account.create({"Name": "Deleted Parent"})["id"]
    sf.Account.delete(deleted_account)
    results = _create(sf, [
        _account(Name="ok"),
        _account(Name="x", CreatedDate="2026-01-01T00:00:00Z"),
        _account(Name="x", Mongo_Id__c=taken),
        {"attributes": {"type": "Opportunity"}, "Name": "neg", "StageName": "Prospecting",
         "CloseDate": "2026-12-01", "Amount": -1},
        _account(Name="x", BillingCity="y" * 41),
        _account(Name="x", NumberOfEmployees=2.5),
        {"attributes": {"type": "Contact"}, "LastName": "x", "AccountId": "not-an-id"},
        {"attributes": {"type": "Contact"}, "LastName": "x", "AccountId": deleted_account},
    ])
    assert [_codes(r) for r in results] == [
        [], ["INVALID_FIELD_FOR_INSERT_UPDATE"], ["DUPLICATE_VALUE"], ["FIELD_CUSTOM_VALIDATION_EXCEPTION"],
        ["STRING_TOO_LONG"], ["INVALID_TYPE_ON_FIELD_IN_RECORD"], ["MALFORMED_ID"], ["INVALID_CROSS_REFERENCE_KEY"]]
    assert results[2]["errors"][0]["message"] == \
        f"duplicate value found: Mongo_Id__c duplicates value on record with id: {holder}"
    assert results[1]["errors"][0]["fields"] == ["CreatedDate"]
    assert results[3]["errors"][0] == {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                       "message": "Amount must not be negative.", "fields": ["Amount"]}


def test_built_in_rule_rejects_a_negative_opportunity_amount_on_the_single_record_api(sf):
    opp = {"Name": "Neg", "StageName": "Prospecting", "CloseDate": "2026-12-01", "Amount": -10}
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Opportunity.create(opp)
    assert exc.value.content == [{"message": "Amount must not be negative.",
                                  "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Amount"]}]
    opp_id = sf.Opportunity.create({**opp, "Amount": 10})["id"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.Opportunity.update(opp_id, {"Amount": -0.01})


def test_rule_added_at_runtime_applies_to_every_write_path_until_removed(sf, ctl):
    ctl.add_rule("Employees_Cap", "Account", "NumberOfEmployees", ">", 1000, "Too many employees.")
    try:
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.Account.create({"Name": "Big Co", "NumberOfEmployees": 5000})
        assert exc.value.content[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        results = _create(sf, [_account(Name="Big Co", NumberOfEmployees=5000)])
        assert results[0]["errors"] == [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                         "message": "Too many employees.", "fields": ["NumberOfEmployees"]}]
        assert any(r["name"] == "Employees_Cap" for r in ctl.rules())
    finally:
        ctl.remove_rule("Employees_Cap")
    assert sf.Account.create({"Name": "Big Co", "NumberOfEmployees": 5000})["success"] is True


def test_rule_for_a_required_value_uses_the_not_null_operator(sf, ctl):
    ctl.add_rule("Phone_Required", "Contact", "Phone", "is_null", message="Phone is required.")
    try:
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.Contact.create({"LastName": "No Phone"})
        assert exc.value.content[0]["message"] == "Phone is required."
        assert sf.Contact.create({"LastName": "Has Phone", "Phone": "555"})["success"] is True
    finally:
        ctl.remove_rule("Phone_Required")


def test_unique_external_id_is_enforced_within_one_collection_and_by_update(sf):
    ext = _mongo_id()
    results = _create(sf, [_account(Name="U1", Mongo_Id__c=ext), _account(Name="U2", Mongo_Id__c=ext)])
    assert results[0]["success"] is True and _codes(results[1]) == ["DUPLICATE_VALUE"]
    other = sf.Account.create({"Name": "U3"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.update(other, {"Mongo_Id__c": ext})
    assert exc.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
