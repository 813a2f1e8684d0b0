"""The admin's *Test connection* action says one line per selected row, whatever one row holds,
and a refused Salesforce login quotes Salesforce's own reason."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from connectors.models import MongoTarget, SalesforceOrg

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-1234"))
    return client


def run_action(admin_client, model: str, pks: list[int]) -> tuple[int, list[str]]:
    response = admin_client.post(f"/admin/connectors/{model}/", {"action": "test_connection", "_selected_action": pks},
                                 follow=True)
    return response.status_code, [str(m) for m in response.context["messages"]] if response.context else []


def test_a_malformed_mongodb_uri_is_one_line_and_the_other_rows_are_still_checked(admin_client, sync_settings):
    call_command("setupsync", no_mappings=True)
    good = MongoTarget.objects.get()
    bad = MongoTarget.objects.create(name="typo", uri="mongodb://robot:s3cret-pw@db.example:notaport", database="x")
    status, lines = run_action(admin_client, "mongotarget", [good.pk, bad.pk])
    assert status == 200
    assert len(lines) == 2
    good_line, bad_line = (next(line for line in lines if line.startswith(f"{row}: ")) for row in (good, bad))
    assert "collection(s)" in good_line
    assert "URI is malformed" in bad_line and "Port" in bad_line
    assert "s3cret-pw" not in bad_line


def test_a_refused_login_quotes_salesforce_s_reason(admin_client, sync_settings):
    call_command("setupsync", no_mappings=True)
    SalesforceOrg.objects.update(password="wrong")
    _, lines = run_action(admin_client, "salesforceorg", [SalesforceOrg.objects.get().pk])
    assert len(lines) == 1
    assert "refused (invalid_grant: authentication failure)" in lines[0], lines[0]
    assert "{content}" not in lines[0]
