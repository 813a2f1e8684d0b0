"""Publishing platform events to Salesforce (the original system's order-update flow).

Events are published through the REST API as an sObject create, which Salesforce
accepts for every platform event (`POST /sobjects/<Name>__e/`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from simple_salesforce.exceptions import SalesforceError

from connectors.kafka.config import relay_topic
from connectors.mappings.field_rules import STORABLE_TEXT, text_problem
from connectors.models import EventRelay, SalesforceOrg
from connectors.operations.unavailable import translated
from connectors.wiring import shared_salesforce_client

ORDER_UPDATE_EVENT = "Order_Update__e"
ORDER_ID = re.compile(r"^801[0-9A-Za-z]{12}([0-9A-Za-z]{3})?$")
STATUS_MAX_LENGTH = 40
#: What a status Salesforce can store matches (JSON Schema `pattern`).
STATUS_PATTERN = STORABLE_TEXT


class PublishRefused(RuntimeError):
    """Salesforce did not take the event; the message is Salesforce's own."""


@dataclass(frozen=True)
class Published:
    event_id: str
    org: str


def order_id_problem(order_id: str) -> str | None:
    """Why `order_id` is not an Order's Salesforce Id, or None."""
    if ORDER_ID.match(order_id):
        return None
    return "must be an Order's Salesforce Id: 15 or 18 letters and digits starting with 801"


def status_problem(status: str) -> str | None:
    """Why Salesforce cannot store `status` in the event's text field, or None."""
    problem = text_problem(status, None)
    return problem.message if problem else None


def default_org(name: str | None) -> SalesforceOrg:
    """The named org, or the only one configured. Raises SalesforceOrg.DoesNotExist / LookupError."""
    if name:
        return SalesforceOrg.objects.get(name=name)
    orgs = list(SalesforceOrg.objects.all()[:2])
    if len(orgs) != 1:
        raise LookupError(
            "name the Salesforce org (`org`): " + ("none is configured" if not orgs else "there are several")
        )
    return orgs[0]


@translated()
def order_exists(org: SalesforceOrg, order_id: str) -> bool:
    """Whether the org has this Order. Raises PublishRefused when Salesforce refuses the lookup,
    ServiceUnavailable when it does not answer."""
    if order_id_problem(order_id):
        return False  # and nothing but letters and digits reaches the SOQL literal below
    try:
        found = shared_salesforce_client(org).call(
            lambda sf: sf.query(f"SELECT Id FROM Order WHERE Id = '{order_id}'"))
    except SalesforceError as exc:
        raise PublishRefused(f"Salesforce refused the Order lookup: {exc.content!r}") from exc
    return bool(found.get("totalSize"))


@translated()
def publish_order_update(org: SalesforceOrg, order_id: str, status: str) -> Published:
    """Raises PublishRefused, or ServiceUnavailable when Salesforce does not answer."""
    client = shared_salesforce_client(org)
    try:
        result = client.call(lambda sf: getattr(sf, ORDER_UPDATE_EVENT).create(
            {"Order_Id__c": order_id, "Status__c": status}))
    except SalesforceError as exc:
        raise PublishRefused(f"Salesforce refused the {ORDER_UPDATE_EVENT} event: {exc.content!r}") from exc
    if not result.get("success"):
        raise PublishRefused(f"Salesforce refused the {ORDER_UPDATE_EVENT} event: {result.get('errors')}")
    return Published(event_id=result["id"], org=org.name)


def relay_topic_of(relay: EventRelay) -> str:
    """The Kafka topic a relay publishes its channel's events to."""
    return relay_topic(relay.kafka.topic_prefix, relay.channel)
