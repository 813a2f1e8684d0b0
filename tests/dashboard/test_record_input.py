"""The records API refuses what the sync cannot carry to Salesforce intact (checked against the
mapping and Salesforce's describe), with a 422 naming the field and the rule, and writes nothing;
its paging parameters are bounded."""
from __future__ import annotations

import json

import pytest
from bson import ObjectId
from django.core.management import call_command

from connectors.mappings.describe_cache import forget
from connectors.models import MongoTarget, SalesforceOrg
from dashboard.models import ApiToken
from devstack.health import free_port
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db
ACCOUNTS = "/api/v1/mappings/accounts/records"
CONTACTS = "/api/v1/mappings/contacts/records"


@pytest.fixture
def auth() -> dict[str, str]:
    user = user_with_role("robot", OPERATORS)
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'ci')[1]}"}


@pytest.fixture
def mappings(sync_settings, mongo):  # type: ignore[no-untyped-def]
    """The Account and Contact mappings, both ways, on the session's emulator; their MongoDB database."""
    call_command("setupsync", objects="Account,Contact")
    yield mongo
    forget()


def send(client, method: str, path: str, body: str, auth: dict[str, str]):  # type: ignore[no-untyped-def]
    """`body` is raw JSON text, so NaN and Infinity go over the wire as Python's json module writes them."""
    return getattr(client, method)(path, body, content_type="application/json", **auth)


def refused(answer) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.content
    return [(e["loc"][-1], e["type"]) for e in answer.json()["detail"]]


@pytest.mark.parametrize("body, field, rule", [
    ('{"name": "n", "annualRevenue": NaN}', "annualRevenue", "finite"),
    ('{"name": "n", "annualRevenue": Infinity}', "annualRevenue", "finite"),
    ('{"name": "n", "annualRevenue": 1e400}', "annualRevenue", "finite"),
    (json.dumps({"name": "n", "annualRevenue": 10**40}), "annualRevenue", "precision"),
    (json.dumps({"name": "n", "numberOfEmployees": 10**40}), "numberOfEmployees", "precision"),
    (json.dumps({"name": "n", "annualRevenue": 1.5}), "annualRevenue", "scale"),
    (json.dumps({"name": "x" * 100_000}), "name", "length"),
    (json.dumps({"name": "n", "description": "x" * 100_000}), "description", "length"),
    (json.dumps({"name": "nul\x00byte"}), "name", "character"),
    (json.dumps({"name": 5}), "name", "type"),
    (json.dumps({"name": "n", "customerTier": "Tin"}), "customerTier", "picklist"),
    (json.dumps({"name": "   "}), "name", "required"),
    ("{}", "name", "required"),
])
def test_an_account_salesforce_could_not_hold_as_sent_is_a_422_naming_field_and_rule(client, auth, mappings, body,
                                                                                      field, rule):
    assert refused(send(client, "post", ACCOUNTS, body, auth)) == [(field, rule)]
    assert mappings.accounts.count_documents({}) == 0


@pytest.mark.parametrize("body, field, rule", [
    ({}, "lastName", "required"),
    ({"lastName": "L", "accountId": "003Hn0000000001AAA"}, "accountId", "reference"),
    ({"lastName": "L", "accountId": "not-an-id"}, "accountId", "reference"),
    ({"lastName": "L", "email": "nobody"}, "email", "email"),
    ({"lastName": "L", "birthdate": "1600-01-01"}, "birthdate", "range"),
    ({"lastName": "L", "loyaltyPoints": 1.234}, "loyaltyPoints", "scale"),
])
def test_a_contact_salesforce_would_refuse_is_a_422_naming_field_and_rule(client, auth, mappings, body, field, rule):
    assert refused(send(client, "post", CONTACTS, json.dumps(body), auth)) == [(field, rule)]
    assert mappings.contacts.count_documents({}) == 0


def test_every_value_at_fault_is_named_at_once(client, auth, mappings):
    body = json.dumps({"email": "nobody", "loyaltyPoints": 1.234})
    assert sorted(refused(send(client, "post", CONTACTS, body, auth))) == [
        ("email", "email"), ("lastName", "required"), ("loyaltyPoints", "scale")]


def test_values_that_fit_are_written_as_sent(client, auth, mappings, sf):
    account = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    body = {"lastName": "Fits", "accountId": account, "email": "fits@example.com", "birthdate": "1980-02-29",
            "loyaltyPoints": 12.25}
    created = send(client, "post", CONTACTS, json.dumps(body), auth)
    assert created.status_code == 201, created.content
    assert {k: created.json()[k] for k in body} == body
    tier = send(client, "post", ACCOUNTS, json.dumps({"name": "Tiered", "customerTier": "Gold"}), auth)
    assert tier.status_code == 201, tier.content


def test_an_update_may_not_empty_a_required_field_or_break_a_rule(client, auth, mappings):
    record = mappings.accounts.insert_one({"name": "Kept", "numberOfEmployees": 3}).inserted_id
    path = f"{ACCOUNTS}/{record}"
    assert refused(send(client, "patch", path, json.dumps({"name": None}), auth)) == [("name", "required")]
    assert refused(send(client, "patch", path, '{"numberOfEmployees": NaN}', auth)) == [("numberOfEmployees", "finite")]
    assert mappings.accounts.find_one({"_id": ObjectId(record)}, {"_id": 0, "name": 1, "numberOfEmployees": 1}) == {
        "name": "Kept", "numberOfEmployees": 3}
    ok = send(client, "patch", path, json.dumps({"numberOfEmployees": 99_999_999}), auth)
    assert ok.status_code == 200 and ok.json()["numberOfEmployees"] == 99_999_999


def test_without_salesforce_s_describe_a_write_is_a_503_and_nothing_is_written(client, auth, mappings):
    SalesforceOrg.objects.update(login_url=f"https://127.0.0.1:{free_port()}")
    answer = send(client, "post", ACCOUNTS, json.dumps({"name": "Unchecked"}), auth)
    assert answer.status_code == 503 and "salesforce" in answer.json()["detail"]
    assert mappings.accounts.count_documents({}) == 0


def test_the_openapi_document_carries_each_mapping_s_exact_record_bodies(client, auth, mappings):
    paths = client.get("/api/v1/openapi.json", **auth).json()["paths"]
    create = paths[CONTACTS]["post"]["requestBody"]["content"]["application/json"]["schema"]
    update = paths[f"{CONTACTS}/{{record_id}}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["required"] == ["lastName"] and "required" not in update
    assert create["additionalProperties"] is False and "name" not in create["properties"]
    fields = create["properties"]
    assert fields["lastName"]["maxLength"] == 80 and fields["loyaltyPoints"]["multipleOf"] == 0.01
    assert fields["accountId"]["anyOf"][1]["pattern"].startswith("^(001)")
    assert "post" in paths["/api/v1/mappings/{name}/records"]


def test_without_salesforce_s_describe_the_openapi_bodies_still_name_only_the_mapped_fields(client, auth, mappings):
    SalesforceOrg.objects.update(login_url=f"https://127.0.0.1:{free_port()}")
    paths = client.get("/api/v1/openapi.json", **auth).json()["paths"]
    create = paths[CONTACTS]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["additionalProperties"] is False and "salesforce" in create["description"]
    assert "lastName" in create["properties"] and "name" not in create["properties"]


def test_without_mongodb_the_records_answer_503(client, auth, mappings):
    MongoTarget.objects.update(uri=f"mongodb://127.0.0.1:{free_port()}")
    answer = client.get(ACCOUNTS, **auth)
    assert answer.status_code == 503 and "did not answer" in answer.json()["detail"]


@pytest.mark.parametrize("query, parameter", [
    ("offset=9223372036854775808", "offset"),
    ("offset=-1", "offset"),
    ("limit=0", "limit"),
    ("limit=-1", "limit"),
    ("limit=501", "limit"),
])
def test_paging_out_of_bounds_is_a_422(client, auth, mappings, query, parameter):
    answer = client.get(f"{ACCOUNTS}?{query}", **auth)
    assert answer.status_code == 422, answer.content
    assert [e["loc"] for e in answer.json()["detail"]] == [["query", parameter]]


def test_paging_at_the_bounds_answers(client, auth, mappings):
    mappings.accounts.insert_many([{"name": f"a{i}"} for i in range(3)])
    last = client.get(f"{ACCOUNTS}?offset=9223372036854775807&limit=500", **auth)
    assert last.status_code == 200 and last.json()["items"] == [] and last.json()["total"] == 3
    one = client.get(f"{ACCOUNTS}?limit=1", **auth).json()
    assert (one["limit"], len(one["items"])) == (1, 1)
