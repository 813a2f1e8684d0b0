"""Alerts end to end: Salesforce edits captured into the real broker, the lag measured there by the
real metrics sampler, the alerts worker built by runconsumers' registry, and a webhook receiver."""
from __future__ import annotations

import threading
import uuid

import pytest

from connectors.models import Alert, AlertDestination, AlertNotice, AlertRule, ObjectMapping
from connectors.workers.alerter import Alerter
from connectors.workers.metrics_sampler import MetricsSampler
from connectors.workers.registry import build_workers
from connectors.workers.sf_capture import SalesforceCapture
from tests.connectors.alert_receivers import WebhookReceiver
from tests.connectors.helpers import step_until

pytestmark = pytest.mark.django_db


def test_lag_in_kafka_alerts_once_and_resolves_once_the_changes_are_applied(sf, mongo, sync_settings, make_workers):
    sync_settings["ALERT_CHECK_SECONDS"] = 0.2
    AlertRule.objects.update_or_create(mapping=None, defaults={
        "max_lag": 5, "alert_on_failing": False, "max_behind_seconds": None, "api_share": None, "hold_seconds": 0})
    workers = make_workers(kinds=("sf-capture", "alerts"), direction="sf_to_mongo")
    capture = next(w for w in workers if isinstance(w, SalesforceCapture))
    alerter = next(w for w in workers if isinstance(w, Alerter))
    sampler = MetricsSampler(interval=0.2)
    mapping = ObjectMapping.objects.get(name="accounts")
    with WebhookReceiver() as hook:
        AlertDestination.objects.create(name="chat", kind="webhook", webhook_url=hook.url("/hook"))
        step_until([capture], lambda: capture.counters["events_published"] > 0, message="the first capture")
        tag = uuid.uuid4().hex[:6]
        for record in sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 10")["records"]:
            sf.Account.update(record["Id"], {"Description": f"edited {tag}"})
            # One edit a produce batch: the embedded broker (Tansu) answers a partition's end offset
            # as one past the *first* record of its last batch, so lag read from it misses the rest
            # of that batch (seen with 11 records in 3 partitions: end offsets 1/1/1).
            published = capture.counters["events_published"]
            step_until([capture], lambda: capture.counters["events_published"] > published,  # noqa: B023
                       message="the edit in Kafka")

        # Captured into Kafka, applied by nobody: the lag grows past 5 and stays there.
        try:
            step_until([capture, sampler, alerter], lambda: len(hook.bodies) >= 1, timeout=120,
                       message="the lag alert")
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; {what_the_alerter_saw(mapping, capture)}") from None
        samples_then = mapping.metric_samples.count()
        step_until([capture, sampler, alerter], lambda: mapping.metric_samples.count() >= samples_then + 3,
                   message="three more samples")
        assert [(b["status"], b["condition"]) for b in hook.bodies] == [("firing", "lag")]
        assert hook.bodies[0]["value"] > 5

        apply = build_workers({"mongo-apply"}, threading.Event())
        try:
            step_until([capture, *apply, sampler, alerter], lambda: len(hook.bodies) >= 2,
                       message="the resolution once applied")
        finally:
            for worker in apply:
                worker.close()
    assert [(b["status"], b["condition"]) for b in hook.bodies] == [("firing", "lag"), ("resolved", "lag")]
    assert mongo.accounts.count_documents({"description": f"edited {tag}"}) == 10


def what_the_alerter_saw(mapping: ObjectMapping, capture: SalesforceCapture) -> str:
    """The figures behind a lag alert that did not come, for the failure message."""
    samples = list(mapping.metric_samples.order_by("-taken_at").values_list("taken_at", "sf_to_mongo_lag")[:5])
    alerts = list(Alert.objects.values_list("key", "state", "summary"))
    notices = list(AlertNotice.objects.values_list("event", "attempts", "last_error"))
    return (f"capture counters {dict(capture.counters)}, topic prefix {mapping.kafka.topic_prefix!r}, "
            f"latest samples {samples}, alerts {alerts}, notices {notices}")
