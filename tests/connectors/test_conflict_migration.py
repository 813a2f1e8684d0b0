"""The migration that allows one open conflict per record folds the duplicates an older version
left (reconcile runs, dry runs included), keeping the oldest and the changes waiting behind all."""
from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("latest_schema_after")]

BEFORE = [("connectors", "0009_timeline_version_length")]
AFTER = [("connectors", "0010_reconcile_safe")]


def migrate(target):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def test_duplicate_open_conflicts_are_folded_into_the_oldest():
    apps = migrate(BEFORE)
    org = apps.get_model("connectors", "SalesforceOrg").objects.create(name="o", login_url="https://x")
    kafka = apps.get_model("connectors", "KafkaCluster").objects.create(name="k", bootstrap_servers="x")
    mongo = apps.get_model("connectors", "MongoTarget").objects.create(name="m", uri="mongodb://x", database="d")
    mapping = apps.get_model("connectors", "ObjectMapping").objects.create(
        name="accounts", org=org, kafka=kafka, mongo=mongo, sf_object="Account", collection="accounts")
    Conflict = apps.get_model("connectors", "Conflict")
    values = dict(mapping=mapping, fields=["Name"], base_values={}, salesforce_values={}, mongo_values={})
    first, second, third = (Conflict.objects.create(salesforce_id="001A", mongo_id=m, **values) for m in ("x", "x", ""))
    other = Conflict.objects.create(salesforce_id="001B", mongo_id="y", **values)
    waiting = apps.get_model("connectors", "WaitingChange").objects.create(
        conflict=second, topic="t", key="001A", payload=b"{}")

    apps = migrate(AFTER)
    Conflict = apps.get_model("connectors", "Conflict")
    assert set(Conflict.objects.filter(status="open").values_list("pk", flat=True)) == {first.pk, other.pk}
    assert set(Conflict.objects.filter(resolved_by=f"duplicate of conflict #{first.pk}")
               .values_list("pk", flat=True)) == {second.pk, third.pk}
    assert apps.get_model("connectors", "WaitingChange").objects.get(pk=waiting.pk).conflict_id == first.pk
