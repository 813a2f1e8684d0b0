"""A write the sync made to MongoDB and was told was done survives a crash of the server.

Apply commits its Kafka offsets once MongoDB acknowledged a batch, so nothing redelivers a write
the server then loses. Acknowledged with `w: 1` alone, WiredTiger holds the journal record in
memory for a while: SecantusDB killed with SIGKILL then forgets the last writes (the `mongo-kill`
fault scenario's stale record, docs/reliability.md). The sync's client asks for journaled writes
(`connectors.mongo.client.connect`); both tests fail without it.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from connectors.mongo.client import connect
from connectors.mongo.setup import ensure_collection
from connectors.mongo.writer import DocumentChange, write_changes
from tests.connectors.helpers import wait_for
from tests.connectors.test_broker_loss import Service

T0 = datetime(2026, 11, 30, 19, 33, tzinfo=timezone.utc)


@pytest.fixture
def secantus(tmp_path) -> Iterator[Service]:
    running = Service(tmp_path / "mongo", "mongo")
    yield running
    running.stop()


def test_writes_applied_before_a_sigkill_of_mongodb_are_still_there_after_its_restart(secantus):
    client = connect(secantus.stack.mongodb_uri)
    ensure_collection(client["sync"], "orders", [], key_field="sf_id")
    orders = client["sync"]["orders"]
    # One batch a change, as apply writes while edits trickle in; the crash comes right after the last.
    for n in range(40):
        change = DocumentChange(f"801Hn00000000{n:02d}AAA", "upsert", T0 + timedelta(seconds=n),
                                {"status": "Shipped"}, event_id=f"e{n}")
        assert write_changes(orders, "sf_id", [change], datetime.now(timezone.utc)).applied == 1
    client.close()

    secantus.kill_and_restart()

    client = connect(secantus.stack.mongodb_uri)
    try:
        kept = client["sync"]["orders"].count_documents({"status": "Shipped"})
    finally:
        client.close()
    assert kept == 40, f"{40 - kept} of 40 acknowledged writes lost with the server"


def test_a_change_stream_resumed_after_a_sigkill_of_mongodb_misses_nothing_written_after_it(secantus):
    """Capture checkpoints the resume token of the last change it read. SecantusDB numbers the
    changes after a restart from the last durable one, so a token past writes the crash lost
    would skip as many new changes: with journaled writes there are none."""
    client = connect(secantus.stack.mongodb_uri)
    orders = client["app"]["orders"]
    orders.insert_one({"_id": "first"})
    stream = orders.watch(max_await_time_ms=200)
    for n in range(20):
        orders.insert_one({"_id": n, "status": "Pending"})
    # Read exactly the 20 changes (no wait for more: the server flushes its journal meanwhile), then crash.
    seen = [wait_for(stream.try_next, timeout=10, interval=0, message=f"change {n}")["documentKey"]["_id"]
            for n in range(20)]
    token = stream.resume_token
    secantus.kill_and_restart()
    client.close()
    assert seen == list(range(20))

    client = connect(secantus.stack.mongodb_uri)
    try:
        orders = client["app"]["orders"]
        orders.insert_one({"_id": "after the restart"})
        resumed = orders.watch(resume_after=token, max_await_time_ms=200)
        after = wait_for(resumed.try_next, timeout=10, message="the change after the restart")
        assert after["documentKey"]["_id"] == "after the restart"
        assert orders.count_documents({"status": "Pending"}) == 20, "writes the change stream showed were lost"
    finally:
        client.close()
