"""Every mapped field right on both sides (issue 11), every worker stepped by the test, on the real services."""
from __future__ import annotations

import pytest

from connectors.models import Conflict, ObjectMapping, SalesforceOrg, SyncError
from tests.connectors.helpers import step_until
from tests.connectors.test_two_way import backfilled, counter, our_writes
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db

#: Salesforce fields the server sets and MongoDB must get back after the sync's own writes.
SERVER_SET = {"OwnerId": "ownerId", "CreatedDate": "createdDate", "CreatedById": "createdById",
              "LastModifiedDate": "lastModifiedDate", "LastModifiedById": "lastModifiedById"}


def server_fields_match(sf, mongo, document_id) -> bool:  # type: ignore[no-untyped-def]
    """The document holds Salesforce's current server-set values (datetimes as stored BSON dates)."""
    from connectors.engine.canonical import canonical

    document = mongo.accounts.find_one({"_id": document_id}) or {}
    if not document.get("sf_id"):
        return False
    record = sf.Account.get(document["sf_id"])
    kinds = {"CreatedDate": "datetime", "LastModifiedDate": "datetime"}
    return all(canonical(name, kinds.get(name, "string"), document.get(mongo_name))
               == canonical(name, kinds.get(name, "string"), record[name]) for name, mongo_name in SERVER_SET.items())


def test_an_edit_from_mongodb_leaves_a_salesforce_born_records_external_id_empty(sf, mongo, all_workers, emulator):
    backfilled(sf, mongo, all_workers)
    record_id = sf.Account.create({"Name": "Born In Salesforce"})["id"]
    step_until(all_workers, lambda: mongo.accounts.find_one({"_id": record_id}), message="the record in MongoDB")
    mongo.accounts.update_one({"_id": record_id}, {"$set": {"numberOfEmployees": 4321}})

    step_until(all_workers, lambda: sf.Account.get(record_id)["NumberOfEmployees"] == 4321,
               message="the edit in Salesforce")
    assert sf.Account.get(record_id)["Mongo_Id__c"] is None
    sent = our_writes(emulator, record_id)
    assert sent and all("Mongo_Id__c" not in change["fields"] for change in sent)
    assert mongo.accounts.find_one({"_id": record_id}).get("mongoId") is None


@pytest.fixture(params=["polling", "cdc"])
def capture_mode(request, emulator, stack):  # type: ignore[no-untyped-def]
    """Both ways of capturing Salesforce, each with its own way of seeing the sync's own writes."""
    if request.param == "cdc":
        emulator.set_cdc("Account", True)

    def prepare(mapping: ObjectMapping) -> None:
        mapping.capture_mode = request.param
        SalesforceOrg.objects.filter(pk=mapping.org_id).update(pubsub_endpoint=stack.salesforce_pubsub_address)

    return prepare


def test_server_set_fields_flow_back_after_the_syncs_own_writes_without_a_loop(
        sf, mongo, make_workers, emulator, capture_mode):
    from connectors.workers.registry import WORKER_KINDS

    workers = make_workers(capture_mode, kinds=WORKER_KINDS)
    backfilled(sf, mongo, workers)
    inserted = mongo.accounts.insert_one({"name": "Server Fields Ltd"}).inserted_id
    step_until(workers, lambda: server_fields_match(sf, mongo, inserted), message="the server-set fields of the create")
    document = mongo.accounts.find_one({"_id": inserted})
    assert document["mongoId"] == str(inserted)
    assert sf.Account.get(document["sf_id"])["Mongo_Id__c"] == str(inserted)

    mongo.accounts.update_one({"_id": inserted}, {"$set": {"name": "Server Fields Renamed"}})
    step_until(workers, lambda: sf.Account.get(document["sf_id"])["Name"] == "Server Fields Renamed",
               message="the edit in Salesforce")
    step_until(workers, lambda: server_fields_match(sf, mongo, inserted), message="LastModifiedDate after the edit")
    for _ in range(20):
        for worker in workers:
            worker.step()
    assert len(our_writes(emulator, document["sf_id"])) == 2  # the create and the edit, nothing echoed
    assert not Conflict.objects.exists()
    assert counter(workers, "errors") == 0, list(SyncError.objects.values_list("stage", "code", "message"))
    assert counter(workers, "server_fields_refreshed") >= 1
    # Reconcile (manual policy: drift would be a conflict) finds nothing to say about the record.
    from connectors.operations.reconcile import reconcile

    report = reconcile(ObjectMapping.objects.get(name="accounts"))
    assert not Conflict.objects.filter(salesforce_id=document["sf_id"]).exists()
    assert not [line for line in report.details if document["sf_id"] in line or str(inserted) in line]


@pytest.fixture
def contact_workers(sync_settings, emulator, stack):  # type: ignore[no-untyped-def]
    """Contacts captured by Change Data Capture into MongoDB."""
    import threading

    from django.core.management import call_command

    from connectors.workers.registry import build_workers

    emulator.set_cdc("Contact", True)
    call_command("setupsync", objects="Contact", direction="sf_to_mongo", capture="cdc")
    SalesforceOrg.objects.update(pubsub_endpoint=stack.salesforce_pubsub_address)
    assert ObjectMapping.objects.get(name="contacts").capture_mode == "cdc"
    stop = threading.Event()
    workers = build_workers({"sf-capture", "mongo-apply"}, stop)
    yield workers
    stop.set()
    for worker in workers:
        worker.close()


def test_a_contact_captured_by_cdc_has_its_full_name_as_polling_gives_it(sf, mongo, contact_workers):
    workers = contact_workers
    capture = next(w for w in workers if w.name.startswith("sf-capture"))
    step_until(workers, lambda: not capture._reread.active and capture._subscription is not None,
               message="the initial load")
    created = sf.Contact.create({"FirstName": "Ada", "LastName": "Lovelace"})["id"]
    step_until(workers, lambda: (mongo.contacts.find_one({"_id": created}) or {}).get("lastName") == "Lovelace",
               message="the created contact")
    document = mongo.contacts.find_one({"_id": created})
    assert (document["name"], document["firstName"]) == ("Ada Lovelace", "Ada")
    assert document["name"] == sf.Contact.get(created)["Name"]

    # An update names only the part of the compound that changed: the whole name is re-read.
    sf.Contact.update(created, {"LastName": "King"})
    step_until(workers, lambda: (mongo.contacts.find_one({"_id": created}) or {}).get("name") == "Ada King",
               message="the renamed contact")
    assert mongo.contacts.find_one({"_id": created})["lastName"] == "King"


def manual_workers(make_workers):  # type: ignore[no-untyped-def]
    from connectors.workers.registry import WORKER_KINDS

    return make_workers(lambda mapping: setattr(mapping, "conflict_policy", "manual"), kinds=WORKER_KINDS)


def mongodb_side(workers) -> list:  # type: ignore[no-untyped-def]
    return [w for w in workers if w.name.startswith(("mongo-capture", "sf-apply"))]


def test_under_manual_a_mongodb_change_handled_first_never_overwrites_an_unseen_salesforce_edit(
        sf, mongo, make_workers, emulator):
    from connectors.models import WaitingChange
    from connectors.operations import conflict_queue
    from tests.connectors.test_two_way import edit_both_sides

    workers = manual_workers(make_workers)
    backfilled(sf, mongo, workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    before = document["name"]
    edit_both_sides(sf, mongo, document)  # Salesforce first, MongoDB a moment later
    # sf-apply meets the MongoDB change before mongo-apply has seen the Salesforce edit.
    step_until(mongodb_side(workers), lambda: Conflict.objects.filter(status="open").exists(),
               message="the conflict raised by sf-apply")
    conflict = Conflict.objects.get(status="open")
    assert (conflict.fields, conflict.base_values, conflict.salesforce_values, conflict.mongo_values) == (
        ["Name"], {"Name": before}, {"Name": "Salesforce Side"}, {"Name": "Mongo Side"})
    assert conflict.salesforce_changed_at is not None and conflict.mongo_changed_at is not None
    # Now the Salesforce edit reaches mongo-apply: it waits behind the same conflict.
    step_until(workers, lambda: WaitingChange.objects.filter(conflict=conflict).count() == 2,
               message="both changes held")
    assert sf.Account.get(document["sf_id"])["Name"] == "Salesforce Side"
    assert mongo.accounts.find_one({"_id": document["_id"]})["name"] == "Mongo Side"
    assert our_writes(emulator, document["sf_id"]) == [] and Conflict.objects.count() == 1

    conflict_queue.resolve(conflict, take={"Name": "mongodb"}, by="tester")
    step_until(workers, lambda: sf.Account.get(document["sf_id"])["Name"] == "Mongo Side"
               and not WaitingChange.objects.exists(), message="the resolution in Salesforce")
    for _ in range(20):
        for worker in workers:
            worker.step()
    assert mongo.accounts.find_one({"_id": document["_id"]})["name"] == "Mongo Side"
    assert sf.Account.get(document["sf_id"])["Name"] == "Mongo Side"
    assert Conflict.objects.count() == 1 and len(our_writes(emulator, document["sf_id"])) == 1


def test_a_resolution_taking_salesforces_value_writes_nothing_more_to_salesforce(sf, mongo, make_workers, emulator):
    from connectors.operations import conflict_queue
    from tests.connectors.test_two_way import open_manual_conflict

    workers = manual_workers(make_workers)
    document, conflict = open_manual_conflict(sf, mongo, workers)
    conflict_queue.resolve(conflict, take={"Name": "salesforce"}, by="tester")
    step_until(workers, lambda: mongo.accounts.find_one({"_id": document["_id"]})["name"] == "Salesforce Side",
               message="the resolution in MongoDB")
    for _ in range(20):
        for worker in workers:
            worker.step()
    assert sf.Account.get(document["sf_id"])["Name"] == "Salesforce Side"
    assert our_writes(emulator, document["sf_id"]) == [] and Conflict.objects.count() == 1


def test_the_conflict_page_shows_when_mongodb_changed_once_its_change_event_arrives(sf, mongo, make_workers, client):
    from connectors.models import WaitingChange
    from tests.connectors.test_two_way import open_manual_conflict

    workers = manual_workers(make_workers)
    document, conflict = open_manual_conflict(sf, mongo, workers)  # raised by mongo-apply: no change event yet
    step_until(workers, lambda: WaitingChange.objects.filter(conflict=conflict).exists(),
               message="the MongoDB change held")
    conflict.refresh_from_db()
    assert conflict.mongo_changed_at is not None and conflict.salesforce_changed_at is not None
    client.force_login(user_with_role("reviewer", OPERATORS))
    page = client.get(f"/conflicts/{conflict.pk}/").content.decode()
    assert f"<dt>Changed in MongoDB</dt><dd>{conflict.mongo_changed_at:%Y-%m-%d %H:%M:%S}</dd>" in page
    assert sf.Account.get(document["sf_id"])["Name"] == "Salesforce Side"
