"""The object mapping admin's tools against the real emulator and SecantusDB: importing fields from
describe, checking field mappings on save, and generating and applying the MongoDB schema."""
from __future__ import annotations

from decimal import Decimal

import pytest
from bson.decimal128 import Decimal128
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import call_command
from pymongo.errors import WriteError

from connectors.mappings import describe_cache, mapping_validation, mongo_schema
from connectors.models import FieldMapping, KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_describes():
    describe_cache.forget()
    yield
    describe_cache.forget()


@pytest.fixture
def staff(client):
    client.force_login(get_user_model().objects.create_superuser("operator", "op@example.com", "pw-operator-1"))
    return client


@pytest.fixture
def mapping(sync_settings, unique) -> ObjectMapping:
    """An Account mapping, both ways, holding only Name."""
    call_command("setupsync", no_mappings=True)
    row = ObjectMapping.objects.create(
        name=unique, org=SalesforceOrg.objects.get(name="default"), kafka=KafkaCluster.objects.get(name="default"),
        mongo=MongoTarget.objects.get(name="default"),
        sf_object="Account", collection=unique, direction="both",
    )
    FieldMapping.objects.create(mapping=row, sf_field="Name", mongo_field="name", sf_type="string")
    return row


def import_url(mapping: ObjectMapping) -> str:
    return f"/admin/connectors/objectmapping/{mapping.pk}/import-fields/"


def notes(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_import_page_lists_every_field_of_the_object_as_describe_gives_it(staff, mapping, sf):
    page = staff.get(import_url(mapping)).content.decode()
    for field in sf.Account.describe()["fields"]:
        assert f"<code>{field['name']}</code>" in page
    assert 'id="import-BillingCity"' in page and 'id="mongo-BillingCity" value="billingCity"' in page
    assert 'id="import-Name"' not in page, "an already mapped field cannot be imported twice"
    assert "already mapped" in page and "Decimal128" in page and "Create field mappings" in page


def test_the_chosen_fields_become_field_mappings_typed_from_describe(staff, mapping):
    response = staff.post(import_url(mapping), {
        "import": ["BillingCity", "AnnualRevenue", "CreatedDate"],
        "mongo-BillingCity": "city", "mongo-AnnualRevenue": "annualRevenue", "mongo-CreatedDate": "createdAt",
        "mongo-Industry": "industry",  # not ticked: not created
    })
    assert response.status_code == 302 and response["Location"].endswith(f"/{mapping.pk}/change/")
    assert any(m.startswith("Created 3 field mapping(s) for Account") for m in notes(response))
    created = {f.sf_field: f for f in mapping.fields.exclude(sf_field="Name")}
    assert set(created) == {"BillingCity", "AnnualRevenue", "CreatedDate"}
    assert (created["BillingCity"].mongo_field, created["BillingCity"].sf_type) == ("city", "string")
    assert (created["AnnualRevenue"].sf_type, created["AnnualRevenue"].sf_writable) == ("currency", True)
    assert (created["CreatedDate"].sf_type, created["CreatedDate"].sf_writable) == ("datetime", False)


def test_an_import_with_a_taken_mongodb_name_creates_nothing_and_says_why(staff, mapping):
    response = staff.post(import_url(mapping), {"import": ["BillingCity", "Phone"], "mongo-BillingCity": "name",
                                                "mongo-Phone": "phone"})
    assert response.status_code == 200
    assert "BillingCity: MongoDB field name &#x27;name&#x27; is already used." in response.content.decode()
    assert list(mapping.fields.values_list("sf_field", flat=True)) == ["Name"]


def test_salesforce_out_of_reach_is_one_clear_message_not_a_traceback(staff, mapping, monkeypatch):
    monkeypatch.setattr(describe_cache, "RETRY_SECONDS", 0.5)
    SalesforceOrg.objects.filter(pk=mapping.org_id).update(login_url=f"https://127.0.0.1:{free_port()}")
    response = staff.get(import_url(mapping))
    assert response.status_code == 302
    [message] = notes(response)
    assert message.startswith("Could not list the fields of Account: salesforce:") and "\n" not in message


def bad_rows(mapping: ObjectMapping) -> list[FieldMapping]:
    return [
        FieldMapping(mapping=mapping, sf_field="No_Such_Field__c", mongo_field="nope", conversion="auto"),
        FieldMapping(mapping=mapping, sf_field="AnnualRevenue", mongo_field="revenue", conversion="boolean"),
        FieldMapping(mapping=mapping, sf_field="CreatedDate", mongo_field="createdAt", sf_writable=True),
        FieldMapping(mapping=mapping, sf_field="NumberOfEmployees", mongo_field="staff", conversion="double"),
    ]


def test_the_three_kinds_of_bad_field_mapping_are_named(mapping):
    check = mapping_validation.check_mapping(mapping, bad_rows(mapping))
    assert not check.warning
    assert [(p.sf_field, p.attribute) for p in check.problems] == [
        ("No_Such_Field__c", "sf_field"), ("AnnualRevenue", "conversion"), ("CreatedDate", "sf_writable")]
    assert "Account has no such field" in check.problems[0].message
    assert 'conversion "Boolean" does not fit its Salesforce type currency' in check.problems[1].message
    assert "read-only (neither createable nor updateable)" in check.problems[2].message


def test_a_read_only_field_is_fine_when_the_mapping_only_reads_salesforce(mapping):
    mapping.direction = ObjectMapping.Direction.SF_TO_MONGO
    check = mapping_validation.check_mapping(mapping, bad_rows(mapping)[2:])
    assert check.ok


def change_form(mapping: ObjectMapping, rows: list[dict[str, str]]) -> dict[str, str]:
    data = {
        "name": mapping.name, "org": str(mapping.org_id), "kafka": str(mapping.kafka_id),
        "mongo": str(mapping.mongo_id), "sf_object": "Account", "collection": mapping.collection,
        "direction": mapping.direction, "key_field": "sf_id", "delete_mode": "remove",
        "propagate_mongo_deletes": "on", "conflict_policy": "manual", "sf_external_id_field": "Mongo_Id__c",
        "poll_interval_seconds": "1.0", "enabled": "on",
        "fields-TOTAL_FORMS": str(len(rows)), "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0", "fields-MAX_NUM_FORMS": "1000",
    }
    for field in ObjectMapping._meta.concrete_fields:  # any other field keeps its default
        if field.name in data or field.primary_key or field.is_relation:
            continue
        default = field.get_default()
        if default is True:
            data[field.name] = "on"
        elif default not in (None, False, ""):
            data[field.name] = str(default)
    for index, row in enumerate(rows):
        data.update({f"fields-{index}-{key}": value for key, value in row.items()})
        data[f"fields-{index}-mapping"] = str(mapping.pk)
    return data


def test_saving_bad_field_mappings_in_the_admin_is_refused_with_each_problem(staff, mapping):
    mapping.fields.all().delete()
    rows = [{"sf_field": r.sf_field, "mongo_field": r.mongo_field, "conversion": r.conversion, "enabled": "on",
             **({"sf_writable": "on"} if r.sf_writable else {})} for r in bad_rows(mapping)[:3]]
    response = staff.post(f"/admin/connectors/objectmapping/{mapping.pk}/change/", change_form(mapping, rows))
    page = response.content.decode()
    assert response.status_code == 200, "the save must be refused"
    assert "No_Such_Field__c: Account has no such field" in page
    assert "AnnualRevenue: conversion &quot;Boolean&quot; does not fit its Salesforce type currency" in page
    assert "CreatedDate: marked Salesforce writable, but Salesforce says it is read-only" in page
    assert not mapping.fields.exists()


def test_a_save_goes_through_with_a_warning_when_salesforce_is_out_of_reach(staff, mapping, monkeypatch):
    monkeypatch.setattr(describe_cache, "RETRY_SECONDS", 0.5)
    mapping.fields.all().delete()
    SalesforceOrg.objects.filter(pk=mapping.org_id).update(login_url=f"https://127.0.0.1:{free_port()}")
    rows = [{"sf_field": "BillingCity", "mongo_field": "city", "conversion": "auto", "enabled": "on"}]
    response = staff.post(f"/admin/connectors/objectmapping/{mapping.pk}/change/", change_form(mapping, rows))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert any(m.startswith("Field mappings not checked against Salesforce: salesforce:") for m in notes(response))
    assert list(mapping.fields.values_list("sf_field", flat=True)) == ["BillingCity"]


@pytest.fixture
def typed_mapping(mapping) -> ObjectMapping:
    for sf_field, mongo_field, sf_type in [
        ("AnnualRevenue", "revenue", "currency"), ("NumberOfEmployees", "staff", "int"),
        ("CreatedDate", "createdAt", "datetime"), ("BillingCity", "address.city", "string"),
    ]:
        FieldMapping.objects.create(mapping=mapping, sf_field=sf_field, mongo_field=mongo_field, sf_type=sf_type)
    return mapping


def test_the_schema_gives_each_field_its_converted_bson_type(typed_mapping, sf):
    schema = mongo_schema.json_schema(typed_mapping, sf.Account.describe())
    properties = schema["properties"]
    assert schema["additionalProperties"] is True and "required" not in schema
    assert properties["name"]["bsonType"] == "string", "Name is not nillable"
    assert properties["revenue"]["bsonType"] == ["decimal", "null"]
    assert properties["staff"]["bsonType"] == ["int", "long", "null"]
    assert properties["createdAt"]["bsonType"] == "date"
    assert properties["address"]["properties"]["city"]["bsonType"] == ["string", "null"]
    assert properties["_sync"]["bsonType"] == "object" and "_id" in properties


def test_the_schema_page_shows_the_validator_and_applies_it_to_mongodb(staff, typed_mapping, mongo):
    url = f"/admin/connectors/objectmapping/{typed_mapping.pk}/mongo-schema/"
    page = staff.get(url).content.decode()
    assert "$jsonSchema" in page and "&quot;decimal&quot;" in page and "moderate" in page
    response = staff.post(url)
    [message] = notes(response)
    assert message.startswith(f"created {mongo.name}.{typed_mapping.collection}: $jsonSchema validator in force")
    collection = mongo[typed_mapping.collection]
    collection.insert_one({"_id": "001A", "name": "Acme", "revenue": Decimal128(Decimal("12.50")), "staff": 12,
                           "address": {"city": "Paris"}, "appNote": "apps may add fields", "_sync": {"source": "x"}})
    with pytest.raises(WriteError) as refused:
        collection.insert_one({"_id": "001B", "name": "Bad", "revenue": "lots"})
    assert refused.value.code == 121  # DocumentValidationFailure
    # Applying again takes the collMod path on the existing collection.
    message = notes(staff.post(url))[-1]
    assert message.startswith(f"updated the validator of {mongo.name}.{typed_mapping.collection}"), message
