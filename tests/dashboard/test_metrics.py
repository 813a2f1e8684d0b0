"""GET /metrics: refused without a staff session or a staff user's API token; the console's
figures in Prometheus' text format."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from prometheus_client.parser import text_string_to_metric_families

from connectors.models import CaptureCheckpoint, MetricSample, ObjectMapping, SyncError
from dashboard.models import ApiToken
from tests.dashboard.roles import OPERATORS, user_with_role
from tests.dashboard.test_overview_live import all_workers_beating, make_mapping

pytestmark = pytest.mark.django_db


def values(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, parsed with prometheus-client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def token_for(staff: bool) -> dict[str, str]:
    user = user_with_role(f"robot{staff}", OPERATORS if staff else None)
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'prometheus')[1]}"}


def test_metrics_are_refused_to_anonymous_callers_non_staff_and_wrong_tokens(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", **token_for(staff=False)).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401
    client.force_login(get_user_model().objects.create_user("viewer", password="pw-viewer-1"))
    assert client.get("/metrics").status_code == 403


def test_metrics_show_the_console_figures_per_mapping(client):
    mapping = make_mapping()
    CaptureCheckpoint.objects.create(mapping=mapping, events_published=120)
    MetricSample.objects.create(mapping=mapping, interval_seconds=10, sf_to_mongo_events=25, sf_to_mongo_lag=17,
                                mongo_to_sf_lag=0, sf_to_mongo_behind_seconds=2.5, api_used=1234, api_limit=15000)
    SyncError.objects.create(mapping=mapping, stage="convert", code="X", message="m", payload="{}")
    ObjectMapping.objects.filter(pk=mapping.pk).update(paused=True)
    all_workers_beating()

    response = client.get("/metrics", **token_for(staff=True))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    found = values(response.content.decode())
    m = ("mapping", "accounts")
    assert found[("sync_events_total", (("direction", "sf_to_mongo"), m))] == 120
    assert found[("sync_events_per_second", (("direction", "sf_to_mongo"), m))] == 2.5
    assert found[("sync_kafka_lag_messages", (("direction", "sf_to_mongo"), m))] == 17
    assert found[("sync_kafka_lag_messages", (("direction", "mongo_to_sf"), m))] == 0
    assert found[("sync_seconds_behind_source", (("direction", "sf_to_mongo"), m))] == 2.5
    assert found[("sync_open_errors", (m,))] == 1
    assert found[("sync_open_conflicts", (m,))] == 0
    assert found[("sync_mapping_paused", (m,))] == 1
    assert found[("sync_mapping_state", (m, ("state", "paused")))] == 1
    assert found[("sync_mapping_state", (m, ("state", "running")))] == 0
    assert (found[("sync_salesforce_api_used", (m,))], found[("sync_salesforce_api_limit", (m,))]) == (1234, 15000)
    assert found[("sync_workers_alive", (("kind", "sf-apply"),))] == 1


def test_a_staff_session_may_read_the_metrics(client):
    client.force_login(user_with_role("op", OPERATORS))
    assert client.get("/metrics").status_code == 200
