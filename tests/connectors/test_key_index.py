"""The unique index on the Salesforce Id key field: it refuses a second document for one record,
and the version guard still reports an older change as stale, not as a failure."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connectors.mongo.client import connect
from connectors.mongo.setup import DuplicateKeys, ensure_collection
from connectors.mongo.writer import DocumentChange, insert_new, write_changes

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
NOW = datetime.now(timezone.utc)


@pytest.fixture
def database(stack, unique):
    client = connect(stack.mongodb_uri)
    yield client[unique]
    client.drop_database(unique)
    client.close()


@pytest.fixture
def collection(database):
    ensure_collection(database, "accounts", [], key_field="sf_id")
    return database["accounts"]


def upsert(key: str, stamp: datetime, document_id: object = None, **values) -> DocumentChange:
    return DocumentChange(key, "upsert", stamp, values, event_id=f"e-{key}-{stamp.timestamp()}",
                          base={"Name": values.get("name")}, document_id=document_id)


def test_an_older_change_is_stale_not_a_failure(collection):
    later = T0 + timedelta(seconds=5)
    write_changes(collection, "sf_id", [upsert("001A", later, name="new"),
                                        upsert("001B", later, "64b000000000000000000001", name="b")],
                  NOW)
    outcome = write_changes(collection, "sf_id", [upsert("001A", T0, name="old"),
                                                  upsert("001B", T0, "64b000000000000000000001", name="old")], NOW)
    assert (outcome.applied, outcome.stale, outcome.failures) == (0, 2, [])
    assert collection.find_one({"_id": "001A"})["name"] == "new"


def test_a_second_document_for_one_record_is_refused_and_reported(collection):
    write_changes(collection, "sf_id", [upsert("001C", T0, name="first")], NOW)
    outcome = write_changes(collection, "sf_id", [upsert("001C", T0, "born-elsewhere", name="second")], NOW)
    assert outcome.applied == 0 and outcome.stale == 0
    assert [(c.key, code) for c, code, _ in outcome.failures] == [("001C", "11000")]
    one_way = DocumentChange("001C", "upsert", T0, {"name": "third"}, "e3", document_id="elsewhere-too")
    inserted, existing = insert_new(collection, "sf_id", [one_way], NOW)
    assert write_changes(collection, "sf_id", existing, NOW).failures
    assert collection.count_documents({"sf_id": "001C"}) == 1


def test_documents_without_a_salesforce_id_yet_are_not_held_by_the_index(collection):
    collection.insert_many([{"name": "born here"}, {"name": "also born here"}, {"sf_id": None}])
    assert collection.count_documents({}) == 3


def test_an_existing_collection_with_duplicates_is_named_not_failed_obscurely(database):
    database["accounts"].insert_many([{"_id": "001D", "sf_id": "001D"}, {"_id": "x", "sf_id": "001D"}])
    with pytest.raises(DuplicateKeys) as refused:
        ensure_collection(database, "accounts", [], key_field="sf_id")
    assert refused.value.duplicates == {"001D": ["001D", "x"]}
    assert "001D (2 documents)" in str(refused.value) and "--merge-duplicates" in str(refused.value)


def test_reads_by_salesforce_id_use_an_index_not_a_collection_scan(collection):
    """apply reads by Salesforce Id every change not found by `_id` (all of a first load);
    a scan per 50 ids made a two-way initial load slow down as the collection grew."""
    collection.insert_many([{"_id": f"64b00000000000000000{i:04d}", "sf_id": f"001{i:015d}"} for i in range(200)])
    plan = collection.find({"sf_id": {"$in": ["001000000000000007", "001NOTTHERE"]}}).explain()
    winning = plan["queryPlanner"]["winningPlan"]
    assert winning["stage"] != "COLLSCAN", winning
    assert [d["_id"] for d in collection.find({"sf_id": {"$in": ["001000000000000007", "001NOTTHERE"]}})] \
        == ["64b000000000000000000007"]
