"""Alerts: the thresholds (a default rule and per-mapping rules), where alerts go (email
addresses, webhooks), each open or resolved condition, and each notice sent or still owed."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone

from connectors.models.mappings import ObjectMapping
from connectors.models.secrets import SecretCharField


class AlertRule(models.Model):
    """Thresholds of the alerts. The rule without a mapping is the default; a mapping's own rule
    replaces the default as a whole for that mapping. An empty threshold turns its alert off."""

    mapping = models.OneToOneField(
        ObjectMapping, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rule",
        help_text="Empty: the default rule, for every mapping without a rule of its own.",
    )
    alert_on_failing = models.BooleanField(
        "a worker of the mapping fails", default=True,
        help_text="A capture or apply worker keeps failing, or none is running.",
    )
    max_lag = models.BigIntegerField(
        "changes waiting in Kafka", null=True, blank=True, default=10_000,
        help_text="Alert when more changes than this wait unapplied in one direction.",
    )
    max_behind_seconds = models.FloatField(
        "seconds behind", null=True, blank=True, default=300.0,
        help_text="Alert when the last applied change is older than this at its source while changes wait.",
    )
    max_open_conflicts = models.PositiveIntegerField(
        "open conflicts", null=True, blank=True, default=20, help_text="Alert when at least this many are open.",
    )
    max_open_errors = models.PositiveIntegerField(
        "open errors", null=True, blank=True, default=20,
        help_text="Alert when at least this many are open (broker losses are alerted on their own).",
    )
    api_share = models.FloatField(
        "API budget share", null=True, blank=True, default=0.8,
        help_text="Alert when the org has used this share of its daily API limit (0.8 = 80 %); an org "
        "alerts at the lowest share any of its mappings asks for.",
    )
    alert_on_broker_loss = models.BooleanField(
        "the broker lost data", default=True, help_text="An open BROKER_DATA_LOST error (see docs/sync.md).",
    )
    hold_seconds = models.PositiveIntegerField(
        "hold for (seconds)", default=60,
        help_text="A condition must last this long before anyone is told, so a blip pages nobody.",
    )

    class Meta:
        ordering = ["mapping__name"]

    def __str__(self) -> str:
        return f"alert rule of {self.mapping.name}" if self.mapping is not None else "default alert rule"

    def clean(self) -> None:
        if self.mapping_id is None and AlertRule.objects.filter(mapping=None).exclude(pk=self.pk).exists():
            raise ValidationError("There is a default rule already: edit it, or pick a mapping for this one.")
        if self.api_share is not None and not 0 < self.api_share <= 1:
            raise ValidationError({"api_share": "A share between 0 and 1, e.g. 0.8 for 80 %."})


class AlertDestination(models.Model):
    """Where every alert and its resolution go: email addresses (Django's mail settings) or a webhook
    that receives a Slack-compatible JSON body. A webhook URL often holds a token: stored encrypted."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (Slack-compatible JSON)"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    emails = models.TextField(blank=True, help_text="Addresses, one a line or separated by commas.")
    webhook_url = SecretCharField(
        "webhook URL", max_length=1000, blank=True,
        help_text="e.g. a Slack incoming webhook; may hold a secret token, so it is stored encrypted "
        "and never shown.",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def addresses(self) -> list[str]:
        return [a.strip() for a in self.emails.replace(",", "\n").splitlines() if a.strip()]

    def clean(self) -> None:
        if self.kind == self.Kind.EMAIL:
            if not self.addresses:
                raise ValidationError({"emails": "Give at least one address."})
            for address in self.addresses:
                try:
                    validate_email(address)
                except ValidationError:
                    raise ValidationError({"emails": f"{address!r} is not an email address."}) from None
        if self.kind == self.Kind.WEBHOOK and not self.webhook_url.startswith(("https://", "http://")):
            raise ValidationError({"webhook_url": "An http:// or https:// URL."})


class Alert(models.Model):
    """One condition, from when it was first seen until it cleared. `key` names the condition
    (kind, mapping or org, direction): at most one alert per key is not resolved, which is what
    makes an alert one per condition and not one per evaluation."""

    class Condition(models.TextChoices):
        FAILING = "failing", "Mapping failing"
        LAG = "lag", "Changes waiting"
        BEHIND = "behind", "Seconds behind"
        CONFLICTS = "conflicts", "Conflicts piling up"
        ERRORS = "errors", "Errors piling up"
        API_BUDGET = "api_budget", "API budget"
        BROKER_LOSS = "broker_loss", "Broker lost data"

    class State(models.TextChoices):
        PENDING = "pending", "Pending (not held long enough yet)"
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    key = models.CharField(max_length=255, db_index=True)
    condition = models.CharField(max_length=12, choices=Condition.choices)
    mapping = models.ForeignKey(ObjectMapping, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="alerts")
    subject = models.CharField(max_length=255, help_text="The mapping or org concerned.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    summary = models.TextField(help_text="What was seen last, in a sentence.")
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_seen", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=~models.Q(state="resolved"),
                                    name="one_open_alert_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_condition_display()}: {self.subject} ({self.state})"


class AlertNotice(models.Model):
    """One message owed to one destination: the alert firing, or its resolution. Kept until
    delivered, retried with backoff, so a destination that is down misses nothing and blocks no other."""

    class Event(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notices")
    destination = models.ForeignKey(AlertDestination, on_delete=models.CASCADE, related_name="notices")
    event = models.CharField(max_length=10, choices=Event.choices)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, help_text="Why the last attempt failed (never the webhook URL).")
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "destination", "event"], name="one_notice_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.alert} → {self.destination.name}: {self.event}"
