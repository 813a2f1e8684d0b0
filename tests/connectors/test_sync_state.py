"""The sync state codec (`connectors.mongo.sync_state`) against a real MongoDB: what `update` and
`whole` store is what `read` gives back, parts left out stay as they were, and a document the sync
never wrote reads as the empty state. The stored shape is asserted literally where it is the subject."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connectors.engine.sync_state import Push, SyncState
from connectors.mongo import sync_state
from connectors.mongo.client import connect

# MongoDB keeps milliseconds: whole ones round-trip exactly.
T0 = datetime(2026, 11, 30, 12, 0, 0, 125000, tzinfo=timezone.utc)
T1 = T0 + timedelta(seconds=7)


@pytest.fixture
def collection(stack, unique):
    client = connect(stack.mongodb_uri)
    yield client[unique]["accounts"]
    client.drop_database(unique)
    client.close()


def stored(collection, document_id):
    return sync_state.read(collection.find_one({"_id": document_id}))


def test_a_full_state_round_trips(collection):
    push = Push(before="Old", sent="New", at=T1, change_at=T0)
    collection.insert_one({"_id": "a", "name": "New"})
    collection.update_one({"_id": "a"}, {"$set": sync_state.update(
        synced_at=T1, source="mongodb", event_id="e-1", sf_modstamp=T0, base={"Name": "New", "Phone": "1"},
        base_hash="h1", resolution=17, deleted=False, pushes={"Name": push})})
    assert stored(collection, "a") == SyncState(
        synced_at=T1, source="mongodb", event_id="e-1", sf_modstamp=T0, base={"Name": "New", "Phone": "1"},
        base_hash="h1", pushed={"Name": push}, resolution=17, deleted=False)


def test_the_stored_shape(collection):
    collection.insert_one({"_id": "a", **sync_state.whole(sync_state.update(sf_modstamp=T0, deleted=True))})
    collection.update_one({"_id": "a"}, {"$set": sync_state.update(
        base_hash="h", base_values={"Name": "x"}, pushes={"Name": Push(before=None, sent="x", at=T1)})})
    assert collection.find_one({"_id": "a"})["_sync"] == {
        "sf_modstamp": T0, "deleted": True, "hash": "h", "base": {"Name": "x"},
        "pushed": {"Name": {"before": None, "sent": "x", "at": T1, "change_at": None}}}


@pytest.mark.parametrize("document", [None, {"_id": "a", "name": "Acme"}, {"_id": "a", "_sync": None},
                                      {"_id": "a", "_sync": {}}])
def test_a_document_the_sync_never_wrote_has_the_empty_state(document):
    state = sync_state.read(document)
    assert state == SyncState()
    assert (state.base, state.pushed, state.base_hash, state.deleted, state.sf_modstamp) == ({}, {}, "", False, None)


def test_a_partial_update_leaves_the_other_parts(collection):
    collection.insert_one({"_id": "a", **sync_state.whole(sync_state.update(
        synced_at=T0, source="salesforce", event_id="e-1", sf_modstamp=T0, deleted=False))})
    collection.update_one({"_id": "a"}, {"$set": sync_state.update(base={"Name": "A", "Phone": "1"}, base_hash="h")})
    collection.update_one({"_id": "a"}, {"$set": sync_state.update(base_values={"Phone": "2"}, synced_at=T1)})
    assert stored(collection, "a") == SyncState(
        synced_at=T1, source="salesforce", event_id="e-1", sf_modstamp=T0, base={"Name": "A", "Phone": "2"},
        base_hash="h", deleted=False)


def test_a_push_for_one_field_keeps_the_others(collection):
    first = Push(before="a", sent="b", at=T0, change_at=T0)
    second = Push(before="1", sent="2", at=T1)
    collection.insert_one({"_id": "a"})
    collection.update_one({"_id": "a"}, {"$set": sync_state.update(pushes={"Name": first})})
    collection.update_one({"_id": "a"}, {"$set": sync_state.update(pushes={"Phone": second})})
    assert stored(collection, "a").pushed == {"Name": first, "Phone": second}


def test_whole_replaces_what_the_sub_document_held(collection):
    collection.insert_one({"_id": "a", "name": "x"})
    collection.update_one({"_id": "a"}, {"$set": sync_state.update(base={"Name": "x"}, resolution="e-0")})
    collection.update_one({"_id": "a"}, {"$set": sync_state.whole(sync_state.update(sf_modstamp=T1, deleted=False))})
    assert stored(collection, "a") == SyncState(sf_modstamp=T1)
    assert collection.find_one({"_id": "a"})["name"] == "x"


def test_the_version_guard_matches_no_stamp_an_older_or_the_same_stamp_but_never_a_newer_one(collection):
    collection.insert_many([{"_id": "none"}, *({"_id": name, **sync_state.whole(sync_state.update(sf_modstamp=at))}
                                               for name, at in (("older", T0 - timedelta(seconds=1)), ("same", T0),
                                                                ("newer", T1)))])
    matched = {d["_id"] for d in collection.find(sync_state.not_newer_than(T0))}
    assert matched == {"none", "older", "same"}


def test_set_by_sync_tells_the_syncs_own_update_by_its_stamp():
    assert sync_state.set_by_sync(sync_state.update(synced_at=T0, source="mongodb"))
    assert sync_state.set_by_sync(sync_state.whole(sync_state.update(deleted=False)))
    assert not sync_state.set_by_sync(sync_state.update(base_values={"Name": "x"}, resolution=3))
    assert not sync_state.set_by_sync({"name": "x"})


def test_nothing_given_is_nothing_to_set():
    assert sync_state.update() == {}


def test_pushes_of_records_the_base_value_each_write_replaced():
    state = SyncState(base={"Name": "Old"})
    assert state.pushes_of({"Name": "New", "Phone": "1"}, T1, T0) == {
        "Name": Push(before="Old", sent="New", at=T1, change_at=T0),
        "Phone": Push(before=None, sent="1", at=T1, change_at=T0)}
