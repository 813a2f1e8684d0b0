"""The console and the admin: login required, secrets encrypted at rest and never shown back."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from connectors.models import KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg

pytestmark = pytest.mark.django_db
SECRET = "s3cret-Password-123"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("operator", "op@example.com", "pw-operator-1")
    client.force_login(user)
    return user


@pytest.fixture
def org() -> SalesforceOrg:
    return SalesforceOrg.objects.create(name="prod", login_url="https://login.salesforce.com", username="u@x.com",
                                        password=SECRET, security_token="TOKEN123", client_secret="csecret")


def test_the_console_sends_anonymous_visitors_to_its_own_log_in_page(client):
    response = client.get("/errors/?status=all")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/errors/%3Fstatus%3Dall"


def test_a_user_without_a_role_is_refused_with_a_reason(client):
    client.force_login(get_user_model().objects.create_user("viewer", password="pw-viewer-1"))
    response = client.get("/")
    assert response.status_code == 403 and "has no console role" in response.content.decode()


def test_staff_see_each_mapping_with_its_state(client, staff, org):
    kafka = KafkaCluster.objects.create(name="k", bootstrap_servers="127.0.0.1:9092")
    mongo = MongoTarget.objects.create(name="m", uri="mongodb://127.0.0.1", database="db")
    ObjectMapping.objects.create(name="accounts", org=org, kafka=kafka, mongo=mongo, sf_object="Account",
                                 collection="accounts", direction="both")
    page = client.get("/").content.decode()
    assert "accounts" in page and "Both ways" in page


def test_secrets_are_encrypted_in_the_database(org):
    with connection.cursor() as cursor:
        cursor.execute("SELECT password, security_token FROM connectors_salesforceorg WHERE id = %s", [org.pk])
        stored = cursor.fetchone()
    assert SECRET not in stored[0] and "TOKEN123" not in stored[1]
    assert SalesforceOrg.objects.get(pk=org.pk).password == SECRET


def test_the_admin_never_shows_a_secret_back_and_keeps_it_when_left_blank(client, staff, org):
    form = client.get(f"/admin/connectors/salesforceorg/{org.pk}/change/").content.decode()
    assert SECRET not in form and "TOKEN123" not in form and "csecret" not in form
    response = client.post(f"/admin/connectors/salesforceorg/{org.pk}/change/", {
        "name": "prod", "login_url": "https://login.salesforce.com", "auth_flow": "oauth_password",
        "username": "u@x.com", "password": "", "security_token": "", "client_id": "", "client_secret": "",
        "api_version": "62.0", "ca_bundle": "", "pubsub_endpoint": "api.pubsub.salesforce.com:7443",
    })
    assert response.status_code == 302, response.content.decode()[:500]
    assert SalesforceOrg.objects.get(pk=org.pk).password == SECRET
