"""'Test connection' for each kind of connection: one precise line saying what worked or what failed."""
from __future__ import annotations

import re

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pymongo.errors import PyMongoError

from connectors.models import KafkaCluster, MongoTarget, SalesforceOrg
from connectors.mongo.client import MongoUnavailable, connect
from connectors.salesforce.auth import SalesforceLoginError
from connectors.secret_value import UnreadableSecretError
from connectors.wiring import kafka_settings, salesforce_client


def check_salesforce(org: SalesforceOrg) -> tuple[bool, str]:
    try:
        client = salesforce_client(org, retry_for_seconds=5)
    except UnreadableSecretError as exc:
        return False, f"salesforce: {exc}"
    try:
        limits = client.call(lambda sf: sf.restful("limits"))
    except SalesforceLoginError as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001 - reported to the person, not swallowed
        return False, f"salesforce: logged in, but the API refused a call ({type(exc).__name__}: {exc})"
    daily = (limits or {}).get("DailyApiRequests", {})
    return True, (f"salesforce: logged in to {org.login_url} as {org.username or org.client_id}; "
                  f"API requests left today: {daily.get('Remaining', '?')} of {daily.get('Max', '?')}")


def check_kafka(cluster: KafkaCluster) -> tuple[bool, str]:
    try:
        settings = kafka_settings(cluster)
    except UnreadableSecretError as exc:
        return False, f"kafka: {exc}"
    admin = AdminClient({**settings.client_config(), "socket.timeout.ms": 5000})
    try:
        metadata = admin.list_topics(timeout=5)
    except KafkaException as exc:
        return False, f"kafka: {cluster.bootstrap_servers} did not answer within 5 s ({exc.args[0].str()})"
    ours = sorted(t for t in metadata.topics if t.startswith(f"{cluster.topic_prefix}."))
    return True, (f"kafka: {len(metadata.brokers)} broker(s) at {cluster.bootstrap_servers}; "
                  f"{len(ours)} topic(s) with prefix {cluster.topic_prefix!r}")


def check_mongo(target: MongoTarget) -> tuple[bool, str]:
    try:
        client = connect(target.uri, timeout_ms=5000)
    except MongoUnavailable as exc:
        return False, str(exc)
    except UnreadableSecretError as exc:
        return False, f"mongodb: {exc}"
    except (PyMongoError, ValueError) as exc:
        # pymongo refuses a malformed URI before connecting (InvalidURI, ConfigurationError, ValueError).
        return False, (f"mongodb: the connection URI is malformed ({_without_secret(str(exc), target.uri)}); "
                       "correct the URI of this MongoDB connection")
    try:
        names = client[target.database].list_collection_names()
        version = client.server_info().get("version", "?")
    except Exception as exc:  # noqa: BLE001 - e.g. not authorised on this database
        return False, f"mongodb: connected, but database {target.database!r} refused: {exc}"
    finally:
        client.close()
    return True, f"mongodb: server {version}; database {target.database!r} has {len(names)} collection(s)"


def _without_secret(text: str, uri: str) -> str:
    """`text` with the URI's user:password part blanked, should pymongo ever quote it."""
    userinfo = re.match(r"^[^:/]*://([^@/]+)@", uri)
    return text.replace(userinfo.group(1), "…") if userinfo else text
