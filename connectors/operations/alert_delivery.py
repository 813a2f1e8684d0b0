"""Sending one alert notice to one destination: an email through Django's mail settings, or a
webhook POST with a Slack-compatible JSON body. A few quick retries here; the slower retries
across evaluations belong to connectors.operations.alerts. The webhook URL may hold a secret
token, so no error message names it."""
from __future__ import annotations

import smtplib
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from connectors.models import Alert, AlertDestination
from connectors.secret_value import UnreadableSecretError, readable

#: (connect, read) seconds for a webhook: a receiver that hangs must not hold the alerter up.
WEBHOOK_TIMEOUT = (5.0, 10.0)
ATTEMPTS = 3
PRODUCT = "Salesforce ⇄ MongoDB sync"
TEST = "test"


class DeliveryFailed(Exception):
    """A destination did not take the notice; str() says why without the webhook URL."""


class _Transient(Exception):
    """Worth a quick retry: the receiver was unreachable, timed out or answered 5xx/429."""


def send(destination: AlertDestination, alert: Alert, event: str) -> None:
    """Deliver `alert`'s `event` ("firing" or "resolved") to `destination`. Blocks at most about
    ATTEMPTS x the timeouts; raises DeliveryFailed."""
    deliver = _email if destination.kind == AlertDestination.Kind.EMAIL else _webhook
    retrying = Retrying(retry=retry_if_exception_type(_Transient), stop=stop_after_attempt(ATTEMPTS),
                        wait=wait_exponential(multiplier=0.5, max=4), reraise=True)
    try:
        retrying(deliver, destination, alert, event)
    except _Transient as exc:
        raise DeliveryFailed(f"{exc} (after {ATTEMPTS} attempts)") from None


def send_test(destination: AlertDestination) -> None:
    """A test notice (status "test"), so that a person can check a destination from the admin.
    Raises DeliveryFailed."""
    now = timezone.now()
    sample = Alert(condition=TEST, subject="test", first_seen=now, last_seen=now,
                   summary=f"A test notice: alerts from {PRODUCT} reach {destination.name}.")
    send(destination, sample, TEST)


def headline(alert: Alert, event: str) -> str:
    """One line for a chat message or an email subject."""
    if event == TEST:
        return f"[TEST] {alert.summary}"
    if event == "resolved":
        return f"[RESOLVED] {alert.get_condition_display()}: {alert.subject} is back to normal"
    return f"[FIRING] {alert.get_condition_display()}: {alert.summary}"


def payload(alert: Alert, event: str) -> dict[str, Any]:
    """The webhook body: Slack's incoming-webhook `text`, plus fields for other receivers."""
    return {
        "text": _slack_escaped(headline(alert, event)),
        "status": event,
        "alert_id": alert.pk,
        "condition": alert.condition,
        "subject": alert.subject,
        "mapping": alert.mapping.name if alert.mapping is not None else None,
        "summary": alert.summary,
        "value": alert.value,
        "threshold": alert.threshold,
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "source": PRODUCT,
    }


def _slack_escaped(text: str) -> str:
    """Slack reads <...> as links and mentions and & as an entity: the three are escaped, as its
    message formatting asks; the other fields carry the text as it is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _email(destination: AlertDestination, alert: Alert, event: str) -> None:
    lines = [headline(alert, event), "", alert.summary, "",
             f"First seen: {alert.first_seen:%Y-%m-%d %H:%M:%S} UTC"]
    if alert.resolved_at:
        lines.append(f"Resolved: {alert.resolved_at:%Y-%m-%d %H:%M:%S} UTC")
    lines += ["", f"Sent by {PRODUCT}; thresholds are edited in the admin under Alert rules."]
    try:
        send_mail(f"{settings.EMAIL_SUBJECT_PREFIX}{headline(alert, event)}", "\n".join(lines), None,
                  destination.addresses, fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"the mail server refused {', '.join(exc.recipients)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise _Transient(f"mail server {settings.EMAIL_HOST}:{settings.EMAIL_PORT}: {type(exc).__name__}: {exc}") \
            from None


def _webhook(destination: AlertDestination, alert: Alert, event: str) -> None:
    try:
        readable(destination.webhook_url, f"the webhook address of {destination.name}")
    except UnreadableSecretError as exc:
        raise DeliveryFailed(str(exc)) from None
    parts = urlsplit(destination.webhook_url)
    where = f"webhook at {parts.scheme}://{parts.hostname}"  # the path and query may hold the token
    try:
        response = requests.post(destination.webhook_url, json=payload(alert, event), timeout=WEBHOOK_TIMEOUT)
    except requests.Timeout:
        raise _Transient(f"{where} did not answer within {WEBHOOK_TIMEOUT[1]:.0f} s") from None
    except requests.RequestException as exc:
        raise _Transient(f"{where} unreachable ({type(exc).__name__})") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise _Transient(f"{where} answered HTTP {response.status_code}")
    if response.status_code >= 400:
        raise DeliveryFailed(f"{where} refused the notice: HTTP {response.status_code} {response.text[:200]}")
