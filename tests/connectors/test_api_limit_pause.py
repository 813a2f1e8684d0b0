"""Paused at the org's API limit, sf-apply keeps polling with its partitions paused, so it stays in its
consumer group however long the pause lasts; the console and the API say so and until when."""
from __future__ import annotations

import threading
import time

import pytest

from connectors.kafka.config import KafkaSettings
from connectors.workers.runner import WorkerRunner
from dashboard.status import mapping_rows
from tests.connectors.helpers import step_until
from tests.connectors.test_two_way import backfilled
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db

#: The shortest librdkafka allows with our 6 s session timeout; production keeps 300 s.
SHORT_POLL_INTERVAL_MS = 7000


@pytest.fixture
def short_poll_interval(monkeypatch):  # type: ignore[no-untyped-def]
    """Consumers that leave their group after 7 s without a poll, so the test need not wait 5 minutes."""
    config = KafkaSettings.consumer_config

    def shorter(self, group_id):  # type: ignore[no-untyped-def]
        return {**config(self, group_id), "max.poll.interval.ms": SHORT_POLL_INTERVAL_MS}

    monkeypatch.setattr(KafkaSettings, "consumer_config", shorter)


def test_a_pause_longer_than_the_poll_interval_keeps_the_partitions_and_resumes(
        sf, mongo, short_poll_interval, all_workers, emulator, client):
    backfilled(sf, mongo, all_workers)
    apply = next(w for w in all_workers if w.name.startswith("sf-apply"))
    emulator.set_faults(daily_api_limit=emulator.usage()["used"])  # today's calls are used up
    mongo.accounts.insert_one({"name": "Waits Out The Pause"})
    step_until(all_workers, lambda: apply.paused, message="writing paused")
    assigned = apply._source.consumer._consumer.assignment()
    assert assigned

    # Paused for longer than max.poll.interval.ms, the worker stepped as runconsumers steps it.
    paused_at = time.monotonic()
    step_until([apply], lambda: time.monotonic() - paused_at > 1.5 * SHORT_POLL_INTERVAL_MS / 1000,
               message="the pause outlasting the poll interval")
    assert apply.paused
    assert apply._source.consumer._consumer.assignment() == assigned, "still in the group, same partitions"
    assert mongo.accounts.find_one({"name": "Waits Out The Pause"}).get("sf_id") is None, "nothing written"

    # The console and the API say why, and until when.
    WorkerRunner([apply], threading.Event())._beat()
    row = next(m for m in mapping_rows() if m.name == "accounts")
    assert row.state == "paused" and row.state_reason.startswith("API limit") and "next check at" in row.state_reason
    client.force_login(user_with_role("operator", OPERATORS))
    api_row = next(m for m in client.get("/api/v1/status").json()["mappings"] if m["name"] == "accounts")
    assert (api_row["state"], api_row["state_reason"]) == ("paused", row.state_reason)

    emulator.clear_faults()
    emulator.reset_usage()
    apply.resume_check_now()
    step_until(all_workers, lambda: sf.query("SELECT COUNT() FROM Account WHERE Name = 'Waits Out The Pause'")
               ["totalSize"] == 1, message="the write after resuming")
    WorkerRunner([apply], threading.Event())._beat()
    assert next(m for m in mapping_rows() if m.name == "accounts").state != "paused"
