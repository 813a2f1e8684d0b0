from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connectors.mongo.client import MongoUnavailable, connect
from connectors.mongo.setup import ensure_collection
from connectors.mongo.writer import DocumentChange, write_changes
from devstack.health import free_port

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
NOW = datetime.now(timezone.utc)


@pytest.fixture
def collection(stack, unique):
    client = connect(stack.mongodb_uri)
    ensure_collection(client[unique], "accounts", ["accountId"])
    yield client[unique]["accounts"]
    client.drop_database(unique)
    client.close()


def upsert(key: str, stamp: datetime, **values) -> DocumentChange:
    return DocumentChange(key, "upsert", stamp, values, event_id=f"e-{key}-{stamp.timestamp()}")


def test_an_older_modstamp_never_overwrites_a_newer_one(collection):
    write_changes(collection, "sf_id", [upsert("001A", T0 + timedelta(seconds=5), name="new")], NOW)
    outcome = write_changes(collection, "sf_id", [upsert("001A", T0, name="old")], NOW)
    assert (outcome.applied, outcome.stale, outcome.failures) == (0, 1, [])
    assert collection.find_one({"sf_id": "001A"})["name"] == "new"
    assert collection.count_documents({}) == 1
    assert collection.find_one({"_id": "001A"})["sf_id"] == "001A", "keyed on _id, Id kept in the key field"


def test_the_same_change_applied_twice_leaves_one_document(collection):
    change = upsert("001B", T0, name="Acme")
    write_changes(collection, "sf_id", [change], NOW)
    write_changes(collection, "sf_id", [change], NOW)
    assert collection.count_documents({"sf_id": "001B"}) == 1


def test_delete_removes_and_mark_deleted_keeps_a_marked_document(collection):
    write_changes(collection, "sf_id", [upsert("001C", T0, name="a"), upsert("001D", T0, name="b")], NOW)
    later = T0 + timedelta(seconds=1)
    write_changes(collection, "sf_id", [DocumentChange("001C", "delete", later, {}, "d1"),
                                        DocumentChange("001D", "mark_deleted", later, {}, "d2")], NOW)
    assert collection.find_one({"sf_id": "001C"}) is None
    marked = collection.find_one({"sf_id": "001D"})
    assert marked["_sync"]["deleted"] is True and marked["name"] == "b"


def test_a_record_level_failure_is_reported_and_the_rest_of_the_batch_is_applied(collection):
    # An application's own validator on the collection refuses a document of the wrong shape.
    collection.database.command("collMod", collection.name,
                                validator={"$jsonSchema": {"properties": {"name": {"bsonType": "string"}}}})
    outcome = write_changes(collection, "sf_id", [upsert("001E", T0, name="fine"), upsert("001F", T0, name=42)], NOW)
    assert outcome.applied == 1
    assert [(c.key, code) for c, code, _ in outcome.failures] == [("001F", "121")]
    assert "validation" in outcome.failures[0][2]
    assert collection.find_one({"sf_id": "001E"})["name"] == "fine"


def test_an_unreachable_server_gives_one_line_naming_it():
    port = free_port()
    with pytest.raises(MongoUnavailable, match=f"127.0.0.1:{port}"):
        connect(f"mongodb://127.0.0.1:{port}", timeout_ms=500)


def test_an_echo_planned_from_an_older_read_keeps_the_base_a_write_back_stored_meanwhile(collection):
    """mongo-apply read a document, sf-apply's write-back then stored the base of the value it sent,
    and the echo's write landed last: written whole, the base went back to the older value, and the
    next MongoDB edit of that field was held as a conflict with Salesforce (the chaos baseline's stale
    record, once the echo came back faster)."""
    from connectors.engine.mapping import MappingSpec, build_field_specs
    from connectors.engine.plan import PlanOutcome, plan_salesforce_upsert
    from connectors.mongo import sync_state

    spec = MappingSpec(name="accounts", sf_object="Account", collection="accounts", key_field="sf_id",
                       delete_mode="remove", conflict_policy="manual", two_way=True,
                       fields=build_field_specs([("Name", "name", "string", "auto", True),
                                                 ("LastModifiedDate", "lastModifiedDate", "datetime", "auto", False)]))
    collection.insert_one({"_id": "001E", "sf_id": "001E", "name": "sent by the sync", **sync_state.whole(
        sync_state.update(sf_modstamp=T0, base={"Name": "before", "LastModifiedDate": "2026-11-25T12:00:00.000Z"}))})
    read_by_apply = collection.find_one({"_id": "001E"})
    # sf-apply's write-back of the value it sent lands after mongo-apply's read.
    collection.update_one({"_id": "001E"}, {"$set": sync_state.update(base_values={"Name": "sent by the sync"})})

    echo = {"LastModifiedDate": "2026-11-25T12:00:05.000Z"}  # CDC: the sync's own update carries what Salesforce set
    plan = plan_salesforce_upsert(spec, echo, T0 + timedelta(seconds=5), read_by_apply, sync_state.read(read_by_apply))
    assert plan.outcome == PlanOutcome.ECHO and plan.base
    change = DocumentChange("001E", "upsert", T0 + timedelta(seconds=5), plan.set_fields, "echo",
                            base=sync_state.changed_base(plan.base, read_by_apply))
    assert write_changes(collection, "sf_id", [change], NOW).applied == 1
    base = sync_state.read(collection.find_one({"_id": "001E"})).base
    assert base["Name"] == "sent by the sync"  # "before" when the base was written whole
    assert base["LastModifiedDate"] == "2026-11-25T12:00:05.000Z"
