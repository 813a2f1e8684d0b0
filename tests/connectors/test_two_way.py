"""MongoDB <-> Salesforce both ways, in process, every worker stepped by the test, on the real services."""
from __future__ import annotations

import threading

import pytest
from bson import ObjectId

from connectors.models import Conflict, MongoCheckpoint, SyncError, WaitingChange
from connectors.operations import conflict_queue, error_queue
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.mongo_capture import MongoCapture
from connectors.workers.registry import build_workers
from connectors.workers.sf_apply import SalesforceApply
from connectors.workers.sf_capture import SalesforceCapture
from tests.connectors.helpers import step_until

pytestmark = pytest.mark.django_db

CLIENT = "sfmongosync"


def counter(workers, name: str) -> int:
    return sum(w.counters[name] for w in workers)


def backfilled(sf, mongo, workers) -> None:
    expected = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    step_until(workers, lambda: {d["sf_id"] for d in mongo.accounts.find({}, {"sf_id": 1})} >= expected,
               message="the backfill")


def salesforce_account(sf, record_id: str) -> dict:
    return sf.Account.get(record_id)


def our_writes(emulator, record_id: str) -> list[dict]:
    return [c for c in emulator.changes(record_id=record_id) if c.get("client") == CLIENT]


def test_a_document_born_in_mongodb_is_created_in_salesforce_once_and_learns_its_id(sf, mongo, all_workers):
    backfilled(sf, mongo, all_workers)
    inserted = mongo.accounts.insert_one({"name": "Born In Mongo Ltd", "numberOfEmployees": 7}).inserted_id

    step_until(all_workers, lambda: (mongo.accounts.find_one({"_id": inserted}) or {}).get("sf_id"),
               message="the Salesforce Id written back")
    document = mongo.accounts.find_one({"_id": inserted})
    found = sf.query_all(f"SELECT Id, Name, NumberOfEmployees FROM Account WHERE Mongo_Id__c = '{inserted}'")["records"]
    assert [(r["Id"], r["Name"], r["NumberOfEmployees"]) for r in found] == [
        (document["sf_id"], "Born In Mongo Ltd", 7)]


def test_a_mongodb_edit_reaches_salesforce_and_never_comes_back(sf, mongo, all_workers, emulator):
    backfilled(sf, mongo, all_workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"name": "Edited In Mongo"}})

    step_until(all_workers, lambda: salesforce_account(sf, document["sf_id"])["Name"] == "Edited In Mongo",
               message="the edit in Salesforce")
    # The write comes back through polling as an echo and is dropped, not applied again.
    step_until(all_workers, lambda: counter(all_workers, "plan_echo") >= 1, message="the echo dropped")
    synced_at = mongo.accounts.find_one({"_id": document["_id"]})["_sync"]["synced_at"]
    writes = len(our_writes(emulator, document["sf_id"]))
    for _ in range(20):
        for worker in all_workers:
            worker.step()
    assert len(our_writes(emulator, document["sf_id"])) == writes == 1
    # The echo may still refresh the server-set fields (and `synced_at`); the edit stays as made.
    assert synced_at is not None and mongo.accounts.find_one({"_id": document["_id"]})["name"] == "Edited In Mongo"


def test_a_change_to_an_unmapped_field_makes_no_salesforce_write(sf, mongo, all_workers, emulator):
    backfilled(sf, mongo, all_workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"appOnlyScore": 42}})
    step_until(all_workers, lambda: counter(all_workers, "unmapped_changes_skipped") >= 1,
               message="the unmapped change seen and skipped")
    assert our_writes(emulator, document["sf_id"]) == []


def edit_both_sides(sf, mongo, document) -> None:
    sf.Account.update(document["sf_id"], {"Name": "Salesforce Side"})
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"name": "Mongo Side"}})


def salesforce_side(workers) -> list:
    """Polling reads a record's current state: the Salesforce edit must be read before the
    MongoDB edit is written back over it (see the note on racing writes in docs/sync.md)."""
    return [w for w in workers if w.name.startswith(("sf-capture", "mongo-apply"))]


def open_manual_conflict(sf, mongo, workers) -> tuple[dict, Conflict]:
    """Backfill, edit one document's Name on both sides, and step until the conflict is open."""
    backfilled(sf, mongo, workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    edit_both_sides(sf, mongo, document)
    step_until(salesforce_side(workers), lambda: Conflict.objects.filter(status="open").exists(),
               message="a conflict")
    return document, Conflict.objects.get(status="open")


@pytest.mark.parametrize("policy, winner", [("salesforce_wins", "Salesforce Side"), ("mongodb_wins", "Mongo Side"),
                                            ("newest_wins", "Mongo Side")])
def test_the_same_field_changed_on_both_sides_follows_the_policy(sf, mongo, make_workers, policy, winner):
    workers = make_workers(lambda mapping: setattr(mapping, "conflict_policy", policy), kinds=(
        "sf-capture", "mongo-apply", "mongo-capture", "sf-apply"))
    backfilled(sf, mongo, workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    edit_both_sides(sf, mongo, document)  # the MongoDB edit is the newer one
    from_salesforce = salesforce_side(workers)
    seen = counter(from_salesforce, "messages")
    step_until(from_salesforce, lambda: counter(from_salesforce, "messages") > seen,
               message="the Salesforce edit met in MongoDB")
    step_until(workers, lambda: salesforce_account(sf, document["sf_id"])["Name"] == winner
               and mongo.accounts.find_one({"_id": document["_id"]})["name"] == winner,
               message=f"both sides to hold {winner!r}")


def test_edits_to_different_fields_on_both_sides_merge(sf, mongo, all_workers):
    backfilled(sf, mongo, all_workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    sf.Account.update(document["sf_id"], {"Phone": "(555) 000-1111"})
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"name": "Merged Name"}})

    step_until(all_workers, lambda: salesforce_account(sf, document["sf_id"])["Name"] == "Merged Name"
               and mongo.accounts.find_one({"_id": document["_id"]}).get("phone") == "(555) 000-1111",
               message="both edits on both sides")
    assert Conflict.objects.count() == 0


def test_a_change_naming_another_mongodb_id_lands_in_the_records_document_not_a_second_one(sf, mongo, all_workers):
    """A record whose external-id field was set after its document was made (by hand, an import,
    an older version's link): its next change names an `_id` no document has. It must land in the
    document that holds the record, not fail on the unique index as a second document."""
    backfilled(sf, mongo, all_workers)
    record = sf.Account.create({"Name": "Linked Later"})["id"]
    step_until(all_workers, lambda: mongo.accounts.find_one({"sf_id": record}) is not None, message="the document")
    document = mongo.accounts.find_one({"sf_id": record})
    elsewhere = str(ObjectId())
    sf.Account.update(record, {"Mongo_Id__c": elsewhere, "Phone": "(555) 000-2222"})

    step_until(all_workers, lambda: (mongo.accounts.find_one({"sf_id": record}) or {}).get("phone") == "(555) 000-2222",
               message="the change in the record's document")
    assert [d["_id"] for d in mongo.accounts.find({"sf_id": record})] == [document["_id"]]
    assert not SyncError.objects.exists(), list(SyncError.objects.values_list("stage", "code", "message"))


def test_a_manual_conflict_waits_for_a_person_and_its_resolution_reaches_both_sides(sf, mongo, all_workers):
    document, conflict = open_manual_conflict(sf, mongo, all_workers)
    assert conflict.fields == ["Name"]
    assert (conflict.salesforce_values["Name"], conflict.mongo_values["Name"]) == ("Salesforce Side", "Mongo Side")
    assert conflict.base_values["Name"] == document["name"]
    # A later change to the record waits behind the conflict.
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"numberOfEmployees": 99}})
    step_until(all_workers, lambda: WaitingChange.objects.filter(conflict=conflict).exists(),
               message="the later change held")
    assert salesforce_account(sf, document["sf_id"])["Name"] == "Salesforce Side"

    conflict_queue.resolve(conflict, values={"Name": "Agreed Name"}, by="tester")
    step_until(all_workers, lambda: salesforce_account(sf, document["sf_id"])["Name"] == "Agreed Name"
               and salesforce_account(sf, document["sf_id"])["NumberOfEmployees"] == 99
               and mongo.accounts.find_one({"_id": document["_id"]})["name"] == "Agreed Name",
               message="the resolution and the held change on both sides")
    assert not WaitingChange.objects.exists()


def test_a_rejected_record_is_parked_with_salesforces_message_and_a_retry_after_the_fix_succeeds(
        sf, mongo, all_workers, emulator):
    backfilled(sf, mongo, all_workers)
    emulator.add_rule("test_no_negative_staff", "Account", "NumberOfEmployees", "<", 0,
                      "Employees cannot be negative")
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"numberOfEmployees": -5}})
    mongo.accounts.insert_one({"name": "Unaffected Neighbour"})

    step_until(all_workers, lambda: SyncError.objects.filter(stage="salesforce_write").exists(),
               message="the rejection parked")
    error = SyncError.objects.get(stage="salesforce_write")
    assert error.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and "Employees cannot be negative" in error.message
    step_until(all_workers, lambda: sf.query("SELECT COUNT() FROM Account WHERE Name = 'Unaffected Neighbour'")
               ["totalSize"] == 1, message="the rest of the batch written")

    emulator.remove_rule("test_no_negative_staff")
    assert error_queue.retry([error]) == 1
    step_until(all_workers, lambda: salesforce_account(sf, document["sf_id"])["NumberOfEmployees"] == -5,
               message="the retried change in Salesforce")
    assert SyncError.objects.get(pk=error.pk).status == "retried"


def test_a_wrongly_typed_mongodb_value_names_the_field_and_the_rest_goes_through(sf, mongo, all_workers):
    backfilled(sf, mongo, all_workers)
    bad = mongo.accounts.insert_one({"name": "Bad Staff Count", "numberOfEmployees": "lots"}).inserted_id
    good = mongo.accounts.insert_one({"name": "Good Staff Count", "numberOfEmployees": 3}).inserted_id

    step_until(all_workers, lambda: (mongo.accounts.find_one({"_id": good}) or {}).get("sf_id")
               and SyncError.objects.filter(record_key=str(bad)).exists(), message="one written, one parked")
    error = SyncError.objects.get(record_key=str(bad))
    assert "NumberOfEmployees" in error.message and "'lots'" in error.message
    assert isinstance(bad, ObjectId) and mongo.accounts.find_one({"_id": bad}).get("sf_id") is None


def test_writing_pauses_at_the_api_limit_and_resumes_when_usage_falls(sf, mongo, all_workers, emulator):
    backfilled(sf, mongo, all_workers)
    emulator.set_faults(daily_api_limit=emulator.usage()["used"])  # today's calls are used up
    apply = next(w for w in all_workers if w.name.startswith("sf-apply"))
    mongo.accounts.insert_one({"name": "Waits For The Limit"})

    step_until(all_workers, lambda: apply.paused, message="writing paused")
    assert mongo.accounts.find_one({"name": "Waits For The Limit"}).get("sf_id") is None

    emulator.clear_faults()
    emulator.reset_usage()
    apply.resume_check_now()
    step_until(all_workers, lambda: sf.query("SELECT COUNT() FROM Account WHERE Name = 'Waits For The Limit'")
               ["totalSize"] == 1, message="the write after resuming")


def test_the_writer_stops_before_the_limit_not_after(sf, emulator, sync_settings):
    from connectors.salesforce.auth import SalesforceCredentials
    from connectors.salesforce.client import ApiLimitReached, SalesforceClient
    from connectors.salesforce.writer import SalesforceWriter

    credentials = SalesforceCredentials(
        login_url=sync_settings["SF_LOGIN_URL"], auth_flow="oauth_password", username="admin@demo.sfemu",
        password="demo-password", security_token="DEMOTOKEN", client_id="sfemu-demo-client",
        client_secret="sfemu-demo-secret", ca_bundle=sync_settings["SF_CA_BUNDLE"])
    writer = SalesforceWriter(SalesforceClient(credentials, client_name="test"), pause_at_share=0.9)
    record_id = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    emulator.set_faults(daily_api_limit=emulator.usage()["used"] + 1)  # room for exactly one more call
    writer.update("Account", [{"id": record_id, "Description": "first"}])  # logs in, then one write
    used, maximum = writer.usage()
    assert used >= 0.9 * maximum
    with pytest.raises(ApiLimitReached, match="90%"):
        writer.update("Account", [{"id": record_id, "Description": "second"}])
    assert emulator.usage()["used"] == used, "no call was made past the threshold"


def test_a_document_deleted_in_mongodb_deletes_the_salesforce_record(sf, mongo, all_workers):
    backfilled(sf, mongo, all_workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    mongo.accounts.delete_one({"_id": document["_id"]})
    step_until(all_workers, lambda: sf.query(f"SELECT COUNT() FROM Account WHERE Id = '{document['sf_id']}'")
               ["totalSize"] == 0, message="the Salesforce record deleted")
    deleted = sf.query_all(f"SELECT Id, IsDeleted FROM Account WHERE Id = '{document['sf_id']}'",
                           include_deleted=True)["records"]
    assert [r["IsDeleted"] for r in deleted] == [True], "in the recycle bin, so it can be undeleted"


def test_a_document_born_in_mongodb_and_deleted_there_deletes_its_record(sf, mongo, all_workers):
    # No pre-image names the deleted document's Salesforce Id: it is found by the external id.
    backfilled(sf, mongo, all_workers)
    inserted = mongo.accounts.insert_one({"name": "Short Lived Ltd"}).inserted_id
    step_until(all_workers, lambda: (mongo.accounts.find_one({"_id": inserted}) or {}).get("sf_id"),
               message="the Salesforce Id written back")
    record_id = mongo.accounts.find_one({"_id": inserted})["sf_id"]
    mongo.accounts.delete_one({"_id": inserted})
    step_until(all_workers, lambda: sf.query(f"SELECT COUNT() FROM Account WHERE Id = '{record_id}'")
               ["totalSize"] == 0, message="the Salesforce record deleted")
    assert sf.query("SELECT COUNT() FROM Account WHERE Name = 'Short Lived Ltd'")["totalSize"] == 0


def test_the_error_and_conflict_commands_list_and_settle_what_is_parked(sf, mongo, all_workers):
    from io import StringIO

    from django.core.management import call_command

    backfilled(sf, mongo, all_workers)
    mongo.accounts.insert_one({"name": "Bad Count", "numberOfEmployees": {"nested": 1}})
    step_until(all_workers, lambda: SyncError.objects.filter(stage="convert").exists(), message="a parked error")
    out = StringIO()
    call_command("syncerrors", "list", stdout=out)
    assert "INVALID_VALUE" in out.getvalue() and "1 open" in out.getvalue()
    call_command("syncerrors", "discard", "--all", stdout=out)
    assert "discarded 1" in out.getvalue()
    assert not SyncError.objects.filter(status="open").exists()


@pytest.mark.parametrize("fault", [{"unable_to_lock_row": {"count": 2}}, {"http_503": {"count": 2}}])
def test_transient_salesforce_failures_are_retried_and_nothing_is_parked(sf, mongo, all_workers, emulator, fault):
    backfilled(sf, mongo, all_workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"name": "Written Despite Faults"}})
    emulator.set_faults(**fault)
    # Only the MongoDB -> Salesforce workers run, so the faults meet the writer.
    mongo_side = [w for w in all_workers if w.name.startswith(("mongo-capture", "sf-apply"))]
    step_until(mongo_side, lambda: emulator.faults() and all(
        not isinstance(v, dict) or v.get("count", 0) == 0 for v in emulator.faults().values()),
        message="the faults used up")
    assert salesforce_account(sf, document["sf_id"])["Name"] == "Written Despite Faults"
    assert not SyncError.objects.exists()


def test_an_expired_salesforce_session_logs_in_again(sf, sync_settings):
    import requests

    from connectors.salesforce.auth import SalesforceCredentials
    from connectors.salesforce.client import SalesforceClient

    credentials = SalesforceCredentials(
        login_url=sync_settings["SF_LOGIN_URL"], auth_flow="soap_password", username="admin@demo.sfemu",
        password="demo-password", security_token="DEMOTOKEN", ca_bundle=sync_settings["SF_CA_BUNDLE"])
    client = SalesforceClient(credentials, client_name="test")
    first = client.call(lambda s: s.session_id)
    revoked = requests.post(f"{sync_settings['SF_LOGIN_URL']}/services/oauth2/revoke", data={"token": first},
                            verify=sync_settings["SF_CA_BUNDLE"], timeout=10)
    assert revoked.status_code == 200
    total = next(client.query_pages("SELECT COUNT() FROM Account")).total_size
    assert total > 0 and client.call(lambda s: s.session_id) != first


def live_in_salesforce(sf, record_id: str) -> bool:
    return sf.query(f"SELECT COUNT() FROM Account WHERE Id = '{record_id}'")["totalSize"] == 1


def test_a_salesforce_delete_the_sync_applied_is_never_sent_back_even_when_read_again(sf, mongo, all_workers, emulator):
    """The delete echo: a Salesforce delete applied to MongoDB shows in MongoDB's change stream like
    an application's. Sent back once the record was undeleted (before the undelete brought the
    document back, else sf-apply keeps the record for it), it would delete the record again."""
    backfilled(sf, mongo, all_workers)
    resume_token = MongoCheckpoint.objects.get().resume_token
    assert resume_token, "capture has read the backfill's writes"
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    record_id = document["sf_id"]
    sf.Account.delete(record_id)
    towards_mongodb = [w for w in all_workers if isinstance(w, (SalesforceCapture, MongoApply))]
    step_until(towards_mongodb, lambda: mongo.accounts.find_one({"_id": document["_id"]}) is None,
               message="the delete applied in MongoDB")
    emulator.undelete("Account", record_id)

    def read_by_mongodb_side(capture: MongoCapture) -> None:
        """Only MongoDB -> Salesforce runs: the undelete has not reached MongoDB yet."""
        towards_salesforce = [capture, *(w for w in all_workers if isinstance(w, SalesforceApply))]
        step_until(towards_salesforce, lambda: capture.counters["own_deletes_skipped"] >= 1
                   or not live_in_salesforce(sf, record_id), message="mongo-capture reading the delete")
        for _ in range(10):  # whatever was published reaches sf-apply
            for worker in towards_salesforce:
                worker.step()
        assert live_in_salesforce(sf, record_id), "the undeleted record was deleted again by the echo"

    capture = next(w for w in all_workers if isinstance(w, MongoCapture))
    read_by_mongodb_side(capture)
    # Read again from before the delete, as after a restart: still known for the sync's own.
    capture.close()
    MongoCheckpoint.objects.update(resume_token=resume_token)
    all_workers[all_workers.index(capture)] = again = build_workers({"mongo-capture"}, threading.Event())[0]
    read_by_mongodb_side(again)

    step_until(all_workers, lambda: mongo.accounts.find_one({"_id": document["_id"]}) is not None,
               message="the undelete bringing the document back")
    # An application's delete of the document that came back is its own: sent on.
    mongo.accounts.delete_one({"_id": document["_id"]})
    step_until(all_workers, lambda: not live_in_salesforce(sf, record_id), message="the application's delete sent on")
