"""Alerts: turn what is observed (connectors.operations.alert_conditions) into one alert per
open condition, tell every destination once when it fires and once when it clears, and deliver
the notices still owed (connectors.operations.alert_delivery).

Safe with several runconsumers processes evaluating at once: at most one alert per condition
is open (a unique constraint), and every change of state or claim of a notice is a conditional
UPDATE that exactly one process wins.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from connectors.models import Alert, AlertDestination, AlertNotice, ObjectMapping
from connectors.operations import alert_delivery
from connectors.operations.alert_conditions import Observation, observe

log = logging.getLogger(__name__)

#: A claimed notice is another process's for this long (longer than any one delivery takes).
CLAIM = timedelta(minutes=2)
#: Waits before retrying a notice that failed: 30 s, 1 min, 2 min, ... at most 15 min.
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(minutes=15)
OPEN = ~Q(state=Alert.State.RESOLVED)


@dataclass
class Outcome:
    """What one evaluation changed, for the worker's counters and the tests."""

    fired: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)


def evaluate(mapping_names: set[str] | None = None, now: datetime | None = None) -> Outcome:
    """Observe every condition of the enabled mappings (only `mapping_names` if given), open an
    alert for each new one, fire those held long enough, and resolve those that cleared (or whose
    mapping was disabled, or whose threshold was turned off). Returns what fired or resolved."""
    now = now or timezone.now()
    mappings = ObjectMapping.objects.select_related("org", "kafka")
    if mapping_names:
        mappings = mappings.filter(name__in=mapping_names)
    in_scope = list(mappings)
    seen = {o.key: o for o in observe([m for m in in_scope if m.enabled], now)}
    outcome = Outcome()
    for alert in Alert.objects.filter(OPEN).filter(_scope(in_scope, mapping_names)):
        observation = seen.pop(alert.key, None)
        if observation is None or observation.firing is False:
            _clear(alert, now, outcome)
        elif observation.firing:
            _still_firing(alert, observation, now, outcome)
    for observation in seen.values():
        if observation.firing:
            _open(observation, now, outcome)
    return outcome


def _scope(mappings: list[ObjectMapping], mapping_names: set[str] | None) -> Q:
    """The open alerts this evaluation answers for: all of them, or those of its mappings and orgs."""
    if not mapping_names:
        return Q()
    return Q(mapping__in=mappings) | Q(key__in={f"{Alert.Condition.API_BUDGET}:org:{m.org_id}" for m in mappings})


def _open(observation: Observation, now: datetime, outcome: Outcome) -> None:
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                key=observation.key, condition=observation.condition, mapping_id=observation.mapping_id,
                subject=observation.subject, summary=observation.summary, value=observation.value,
                threshold=observation.threshold, first_seen=now, last_seen=now,
            )
    except IntegrityError:
        return  # another process opened it a moment ago; it carries on from there
    _still_firing(alert, observation, now, outcome)


def _still_firing(alert: Alert, observation: Observation, now: datetime, outcome: Outcome) -> None:
    Alert.objects.filter(pk=alert.pk).update(last_seen=now, summary=observation.summary, value=observation.value,
                                             threshold=observation.threshold)
    held_enough = now - alert.first_seen >= timedelta(seconds=observation.hold_seconds)
    if alert.state == Alert.State.PENDING and held_enough:
        with transaction.atomic():
            if Alert.objects.filter(pk=alert.pk, state=Alert.State.PENDING).update(
                    state=Alert.State.FIRING, fired_at=now):
                AlertNotice.objects.bulk_create(
                    AlertNotice(alert=alert, destination=d, event=AlertNotice.Event.FIRING, next_attempt_at=now)
                    for d in AlertDestination.objects.filter(enabled=True))
                alert.refresh_from_db()
                outcome.fired.append(alert)
                log.warning("alert: %s", alert.summary)


def _clear(alert: Alert, now: datetime, outcome: Outcome) -> None:
    if alert.state == Alert.State.PENDING:
        # Never held long enough to tell anyone: nothing to take back.
        Alert.objects.filter(pk=alert.pk, state=Alert.State.PENDING).delete()
        return
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert.pk, state=Alert.State.FIRING).update(
                state=Alert.State.RESOLVED, resolved_at=now):
            return
        told = alert.notices.filter(event=AlertNotice.Event.FIRING)
        # A destination that never got the firing notice needs no resolution: drop what it is owed.
        told.filter(delivered_at=None).delete()
        AlertNotice.objects.bulk_create(
            AlertNotice(alert=alert, destination_id=d, event=AlertNotice.Event.RESOLVED, next_attempt_at=now)
            for d in told.values_list("destination_id", flat=True))
    alert.refresh_from_db()
    outcome.resolved.append(alert)
    log.info("alert resolved: %s", alert.summary)


@dataclass
class Deliveries:
    sent: int = 0
    failed: int = 0


def deliver_due(now: datetime | None = None) -> Deliveries:
    """Send every notice that is due, each claimed first so that no two processes send it; a
    destination that fails is logged (by name), noted on the notice and retried later with
    backoff, and never stops the others."""
    now = now or timezone.now()
    done = Deliveries()
    due = AlertNotice.objects.filter(delivered_at=None, next_attempt_at__lte=now, destination__enabled=True)
    for notice in due.select_related("alert", "destination").order_by("id"):
        if not AlertNotice.objects.filter(pk=notice.pk, delivered_at=None, next_attempt_at__lte=now).update(
                next_attempt_at=now + CLAIM):
            continue  # another process has it
        try:
            alert_delivery.send(notice.destination, notice.alert, notice.event)
        except alert_delivery.DeliveryFailed as exc:
            done.failed += 1
            attempts = notice.attempts + 1
            AlertNotice.objects.filter(pk=notice.pk).update(
                attempts=attempts, last_error=str(exc), next_attempt_at=timezone.now() + _backoff(attempts))
            log.warning("alert notice to %s failed (attempt %d): %s", notice.destination.name, attempts, exc)
            continue
        done.sent += 1
        AlertNotice.objects.filter(pk=notice.pk).update(
            attempts=notice.attempts + 1, delivered_at=timezone.now(), last_error="")
    return done


def _backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def firing_alerts() -> QuerySet[Alert]:
    """The alerts people have been told of and that have not cleared yet, newest first, for the console."""
    return Alert.objects.filter(state=Alert.State.FIRING).select_related("mapping")
