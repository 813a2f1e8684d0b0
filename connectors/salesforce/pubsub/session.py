"""Pub/Sub API credentials from our REST session: access token, instance URL and org id."""
from __future__ import annotations

from typing import Callable

from simple_salesforce import Salesforce

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.pubsub.client import PubSubAuth, org_id_from_identity_url


def pubsub_auth(client: SalesforceClient) -> Callable[[bool], PubSubAuth]:
    """An auth source for PubSubClient. Each call makes one REST call (the API's resource list,
    which names the identity URL holding the org id); made through SalesforceClient, it also
    logs in again when the session has expired, which is what a refused session calls for."""

    def read(sf: Salesforce) -> PubSubAuth:
        resources = sf.restful("")
        if not resources:
            raise RuntimeError("salesforce: the API's resource list came back empty")
        return PubSubAuth(access_token=sf.session_id, instance_url=f"https://{sf.sf_instance}",
                          tenant_id=org_id_from_identity_url(resources["identity"]))

    def fetch(refresh: bool) -> PubSubAuth:
        return client.call(read)

    return fetch
