"""Schema drift against the real emulator: fields added, removed and retyped in Salesforce are
found, capture keeps syncing without a removed field, and accepting the drift fixes the mapping."""
from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from connectors.engine.naming import suggest_mongo_name
from connectors.mappings import describe_cache, schema_drift
from connectors.models import ObjectMapping, SchemaDrift
from connectors.workers.registry import build_workers
from connectors.workers.schema_watch import SchemaWatch
from sfemulator.control import EmulatorControlError
from tests.connectors.helpers import step_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields(emulator, unique):
    """Names of three custom Account fields for this test; the emulator's schema is put back after."""
    describe_cache.forget()
    yield {kind: f"{kind.capitalize()}_{unique}__c" for kind in ("gone", "retyped", "new")}
    emulator.reset_schema()
    describe_cache.forget()


@pytest.fixture
def accounts(sync_settings, emulator, fields) -> ObjectMapping:
    """The Account mapping, made from describe while the gone and retyped fields exist, checked once."""
    emulator.alter_field("Account", fields["gone"], "string")
    emulator.alter_field("Account", fields["retyped"], "string")
    call_command("setupsync", objects="Account", stdout=StringIO())
    mapping = ObjectMapping.objects.get(name="accounts")
    assert schema_drift.check_mapping(mapping) == [], "a mapping fresh from describe has no drift"
    return mapping


def drift_of(mapping: ObjectMapping) -> set[tuple[str, str, str, str]]:
    return {(d.field, d.kind, d.old_type, d.new_type) for d in schema_drift.open_drift(mapping)}


def change_salesforce(emulator, fields) -> None:  # type: ignore[no-untyped-def]
    emulator.alter_field("Account", fields["gone"], None)
    emulator.alter_field("Account", fields["retyped"], "double")
    emulator.alter_field("Account", fields["new"], "picklist")


def test_added_removed_and_retyped_fields_are_found(accounts, emulator, fields):
    change_salesforce(emulator, fields)
    out = StringIO()
    call_command("checkschema", stdout=out)
    assert drift_of(accounts) == {
        (fields["gone"], "removed", "string", ""),
        (fields["retyped"], "changed", "string", "double"),
        (fields["new"], "added", "", "picklist"),
    }
    assert f"{fields['gone']} removed" in out.getvalue() and f"{fields['new']} added" in out.getvalue()
    call_command("checkschema", stdout=StringIO())
    assert schema_drift.open_drift().count() == 3, "checking again neither repeats nor forgets drift"


def test_drift_that_goes_away_in_salesforce_is_dropped(accounts, emulator, fields):
    emulator.alter_field("Account", fields["gone"], None)
    schema_drift.check_mapping(accounts)
    assert drift_of(accounts) == {(fields["gone"], "removed", "string", "")}
    emulator.alter_field("Account", fields["gone"], "string")
    schema_drift.check_mapping(accounts)
    assert drift_of(accounts) == set()


def test_unmapped_fields_that_were_there_at_the_first_check_are_not_drift(accounts):
    accounts.fields.filter(sf_field="Description").delete()
    schema_drift.check_mapping(accounts)
    assert drift_of(accounts) == set(), "leaving a field unmapped on purpose is not drift"


def test_accepting_schema_changes_in_the_admin_fixes_the_mapping(accounts, emulator, fields, client):
    client.force_login(get_user_model().objects.create_superuser("operator", "op@example.com", "pw-operator-1"))
    change_salesforce(emulator, fields)
    schema_drift.check_mapping(accounts)
    listing = client.get("/admin/connectors/objectmapping/?schema_drift=open").content.decode()
    assert "3 open" in listing
    page = client.get(f"/admin/connectors/objectmapping/{accounts.pk}/change/").content.decode()
    assert 'id="schema-drift-banner"' in page and f"{fields['gone']}: Mapped field removed from Salesforce" in page
    accounts.fields.filter(sf_field=fields["retyped"]).update(conversion="string")
    response = client.post("/admin/connectors/objectmapping/",
                           {"action": "accept_schema_changes", "_selected_action": [str(accounts.pk)]})
    assert response.status_code == 302
    mapped = {f.sf_field: f for f in accounts.fields.all()}
    assert fields["gone"] not in mapped
    assert (mapped[fields["retyped"]].sf_type, mapped[fields["retyped"]].conversion) == ("double", "string")
    added = mapped[fields["new"]]
    assert (added.sf_type, added.mongo_field) == ("picklist", suggest_mongo_name(fields["new"]))
    assert schema_drift.open_drift().count() == 0 and SchemaDrift.objects.filter(accepted=True).count() == 3
    assert schema_drift.check_mapping(accounts) == [], "the accepted mapping matches Salesforce"
    page = client.get(f"/admin/connectors/objectmapping/{accounts.pk}/change/").content.decode()
    assert 'id="schema-drift-banner"' not in page


def test_capture_keeps_syncing_when_a_mapped_field_is_removed_in_salesforce(make_workers, emulator, fields, sf, mongo):
    emulator.alter_field("Account", fields["gone"], "string")
    workers = make_workers(kinds=("sf-capture", "mongo-apply"))
    capture = next(w for w in workers if w.name.startswith("sf-capture"))
    mapping = ObjectMapping.objects.get(name="accounts")
    step_until(workers, lambda: mongo.accounts.count_documents({}) >= 60, message="the backfill")
    account_id = sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 1")["records"][0]["Id"]

    emulator.alter_field("Account", fields["gone"], None)
    sf.Account.update(account_id, {"Name": "Renamed after the field went"})
    step_until(workers, lambda: (mongo.accounts.find_one({"sf_id": account_id}) or {}).get("name")
               == "Renamed after the field went", message="the rename to reach MongoDB")
    assert drift_of(mapping) == {(fields["gone"], "removed", "string", "")}
    assert capture.counters["removed_fields_skipped"] == 1


def test_write_back_leaves_out_a_field_with_open_removed_drift(make_workers, emulator, fields):
    emulator.alter_field("Account", fields["gone"], "string")
    [apply] = make_workers(kinds=("sf-apply",))
    mapping = ObjectMapping.objects.get(name="accounts")
    assert fields["gone"] in apply._targets["accounts"].spec.sf_field_names
    emulator.alter_field("Account", fields["gone"], None)
    schema_drift.check_mapping(mapping)
    apply._load_targets()  # what its periodic mapping refresh does
    written = apply._targets["accounts"].spec.sf_field_names
    assert fields["gone"] not in written and "Name" in written


def test_schema_watch_checks_every_mapping_when_due_and_then_waits(accounts, emulator, fields):
    watch = next(w for w in build_workers({"schema-watch"}, threading.Event()) if isinstance(w, SchemaWatch))
    emulator.alter_field("Account", fields["gone"], None)
    assert watch.step() is False
    assert watch.counters["checks"] == 1 and watch.counters["mappings_checked"] == 1
    assert drift_of(accounts) == {(fields["gone"], "removed", "string", "")}
    assert watch.idle_seconds() > 60, "the next check waits SCHEMA_CHECK_SECONDS"
    watch.step()
    assert watch.counters["checks"] == 1


def test_the_emulator_refuses_to_change_a_system_field(emulator):
    with pytest.raises(EmulatorControlError) as refused:
        emulator.alter_field("Account", "SystemModstamp", None)
    assert refused.value.response.status_code == 400 and "system field" in refused.value.response.text
