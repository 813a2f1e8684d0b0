"""POST /api/v1/events/order-update publishes an Order_Update__e platform event to Salesforce."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.models import ApiToken

pytestmark = pytest.mark.django_db
ORDER_ID = "801Hn0000000001AAA"


@pytest.fixture
def auth() -> dict[str, str]:
    user = get_user_model().objects.create_user("robot", password="pw-robot-1", is_staff=True)
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


def test_the_event_is_published_to_salesforce(client, auth, sync_settings):
    call_command("setupsync", objects="Account")
    answer = post(client, {"order_id": ORDER_ID, "status": "Shipped"}, **auth)
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["event"] == "Order_Update__e" and body["event_id"].startswith("e00") and body["org"]
