"""Change log and caller's client, getUpdated/getDeleted, undelete and purge."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from sfemulator.control import EmulatorControlError
from tests.connectors.helpers import wait_for

CLIENT = {"Sforce-Call-Options": "client=mongo-sync"}


@pytest.fixture
def fine_replication(ctl) -> Iterator[None]:
    """getUpdated/getDeleted cover whole minutes; cover up to the millisecond so tests need not wait."""
    ctl.settings(replication_granularity_ms=1)
    yield
    ctl.settings(replication_granularity_ms=60_000)


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=5)


def _deleted_ids(sf, obj: str = "Account") -> dict[str, str]:
    body = getattr(sf, obj).deleted(*_window())
    return {r["id"]: r["deletedDate"] for r in body["deletedRecords"]}


def test_every_write_logs_its_client_user_fields_and_an_increasing_sequence(sf, ctl):
    acc = sf.Account.create({"Name": "Logged"}, headers=CLIENT)["id"]
    sf.restful("composite/sobjects", method="PATCH", headers=CLIENT, json={"records": [
        {"attributes": {"type": "Account"}, "id": acc, "Industry": "Energy"}]})
    sf.Account.delete(acc)  # no Sforce-Call-Options: no client
    log = ctl.changes(record_id=acc)
    assert [e["changeType"] for e in log] == ["CREATE", "UPDATE", "DELETE"]
    assert [e["client"] for e in log] == ["mongo-sync", "mongo-sync", None]
    assert log[0]["changeOrigin"] == "com/salesforce/api/rest/62.0;client=mongo-sync"
    assert log[2]["changeOrigin"] == "com/salesforce/api/rest/62.0"
    assert log[0]["seq"] < log[1]["seq"] < log[2]["seq"]
    assert {"Industry", "LastModifiedDate", "SystemModstamp"} <= set(log[1]["fields"])
    assert "Name" in log[0]["fields"] and all(e["userId"].startswith("005") for e in log)
    assert log[1]["commitTimestamp"] <= log[2]["commitTimestamp"]


def test_rolled_back_collections_leave_nothing_in_the_change_log(sf, ctl):
    last = max((e["seq"] for e in ctl.changes(after=0, limit=10000)), default=0)
    sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Account"}, "Name": "Never"}, {"attributes": {"type": "Account"}}]})
    assert ctl.changes(after=last) == []


def test_client_column_stays_hidden_from_describe_and_soql(sf, api):
    sf.Account.create({"Name": "Hidden Client"}, headers=CLIENT)
    names = {f["name"] for f in sf.Account.describe()["fields"]}
    assert not any(n.startswith("_") for n in names)
    record = sf.query("SELECT Id, Name FROM Account WHERE Name = 'Hidden Client' LIMIT 1")["records"][0]
    assert not any(k.startswith("_") for k in sf.Account.get(record["Id"]))
    r = api("GET", "/query", params={"q": "SELECT _LastModifiedClient FROM Account"})
    assert r.status_code == 400


def test_get_deleted_reports_a_deleted_record_with_its_deleted_date(sf, fine_replication):
    acc = sf.Account.create({"Name": "To Delete"})["id"]
    sf.Account.delete(acc)
    soql = f"SELECT SystemModstamp FROM Account WHERE Id = '{acc}'"
    stamp = sf.query_all(soql, include_deleted=True)["records"][0]["SystemModstamp"]
    assert _deleted_ids(sf)[acc] == stamp
    body = sf.Account.deleted(*_window())
    assert set(body) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}


def test_purged_record_leaves_query_all_but_stays_in_get_deleted(sf, ctl, fine_replication):
    acc = sf.Account.create({"Name": "To Purge"})["id"]
    sf.Account.delete(acc)
    ctl.purge("Account", acc)
    assert sf.query_all(f"SELECT Id FROM Account WHERE Id = '{acc}'", include_deleted=True)["totalSize"] == 0
    assert acc in _deleted_ids(sf)
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(acc)


def test_purging_a_live_record_deletes_it_in_one_step(sf, ctl, fine_replication):
    con = sf.Contact.create({"LastName": "Hard Delete"})["id"]
    ctl.purge("Contact", con)
    assert con in _deleted_ids(sf, "Contact")
    assert [e["changeType"] for e in ctl.changes(record_id=con)] == ["CREATE", "DELETE"]


def test_undelete_restores_the_record_bumps_its_modstamp_and_logs_undelete(sf, ctl, fine_replication):
    acc = sf.Account.create({"Name": "Comeback"})["id"]
    sf.Account.delete(acc)
    soql = f"SELECT SystemModstamp FROM Account WHERE Id = '{acc}'"
    deleted_stamp = sf.query_all(soql, include_deleted=True)["records"][0]
    ctl.undelete("Account", acc, client="admin-console")
    restored = sf.Account.get(acc)
    assert restored["IsDeleted"] is False and restored["Name"] == "Comeback"
    assert restored["SystemModstamp"] >= deleted_stamp["SystemModstamp"]
    log = ctl.changes(record_id=acc)
    assert (log[-1]["changeType"], log[-1]["client"]) == ("UNDELETE", "admin-console")
    assert acc not in _deleted_ids(sf)
    assert acc in sf.Account.updated(*_window())["ids"]


def test_undelete_of_a_live_record_is_refused(sf, ctl):
    acc = sf.Account.create({"Name": "Alive"})["id"]
    with pytest.raises(EmulatorControlError) as exc:
        ctl.undelete("Account", acc)
    assert exc.value.response.status_code == 400
    assert exc.value.response.json()[0]["errorCode"] == "UNDELETE_FAILED"


def test_get_updated_with_end_ahead_covers_the_current_minute_up_to_now(sf):
    acc = sf.Account.create({"Name": "Recently Updated"})["id"]
    stamp = sf.Account.get(acc)["SystemModstamp"]
    now = datetime.now(UTC)
    body = sf.Account.updated(now - timedelta(minutes=3), now + timedelta(minutes=1))
    assert set(body) == {"ids", "latestDateCovered"}
    assert acc in body["ids"] and body["latestDateCovered"] > stamp
    assert body["latestDateCovered"] <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.999+0000")


def test_get_deleted_with_end_ahead_reports_a_delete_made_seconds_ago(sf):
    acc = sf.Account.create({"Name": "Just Deleted"})["id"]
    sf.Account.delete(acc)
    now = datetime.now(UTC)
    body = sf.Account.deleted(now - timedelta(minutes=3), now + timedelta(minutes=1))
    assert acc in {d["id"] for d in body["deletedRecords"]}


def test_replication_ignores_the_seconds_of_start_and_end(sf):
    """As documented: 12:35:15 counts as 12:35:00, so a past end covers up to its whole minute."""
    acc = sf.Account.create({"Name": "Seconds Ignored"})["id"]
    stamp = datetime.strptime(sf.Account.get(acc)["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
    minute = stamp.replace(second=0, microsecond=0)
    body = sf.Account.updated(minute - timedelta(minutes=2), minute + timedelta(seconds=59))
    assert body["latestDateCovered"] == minute.strftime("%Y-%m-%dT%H:%M:00.000+0000")
    assert acc not in body["ids"]  # stamped after 12:35:00, the truncated end
    later = sf.Account.updated(minute + timedelta(seconds=59), minute + timedelta(minutes=1, seconds=59))
    assert acc in later["ids"]


def test_get_updated_sees_a_fresh_change_once_its_minute_is_covered(sf, fine_replication):
    acc = sf.Account.create({"Name": "Fresh"})["id"]
    wait_for(lambda: acc in sf.Account.updated(*_window())["ids"], timeout=5, interval=0.05)


@pytest.mark.parametrize("start, end, message", [
    (timedelta(days=-31), timedelta(0), "startDate cannot be more than 30 days ago"),
    (timedelta(minutes=-1), timedelta(minutes=-2), "EndDate must chronologically follow the StartDate"),
])
def test_replication_windows_are_validated_like_the_real_api(sf, start, end, message):
    now = datetime.now(UTC)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.deleted(now + start, now + end)
    assert exc.value.content == [{"message": message, "errorCode": "INVALID_REPLICATION_DATE"}]


def test_replication_calls_require_start_and_end(api):
    r = api("GET", "/sobjects/Account/updated/", params={"start": "2026-01-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
