"""The overview: every figure of each mapping, its state, the controls (staff, POST, CSRF),
the REST controls, and the websocket pushing changes as they happen."""
from __future__ import annotations

import re
import socket
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.utils import timezone

from connectors.models import (
    CaptureCheckpoint,
    Conflict,
    KafkaCluster,
    MetricSample,
    MongoCheckpoint,
    MongoTarget,
    ObjectMapping,
    RecordEvent,
    SalesforceOrg,
    SyncError,
    SyncJob,
    WorkerStatus,
)
from dashboard.models import ApiToken
from dashboard.status import mapping_rows
from syncsite.asgi import application
from tests.dashboard.roles import OPERATORS, user_with_role
from tests.dashboard.test_websocket import session_cookie

SF_ID = "001000000000001AAA"


def make_mapping(name: str = "accounts", direction: str = "both") -> ObjectMapping:
    org, _ = SalesforceOrg.objects.get_or_create(name="o", defaults={"login_url": "https://login.salesforce.com"})
    kafka, _ = KafkaCluster.objects.get_or_create(name="k", defaults={"bootstrap_servers": "127.0.0.1:9092"})
    mongo, _ = MongoTarget.objects.get_or_create(name="m", defaults={"uri": "mongodb://127.0.0.1", "database": "db"})
    return ObjectMapping.objects.create(name=name, org=org, kafka=kafka, mongo=mongo, sf_object="Account",
                                        collection="accounts", direction=direction)


def beating(*names: str, state: str = "running", counters: dict | None = None) -> None:
    for name in names:
        WorkerStatus.objects.create(name=name, host=socket.gethostname(), pid=1, state=state, counters=counters or {},
                                    last_error="SalesforceLoginError: bad password" if state == "failing" else "")


def all_workers_beating(counters: dict | None = None) -> None:
    beating("sf-capture:accounts", "mongo-capture:accounts", "mongo-apply:k", "sf-apply:k", counters=counters)


@pytest.fixture
def staff(client):
    user = user_with_role("operator", OPERATORS)
    client.force_login(user)
    return user


@pytest.mark.django_db
def test_the_overview_shows_every_figure_of_a_mapping(client, staff):
    mapping = make_mapping()
    CaptureCheckpoint.objects.create(mapping=mapping, modstamp=timezone.now().replace(microsecond=0),
                                     events_published=120)
    MongoCheckpoint.objects.create(mapping=mapping, cluster_time="1700000000.7", events_published=30)
    MetricSample.objects.create(mapping=mapping, interval_seconds=10, sf_to_mongo_events=25, mongo_to_sf_events=4,
                                sf_to_mongo_lag=17, mongo_to_sf_lag=3, sf_to_mongo_behind_seconds=2.5,
                                mongo_to_sf_behind_seconds=0.0, api_used=1234, api_limit=15000)
    SyncError.objects.create(mapping=mapping, stage="convert", code="X", message="m", payload="{}")
    Conflict.objects.create(mapping=mapping, salesforce_id=SF_ID, fields=["Name"], base_values={},
                            salesforce_values={}, mongo_values={})
    SyncJob.objects.create(mapping=mapping, kind="reconcile", state="running", progress_done=40, progress_total=100,
                           message="comparing")
    RecordEvent.objects.create(mapping=mapping, salesforce_id=SF_ID, source="salesforce", outcome="applied",
                               operation="upsert")
    all_workers_beating()

    page = client.get("/").content.decode()
    card = page[page.index('id="mapping-accounts"'):page.index('id="chart-throughput"')]
    for expected in ("Both ways", "running", "2023-11-14 22:13:20 UTC", "2.5", "0.4", "17", "3", "2.5 s", "0.0 s",
                     "1234 / 15000", "150", 'href="/errors/?mapping=accounts">1<',
                     'href="/conflicts/?mapping=accounts">1<', 'aria-valuenow="40"', "40 / 100", "comparing"):
        assert expected in card, expected
    for label in ("Pause", "Start backfill", "Start reconcile"):
        assert f">{label}</button>" in card
    assert re.search(r'<form[^>]*data-control="resume" hidden', card)
    feed = page[page.index('id="activity-feed"'):]
    assert f'href="/records/accounts/{SF_ID}/"' in feed and "Applied" in feed
    assert "dashboard/vendor/chartjs/chart.umd.min.js" in page and 'id="chart-lag"' in page


@pytest.mark.django_db
def test_a_mapping_is_failing_when_a_worker_fails_or_none_beats_and_paused_when_held(staff):
    mapping = make_mapping()
    (row,) = mapping_rows()
    assert row.state == "failing" and "worker is beating" in row.state_reason
    all_workers_beating()
    assert (mapping_rows()[0].state, mapping_rows()[0].state_reason) == ("idle", "nothing to sync")
    WorkerStatus.objects.filter(name="sf-apply:k").update(state="failing", last_error="salesforce: login refused")
    assert mapping_rows()[0].state == "failing" and "login refused" in mapping_rows()[0].state_reason
    WorkerStatus.objects.filter(name="sf-apply:k").update(last_beat=timezone.now() - timedelta(minutes=1))
    assert "sf-apply" in mapping_rows()[0].state_reason
    ObjectMapping.objects.filter(pk=mapping.pk).update(paused=True)
    assert mapping_rows()[0].state == "paused"


@pytest.mark.django_db
def test_controls_need_a_post_with_a_csrf_token_from_staff(staff):
    make_mapping()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    assert strict.post("/mappings/accounts/pause/").status_code == 403  # no CSRF token
    assert strict.get("/mappings/accounts/pause/").status_code == 405
    page = strict.get("/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = strict.post("/mappings/accounts/pause/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/#mapping-accounts"
    assert ObjectMapping.objects.get().paused

    viewer = Client()
    viewer.force_login(get_user_model().objects.create_user("viewer", password="pw-viewer-1"))
    viewer.post("/mappings/accounts/resume/")
    assert ObjectMapping.objects.get().paused


@pytest.mark.django_db
def test_resume_and_jobs_from_the_console_with_a_refusal_said_plainly(client, staff):
    make_mapping()
    make_mapping("contacts", direction="mongo_to_sf")
    ObjectMapping.objects.filter(name="accounts").update(paused=True)
    client.post("/mappings/accounts/resume/")
    assert not ObjectMapping.objects.get(name="accounts").paused
    client.post("/mappings/accounts/reconcile/")
    page = client.post("/mappings/accounts/reconcile/", follow=True).content.decode()
    assert "already queued" in page
    assert SyncJob.objects.filter(kind="reconcile", state="queued").count() == 1
    page = client.post("/mappings/contacts/backfill/", follow=True).content.decode()
    assert "does not capture from Salesforce" in page and not SyncJob.objects.filter(kind="backfill").exists()
    assert ">Start backfill</button>" not in page[page.index('id="mapping-contacts"'):]
    assert client.post("/mappings/accounts/explode/").status_code == 404


@pytest.mark.django_db
def test_the_rest_api_pauses_resumes_and_starts_jobs(client):
    make_mapping()
    make_mapping("contacts", direction="mongo_to_sf")
    user = user_with_role("robot", OPERATORS)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'ci')[1]}"}
    assert client.post("/api/v1/mappings/accounts/pause").status_code == 401
    paused = client.post("/api/v1/mappings/accounts/pause", **auth).json()
    assert (paused["paused"], paused["state"]) == (True, "paused")
    assert client.post("/api/v1/mappings/accounts/resume", **auth).json()["paused"] is False
    started = client.post("/api/v1/mappings/accounts/backfill", **auth)
    assert started.status_code == 202 and started.json()["state"] == "queued"
    assert client.get(f"/api/v1/jobs/{started.json()['id']}", **auth).json()["kind"] == "backfill"
    assert client.post("/api/v1/mappings/accounts/backfill", **auth).status_code == 409
    refused = client.post("/api/v1/mappings/contacts/backfill", **auth)
    assert refused.status_code == 409 and "does not capture from Salesforce" in refused.json()["detail"]
    assert client.post("/api/v1/mappings/contacts/reconcile", **auth).status_code == 202
    assert client.post("/api/v1/mappings/nope/pause", **auth).status_code == 404


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_the_websocket_pushes_changes_as_they_happen():
    mapping = await sync_to_async(make_mapping)()
    communicator = WebsocketCommunicator(application, "/ws/status/", headers=[
        (b"origin", b"http://localhost"), (b"cookie", await sync_to_async(session_cookie)(True))])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    first = await communicator.receive_json_from(timeout=5)
    assert first["type"] == "status" and first["status"]["mappings"][0]["paused"] is False
    assert (await communicator.receive_json_from(timeout=5)) == {"type": "history", "samples": []}

    @transaction.atomic
    def changes() -> None:
        ObjectMapping.objects.filter(pk=mapping.pk).update(paused=True)
        MetricSample.objects.create(mapping=mapping, interval_seconds=10, sf_to_mongo_events=50, sf_to_mongo_lag=9)
        RecordEvent.objects.create(mapping=mapping, salesforce_id=SF_ID, source="salesforce", outcome="applied")
        SyncJob.objects.create(mapping=mapping, kind="reconcile", state="running", progress_done=3, progress_total=4)
    await sync_to_async(changes)()

    pushed = (await communicator.receive_json_from(timeout=10))["status"]
    row = pushed["mappings"][0]
    assert (row["state"], row["sf_to_mongo_rate"], row["sf_to_mongo_lag"]) == ("paused", 5.0, 9)
    assert row["jobs"][0]["percent"] == 75
    assert [(a["record_key"], a["outcome"]) for a in pushed["activity"]] == [(SF_ID, "applied")]
    assert pushed["samples"][0]["sf_to_mongo_rate"] == 5.0
    await communicator.disconnect()
