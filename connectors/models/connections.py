"""The three kinds of connection: a Salesforce org, a Kafka cluster, a MongoDB target.
Secrets are stored with Fernet encryption (FIELD_ENCRYPTION_KEY) and the admin never renders them back."""
from __future__ import annotations

from django.db import models

from connectors.models.secrets import SecretCharField, SecretTextField


class SalesforceOrg(models.Model):
    class AuthFlow(models.TextChoices):
        OAUTH_PASSWORD = "oauth_password", "OAuth 2.0 username-password (connected app)"
        CLIENT_CREDENTIALS = "client_credentials", "OAuth 2.0 client credentials (connected app)"
        SOAP_PASSWORD = "soap_password", "SOAP login: username, password and security token"

    name = models.SlugField(unique=True)
    login_url = models.URLField(
        help_text="https://login.salesforce.com, https://test.salesforce.com, your My Domain, "
        "or the emulator's address."
    )
    auth_flow = models.CharField(max_length=32, choices=AuthFlow.choices, default=AuthFlow.OAUTH_PASSWORD)
    username = models.CharField(max_length=255, blank=True)
    password = SecretCharField(max_length=255, blank=True)
    security_token = SecretCharField(max_length=255, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret = SecretCharField(max_length=255, blank=True)
    api_version = models.CharField(max_length=8, default="62.0")
    ca_bundle = models.CharField(
        max_length=500, blank=True, help_text="Path to a CA bundle for a private CA; empty uses the system CAs."
    )
    pubsub_endpoint = models.CharField(
        "Pub/Sub API endpoint",
        max_length=255,
        default="api.pubsub.salesforce.com:7443",
        help_text="host:port of the Pub/Sub API (gRPC) used by Change Data Capture; the emulator prints its own.",
    )

    def __str__(self) -> str:
        return self.name


class KafkaCluster(models.Model):
    name = models.SlugField(unique=True)
    bootstrap_servers = models.CharField(max_length=500)
    topic_prefix = models.CharField(max_length=100, default="sync")
    partitions = models.PositiveIntegerField(default=3)
    replication_factor = models.PositiveIntegerField(default=1)
    security_protocol = models.CharField(
        max_length=20,
        default="PLAINTEXT",
        choices=[(p, p) for p in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")],
    )
    sasl_mechanism = models.CharField(max_length=20, blank=True, help_text="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    sasl_username = models.CharField(max_length=255, blank=True)
    sasl_password = SecretCharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.name


class MongoTarget(models.Model):
    name = models.SlugField(unique=True)
    uri = SecretTextField(help_text="mongodb:// or mongodb+srv:// URI; may hold credentials, stored encrypted.")
    database = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.name} ({self.database})"
