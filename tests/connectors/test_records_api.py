"""The records API: a mapping's documents, shaped by its field mappings; writes flow on to Salesforce."""
from __future__ import annotations

import pytest
from bson import ObjectId

from connectors.models import ObjectMapping
from dashboard.models import ApiToken
from tests.connectors.helpers import step_until
from tests.connectors.test_two_way import backfilled
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth() -> dict[str, str]:
    user = user_with_role("robot", OPERATORS)
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'ci')[1]}"}


def test_records_are_refused_to_anonymous_callers(client, workers):
    assert client.get("/api/v1/mappings/accounts/records").status_code == 401
    assert client.post("/api/v1/mappings/accounts/records", {}, content_type="application/json").status_code == 401


def test_list_filters_and_pages_on_mapped_fields(client, auth, sf, mongo, workers):
    backfilled(sf, mongo, workers)
    total = mongo.accounts.count_documents({})
    first = client.get("/api/v1/mappings/accounts/records?limit=5", **auth).json()
    second = client.get("/api/v1/mappings/accounts/records?limit=5&offset=5", **auth).json()
    assert first["total"] == total and len(first["items"]) == 5
    assert not {r["_id"] for r in first["items"]} & {r["_id"] for r in second["items"]}

    industry = mongo.accounts.find_one({"industry": {"$type": "string"}})["industry"]
    filtered = client.get(f"/api/v1/mappings/accounts/records?industry={industry}&limit=500", **auth).json()
    assert filtered["total"] == mongo.accounts.count_documents({"industry": industry})
    assert {r["industry"] for r in filtered["items"]} == {industry}

    bad = client.get("/api/v1/mappings/accounts/records?colour=red", **auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "colour"]

    one = first["items"][0]
    got = client.get(f"/api/v1/mappings/accounts/records/{one['_id']}", **auth).json()
    assert got["sf_id"] == one["sf_id"] and got["name"] == one["name"]
    assert client.get("/api/v1/mappings/accounts/records/nope", **auth).status_code == 404


def test_the_record_schema_comes_from_the_field_mappings(client, auth, workers):
    schema = client.get("/api/v1/mappings/accounts/records/schema", **auth).json()
    mapping = ObjectMapping.objects.get(name="accounts")
    mapped = {f.mongo_field for f in mapping.fields.filter(enabled=True)}
    assert set(schema["properties"]) == mapped | {mapping.key_field}
    assert schema["properties"]["numberOfEmployees"]["type"] == "integer"


def test_a_record_created_through_the_api_reaches_salesforce_once(client, auth, sf, mongo, all_workers):
    backfilled(sf, mongo, all_workers)
    created = client.post("/api/v1/mappings/accounts/records", {"name": "Made By The API", "numberOfEmployees": 12},
                          content_type="application/json", **auth)
    assert created.status_code == 201, created.content
    record_id = created.json()["_id"]
    step_until(all_workers, lambda: (mongo.accounts.find_one({"_id": ObjectId(record_id)}) or {}).get("sf_id"),
               message="the Salesforce Id written back")
    soql = f"SELECT Id, Name, NumberOfEmployees FROM Account WHERE Mongo_Id__c = '{record_id}'"
    found = sf.query_all(soql)["records"]
    assert [(r["Name"], r["NumberOfEmployees"]) for r in found] == [("Made By The API", 12)]

    updated = client.patch(f"/api/v1/mappings/accounts/records/{record_id}", {"numberOfEmployees": 13},
                           content_type="application/json", **auth)
    assert updated.status_code == 200 and updated.json()["numberOfEmployees"] == 13
    sf_id = updated.json()["sf_id"]
    step_until(all_workers, lambda: sf.Account.get(sf_id)["NumberOfEmployees"] == 13, message="the update")

    assert client.delete(f"/api/v1/mappings/accounts/records/{record_id}", **auth).status_code == 204
    step_until(all_workers, lambda: not sf.query_all(f"SELECT Id FROM Account WHERE Id = '{sf_id}'")["records"],
               message="the delete in Salesforce")


@pytest.mark.parametrize("payload, field", [
    ({"numberOfEmployees": "lots"}, "numberOfEmployees"),
    ({"colour": "red"}, "colour"),
    ({"name": {"nested": True}}, "name"),
])
def test_a_payload_that_does_not_fit_is_a_422_naming_the_field(client, auth, workers, payload, field):
    answer = client.post("/api/v1/mappings/accounts/records", payload, content_type="application/json", **auth)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", field]


def test_a_one_way_mapping_refuses_writes_on_the_mongodb_side(client, auth, make_workers):
    make_workers(direction="sf_to_mongo")
    answer = client.post("/api/v1/mappings/accounts/records", {"name": "x"}, content_type="application/json", **auth)
    assert answer.status_code == 409 and "Salesforce" in answer.json()["detail"]
