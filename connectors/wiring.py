"""From connection and mapping rows to the plain settings the adapters take."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings

from connectors.engine.mapping import MappingSpec, build_field_specs
from connectors.kafka.config import KafkaSettings
from connectors.models import KafkaCluster, ObjectMapping, SalesforceOrg
from connectors.salesforce.auth import SalesforceCredentials
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.pubsub.client import PubSubClient
from connectors.salesforce.pubsub.session import pubsub_auth
from connectors.secret_value import readable


def kafka_settings(cluster: KafkaCluster) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=cluster.bootstrap_servers,
        topic_prefix=cluster.topic_prefix,
        partitions=cluster.partitions,
        replication_factor=cluster.replication_factor,
        security_protocol=cluster.security_protocol,
        sasl_mechanism=cluster.sasl_mechanism,
        sasl_username=cluster.sasl_username,
        sasl_password=readable(cluster.sasl_password, f"the SASL password of Kafka cluster {cluster.name}"),
        fetch_wait_ms=int(settings.SYNC["KAFKA_FETCH_WAIT_MS"]),
    )


def salesforce_credentials(org: SalesforceOrg) -> SalesforceCredentials:
    return SalesforceCredentials(
        login_url=org.login_url,
        auth_flow=org.auth_flow,
        username=org.username,
        password=readable(org.password, f"the password of Salesforce org {org.name}"),
        security_token=readable(org.security_token, f"the security token of Salesforce org {org.name}"),
        client_id=org.client_id,
        client_secret=readable(org.client_secret, f"the client secret of Salesforce org {org.name}"),
        api_version=org.api_version,
        ca_bundle=org.ca_bundle,
    )


def salesforce_client(org: SalesforceOrg, **kwargs: Any) -> SalesforceClient:
    """A client for the org; `kwargs` are SalesforceClient's options (retry_for_seconds, should_stop)."""
    return SalesforceClient(salesforce_credentials(org), client_name=settings.SYNC["CLIENT_NAME"], **kwargs)


def pubsub_client(org: SalesforceOrg, salesforce: SalesforceClient) -> PubSubClient:
    """A Pub/Sub API client on the org's endpoint and CA bundle, authenticated by `salesforce`'s session."""
    return PubSubClient(org.pubsub_endpoint, pubsub_auth(salesforce), ca_bundle=org.ca_bundle)


def shared_salesforce_client(org: SalesforceOrg) -> SalesforceClient:
    """One logged-in client per org's credentials for the web process's requests, instead of a
    login per request; changed credentials make a new one."""
    return _shared_salesforce_client(salesforce_credentials(org), settings.SYNC["CLIENT_NAME"])


@lru_cache(maxsize=16)
def _shared_salesforce_client(credentials: SalesforceCredentials, client_name: str) -> SalesforceClient:
    # Requests wait for a human: give up on an unreachable org within seconds, not minutes.
    return SalesforceClient(credentials, client_name=client_name, retry_for_seconds=30.0)


def mapping_spec(mapping: ObjectMapping) -> MappingSpec:
    rows = mapping.fields.filter(enabled=True).values_list(
        "sf_field", "mongo_field", "sf_type", "conversion", "sf_writable"
    )
    return MappingSpec(
        name=mapping.name,
        sf_object=mapping.sf_object,
        collection=mapping.collection,
        key_field=mapping.key_field,
        delete_mode=mapping.delete_mode,
        fields=build_field_specs(rows),
        conflict_policy=mapping.conflict_policy,
        two_way=mapping.direction == ObjectMapping.Direction.BOTH,
        sf_external_id_field=mapping.sf_external_id_field,
        propagate_mongo_deletes=mapping.propagate_mongo_deletes,
    )
