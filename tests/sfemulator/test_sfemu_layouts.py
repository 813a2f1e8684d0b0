"""``/sobjects/{Obj}/describe/layouts`` and ``…/compactLayouts``: one layout per object, built from
the schema, in the REST API's DescribeLayoutResult shape."""
from __future__ import annotations

import pytest

MASTER = "012000000000000AAA"


def _layout_fields(layout: dict) -> list[str]:
    return [c["value"] for s in layout["detailLayoutSections"] for row in s["layoutRows"]
            for item in row["layoutItems"] for c in item["layoutComponents"]]


def test_layouts_have_one_layout_and_the_master_record_type_mapping(api):
    body = api("GET", "/sobjects/Account/describe/layouts").json()
    assert set(body) == {"layouts", "recordTypeMappings", "recordTypeSelectorRequired"}
    [layout] = body["layouts"]
    [mapping] = body["recordTypeMappings"]
    assert layout["id"].startswith("00h") and len(layout["id"]) == 18
    assert (mapping["recordTypeId"], mapping["master"], mapping["layoutId"]) == (MASTER, True, layout["id"])
    assert mapping["urls"]["layout"] == f"/services/data/v62.0/sobjects/Account/describe/layouts/{MASTER}"
    tiers = next(p for p in mapping["picklistsForRecordType"] if p["picklistName"] == "Customer_Tier__c")
    assert [v["value"] for v in tiers["picklistValues"]] == ["Gold", "Silver", "Bronze"]
    assert body["recordTypeSelectorRequired"] == [False]


def test_layout_sections_place_the_schema_fields_two_to_a_row(api):
    layout = api("GET", "/sobjects/Account/describe/layouts").json()["layouts"][0]
    headings = [s["heading"] for s in layout["detailLayoutSections"]]
    assert headings == ["Account Information", "System Information"]
    fields = _layout_fields(layout)
    assert {"Name", "Industry", "OwnerId", "Mongo_Id__c", "CreatedById", "LastModifiedById"} <= set(fields)
    assert not {"Id", "IsDeleted", "SystemModstamp"} & set(fields)
    main = layout["detailLayoutSections"][0]
    assert main["columns"] == 2 and main["rows"] == len(main["layoutRows"])
    assert main["parentLayoutId"] == layout["id"]
    name = next(i for r in main["layoutRows"] for i in r["layoutItems"]
                if i["layoutComponents"] and i["layoutComponents"][0]["value"] == "Name")
    assert (name["required"], name["editableForNew"], name["label"]) == (True, True, "Account Name")
    assert name["layoutComponents"][0]["details"]["type"] == "string"
    audit = layout["detailLayoutSections"][1]["layoutRows"][0]["layoutItems"]
    assert [i["editableForUpdate"] for i in audit] == [False, False]
    assert {"name": "Contacts", "sobject": "Contact", "field": "AccountId"}.items() <= \
        next(r for r in layout["relatedLists"] if r["name"] == "Contacts").items()


def test_layout_follows_run_time_schema_changes(api, ctl):
    try:
        ctl.alter_field("Account", "Layout_Probe__c", "string")
        layout = api("GET", "/sobjects/Account/describe/layouts").json()["layouts"][0]
        assert "Layout_Probe__c" in _layout_fields(layout)
    finally:
        ctl.reset_schema()


@pytest.mark.parametrize("record_type", [MASTER, MASTER[:15]])
def test_layout_by_record_type_id(api, record_type):
    r = api("GET", f"/sobjects/Contact/describe/layouts/{record_type}")
    assert r.status_code == 200
    assert r.json()["detailLayoutSections"][0]["heading"] == "Contact Information"
    assert r.json() == api("GET", "/sobjects/Contact/describe/layouts").json()["layouts"][0]


def test_unknown_record_type_and_object_are_not_found(api):
    for path in ("/sobjects/Account/describe/layouts/012Hn0000000001AAA", "/sobjects/Nope__c/describe/layouts"):
        r = api("GET", path)
        assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
    assert api("POST", "/sobjects/Account/describe/layouts", json={}).status_code == 405


def test_compact_layout_is_the_system_default(api):
    body = api("GET", "/sobjects/Order/describe/compactLayouts").json()
    [compact] = body["compactLayouts"]
    assert (compact["name"], compact["id"], compact["objectType"]) == ("SYSTEM", None, "Order")
    assert [i["layoutComponents"][0]["value"] for i in compact["fieldItems"]] == ["OrderNumber"]
    [mapping] = body["recordTypeCompactLayoutMappings"]
    assert (mapping["recordTypeId"], mapping["compactLayoutName"]) == (MASTER, "SYSTEM")
