"""`manage.py reconcile` repairs what capture could not see, through the real services."""
from __future__ import annotations

from datetime import datetime, timezone
from io import StringIO

import pytest
from bson import ObjectId
from django.core.management import call_command
from pymongo.errors import DuplicateKeyError

from connectors.models import Conflict, ObjectMapping, SyncError
from connectors.operations.conflict_queue import open_conflict
from tests.connectors.helpers import step_until
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
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    # Marked as the sync's own write, so capture ignores it: only reconcile can find it.
    mongo.accounts.update_one({"_id": document["_id"]},
                              {"$set": {"name": "Drifted", "_sync.synced_at": datetime.now(timezone.utc)}})

    report = reconcile()
    assert "updated_in_mongodb 1" in report and "Name" in report
    assert mongo.accounts.find_one({"_id": document["_id"]})["name"] == sf.Account.get(document["sf_id"])["Name"]
    assert "compared" in reconcile() and "nothing" in reconcile(), "a second run finds no drift"


# -- safe at any time ---------------------------------------------------------------------------
def documents_by_salesforce_id(mongo) -> dict[str, list]:
    found: dict[str, list] = {}
    for document in mongo.accounts.find({}, {"sf_id": 1}):
        found.setdefault(document.get("sf_id"), []).append(document["_id"])
    return found


def test_reconcile_during_an_initial_load_keys_documents_as_apply_does_and_duplicates_nothing(sf, mongo, workers):
    # Records once born in MongoDB carry their document's _id in Mongo_Id__c: apply keys them on it.
    born_in_mongo = {sf.Account.create({"Name": f"Restored {n}", "Mongo_Id__c": str(oid)})["id"]: oid
                     for n, oid in enumerate(ObjectId() for _ in range(5))}
    capture = next(w for w in workers if w.name.startswith("sf-capture"))
    expected = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    step_until([capture], lambda: capture.counters["records_reread"] >= len(expected), message="the load published")

    report = reconcile()  # the whole load is still in Kafka: reconcile creates every document first
    assert f"created_in_mongodb {len(expected)}" in report
    backfilled(sf, mongo, workers)

    held = documents_by_salesforce_id(mongo)
    assert {k: v for k, v in held.items() if len(v) > 1} == {}, "one document per record"
    assert set(held) == expected
    assert mongo.accounts.count_documents({}) == len(expected)
    assert {sf_id: held[sf_id] for sf_id in born_in_mongo} == {sf_id: [oid] for sf_id, oid in born_in_mongo.items()}
    assert "nothing" in reconcile(), "a second run finds nothing to do"
    assert not SyncError.objects.exists(), "apply met the documents reconcile made: no refused write"


def test_the_key_field_has_a_unique_index_that_refuses_a_second_document_for_a_record(sf, mongo, workers):
    backfilled(sf, mongo, workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}})
    with pytest.raises(DuplicateKeyError):
        mongo.accounts.insert_one({"name": "Second", "sf_id": document["sf_id"]})
    mongo.accounts.insert_many([{"name": "Born Here 1"}, {"name": "Born Here 2"}])  # no Salesforce Id yet: fine


def test_a_dry_run_twice_writes_nothing_anywhere_and_says_what_it_would_do(sf, mongo, workers, emulator):
    backfilled(sf, mongo, workers)
    documents = list(mongo.accounts.find({"name": {"$exists": True}}).limit(3))
    # A drifted document (manual policy: a conflict), a missing one, and one that never reached Salesforce.
    mongo.accounts.update_one({"_id": documents[0]["_id"]},
                              {"$set": {"name": "Drifted", "_sync.synced_at": datetime.now(timezone.utc)}})
    mongo.accounts.delete_one({"_id": documents[1]["_id"]})
    mongo.accounts.insert_one({"name": "Never Sent", "_sync": {"synced_at": datetime.now(timezone.utc)}})
    before = sorted(mongo.accounts.find({}), key=lambda d: str(d["_id"]))
    writes_before = len(emulator.changes(limit=100000))
    usage_before = emulator.usage()["used"]

    reports = [reconcile_dry() for _ in range(2)]
    print(f"API calls of two dry runs: {emulator.usage()['used'] - usage_before}")

    assert Conflict.objects.count() == 0
    assert sorted(mongo.accounts.find({}), key=lambda d: str(d["_id"])) == before
    assert len(emulator.changes(limit=100000)) == writes_before, "no Salesforce write"
    assert emulator.usage()["used"] - usage_before <= 2 * 2, "per run: one page of records, one check by Id"
    assert reports[0] == reports[1]
    assert "would change" in reports[0] and "conflict 1" in reports[0] and "created_in_mongodb 1" in reports[0] \
        and "created_in_salesforce 1" in reports[0]


def reconcile_dry(*options: str) -> str:
    out = StringIO()
    call_command("reconcile", "accounts", "--dry-run", *options, stdout=out)
    return out.getvalue()


def test_reconcile_twice_opens_one_conflict_per_record(sf, mongo, workers):
    backfilled(sf, mongo, workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}})
    mongo.accounts.update_one({"_id": document["_id"]},
                              {"$set": {"name": "Drifted", "_sync.synced_at": datetime.now(timezone.utc)}})
    reconcile()
    reconcile()
    assert list(Conflict.objects.filter(status="open").values_list("salesforce_id", flat=True)) == [document["sf_id"]]


def test_the_database_refuses_a_second_open_conflict_for_a_record(sf, mongo, workers):
    from django.db import IntegrityError, transaction

    mapping = ObjectMapping.objects.get(name="accounts")
    values = dict(fields=["Name"], base_values={}, salesforce_values={"Name": "a"}, mongo_values={"Name": "b"})
    first, created = open_conflict(mapping, "001000000000001AAA", "x1", **values)
    again, created_again = open_conflict(mapping, "001000000000001AAA", "x1", **{**values, "fields": ["Phone"],
                                                                              "mongo_values": {"Phone": "1"}})
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert again.fields == ["Name", "Phone"] and again.mongo_values == {"Name": "b", "Phone": "1"}
    with pytest.raises(IntegrityError), transaction.atomic():
        Conflict.objects.create(mapping=mapping, salesforce_id="001000000000001AAA", **values)
    first.status = Conflict.Status.RESOLVED
    first.save()
    assert open_conflict(mapping, "001000000000001AAA", "x1", **values)[1], "a new one once the first is resolved"


def test_duplicates_are_reported_and_merged_without_deleting_the_salesforce_record(sf, mongo, all_workers):
    backfilled(sf, mongo, all_workers)
    born = mongo.accounts.insert_one({"name": "Twice Held Ltd"}).inserted_id
    step_until(all_workers, lambda: (mongo.accounts.find_one({"_id": born}) or {}).get("sf_id"),
               message="the Salesforce Id written back")
    sf_id = mongo.accounts.find_one({"_id": born})["sf_id"]
    # What an older reconcile did: a second document keyed on the Salesforce Id (no unique index then).
    mongo.accounts.drop_index("sf_id_unique")
    mongo.accounts.insert_one({"_id": sf_id, "sf_id": sf_id, "name": "Twice Held Ltd",
                               "_sync": {"synced_at": datetime.now(timezone.utc)}})
    out = StringIO()
    call_command("setupsync", objects="Account", stdout=out)
    assert "NOT unique" in out.getvalue() and sf_id in out.getvalue() and "--merge-duplicates" in out.getvalue()

    report = reconcile_dry()
    assert "duplicate_documents 1" in report and f"{born} stays" in report
    out = StringIO()
    call_command("reconcile", "accounts", "--merge-duplicates", stdout=out)

    assert documents_by_salesforce_id(mongo)[sf_id] == [born]
    assert "sf_id_unique" in mongo.accounts.index_information(), "the unique index is built once merged"
    apply = next(w for w in all_workers if w.name.startswith("sf-apply"))
    step_until(all_workers, lambda: apply.counters["deletes_kept_for_duplicate"] == 1,
               message="sf-apply saw the duplicate's delete")
    assert [r["IsDeleted"] for r in sf.query_all(f"SELECT IsDeleted FROM Account WHERE Id = '{sf_id}'",
                                                  include_deleted=True)["records"]] == [False]


def test_reconcile_help_names_its_argument_and_options():
    from connectors.management.commands.reconcile import Command

    text = Command().create_parser("manage.py", "reconcile").format_help()
    assert "mapping" in text and "--dry-run" in text and "--merge-duplicates" in text
    assert "no document, conflict or Salesforce record is written" in " ".join(text.split())


def test_only_records_salesforce_confirms_gone_count_as_removed(sf, emulator, sync_settings, workers):
    from connectors.operations.reconcile import _gone_from_salesforce
    from connectors.wiring import salesforce_client

    live, deleted, purged = (sf.Account.create({"Name": f"Fate {n}"})["id"] for n in range(3))
    sf.Account.delete(deleted)
    sf.Account.delete(purged)
    emulator.purge("Account", purged)
    client = salesforce_client(ObjectMapping.objects.get(name="accounts").org)
    # `live` stands for a record created after reconcile read Salesforce: it is not gone.
    assert _gone_from_salesforce(client, "Account", [live, deleted, purged]) == {
        deleted: "deleted", purged: "gone (purged)"}


def test_a_document_the_workers_updated_after_the_read_is_left_alone(sf, mongo, workers):
    backfilled(sf, mongo, workers)
    ObjectMapping.objects.filter(name="accounts").update(conflict_policy="salesforce_wins")
    document = mongo.accounts.find_one({"name": {"$exists": True}})
    newer = datetime(2100, 1, 1, tzinfo=timezone.utc)  # applied after reconcile's read of Salesforce
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"name": "Newer", "_sync.sf_modstamp": newer}})
    assert "nothing" in reconcile()
    assert mongo.accounts.find_one({"_id": document["_id"]})["name"] == "Newer"


def test_a_document_born_in_mongodb_whose_id_is_not_written_back_yet_is_linked_not_copied(sf, mongo, workers):
    backfilled(sf, mongo, workers)
    born = mongo.accounts.insert_one({"name": "Half Way Ltd"}).inserted_id
    record_id = sf.Account.create({"Name": "Half Way Ltd", "Mongo_Id__c": str(born)})["id"]  # sf-apply's upsert

    report = reconcile()
    assert "linked 1" in report and "created_in_salesforce" not in report and "created_in_mongodb" not in report
    assert documents_by_salesforce_id(mongo)[record_id] == [born]
    assert sf.query("SELECT COUNT() FROM Account WHERE Name = 'Half Way Ltd'")["totalSize"] == 1


def test_records_deleted_while_reconcile_runs_are_not_brought_back(sf, mongo, workers):
    from connectors.operations.reconcile import reconcile as run

    backfilled(sf, mongo, workers)
    ObjectMapping.objects.filter(name="accounts").update(conflict_policy="salesforce_wins")
    missing, drifted = (sf.Account.create({"Name": f"Short Lived {n}"})["id"] for n in range(2))
    backfilled(sf, mongo, workers)
    mongo.accounts.delete_one({"_id": missing})  # reconcile would create it...
    mongo.accounts.update_one({"_id": drifted},  # ...and repair this one
                              {"$set": {"name": "Drifted", "_sync.synced_at": datetime.now(timezone.utc)}})

    def deleted_meanwhile(documents, total):  # type: ignore[no-untyped-def]
        yield from documents
        # After reconcile read both sides, both records are deleted and apply removes the document.
        sf.Account.delete(missing)
        sf.Account.delete(drifted)
        mongo.accounts.delete_one({"_id": drifted})

    run(ObjectMapping.objects.get(name="accounts"), progress=deleted_meanwhile)
    assert mongo.accounts.count_documents({"_id": {"$in": [missing, drifted]}}) == 0
