"""The REST API under /api/v1: refused without a staff login or token, typed answers, 422 on bad input."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from connectors.models import Conflict, KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg, SyncError
from dashboard.models import ApiToken
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def mapping() -> ObjectMapping:
    org = SalesforceOrg.objects.create(name="o", login_url="https://login.salesforce.com")
    kafka = KafkaCluster.objects.create(name="k", bootstrap_servers="127.0.0.1:9092")
    mongo = MongoTarget.objects.create(name="m", uri="mongodb://127.0.0.1", database="db")
    return ObjectMapping.objects.create(name="accounts", org=org, kafka=kafka, mongo=mongo, sf_object="Account",
                                        collection="accounts", direction="both")


@pytest.fixture
def token() -> str:
    user = user_with_role("robot", OPERATORS)
    return ApiToken.issue(user, "ci")[1]


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/status", "/api/v1/conflicts", "/api/v1/errors"])
def test_anonymous_callers_are_refused(client, path):
    assert client.get(path).status_code == 401


def test_a_token_of_a_user_who_is_not_staff_is_forbidden(client):
    user = get_user_model().objects.create_user("viewer", password="pw-viewer-1")
    assert client.get("/api/v1/status", **bearer(ApiToken.issue(user, "x")[1])).status_code == 403


def test_a_wrong_token_is_refused(client, token):
    assert client.get("/api/v1/status", **bearer(token + "x")).status_code == 401


def test_status_lists_mappings_with_their_counts(client, token, mapping):
    SyncError.objects.create(mapping=mapping, stage="convert", code="INVALID_VALUE", message="m", payload="{}")
    body = client.get("/api/v1/status", **bearer(token)).json()
    assert [(m["name"], m["open_errors"], m["open_conflicts"]) for m in body["mappings"]] == [("accounts", 1, 0)]
    assert ApiToken.objects.get().last_used_at is not None


def test_a_resolution_that_settles_nothing_is_a_422_naming_the_problem(client, token, mapping):
    conflict = Conflict.objects.create(mapping=mapping, salesforce_id="001000000000001AAA", fields=["Name"],
                                       base_values={"Name": "a"}, salesforce_values={"Name": "b"},
                                       mongo_values={"Name": "c"})
    empty = client.post(f"/api/v1/conflicts/{conflict.pk}/resolve", {}, content_type="application/json",
                        **bearer(token))
    assert empty.status_code == 422 and "take" in empty.content.decode()
    wrong_side = client.post(f"/api/v1/conflicts/{conflict.pk}/resolve", {"take": {"Name": "neither"}},
                             content_type="application/json", **bearer(token))
    assert wrong_side.status_code == 422 and "Name" in wrong_side.content.decode()
    other_field = client.post(f"/api/v1/conflicts/{conflict.pk}/resolve", {"values": {"Phone": "1"}},
                              content_type="application/json", **bearer(token))
    assert other_field.status_code == 422 and "Name is in dispute" in other_field.json()["detail"]


def test_errors_can_be_listed_and_discarded_and_one_without_a_topic_is_not_retried(client, token, mapping):
    error = SyncError.objects.create(mapping=mapping, stage="convert", code="INVALID_VALUE",
                                     message="field NumberOfEmployees: cannot convert 'lots'", payload="{}")
    listed = client.get("/api/v1/errors", **bearer(token)).json()
    assert [(e["id"], e["code"]) for e in listed] == [(error.pk, "INVALID_VALUE")]
    assert client.post(f"/api/v1/errors/{error.pk}/retry", **bearer(token)).status_code == 409
    assert client.post(f"/api/v1/errors/{error.pk}/discard", **bearer(token)).status_code == 200
    assert client.get("/api/v1/errors", **bearer(token)).json() == []


def test_the_openapi_docs_are_for_staff_only(client, token):
    assert client.get("/api/v1/docs")["Location"].startswith("/accounts/login/?next=")
    staff = user_with_role("op", OPERATORS)
    client.force_login(staff)
    assert client.get("/api/v1/docs").status_code == 200
    assert "/api/v1/conflicts/{conflict_id}/resolve" in client.get("/api/v1/openapi.json").json()["paths"]
