"""Polling never drops an edit that shares its SystemModstamp with the version already read:
Salesforce compares stamps to the second, and the emulator can cut them to the second too."""
from __future__ import annotations

import time

import pytest

from tests.connectors.helpers import step_until, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_stamps(emulator):  # type: ignore[no-untyped-def]
    emulator.settings(modstamp_granularity_ms=1000)
    yield
    emulator.settings(modstamp_granularity_ms=1)


def stamp(sf, record_id: str) -> str:  # type: ignore[no-untyped-def]
    return sf.query(f"SELECT SystemModstamp FROM Account WHERE Id = '{record_id}'")["records"][0]["SystemModstamp"]


def test_a_second_edit_in_the_same_second_as_the_version_read_reaches_mongodb(sf, mongo, make_workers, second_stamps):
    def poll_often(mapping):  # type: ignore[no-untyped-def]
        mapping.poll_interval_seconds = 0.05

    workers = make_workers(poll_often, kinds=("sf-capture", "mongo-apply"), direction="sf_to_mongo")
    capture = next(w for w in workers if w.name.startswith("sf-capture:"))
    apply = next(w for w in workers if w.name.startswith("mongo-apply:"))
    step_until([capture], lambda: capture._loaded, message="the initial load read")
    for _attempt in range(5):
        # Start early in a second, so the create, its poll and the edit can share it.
        wait_for(lambda: time.time() % 1 < 0.2, timeout=2, interval=0.01, message="the start of a second")
        record_id = sf.Account.create({"Name": "Same Second 1"})["id"]
        created = stamp(sf, record_id)
        step_until([capture, apply], lambda rid=record_id: mongo.accounts.find_one({"_id": rid}) is not None,
                   timeout=10, message="the create polled and applied")
        sf.Account.update(record_id, {"Name": "Same Second 2"})
        if stamp(sf, record_id) == created:
            break  # the edit carries the stamp of the version already read
    else:
        pytest.fail("five tries never got the create polled and the edit made within one second")
    step_until([capture, apply], lambda: (mongo.accounts.find_one({"_id": record_id}) or {}).get("name")
               == "Same Second 2", timeout=15, message="the same-second edit in MongoDB (dropped before the fix)")
