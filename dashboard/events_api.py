"""REST API for publishing platform events to Salesforce."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import field_validator

from connectors import platform_events
from connectors.models import SalesforceOrg
from dashboard.schemas import Message

router = Router(tags=["events"])


class OrderUpdateIn(Schema):
    order_id: str = Field(description="The Order's Salesforce Id (15 or 18 characters, prefix 801).")
    status: str = Field(min_length=1, max_length=platform_events.STATUS_MAX_LENGTH)
    org: str | None = Field(default=None, description="The Salesforce org; optional when only one is configured.")

    @field_validator("order_id")
    @classmethod
    def is_order_id(cls, value: str) -> str:
        problem = platform_events.order_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class PublishedOut(Schema):
    event: str
    event_id: str
    org: str


@router.post("/events/order-update", response={202: PublishedOut, 404: Message, 502: Message})
def order_update(request: HttpRequest, payload: OrderUpdateIn) -> Any:
    """Publish an `Order_Update__e` platform event to Salesforce."""
    try:
        org = platform_events.default_org(payload.org)
    except (SalesforceOrg.DoesNotExist, LookupError) as exc:
        return Status(404, Message(detail=str(exc) if isinstance(exc, LookupError) else f"no Salesforce org {payload.org!r}"))
    try:
        published = platform_events.publish_order_update(org, payload.order_id, payload.status)
    except platform_events.PublishRefused as exc:
        return Status(502, Message(detail=str(exc)))
    return Status(202, PublishedOut(event=platform_events.ORDER_UPDATE_EVENT, event_id=published.event_id,
                                    org=published.org))
