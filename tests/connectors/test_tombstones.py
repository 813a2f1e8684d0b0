"""Tombstones tell the sync's own deletes from an application's, by the oplog window they ran in."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId

from connectors.mongo import tombstones
from connectors.mongo.client import connect
from connectors.mongo.setup import ensure_collection
from connectors.mongo.writer import DocumentChange, write_changes

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
NOW = datetime.now(timezone.utc)


@pytest.fixture
def collection(stack, unique):
    client = connect(stack.mongodb_uri)
    ensure_collection(client[unique], "accounts", [])
    yield client[unique]["accounts"]
    client.drop_database(unique)
    client.close()


def deletes_seen(stream) -> list[tuple]:
    """Every delete event the stream holds now, as (document `_id`, cluster time)."""
    seen = []
    while (event := stream.try_next()) is not None:
        if event["operationType"] == "delete":
            seen.append((event["documentKey"]["_id"], event["clusterTime"]))
    return seen


def delete(key: str, stamp: datetime, document_id=None) -> DocumentChange:
    return DocumentChange(key, "delete", stamp, {}, event_id=f"d-{key}", document_id=document_id)


def test_the_syncs_deletes_are_its_own_and_an_applications_later_delete_is_not(collection):
    born_in_mongodb = ObjectId()
    collection.insert_many([{"_id": "001A", "sf_id": "001A"}, {"_id": born_in_mongodb, "sf_id": "001B"}])
    with collection.watch() as stream:
        write_changes(collection, "sf_id", [delete("001A", T0), delete("001B", T0, born_in_mongodb)], NOW)
        ours = deletes_seen(stream)
        # The record was undeleted and its document came back; then an application deleted it.
        collection.insert_one({"_id": "001A", "sf_id": "001A"})
        collection.delete_one({"_id": "001A"})
        theirs = deletes_seen(stream)
    assert [d for d, _ in ours] == ["001A", born_in_mongodb] and [d for d, _ in theirs] == ["001A"]
    assert tombstones.own_deletes(collection, ours + theirs) == {(str(d), t) for d, t in ours}
    # The same answer for the same events read again, as after a restart.
    assert tombstones.own_deletes(collection, ours + theirs) == {(str(d), t) for d, t in ours}


def test_a_delete_of_the_same_id_in_another_collection_is_not_the_syncs(collection):
    other = collection.database["contacts"]
    collection.insert_one({"_id": "001A", "sf_id": "001A"})
    other.insert_one({"_id": "001A"})
    with other.watch() as stream:
        write_changes(collection, "sf_id", [delete("001A", T0)], NOW)
        other.delete_one({"_id": "001A"})
        theirs = deletes_seen(stream)
    assert theirs and tombstones.own_deletes(other, theirs) == set()


def test_a_failed_delete_keeps_its_window_open_until_the_retry_closes_it(collection):
    collection.insert_one({"_id": "001A", "sf_id": "001A"})
    with collection.watch() as stream:
        with pytest.raises(RuntimeError):
            with tombstones.deleting(collection, [("001A", "001A", T0)], NOW) as session:
                collection.delete_one({"_id": "001A"}, session=session)
                raise RuntimeError("the connection broke before the write was acknowledged")
        first = deletes_seen(stream)
        write_changes(collection, "sf_id", [delete("001A", T0)], NOW)  # the retry: nothing left to delete
        collection.insert_one({"_id": "001A", "sf_id": "001A"})
        collection.delete_one({"_id": "001A"})
        later = deletes_seen(stream)
    assert tombstones.own_deletes(collection, first + later) == {("001A", first[0][1])}


def test_tombstones_expire_and_the_newest_delete_stamp_is_kept(collection):
    write_changes(collection, "sf_id", [delete("001A", T0 + timedelta(seconds=5))], NOW)
    write_changes(collection, "sf_id", [delete("001A", T0)], NOW)  # an older delete redelivered
    assert tombstones.deleted_at(collection, ["001A"]) == {"001A": T0 + timedelta(seconds=5)}
    ttl = collection.database[tombstones.COLLECTION].index_information()["at_ttl"]
    assert ttl["expireAfterSeconds"] == int(tombstones.KEEP.total_seconds())
