"""REST API for publishing platform events to Salesforce."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import field_validator

from connectors.models import SalesforceOrg
from connectors.operations import platform_events
from dashboard.schemas import Message, answers

router = Router(tags=["events"])


class OrderUpdateIn(Schema):
    order_id: str = Field(description="The Salesforce Id (15 or 18 characters, prefix 801) of an existing Order.",
                          json_schema_extra={"pattern": platform_events.ORDER_ID.pattern})
    status: str = Field(min_length=1, max_length=platform_events.STATUS_MAX_LENGTH,
                        json_schema_extra={"pattern": platform_events.STATUS_PATTERN})
    org: str | None = Field(default=None, description="The Salesforce org; optional when only one is configured.")

    @field_validator("order_id")
    @classmethod
    def is_order_id(cls, value: str) -> str:
        problem = platform_events.order_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("status")
    @classmethod
    def is_storable(cls, value: str) -> str:
        problem = platform_events.status_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class PublishedOut(Schema):
    event: str
    event_id: str
    org: str


@router.post("/events/order-update", response=answers({202: PublishedOut}, 400, 404, 422, 502, 503))
def order_update(request: HttpRequest, payload: OrderUpdateIn) -> Any:
    """Publish an `Order_Update__e` platform event to Salesforce, for an Order that exists there."""
    try:
        org = platform_events.default_org(payload.org)
    except (SalesforceOrg.DoesNotExist, LookupError) as exc:
        detail = str(exc) if isinstance(exc, LookupError) else f"no Salesforce org {payload.org!r}"
        return Status(404, Message(detail=detail))
    try:
        exists = platform_events.order_exists(org, payload.order_id)
        published = platform_events.publish_order_update(org, payload.order_id, payload.status) if exists else None
    except platform_events.PublishRefused as exc:
        return Status(502, Message(detail=str(exc)))
    if published is None:
        raise ValidationError([{"loc": ["body", "payload", "order_id"], "type": "exists",
                                "msg": f"Salesforce org {org.name} has no Order {payload.order_id}"}])
    return Status(202, PublishedOut(event=platform_events.ORDER_UPDATE_EVENT, event_id=published.event_id,
                                    org=published.org))

