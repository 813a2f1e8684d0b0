"""`manage.py reconcile` repairs what capture could not see, through the real services."""
from __future__ import annotations

from datetime import datetime, timezone
from io import StringIO

import pytest
from django.core.management import call_command

from connectors.models import ObjectMapping
from tests.connectors.test_two_way import backfilled

pytestmark = pytest.mark.django_db


def reconcile(mapping: str = "accounts") -> str:
    out = StringIO()
    call_command("reconcile", mapping, stdout=out)
    return out.getvalue()


def test_a_record_purged_from_the_recycle_bin_is_removed_from_mongodb(sf, mongo, workers, emulator):
    backfilled(sf, mongo, workers)
    victim = sf.Account.create({"Name": "Purged Soon"})["id"]
    backfilled(sf, mongo, workers)
    emulator.purge("Account", victim)  # gone for good: polling can never see it

    report = reconcile()
    assert "removed_from_mongodb 1" in report and victim in report
    assert mongo.accounts.find_one({"sf_id": victim}) is None


def test_a_document_changed_behind_the_syncs_back_is_repaired_by_the_policy(sf, mongo, workers):
    backfilled(sf, mongo, workers)
    ObjectMapping.objects.filter(name="accounts").update(conflict_policy="salesforce_wins")
    document = mongo.accounts.find_one({"name": {"$exists": True}})
    # Marked as the sync's own write, so capture ignores it: only reconcile can find it.
    mongo.accounts.update_one({"_id": document["_id"]},
                              {"$set": {"name": "Drifted", "_sync.synced_at": datetime.now(timezone.utc)}})

    report = reconcile()
    assert "updated_in_mongodb 1" in report and "Name" in report
    assert mongo.accounts.find_one({"_id": document["_id"]})["name"] == sf.Account.get(document["sf_id"])["Name"]
    assert "compared" in reconcile() and "nothing" in reconcile(), "a second run finds no drift"
