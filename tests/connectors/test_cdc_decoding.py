"""Change Data Capture decoding against real-shaped Pub/Sub API schemas and payloads. Pure: no servers."""
from __future__ import annotations

import json

import fastavro
import pytest

from connectors.salesforce.pubsub.avro import EventSchema, SchemaError
from connectors.salesforce.pubsub.cdc import (
    client_of,
    commit_order,
    decode_change,
    expand_bitmap_fields,
    flat_field_name,
    rest_value,
)

_OPTIONAL_STRING = ["null", "string"]

#: The shape Salesforce serves for /data/AccountChangeEvent (fields trimmed): the header first,
#: optional fields after, a compound address defined once and referred to by name afterwards.
ACCOUNT_SCHEMA = {
    "type": "record", "name": "AccountChangeEvent", "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "ChangeEventHeader", "type": {"type": "record", "name": "ChangeEventHeader", "fields": [
            {"name": "entityName", "type": "string"},
            {"name": "recordIds", "type": {"type": "array", "items": "string"}},
            {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols": [
                "CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE",
                "GAP_UNDELETE", "GAP_OVERFLOW", "SNAPSHOT"]}},
            {"name": "changeOrigin", "type": "string"},
            {"name": "transactionKey", "type": "string"},
            {"name": "sequenceNumber", "type": "int"},
            {"name": "commitTimestamp", "type": "long"},
            {"name": "commitNumber", "type": "long"},
            {"name": "commitUser", "type": "string"},
            {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
            {"name": "diffFields", "type": {"type": "array", "items": "string"}},
            {"name": "changedFields", "type": {"type": "array", "items": "string"}},
        ]}, "doc": "Data:ChangeEventHeader"},
        {"name": "Name", "type": _OPTIONAL_STRING, "default": None},                              # 1
        {"name": "Type", "type": _OPTIONAL_STRING, "default": None},                              # 2
        {"name": "BillingAddress", "type": ["null", {"type": "record", "name": "Address", "fields": [
            {"name": "Street", "type": _OPTIONAL_STRING, "default": None},
            {"name": "City", "type": _OPTIONAL_STRING, "default": None},
            {"name": "State", "type": _OPTIONAL_STRING, "default": None},
            {"name": "PostalCode", "type": _OPTIONAL_STRING, "default": None},
            {"name": "Country", "type": _OPTIONAL_STRING, "default": None},
        ]}], "default": None},                                                                    # 3
        {"name": "ShippingAddress", "type": ["null", "Address"], "default": None},               # 4
        {"name": "Phone", "type": _OPTIONAL_STRING, "default": None},                             # 5
        {"name": "AnnualRevenue", "type": ["null", "double"], "default": None},                  # 6
        {"name": "Description", "type": _OPTIONAL_STRING, "default": None},                       # 7
        {"name": "CreatedDate", "type": ["null", "long"], "default": None},                      # 8
        {"name": "LastModifiedDate", "type": ["null", "long"], "default": None},                 # 9
        {"name": "SLAExpirationDate__c", "type": ["null", "int"], "default": None},              # 10
    ],
}
ACCOUNT_ID = "001000000000001AAA"
COMMIT_MS = 1767225600123  # 2026-01-01T00:00:00.123Z


def _schema() -> EventSchema:
    return EventSchema.from_json("sch-1", json.dumps(ACCOUNT_SCHEMA))


def _bitmap(*positions: int) -> str:
    return hex(sum(1 << p for p in positions))


def _header(change_type: str, changed=(), nulled=(), diff=(), ids=(ACCOUNT_ID,), origin="", seq=1, commit=10) -> dict:
    return {"entityName": "Account", "recordIds": list(ids), "changeType": change_type, "changeOrigin": origin,
            "transactionKey": "0001a2b3-c4d5", "sequenceNumber": seq, "commitTimestamp": COMMIT_MS,
            "commitNumber": commit, "commitUser": "005000000000001AAA", "nulledFields": list(nulled),
            "diffFields": list(diff), "changedFields": list(changed)}


def _payload(header: dict, **values) -> bytes:  # type: ignore[no-untyped-def]
    import io
    record = {"ChangeEventHeader": header, **{f["name"]: None for f in ACCOUNT_SCHEMA["fields"][1:]}, **values}
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(json.loads(json.dumps(ACCOUNT_SCHEMA))), record)
    return out.getvalue()


def test_the_schema_lists_top_level_fields_in_order_and_compound_fields_by_position():
    schema = _schema()
    assert schema.field_names[:4] == ["ChangeEventHeader", "Name", "Type", "BillingAddress"]
    # ShippingAddress refers to the Address record by name: its components are still known.
    assert schema.nested_fields[4] == ["Street", "City", "State", "PostalCode", "Country"]
    assert set(schema.compound_fields) == {"ChangeEventHeader", "BillingAddress", "ShippingAddress"}


def test_a_top_level_bitmap_reads_least_significant_bit_first():
    assert expand_bitmap_fields(_schema(), ["0x222"]) == ["Name", "Phone", "LastModifiedDate"]  # bits 1, 5, 9


def test_a_nested_bitmap_names_the_compound_and_its_components():
    names = expand_bitmap_fields(_schema(), [_bitmap(3, 9), "3-0x12"])
    assert names == ["BillingAddress", "LastModifiedDate", "BillingAddress.City", "BillingAddress.Country"]


def test_field_names_already_spelled_out_pass_through():
    assert expand_bitmap_fields(_schema(), ["Name", "BillingAddress.City"]) == ["Name", "BillingAddress.City"]


@pytest.mark.parametrize("bad", ["0x1000", "1-0x01", "0xZZ"])
def test_a_bitmap_the_schema_cannot_hold_is_refused_with_a_reason(bad):
    with pytest.raises(SchemaError, match="cdc: "):
        expand_bitmap_fields(_schema(), [bad])


def test_compound_components_take_their_rest_api_names():
    assert flat_field_name("BillingAddress", "City") == "BillingCity"
    assert flat_field_name("Name", "FirstName") == "FirstName"
    assert flat_field_name("Home__c", "Street") == "Home__Street__s"


def test_an_update_carries_only_changed_values_and_nulled_fields_as_none():
    header = _header("UPDATE", changed=[_bitmap(1, 3, 7, 9), "3-0x02"], nulled=[_bitmap(7)],
                     origin="com/salesforce/api/rest/62.0;client=someone")
    change = decode_change(_schema(), _payload(header, Name="Acme 2", BillingAddress={
        "Street": None, "City": "Lyon", "State": None, "PostalCode": None, "Country": None},
        LastModifiedDate=COMMIT_MS), b"\x00\x00\x00\x00\x00\x00\x01\x02")
    # Phone, Type, Street... were not touched: absent, so applying the change keeps them.
    assert change.values == {"Name": "Acme 2", "BillingCity": "Lyon", "Description": None,
                             "LastModifiedDate": COMMIT_MS}
    assert change.change_type == "UPDATE" and not change.is_gap and not change.is_full_image
    assert change.header.record_ids == (ACCOUNT_ID,)
    assert change.header.commit_timestamp.isoformat() == "2026-01-01T00:00:00.123000+00:00"
    assert change.header.transaction_key == "0001a2b3-c4d5"
    assert change.replay_id == "0000000000000102"
    assert change.client == "someone"


def test_nulling_a_whole_compound_nulls_each_component():
    header = _header("UPDATE", changed=[_bitmap(4)], nulled=[_bitmap(4)])
    change = decode_change(_schema(), _payload(header), b"\x01")
    assert change.values == {"ShippingStreet": None, "ShippingCity": None, "ShippingState": None,
                             "ShippingPostalCode": None, "ShippingCountry": None}


def test_a_create_is_a_full_image_with_compounds_flattened():
    change = decode_change(_schema(), _payload(_header("CREATE"), Name="Acme", AnnualRevenue=12.5,
                                               CreatedDate=COMMIT_MS), b"\x02")
    assert change.is_full_image
    assert change.values["Name"] == "Acme" and change.values["AnnualRevenue"] == 12.5
    assert change.values["Phone"] is None and change.values["BillingCity"] is None
    # An empty compound is null as a whole, as REST gives it.
    assert change.values["BillingAddress"] is None and "ChangeEventHeader" not in change.values


def test_a_compound_address_in_a_full_image_is_also_the_object_rest_gives():
    address = {"Street": "415 Mission Street", "City": "San Francisco", "State": "CA", "PostalCode": "94105",
               "Country": "United States"}
    change = decode_change(_schema(), _payload(_header("CREATE"), Name="Acme", BillingAddress=address), b"\x02")
    assert change.values["BillingCity"] == "San Francisco" and change.values["BillingStreet"] == "415 Mission Street"
    assert change.values["BillingAddress"] == {"street": "415 Mission Street", "city": "San Francisco", "state": "CA",
                                               "postalCode": "94105", "country": "United States"}


_PERSON_NAME = {"type": "record", "name": "Switchable_PersonName", "fields": [
    {"name": part, "type": _OPTIONAL_STRING, "default": None}
    for part in ("Salutation", "FirstName", "LastName", "MiddleName", "InformalName", "Suffix")]}
_LOCATION = {"type": "record", "name": "Location", "fields": [
    {"name": "Latitude", "type": ["null", "double"], "default": None},
    {"name": "Longitude", "type": ["null", "double"], "default": None}]}
#: /data/ContactChangeEvent (trimmed): the person's Name is a `Switchable_PersonName` record,
#: a custom geolocation a record of its latitude and longitude.
CONTACT_SCHEMA = {"type": "record", "name": "ContactChangeEvent", "namespace": "com.sforce.eventbus", "fields": [
    ACCOUNT_SCHEMA["fields"][0],
    {"name": "Name", "type": ["null", _PERSON_NAME], "default": None},                            # 1
    {"name": "Email", "type": _OPTIONAL_STRING, "default": None},                                  # 2
    {"name": "Office__c", "type": ["null", _LOCATION], "default": None},                           # 3
    {"name": "LastModifiedDate", "type": ["null", "long"], "default": None},                       # 4
]}


def _contact(header: dict, **values):  # type: ignore[no-untyped-def]
    import io
    schema = EventSchema.from_json("sch-contact", json.dumps(CONTACT_SCHEMA))
    record = {"ChangeEventHeader": {**header, "entityName": "Contact"},
              **{f["name"]: None for f in CONTACT_SCHEMA["fields"][1:]}, **values}
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(json.loads(json.dumps(CONTACT_SCHEMA))), record)
    return decode_change(schema, out.getvalue(), b"\x09")


def test_a_created_contact_has_its_full_name_as_polling_reads_it():
    name = {"Salutation": "Ms.", "FirstName": "Ada", "LastName": "Lovelace", "MiddleName": "Augusta",
            "InformalName": None, "Suffix": None}
    change = _contact(_header("CREATE"), Name=name, Office__c={"Latitude": 51.5, "Longitude": -0.12})
    assert change.values["Name"] == "Ada Augusta Lovelace"  # the salutation is not part of Name
    assert (change.values["FirstName"], change.values["LastName"], change.values["Salutation"]) == (
        "Ada", "Lovelace", "Ms.")
    assert change.values["Office__c"] == {"latitude": 51.5, "longitude": -0.12}
    assert change.values["Office__Latitude__s"] == 51.5


def test_an_update_of_part_of_a_name_names_the_compound_it_cannot_make_whole():
    change = _contact(_header("UPDATE", changed=[_bitmap(1, 4), "1-0x04"]),
                      Name={"LastName": "King"}, LastModifiedDate=COMMIT_MS)
    assert change.values["LastName"] == "King" and "Name" not in change.values
    assert change.partial_compounds == {"Name"}
    plain = _contact(_header("UPDATE", changed=[_bitmap(2)]), Email="ada@example.com")
    assert plain.partial_compounds == frozenset()


def test_delete_and_gap_events_carry_ids_but_no_values():
    deleted = decode_change(_schema(), _payload(_header("DELETE")), b"\x03")
    gap = decode_change(_schema(), _payload(_header("GAP_UPDATE", ids=(ACCOUNT_ID, "001000000000002AAA"))), b"\x04")
    overflow = decode_change(_schema(), _payload(_header("GAP_OVERFLOW", ids=())), b"\x05")
    assert deleted.values == {} and gap.values == {}
    assert gap.is_gap and not gap.is_overflow and len(gap.header.record_ids) == 2
    assert overflow.is_gap and overflow.is_overflow and overflow.header.record_ids == ()


def test_diff_fields_are_named():
    header = _header("UPDATE", changed=[_bitmap(7)], diff=[_bitmap(7)])
    assert decode_change(_schema(), _payload(header, Description="@@ -1 +1 @@"), b"\x06").header.diff_fields == (
        "Description",)


def test_a_payload_of_another_schema_is_refused():
    with pytest.raises(SchemaError, match="does not fit schema sch-1"):
        decode_change(_schema(), b"\x02\x00", b"\x07")


def test_changes_sort_into_commit_and_sequence_order():
    schema = _schema()
    later = decode_change(schema, _payload(_header("UPDATE", commit=11, seq=1)), b"\x08")
    second = decode_change(schema, _payload(_header("UPDATE", commit=10, seq=2)), b"\x09")
    first = decode_change(schema, _payload(_header("CREATE", commit=10, seq=1)), b"\x0a")
    assert commit_order([later, second, first]) == [first, second, later]


def test_change_origin_names_the_client_only_when_one_was_given():
    assert client_of("com/salesforce/api/rest/62.0;client=sfmongosync") == "sfmongosync"
    assert client_of("com/salesforce/api/soap/51.0;client=Astro;other=1") == "Astro"
    assert client_of("com/salesforce/api/rest/62.0") is None
    assert client_of("") is None


def test_avro_dates_and_date_times_become_rest_api_text():
    assert rest_value(COMMIT_MS, "datetime") == "2026-01-01T00:00:00.123Z"
    assert rest_value(20454, "date") == "2026-01-01"
    assert rest_value(12.5, "currency") == 12.5
    assert rest_value(None, "datetime") is None


def test_a_schema_that_is_not_a_record_is_refused():
    with pytest.raises(SchemaError, match="not an Avro record schema"):
        EventSchema.from_json("x", '"string"')
    with pytest.raises(SchemaError, match="not valid Avro"):
        EventSchema.from_json("x", "{nope")
