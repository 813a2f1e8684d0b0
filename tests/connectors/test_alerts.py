"""Alerts against real receivers: an SMTP server and an HTTP webhook receiver. Conditions are made
as the workers make them (errors parked, conflicts opened, a worker failing, samples stored by the
metrics sampler), the real evaluation runs, and the tests count what arrived."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import (
    Alert,
    AlertDestination,
    AlertNotice,
    AlertRule,
    Conflict,
    MetricSample,
    ObjectMapping,
    SyncError,
    WorkerStatus,
)
from connectors.operations import alerts
from tests.connectors.alert_receivers import SmtpSink, WebhookReceiver
from tests.dashboard.page_checks import make_mapping

pytestmark = pytest.mark.django_db

TOKEN = "T000/B000/s3cr3t-h00k-token"


@pytest.fixture
def smtp(settings) -> Iterator[SmtpSink]:  # type: ignore[no-untyped-def]
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield sink


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def destinations(smtp: SmtpSink, hook: WebhookReceiver) -> list[AlertDestination]:
    return [
        AlertDestination.objects.create(name="ops mail", kind="email", emails="ops@example.com, oncall@example.com"),
        AlertDestination.objects.create(name="ops chat", kind="webhook", webhook_url=hook.url(f"/services/{TOKEN}")),
    ]


@pytest.fixture
def mapping() -> ObjectMapping:
    row = make_mapping("accounts")
    beating(row)
    return row


def beating(mapping: ObjectMapping, **counters: int) -> None:
    """Heartbeats of every worker the mapping needs, as runconsumers writes them."""
    for name in (f"sf-capture:{mapping.name}", f"mongo-capture:{mapping.name}", f"mongo-apply:{mapping.kafka.name}",
                 f"sf-apply:{mapping.kafka.name}"):
        WorkerStatus.objects.update_or_create(name=name, host="h", pid=1, defaults={"counters": counters})


def rule(**thresholds: object) -> AlertRule:
    return AlertRule.objects.update_or_create(mapping=None, defaults={"hold_seconds": 0, **thresholds})[0]


def park_errors(mapping: ObjectMapping, count: int, code: str = "FIELD_CUSTOM_VALIDATION_EXCEPTION") -> None:
    for n in range(count):
        SyncError.objects.create(mapping=mapping, stage="salesforce_write", code=code, message="rejected",
                                 payload="{}", record_key=f"r{n}")


def open_conflicts(mapping: ObjectMapping, count: int) -> None:
    for n in range(count):
        Conflict.objects.create(mapping=mapping, salesforce_id=f"001{n:015d}", fields=["Name"], base_values={},
                                salesforce_values={}, mongo_values={})


def tick(now=None) -> alerts.Outcome:  # type: ignore[no-untyped-def]
    """One pass of the alerts worker: evaluate, then deliver what is due."""
    outcome = alerts.evaluate(now=now)
    alerts.deliver_due(now=now)
    return outcome


def test_a_condition_is_told_once_by_email_and_webhook_and_once_when_it_clears(mapping, destinations, smtp, hook):
    rule(max_open_errors=3)
    park_errors(mapping, 3)
    tick()
    assert hook.texts() == ["[FIRING] Errors piling up: accounts: 3 changes parked in the error queue (alert at 3)"]
    assert hook.paths == [f"/services/{TOKEN}"]
    body = hook.bodies[0]
    assert (body["status"], body["condition"], body["mapping"], body["value"], body["threshold"]) == \
        ("firing", "errors", "accounts", 3, 3)
    [(recipients, message)] = smtp.messages
    assert recipients == ["ops@example.com", "oncall@example.com"]
    assert message["Subject"] == f"[sync] {hook.texts()[0]}"
    assert "3 changes parked in the error queue" in message.get_content()

    park_errors(mapping, 2)  # the condition goes on, and grows: still one alert
    tick()
    tick()
    assert (len(hook.bodies), len(smtp.messages)) == (1, 1)
    assert Alert.objects.get().summary == "accounts: 5 changes parked in the error queue (alert at 3)"

    SyncError.objects.update(status=SyncError.Status.DISCARDED)
    tick()
    tick()
    assert hook.texts()[1:] == ["[RESOLVED] Errors piling up: accounts is back to normal"]
    assert hook.bodies[1]["resolved_at"] is not None
    assert smtp.subjects()[1:] == [f"[sync] {hook.texts()[1]}"]
    assert Alert.objects.get().state == Alert.State.RESOLVED

    park_errors(mapping, 3)  # the same condition again later: a new alert
    tick()
    assert Alert.objects.filter(state=Alert.State.FIRING).count() == 1
    assert len(hook.bodies) == 3


def test_each_condition_has_its_own_alert_and_its_own_resolution(mapping, destinations, hook):
    rule(max_lag=1000, max_behind_seconds=60, max_open_conflicts=2, max_open_errors=5, api_share=0.8)
    beating(mapping, **{f"api_used.{mapping.org_id}": 90_000, f"api_limit.{mapping.org_id}": 100_000})
    WorkerStatus.objects.filter(name="mongo-apply:k").update(state="failing", last_error="MongoUnavailable: no answer")
    open_conflicts(mapping, 2)
    park_errors(mapping, 5)
    park_errors(mapping, 1, code="BROKER_DATA_LOST")
    MetricSample.objects.create(mapping=mapping, sf_to_mongo_lag=5000, mongo_to_sf_lag=10,
                                sf_to_mongo_behind_seconds=30, mongo_to_sf_behind_seconds=600)
    tick()
    tick()
    fired = sorted((b["condition"], b["summary"]) for b in hook.bodies)
    assert fired == [
        ("api_budget", "org o used 90,000 of 100,000 daily API calls (90%; alert at 80%)"),
        ("behind", "accounts: 600 s behind MongoDB → Salesforce (alert above 60 s)"),
        ("broker_loss", ("accounts: the Kafka broker lost data once; capture published again from what was "
                         "applied (open BROKER_DATA_LOST errors: read and discard them once checked)")),
        ("conflicts", "accounts: 2 open conflicts waiting for a person (alert at 2)"),
        ("errors", "accounts: 5 changes parked in the error queue (alert at 5)"),
        ("failing", "accounts: mongo-apply:k: MongoUnavailable: no answer"),
        ("lag", "accounts: 5,000 changes waiting Salesforce → MongoDB (alert above 1,000)"),
    ]

    beating(mapping, **{f"api_used.{mapping.org_id}": 100, f"api_limit.{mapping.org_id}": 100_000})
    WorkerStatus.objects.update(state="running", last_error="")
    Conflict.objects.update(status=Conflict.Status.RESOLVED)
    SyncError.objects.update(status=SyncError.Status.DISCARDED)
    MetricSample.objects.create(mapping=mapping, sf_to_mongo_lag=0, mongo_to_sf_lag=0,
                                sf_to_mongo_behind_seconds=0, mongo_to_sf_behind_seconds=0)
    tick()
    tick()
    resolved = sorted(b["condition"] for b in hook.bodies if b["status"] == "resolved")
    assert resolved == ["api_budget", "behind", "broker_loss", "conflicts", "errors", "failing", "lag"]
    assert len(hook.bodies) == 14


def test_a_mapping_whose_workers_stopped_beating_is_failing(mapping, destinations, hook):
    rule()
    WorkerStatus.objects.filter(name="sf-capture:accounts").delete()
    tick()
    assert hook.texts() == [("[FIRING] Mapping failing: accounts: no Salesforce capture worker is beating "
                             "(is manage.py runconsumers running?)")]


def test_a_condition_must_hold_before_anyone_is_told(mapping, destinations, hook, smtp):
    rule(max_open_errors=1, hold_seconds=60)
    start = timezone.now()
    park_errors(mapping, 1)
    tick(start)
    assert Alert.objects.get().state == Alert.State.PENDING
    SyncError.objects.update(status=SyncError.Status.DISCARDED)
    tick(start + timedelta(seconds=30))  # a blip: gone before the hold, nobody told, nothing kept
    assert (Alert.objects.count(), hook.bodies, smtp.messages) == (0, [], [])

    park_errors(mapping, 1)
    tick(start + timedelta(seconds=40))
    tick(start + timedelta(seconds=90))
    assert hook.bodies == [] and Alert.objects.get().state == Alert.State.PENDING
    tick(start + timedelta(seconds=101))
    assert len(hook.bodies) == len(smtp.messages) == 1


def test_a_destination_that_is_down_blocks_no_other_and_is_retried_later(mapping, destinations, hook, smtp, caplog):
    with WebhookReceiver() as later:
        port = later.port
    # Named to come first: its notice is sent before the others'.
    AlertDestination.objects.create(name="a pager", kind="webhook", webhook_url=f"http://127.0.0.1:{port}/{TOKEN}")
    rule(max_open_errors=1)
    park_errors(mapping, 1)
    with caplog.at_level(logging.WARNING):
        tick()
    assert (len(hook.bodies), len(smtp.messages)) == (1, 1)
    notice = AlertNotice.objects.get(destination__name="a pager")
    assert notice.delivered_at is None and notice.attempts == 1
    assert notice.last_error == "webhook at http://127.0.0.1 unreachable (ConnectionError) (after 3 attempts)"
    assert notice.next_attempt_at > timezone.now()
    assert TOKEN not in caplog.text and "a pager" in caplog.text

    tick()  # not due yet: nothing is sent twice
    assert (len(hook.bodies), len(smtp.messages)) == (1, 1)
    with WebhookReceiver(port) as pager:
        tick(timezone.now() + timedelta(seconds=31))
    assert pager.texts() == hook.texts()
    assert AlertNotice.objects.get(destination__name="a pager").delivered_at is not None


def test_a_refused_webhook_is_noted_on_the_alert(mapping, destinations, hook, admin_client):
    hook.status = 403
    rule(max_open_errors=1)
    park_errors(mapping, 1)
    tick()
    notice = AlertNotice.objects.get(destination__name="ops chat")
    assert notice.last_error == "webhook at http://127.0.0.1 refused the notice: HTTP 403 ok"
    assert len(hook.bodies) == 1  # a 4xx is not retried at once
    page = admin_client.get("/admin/connectors/alert/").content.decode()
    assert "1 of 2 sent; ops chat: webhook at http://127.0.0.1 refused the notice" in page


def test_a_mappings_own_rule_replaces_the_default(mapping, destinations, hook):
    other = make_mapping("contacts")
    beating(other)
    rule(max_open_errors=100)
    AlertRule.objects.create(mapping=mapping, max_open_errors=2, hold_seconds=0)
    park_errors(mapping, 2)
    park_errors(other, 2)
    tick()
    assert [(b["mapping"], b["condition"]) for b in hook.bodies] == [("accounts", "errors")]


def test_a_paused_mapping_opens_no_lag_alert_and_a_disabled_one_resolves_its_alerts(mapping, destinations, hook):
    rule(max_lag=10, max_open_errors=1)
    ObjectMapping.objects.filter(pk=mapping.pk).update(paused=True)
    MetricSample.objects.create(mapping=mapping, sf_to_mongo_lag=500, mongo_to_sf_lag=0)
    park_errors(mapping, 1)
    tick()
    assert [b["condition"] for b in hook.bodies] == ["errors"]
    ObjectMapping.objects.filter(pk=mapping.pk).update(enabled=False)
    tick()
    assert [b["status"] for b in hook.bodies] == ["firing", "resolved"]


def test_the_alerts_worker_is_a_runconsumers_kind(mapping, destinations, hook):
    import threading

    from connectors.workers.registry import WORKER_KINDS, build_workers

    assert "alerts" in WORKER_KINDS
    [worker] = build_workers({"alerts"}, threading.Event())
    rule(max_open_errors=1)
    park_errors(mapping, 1)
    assert worker.step() is False
    assert len(hook.bodies) == 1
    assert (worker.counters["alerts_fired"], worker.counters["notices_sent"]) == (1, 2)


def test_the_webhook_url_is_stored_encrypted_and_never_shown(destinations, admin_client):
    from django.db import connection

    hook_row = AlertDestination.objects.get(kind="webhook")
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_url FROM connectors_alertdestination WHERE id = %s", [hook_row.pk])
        assert TOKEN not in cursor.fetchone()[0]
    listing = admin_client.get("/admin/connectors/alertdestination/").content.decode()
    change = admin_client.get(f"/admin/connectors/alertdestination/{hook_row.pk}/change/").content.decode()
    assert "webhook at 127.0.0.1" in listing
    assert TOKEN not in listing and TOKEN not in change
    # Saving the form with the URL left blank keeps the stored one.
    admin_client.post(f"/admin/connectors/alertdestination/{hook_row.pk}/change/",
                      {"name": "ops chat", "kind": "webhook", "emails": "", "webhook_url": "", "enabled": "on"})
    assert AlertDestination.objects.get(pk=hook_row.pk).webhook_url.endswith(TOKEN)


def test_a_bad_destination_is_refused_in_the_admin(admin_client):
    response = admin_client.post("/admin/connectors/alertdestination/add/",
                                 {"name": "x", "kind": "email", "emails": "ops@example.com, not-an-address",
                                  "webhook_url": "", "enabled": "on"})
    assert "&#x27;not-an-address&#x27; is not an email address." in response.content.decode()
    response = admin_client.post("/admin/connectors/alertdestination/add/",
                                 {"name": "y", "kind": "webhook", "emails": "", "webhook_url": "hooks.slack.com/x",
                                  "enabled": "on"})
    assert "An http:// or https:// URL." in response.content.decode()
    assert not AlertDestination.objects.exists()


def test_the_overview_shows_the_firing_alerts(mapping, destinations, admin_client):
    rule(max_open_errors=1)
    park_errors(mapping, 1)
    tick()
    page = admin_client.get("/").content.decode()
    assert "Open alerts (1)" in page
    assert "Errors piling up: accounts: 1 change parked in the error queue (alert at 1)" in page


def test_a_receiver_answering_5xx_gets_quick_retries_then_a_later_one(mapping, destinations, hook):
    hook.status = 503
    rule(max_open_errors=1)
    park_errors(mapping, 1)
    tick()
    notice = AlertNotice.objects.get(destination__name="ops chat")
    assert len(hook.bodies) == 3
    assert notice.last_error == "webhook at http://127.0.0.1 answered HTTP 503 (after 3 attempts)"
    assert notice.next_attempt_at - timezone.now() > timedelta(seconds=25)


def test_a_destination_never_told_of_an_alert_is_not_told_it_cleared(mapping, destinations, hook, settings):
    with WebhookReceiver() as gone:
        settings.EMAIL_PORT = gone.port  # the mail server is down: nothing listens there any more
    rule(max_open_errors=1)
    park_errors(mapping, 1)
    tick()
    mail = AlertNotice.objects.get(destination__name="ops mail")
    assert mail.delivered_at is None and "ConnectionRefusedError" in mail.last_error
    SyncError.objects.update(status=SyncError.Status.DISCARDED)
    tick()
    assert [b["status"] for b in hook.bodies] == ["firing", "resolved"]
    assert not AlertNotice.objects.filter(destination__name="ops mail").exists()


def test_one_open_alert_per_condition_and_a_claimed_notice_is_left_to_its_claimant(mapping, destinations, hook):
    from django.db import IntegrityError, transaction

    rule(max_open_errors=1, hold_seconds=60)
    park_errors(mapping, 1)
    tick()
    pending = Alert.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(key=pending.key, condition="errors", subject="accounts", summary="twice")
    rule(max_open_errors=1, hold_seconds=0)
    alerts.evaluate()
    # Another process claimed the webhook notice a moment ago: this one leaves it alone.
    AlertNotice.objects.filter(destination__name="ops chat").update(
        next_attempt_at=timezone.now() + alerts.CLAIM)
    alerts.deliver_due()
    assert hook.bodies == []


def test_a_stale_sample_opens_nothing(mapping, destinations, hook):
    rule(max_lag=10, max_behind_seconds=10)
    MetricSample.objects.create(mapping=mapping, taken_at=timezone.now() - timedelta(minutes=5),
                                sf_to_mongo_lag=10_000, sf_to_mongo_behind_seconds=600)
    tick()
    assert hook.bodies == [] and not Alert.objects.exists()


PRINT_MAIL_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS, s.DEFAULT_FROM_EMAIL, s.EMAIL_TIMEOUT)"
)


def mail_settings(**environment: str) -> subprocess.CompletedProcess[str]:
    """Django's mail settings as a fresh process reads them from these environment variables."""
    return subprocess.run(
        [sys.executable, "-c", PRINT_MAIL_SETTINGS],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "syncsite.settings", **environment},
        capture_output=True, text=True, check=False)


def test_mail_settings_come_from_email_url_and_a_bad_one_is_named():
    shown = mail_settings(EMAIL_URL="smtp+tls://alerts:pw@mail.example.com:587", DEFAULT_FROM_EMAIL="sync@example.com")
    assert shown.stdout.split() == ["mail.example.com", "587", "alerts", "True", "sync@example.com", "10.0"]
    refused = mail_settings(EMAIL_URL="smtpx://mail.example.com")
    assert refused.returncode != 0
    assert "EMAIL_URL: Invalid email schema smtpx" in refused.stderr


def test_an_evaluation_for_some_mappings_touches_only_their_alerts(mapping, destinations, hook):
    other = make_mapping("contacts")
    beating(other)
    rule(max_open_errors=1)
    park_errors(mapping, 1)
    alerts.evaluate({"contacts"})
    assert not Alert.objects.exists()
    tick()
    SyncError.objects.update(status=SyncError.Status.DISCARDED)
    alerts.evaluate({"contacts"})  # accounts' alert is not this evaluation's to resolve
    assert Alert.objects.get().state == Alert.State.FIRING
    alerts.evaluate({"accounts"})
    assert Alert.objects.get().state == Alert.State.RESOLVED


def test_a_disabled_destination_is_sent_nothing(mapping, destinations, hook, smtp):
    AlertDestination.objects.filter(kind="email").update(enabled=False)
    rule(max_open_errors=1)
    park_errors(mapping, 1)
    tick()
    assert (len(hook.bodies), smtp.messages) == (1, [])


def test_the_admin_sends_a_test_notice_to_each_selected_destination(destinations, hook, smtp, admin_client):
    with WebhookReceiver() as gone:
        down = AlertDestination.objects.create(name="pager", kind="webhook", webhook_url=gone.url(f"/{TOKEN}"))
    response = admin_client.post("/admin/connectors/alertdestination/", {
        "action": "send_test_notice", "_selected_action": [d.pk for d in [*destinations, down]]}, follow=True)
    page = response.content.decode()
    assert "Ops mail: test notice sent" in page and "Ops chat: test notice sent" in page
    assert "Pager: webhook at http://127.0.0.1 unreachable (ConnectionError) (after 3 attempts)" in page
    assert TOKEN not in page
    assert hook.texts() == ["[TEST] A test notice: alerts from Salesforce ⇄ MongoDB sync reach ops chat."]
    assert (hook.bodies[0]["status"], hook.bodies[0]["condition"]) == ("test", "test")
    assert smtp.subjects() == ["[sync] [TEST] A test notice: alerts from Salesforce ⇄ MongoDB sync reach ops mail."]
    assert not Alert.objects.exists()


def test_the_webhook_text_escapes_what_slack_would_read_as_markup(mapping, destinations, hook):
    rule()
    WorkerStatus.objects.filter(name="sf-capture:accounts").update(state="failing", last_error="<boom> & more")
    tick()
    [body] = hook.bodies
    assert body["text"] == "[FIRING] Mapping failing: accounts: sf-capture:accounts: &lt;boom&gt; &amp; more"
    assert body["summary"] == "accounts: sf-capture:accounts: <boom> & more"
