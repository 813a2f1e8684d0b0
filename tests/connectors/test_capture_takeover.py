"""Two `runconsumers`, one killed: the other takes over MongoDB capture where the dead one published."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import MongoCheckpoint, ObjectMapping
from connectors.workers.mongo_capture import MongoCapture
from tests.connectors.helpers import step_until

pytestmark = pytest.mark.django_db


def test_a_standby_capture_resumes_from_the_dead_holders_checkpoint(sf, mongo, make_workers):
    first = make_workers(kinds=("mongo-capture",))[0]
    # Another process's, built now: the checkpoint it read holds no resume token yet.
    standby = MongoCapture(ObjectMapping.objects.get(name="accounts"), first.kafka, owner="standby:1")
    try:
        first.step()  # opens the stream
        mongo.accounts.insert_one({"name": "Before The Kill"})
        step_until([first, standby], lambda: first.counters["events_published"] >= 1, message="the first published")
        assert standby.counters["events_published"] == 0, "the lease keeps the standby out"
        # The holder is killed: nothing releases its lease, which expires.
        mongo.accounts.insert_one({"name": "While Nobody Captures"})
        MongoCheckpoint.objects.update(lease_expires=timezone.now() - timedelta(seconds=1))
        step_until([standby], lambda: standby.counters["events_published"] >= 1, message="the standby taking over")
        assert standby.counters["events_published"] == 1, "resumed after what the dead holder published"
    finally:
        standby.close()
