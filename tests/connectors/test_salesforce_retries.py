"""Transient Salesforce failures (lock contention, 503s) are retried until they clear: a storm that
ends loses nothing and parks nothing. Against the emulator's fault injection."""
from __future__ import annotations

import pytest

from connectors.models import SyncError
from connectors.salesforce.auth import SalesforceCredentials
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.writer import RecordsLocked, SalesforceWriter
from tests.connectors.helpers import step_until
from tests.connectors.test_two_way import backfilled

pytestmark = pytest.mark.django_db


def storm_over(emulator) -> bool:
    faults = emulator.faults()
    return faults["unable_to_lock_row"]["count"] == 0 and faults["http_503"]["count"] == 0


def writer_for(sync_settings, stop=lambda: False) -> SalesforceWriter:  # type: ignore[no-untyped-def]
    credentials = SalesforceCredentials(
        login_url=sync_settings["SF_LOGIN_URL"], auth_flow="oauth_password", username="admin@demo.sfemu",
        password="demo-password", security_token="DEMOTOKEN", client_id="sfemu-demo-client",
        client_secret="sfemu-demo-secret", ca_bundle=sync_settings["SF_CA_BUNDLE"])
    # Short waits keep the test quick; the retry logic is the product's own.
    client = SalesforceClient(credentials, client_name="test", should_stop=stop, backoff_max=0.2)
    return SalesforceWriter(client, lock_backoff_max=0.2)


def test_a_storm_of_locks_and_503s_is_absorbed_by_updates_creates_and_deletes(sf, emulator, sync_settings):
    writer = writer_for(sync_settings)
    writer.client.call(lambda s: s.session_id)  # logged in before the storm
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 5")["records"]]
    emulator.set_faults(unable_to_lock_row={"count": 40, "objects": ["Account"]}, http_503={"count": 30})

    updated = writer.update("Account", [{"id": i, "Description": "after the storm"} for i in ids])
    created = writer.upsert("Account", "Mongo_Id__c", [{"Mongo_Id__c": f"storm-{n}", "Name": f"Storm {n}"}
                                                       for n in range(3)])
    deleted = writer.delete([r.id for r in created if r.id])

    assert [r.success for r in updated + created + deleted] == [True] * 11
    assert storm_over(emulator), "both storms were used up, not dodged"
    descriptions = {sf.Account.get(i)["Description"] for i in ids}
    assert descriptions == {"after the storm"}
    assert sf.query("SELECT COUNT() FROM Account WHERE Name LIKE 'Storm %'")["totalSize"] == 0


def test_a_stopped_worker_gives_up_on_locked_records_without_reporting_them_failed(sf, emulator, sync_settings):
    stopping = {"now": False}
    writer = writer_for(sync_settings, stop=lambda: stopping["now"])
    record_id = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    writer.client.call(lambda s: s.session_id)
    emulator.set_faults(unable_to_lock_row={"count": 1000, "objects": ["Account"]})
    writer._sleep = lambda seconds: stopping.update(now=True)  # asked to stop during the first wait

    with pytest.raises(RecordsLocked):
        writer.update("Account", [{"id": record_id, "Description": "never"}])


def test_a_lock_storm_during_write_back_parks_nothing(sf, mongo, all_workers, emulator):
    backfilled(sf, mongo, all_workers)
    documents = list(mongo.accounts.find({"name": {"$exists": True}}).limit(10))
    emulator.set_faults(unable_to_lock_row={"count": 40, "objects": ["Account"]})
    for document in documents[:8]:
        mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"name": f"Locked {document['sf_id']}"}})
    for document in documents[8:]:
        mongo.accounts.delete_one({"_id": document["_id"]})
    mongo_side = [w for w in all_workers if w.name.startswith(("mongo-capture", "sf-apply"))]

    step_until(mongo_side, lambda: sf.query("SELECT COUNT() FROM Account WHERE Name LIKE 'Locked %'")["totalSize"] == 8
               and all(sf.query(f"SELECT COUNT() FROM Account WHERE Id = '{d['sf_id']}'")["totalSize"] == 0
                       for d in documents[8:]), message="every edit and delete through the storm")
    assert storm_over(emulator)
    assert not SyncError.objects.exists(), "nothing parked"


def test_a_call_to_a_hung_org_times_out_and_is_retried_until_it_answers(sf, emulator, sync_settings):
    from concurrent.futures import ThreadPoolExecutor

    from tests.connectors.helpers import wait_for

    credentials = SalesforceCredentials(
        login_url=sync_settings["SF_LOGIN_URL"], auth_flow="oauth_password", username="admin@demo.sfemu",
        password="demo-password", security_token="DEMOTOKEN", client_id="sfemu-demo-client",
        client_secret="sfemu-demo-secret", ca_bundle=sync_settings["SF_CA_BUNDLE"])
    client = SalesforceClient(credentials, client_name="test", backoff_max=0.2, timeout=1.0)
    client.call(lambda s: s.session_id)
    before = emulator.usage()["used"]
    emulator.set_faults(latency_ms=3000)  # every answer comes after the client gave up
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(client.call, lambda s: s.query("SELECT COUNT() FROM Account")["totalSize"])
        wait_for(lambda: emulator.usage()["used"] >= before + 2, message="the call timed out and was sent again")
        emulator.clear_faults()
        assert answer.result(timeout=30) > 0


def test_a_single_record_call_refused_for_a_locked_row_is_retried(sf, emulator, sync_settings):
    writer = writer_for(sync_settings)
    record_id = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    writer.client.call(lambda s: s.session_id)
    emulator.set_faults(unable_to_lock_row={"count": 5, "objects": ["Account"]})
    writer.client.call(lambda s: s.Account.update(record_id, {"Description": "single record, locked first"}))
    assert storm_over(emulator)
    assert sf.Account.get(record_id)["Description"] == "single record, locked first"


def test_query_pages_come_as_plain_dicts_equal_to_simple_salesforces_own_parse(sf, sync_settings):
    """The client parses REST answers with orjson (issue 12): the same records as
    simple-salesforce's own parse gives, in plain dicts."""
    client = writer_for(sync_settings).client
    soql = "SELECT Id, Name, AnnualRevenue, NumberOfEmployees, CreatedDate FROM Account ORDER BY Id"
    pages = list(client.query_pages(soql))
    ours = [record for page in pages for record in page.records]
    theirs = sf.query_all(soql)["records"]
    assert pages[0].total_size == len(ours) == len(theirs) > 0
    assert ours == theirs and type(ours[0]) is dict and type(ours[0]["attributes"]) is dict
