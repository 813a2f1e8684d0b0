"""POST /api/v1/events/order-update publishes an Order_Update__e platform event to Salesforce."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from dashboard.models import ApiToken
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db
ORDER_ID = "801Hn0000000001AAA"


@pytest.fixture
def auth() -> dict[str, str]:
    user = user_with_role("robot", OPERATORS)
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'ci')[1]}"}


def post(client, body, **headers):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/events/order-update", body, content_type="application/json", **headers)


def test_anonymous_callers_are_refused(client):
    assert post(client, {"order_id": ORDER_ID, "status": "Shipped"}).status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"order_id": "001Hn0000000001AAA", "status": "Shipped"}, "order_id"),
    ({"order_id": ORDER_ID, "status": ""}, "status"),
    ({"order_id": ORDER_ID}, "status"),
    ({"order_id": ORDER_ID, "status": "x" * 41}, "status"),
])
def test_an_invalid_payload_is_a_422_naming_the_field(client, auth, body, field):
    answer = post(client, body, **auth)
    assert answer.status_code == 422
    assert [e["loc"][-1] for e in answer.json()["detail"]] == [field]


def test_without_an_org_the_answer_says_so(client, auth):
    answer = post(client, {"order_id": ORDER_ID, "status": "Shipped"}, **auth)
    assert answer.status_code == 404 and "none is configured" in answer.json()["detail"]


@pytest.fixture
def order_id(sf) -> str:
    """An Order that exists in the emulated org."""
    account = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    return sf.Order.create({"AccountId": account, "EffectiveDate": "2026-01-31", "Status": "Draft"})["id"]


def test_the_event_is_published_to_salesforce(client, auth, sync_settings, order_id):
    call_command("setupsync", objects="Account")
    answer = post(client, {"order_id": order_id, "status": "Shipped"}, **auth)
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["event"] == "Order_Update__e" and body["event_id"].startswith("e00") and body["org"]


@pytest.mark.parametrize("status, rule", [("Ship\x00ped", "U+0000"), ("x" * 100_000, "at most 40")])
def test_a_status_salesforce_cannot_store_is_a_422(client, auth, sync_settings, order_id, status, rule):
    call_command("setupsync", objects="Account")
    answer = post(client, {"order_id": order_id, "status": status}, **auth)
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"][-1] == "status" and rule in error["msg"]


def test_an_order_that_does_not_exist_in_salesforce_is_a_422_naming_it(client, auth, sync_settings):
    call_command("setupsync", objects="Account")
    missing = "801Hn0000ZZZZZZ"
    answer = post(client, {"order_id": missing, "status": "Shipped"}, **auth)
    assert answer.status_code == 422, answer.content
    [error] = answer.json()["detail"]
    assert error["loc"][-1] == "order_id" and error["type"] == "exists" and missing in error["msg"]
