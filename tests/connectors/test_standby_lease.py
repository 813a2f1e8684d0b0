"""A capture whose lease another process holds waits between asks instead of spinning: before,
a second runconsumers spent 31 of its 42 CPU-seconds asking for the lease during a backfill."""
from __future__ import annotations

import pytest

from connectors.models import ObjectMapping
from connectors.wiring import kafka_settings, salesforce_client
from connectors.workers.lease import STANDBY_SECONDS
from connectors.workers.sf_capture import SalesforceCapture

pytestmark = pytest.mark.django_db


def test_a_standby_capture_waits_between_asks_for_the_lease(make_workers, sync_settings):
    holder = next(w for w in make_workers(kinds=("sf-capture",)) if isinstance(w, SalesforceCapture))
    mapping = ObjectMapping.objects.get(name="accounts")
    standby = SalesforceCapture(mapping, salesforce_client(mapping.org), kafka_settings(mapping.kafka),
                                owner="standby:1", lookback=holder._window.lookback)
    try:
        holder.step()
        assert standby.step() is False
        assert standby.idle_seconds() == STANDBY_SECONDS
        assert holder.idle_seconds() < STANDBY_SECONDS
        holder.close()  # releases the lease: the standby's next ask takes it
        standby.step()
        assert standby.idle_seconds() < STANDBY_SECONDS
    finally:
        standby.close()
