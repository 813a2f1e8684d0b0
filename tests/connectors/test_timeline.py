"""Record timelines, written by the real pipeline: what each change was and what became of it."""
from __future__ import annotations

import pytest

from connectors.models import ObjectMapping, RecordEvent
from connectors.operations import conflict_queue, timeline
from tests.connectors.helpers import step_until
from tests.connectors.test_two_way import backfilled, open_manual_conflict
from tests.dashboard.roles import OPERATORS, VIEWERS, user_with_role

pytestmark = pytest.mark.django_db


def outcomes(mapping: ObjectMapping, key: str) -> list[tuple[str, str]]:
    return [(line.source, line.outcome) for line in timeline.timeline(mapping, key)]


def test_a_salesforce_edit_then_its_write_back_echo_are_lines_with_kafka_positions(sf, mongo, all_workers):
    backfilled(sf, mongo, all_workers)
    mapping = ObjectMapping.objects.get(name="accounts")
    document = mongo.accounts.find_one({"name": {"$exists": True}}, sort=[("_sync.sf_modstamp", 1)])
    sf.Account.update(document["sf_id"], {"Name": "Timeline Edit"})
    step_until(all_workers, lambda: ("salesforce", "applied") in outcomes(mapping, document["sf_id"])[1:],
               message="the edit's timeline line")

    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"name": "Edited Back In Mongo"}})
    step_until(all_workers, lambda: ("mongodb", "applied") in outcomes(mapping, str(document["_id"])),
               message="the write-back's timeline line")
    step_until(all_workers, lambda: ("salesforce", "echo") in outcomes(mapping, document["sf_id"]),
               message="the echo of the write-back")

    lines = list(timeline.timeline(mapping, document["sf_id"]))
    assert [(line.source, line.outcome) for line in lines][:1] == [("salesforce", "applied")]  # the backfill
    edit = next(line for line in lines[1:] if line.outcome == "applied" and line.source == "salesforce")
    assert edit.topic.endswith("Account") and edit.offset is not None and edit.partition is not None
    assert "system_modstamp=" in edit.source_version and "Name" in edit.fields
    write_back = next(line for line in lines if line.source == "mongodb")
    assert write_back.fields == ["Name"] and write_back.salesforce_id == document["sf_id"]
    # The same record is found by either of its ids.
    assert [line.pk for line in timeline.timeline(mapping, str(document["_id"]))] == [line.pk for line in lines]


def test_a_conflict_and_its_resolution_are_on_the_timeline(sf, mongo, make_workers, client):
    workers = make_workers(kinds=("sf-capture", "mongo-apply", "mongo-capture", "sf-apply"))
    document, conflict = open_manual_conflict(sf, mongo, workers)
    mapping = ObjectMapping.objects.get(name="accounts")
    conflict_queue.resolve(conflict, take={"Name": "salesforce"}, by="tester")

    found = outcomes(mapping, document["sf_id"])
    assert ("salesforce", "conflict") in found or ("mongodb", "conflict") in found
    assert found[-1] == ("console", "resolved")

    staff = user_with_role("op", OPERATORS)
    client.force_login(staff)
    page = client.get(f"/records/accounts/{document['sf_id']}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Conflict resolved" in text and "resolved by tester" in text and "Conflict" in text
    api = client.get(f"/api/v1/mappings/accounts/records/{document['sf_id']}/timeline").json()
    assert [line["outcome"] for line in api] == [o for _, o in found]


def test_a_rewound_batch_leaves_no_lines(sf, mongo, workers, monkeypatch):
    """A batch that fails is consumed again; its lines must not be written twice."""
    capture = next(w for w in workers if w.name.startswith("sf-capture:"))
    # The initial load is a re-read: mongo-reread applies it.
    apply = next(w for w in workers if w.name.startswith("mongo-reread:"))
    step_until([capture], lambda: capture._reread.published > 0, message="a chunk of the initial load read")
    calls = {"n": 0}
    real = apply._write

    def fail_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("MongoDB went away mid-batch")
        return real(*args, **kwargs)

    monkeypatch.setattr(apply, "_write", fail_once)
    with pytest.raises(RuntimeError, match="went away"):  # stepping stops at the first batch's failure
        step_until([apply], lambda: False, message="the failing batch")
    assert not RecordEvent.objects.exists()
    step_until(workers, lambda: RecordEvent.objects.count() >= 1, message="the batch applied on its second try")
    per_record = RecordEvent.objects.values_list("salesforce_id", flat=True)
    assert len(per_record) == len(set(per_record))


def test_a_long_cdc_version_keeps_its_time_and_a_broken_one_tells_nothing():
    from datetime import datetime, timezone

    from connectors.operations.metrics import source_time

    version = timeline.source_version_text({"replay_id": "ab" * 20, "system_modstamp": "2026-11-25T17:25:05.123Z"})
    assert source_time(version) == datetime(2026, 11, 25, 17, 25, 5, 123000, tzinfo=timezone.utc)
    assert source_time("system_modstamp=2026-11-25T17:25:05.") is None


def test_lines_older_than_the_configured_retention_are_pruned_by_the_apply_workers(sf, mongo, sync_settings, workers):
    """SYNC['TIMELINE_RETENTION_DAYS'] reaches the apply worker's timeline through WorkerConfig."""
    from datetime import timedelta

    from django.utils import timezone

    apply = next(w for w in workers if w.name.startswith("mongo-apply"))
    mapping = ObjectMapping.objects.get(name="accounts")
    old, recent = (RecordEvent.objects.create(mapping=mapping, salesforce_id=f"001OLD{i}", outcome="applied",
                                              source=RecordEvent.Source.SALESFORCE) for i in (1, 2))
    RecordEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    RecordEvent.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=6))
    assert apply.timeline._retention == timedelta(days=sync_settings["TIMELINE_RETENTION_DAYS"]) == timedelta(days=7)
    apply.timeline.flush()  # the first flush of a worker prunes
    assert list(RecordEvent.objects.filter(salesforce_id__startswith="001OLD").values_list("pk", flat=True)) \
        == [recent.pk]


def test_the_activity_feed_shows_live_changes_and_leaves_a_re_reads_rows_to_the_timeline(sf, mongo, workers, client):
    """A backfill's thousands of lines used to push a live edit out of the feed's newest lines
    before a console saw it; they stay on each record's timeline."""
    backfilled(sf, mongo, workers)  # the initial load: a re-read, applied by mongo-reread
    mapping = ObjectMapping.objects.get(name="accounts")
    record = min(r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"])
    sf.Account.update(record, {"Name": "Live In The Feed"})
    step_until(workers, lambda: ("salesforce", "applied") in outcomes(mapping, record)[1:], message="the edit's line")

    loaded, edited = timeline.timeline(mapping, record)
    assert loaded.topic.endswith(".reread") and not edited.topic.endswith(".reread")
    client.force_login(user_with_role("viewer", VIEWERS))
    feed = client.get("/api/v1/status").json()["activity"]
    assert (feed[0]["id"], feed[0]["record_key"]) == (edited.pk, record)
    reread_lines = set(RecordEvent.objects.filter(topic__endswith=".reread").values_list("pk", flat=True))
    assert len(reread_lines) >= 10  # every record of the org was loaded
    assert not reread_lines & {line["id"] for line in feed}
