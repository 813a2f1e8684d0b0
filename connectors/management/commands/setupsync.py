"""python manage.py setupsync: default connections from the environment and the demo mappings."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from connectors.mappings.cdc_support import publishes_change_events
from connectors.mappings.mapping_builder import create_mapping_from_describe
from connectors.mappings.mongo_schema import indexed_fields
from connectors.models import EventRelay, KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg
from connectors.mongo.client import MongoUnavailable, connect
from connectors.mongo.setup import DuplicateKeys, ensure_collection
from connectors.salesforce.auth import SalesforceLoginError
from connectors.wiring import salesforce_client

DEMO_OBJECTS = {"Account": "accounts", "Contact": "contacts", "Opportunity": "opportunities", "Order": "orders"}


class Command(BaseCommand):
    help = "Create the default Salesforce, Kafka and MongoDB connections from the environment, and mappings."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--objects", default=",".join(DEMO_OBJECTS),
                            help="Salesforce objects to map (default: the demo org's).")
        parser.add_argument("--no-mappings", action="store_true", help="Only create the connections.")
        parser.add_argument("--direction", default="both", choices=[d.value for d in ObjectMapping.Direction],
                            help="Direction of new mappings (default: both ways).")
        parser.add_argument("--conflict-policy", default="manual",
                            choices=[p.value for p in ObjectMapping.ConflictPolicy])
        parser.add_argument("--relays", default="",
                            help="Platform event channels to relay to MongoDB, comma-separated "
                                 "(e.g. /event/Order_Update__e -> collection order_updates).")
        parser.add_argument("--capture", default="polling", choices=[c.value for c in ObjectMapping.CaptureMode],
                            help="How Salesforce changes are captured: polling, or Change Data Capture (cdc) "
                                 "for objects that publish change events.")

    def handle(self, *args: Any, **options: Any) -> None:
        sync = settings.SYNC
        org, _ = SalesforceOrg.objects.update_or_create(
            name="default",
            defaults={
                "login_url": sync["SF_LOGIN_URL"],
                "auth_flow": SalesforceOrg.AuthFlow.OAUTH_PASSWORD if sync["SF_CLIENT_ID"]
                else SalesforceOrg.AuthFlow.SOAP_PASSWORD,
                "username": sync["SF_USERNAME"],
                "password": sync["SF_PASSWORD"],
                "security_token": sync["SF_SECURITY_TOKEN"],
                "client_id": sync["SF_CLIENT_ID"],
                "client_secret": sync["SF_CLIENT_SECRET"],
                "api_version": sync["SF_API_VERSION"],
                "ca_bundle": sync["SF_CA_BUNDLE"],
                "pubsub_endpoint": sync["SF_PUBSUB_ENDPOINT"],
            },
        )
        kafka, _ = KafkaCluster.objects.update_or_create(
            name="default",
            defaults={
                "bootstrap_servers": sync["KAFKA_BOOTSTRAP_SERVERS"],
                "topic_prefix": sync["KAFKA_TOPIC_PREFIX"],
                "partitions": sync["KAFKA_TOPIC_PARTITIONS"],
                "replication_factor": sync["KAFKA_REPLICATION_FACTOR"],
            },
        )
        mongo, _ = MongoTarget.objects.update_or_create(
            name="default", defaults={"uri": sync["MONGODB_URI"], "database": sync["MONGODB_DATABASE"]}
        )
        self.stdout.write(f"connections: salesforce {org.login_url}, kafka {kafka.bootstrap_servers}, "
                          f"mongodb database {mongo.database}")
        for channel in [c.strip() for c in options["relays"].split(",") if c.strip()]:
            relay = ensure_relay(channel, org, kafka, mongo)
            self.stdout.write(f"relay {relay.name}: {relay.channel} -> {relay.collection}")
        if options["no_mappings"]:
            return
        client = salesforce_client(org, retry_for_seconds=30)
        for sf_object in [o.strip() for o in options["objects"].split(",") if o.strip()]:
            try:
                describe = client.describe(sf_object)
            except SalesforceLoginError as exc:
                raise CommandError(str(exc)) from None
            collection = DEMO_OBJECTS.get(sf_object, sf_object.lower())
            capture = options["capture"]
            if capture == ObjectMapping.CaptureMode.CDC and not publishes_change_events(org, sf_object, client):
                self.stdout.write(f"{sf_object} publishes no change events (Setup > Change Data Capture): "
                                  "it is captured by polling")
                capture = ObjectMapping.CaptureMode.POLLING
            mapping = create_mapping_from_describe(
                describe, name=collection, org=org, kafka=kafka, mongo=mongo, collection=collection,
                poll_interval_seconds=sync["POLL_INTERVAL_SECONDS"],
                direction=options["direction"],
                conflict_policy=options["conflict_policy"],
                capture_mode=capture,
            )
            self.stdout.write(f"mapping {mapping.name}: {sf_object} -> {collection} "
                              f"({mapping.fields.count()} fields, capture by {mapping.capture_mode})")
            self.stdout.write(f"  {prepare_collection(mapping)}")


def prepare_collection(mapping: ObjectMapping) -> str:
    """Create a mapping's collection and indexes (the unique index on its Salesforce Id key field
    included); one line saying what was done, or which documents stand in the way."""
    try:
        client = connect(mapping.mongo.uri)
    except MongoUnavailable as exc:
        return f"{exc}; the workers create the collection and its indexes when they start"
    try:
        ensure_collection(client[mapping.mongo.database], mapping.collection, indexed_fields(mapping),
                          key_field=mapping.key_field)
    except DuplicateKeys as exc:
        return f"NOT unique: {exc}"
    finally:
        client.close()
    return f"{mapping.mongo.database}.{mapping.collection}: unique index on {mapping.key_field}"


def ensure_relay(channel: str, org: SalesforceOrg, kafka: KafkaCluster, mongo: MongoTarget) -> EventRelay:
    """`/event/Order_Update__e` -> relay `order-update` into collection `order_updates`."""
    event = channel.rstrip("/").rsplit("/", 1)[-1].removesuffix("__e")
    relay, _ = EventRelay.objects.get_or_create(
        channel=channel,
        defaults={"name": slugify(event.replace("_", "-")), "org": org, "kafka": kafka, "mongo": mongo,
                  "collection": f"{event.lower()}s"},
    )
    return relay
