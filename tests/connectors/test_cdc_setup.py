"""Choosing Change Data Capture per mapping: only where the object publishes change events."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from connectors.admin import ObjectMappingForm
from connectors.models import ObjectMapping

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact_cdc_off(emulator):
    emulator.set_cdc("Contact", False)
    yield
    emulator.set_cdc("Contact", True)


def test_setupsync_captures_by_cdc_where_the_object_publishes_change_events(sync_settings, contact_cdc_off):
    out = StringIO()
    call_command("setupsync", objects="Account,Contact", capture="cdc", stdout=out)
    modes = dict(ObjectMapping.objects.values_list("sf_object", "capture_mode"))
    assert modes == {"Account": "cdc", "Contact": "polling"}
    assert "Contact publishes no change events" in out.getvalue()


def test_the_admin_refuses_cdc_for_an_object_without_change_events(sync_settings, contact_cdc_off):
    call_command("setupsync", objects="Contact", stdout=StringIO())
    mapping = ObjectMapping.objects.get()
    data = {name: getattr(mapping, name) for name in ("name", "sf_object", "collection", "direction", "key_field",
                                                      "delete_mode", "conflict_policy", "sf_external_id_field",
                                                      "poll_interval_seconds", "enabled")}
    data.update(org=mapping.org_id, kafka=mapping.kafka_id, mongo=mapping.mongo_id, capture_mode="cdc")
    form = ObjectMappingForm(data, instance=mapping)
    assert not form.is_valid()
    assert "publishes no change events for Contact" in str(form.errors["capture_mode"])
    form = ObjectMappingForm({**data, "sf_object": "Account"}, instance=mapping)
    assert form.is_valid(), form.errors
