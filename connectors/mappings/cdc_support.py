"""Which objects an org publishes change events for (Setup > Change Data Capture)."""
from __future__ import annotations

from connectors.models import SalesforceOrg
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.pubsub.client import PubSubError, UnknownTopic
from connectors.wiring import pubsub_client, salesforce_client


def change_event_topic(sf_object: str) -> str:
    """`Account` -> `/data/AccountChangeEvent`; custom `Order__c` -> `/data/Order__ChangeEvent`."""
    base = sf_object[:-3] + "__" if sf_object.endswith("__c") else sf_object
    return f"/data/{base}ChangeEvent"


def publishes_change_events(org: SalesforceOrg, sf_object: str, client: SalesforceClient | None = None) -> bool:
    """True when the object's change event topic exists. Raises PubSubError when the Pub/Sub
    API cannot be asked (unreachable, refused)."""
    pubsub = pubsub_client(org, client or salesforce_client(org, retry_for_seconds=10.0))
    try:
        pubsub.get_topic(change_event_topic(sf_object))
    except UnknownTopic:
        return False
    finally:
        pubsub.close()
    return True


__all__ = ["PubSubError", "change_event_topic", "publishes_change_events"]
