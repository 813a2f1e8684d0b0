"""Admin for alerts: the rules (thresholds, a default and per mapping), the destinations (a
webhook URL is write-only, like the connections' secrets) and the alerts with their notices."""
from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from connectors.admin import secret_form
from connectors.models import Alert, AlertDestination, AlertNotice, AlertRule
from connectors.operations import alert_delivery


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "alert_on_failing", "max_lag", "max_behind_seconds", "max_open_conflicts",
                    "max_open_errors", "api_share", "alert_on_broker_loss", "hold_seconds")
    fieldsets = [
        (None, {"fields": ["mapping"],
                "description": "A mapping's own rule replaces the default rule as a whole. An empty threshold "
                               "turns that alert off."}),
        ("Alert when", {"fields": ["alert_on_failing", "max_lag", "max_behind_seconds", "max_open_conflicts",
                                   "max_open_errors", "api_share", "alert_on_broker_loss"]}),
        (None, {"fields": ["hold_seconds"]}),
    ]


@admin.action(description="Send a test notice")
def send_test_notice(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for destination in queryset:
        try:
            alert_delivery.send_test(destination)
        except alert_delivery.DeliveryFailed as exc:
            modeladmin.message_user(request, f"{destination.name}: {exc}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{destination.name}: test notice sent", messages.SUCCESS)


@admin.register(AlertDestination)
class AlertDestinationAdmin(admin.ModelAdmin):
    form = secret_form(AlertDestination, ("webhook_url",))
    list_display = ("name", "kind", "recipients", "enabled")
    list_filter = ("kind", "enabled")
    actions = [send_test_notice]

    @admin.display(description="Sends to")
    def recipients(self, destination: AlertDestination) -> str:
        # The webhook's host only: its path and query may hold the token.
        if destination.kind == AlertDestination.Kind.WEBHOOK:
            return f"webhook at {urlsplit(destination.webhook_url).hostname}"
        return ", ".join(destination.addresses)


class AlertNoticeInline(admin.TabularInline):
    model = AlertNotice
    extra = 0
    can_delete = False
    fields = readonly_fields = ("destination", "event", "delivered_at", "attempts", "last_error",
                                "next_attempt_at")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("state", "condition", "subject", "summary", "first_seen", "last_seen", "resolved_at",
                    "delivery")
    list_filter = ("state", "condition", "mapping")
    search_fields = ("subject", "summary")
    readonly_fields = ("key", "condition", "mapping", "subject", "state", "summary", "value", "threshold",
                       "first_seen", "last_seen", "fired_at", "resolved_at")
    inlines = [AlertNoticeInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # alerts are opened by the evaluation, not typed in

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        return super().get_queryset(request).prefetch_related("notices__destination")

    @admin.display(description="Notices")
    def delivery(self, alert: Alert) -> str:
        notices = list(alert.notices.all())
        failing = [n for n in notices if n.delivered_at is None and n.last_error]
        sent = sum(1 for n in notices if n.delivered_at)
        text = f"{sent} of {len(notices)} sent"
        return f"{text}; {failing[0].destination.name}: {failing[0].last_error}" if failing else text
