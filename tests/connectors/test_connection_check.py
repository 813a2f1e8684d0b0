"""The admin's "Test connection" action: one precise line per connection, against the real services."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from connectors.models import KafkaCluster, MongoTarget, SalesforceOrg
from devstack.health import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-1234"))
    return client


def run_action(admin_client, model: str, pk: int) -> str:
    response = admin_client.post(f"/admin/connectors/{model}/", {"action": "test_connection", "_selected_action": [pk]},
                                 follow=True)
    return " ".join(str(m) for m in response.context["messages"])


def test_working_connections_say_what_they_found(admin_client, sync_settings):
    call_command("setupsync", no_mappings=True)
    assert "logged in to" in run_action(admin_client, "salesforceorg", SalesforceOrg.objects.get().pk)
    assert "broker(s) at" in run_action(admin_client, "kafkacluster", KafkaCluster.objects.get().pk)
    assert "collection(s)" in run_action(admin_client, "mongotarget", MongoTarget.objects.get().pk)


def test_failures_name_what_to_check(admin_client, sync_settings):
    call_command("setupsync", no_mappings=True)
    SalesforceOrg.objects.update(password="wrong")
    KafkaCluster.objects.update(bootstrap_servers=f"127.0.0.1:{free_port()}")
    MongoTarget.objects.update(uri=f"mongodb://127.0.0.1:{free_port()}")
    assert "refused" in run_action(admin_client, "salesforceorg", SalesforceOrg.objects.get().pk)
    assert "did not answer" in run_action(admin_client, "kafkacluster", KafkaCluster.objects.get().pk)
    assert "did not answer" in run_action(admin_client, "mongotarget", MongoTarget.objects.get().pk)
