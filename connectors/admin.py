"""Admin for connections and mappings. Secrets are write-only: never rendered back."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from connectors import connection_check

from connectors.models import (
    CaptureCheckpoint,
    FieldMapping,
    KafkaCluster,
    MongoTarget,
    ObjectMapping,
    SalesforceOrg,
    SyncError,
    WorkerStatus,
)


def secret_form(model: type, secret_fields: tuple[str, ...]) -> type[forms.ModelForm]:
    """A ModelForm whose secret fields are password inputs that never show the stored value;
    leaving one blank keeps what is stored."""

    class SecretForm(forms.ModelForm):
        class Meta:
            fields = "__all__"
            widgets = {name: forms.PasswordInput(render_value=False) for name in secret_fields}

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for name in secret_fields:
                field = self.fields[name]
                field.required = False
                if self.instance.pk and getattr(self.instance, name):
                    field.help_text = "Stored (encrypted). Leave blank to keep it; type a new value to replace it."

        def clean(self) -> dict[str, Any]:
            data = super().clean()
            for name in secret_fields:
                if not data.get(name) and self.instance.pk:
                    data[name] = getattr(type(self.instance).objects.get(pk=self.instance.pk), name)
            return data

    SecretForm.Meta.model = model
    return SecretForm


def test_connection_action(check: Any) -> Any:
    """An admin action running `check(row) -> (ok, line)` on each selected connection."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        for row in queryset:
            ok, line = check(row)
            modeladmin.message_user(request, f"{row}: {line}", messages.SUCCESS if ok else messages.ERROR)

    action.short_description = "Test connection"  # type: ignore[attr-defined]
    action.__name__ = "test_connection"
    return action


@admin.register(SalesforceOrg)
class SalesforceOrgAdmin(admin.ModelAdmin):
    form = secret_form(SalesforceOrg, ("password", "security_token", "client_secret"))
    list_display = ("name", "login_url", "auth_flow", "username", "api_version")
    actions = [test_connection_action(connection_check.check_salesforce)]


@admin.register(KafkaCluster)
class KafkaClusterAdmin(admin.ModelAdmin):
    form = secret_form(KafkaCluster, ("sasl_password",))
    list_display = ("name", "bootstrap_servers", "topic_prefix", "partitions")
    actions = [test_connection_action(connection_check.check_kafka)]


@admin.register(MongoTarget)
class MongoTargetAdmin(admin.ModelAdmin):
    form = secret_form(MongoTarget, ("uri",))
    list_display = ("name", "database")
    actions = [test_connection_action(connection_check.check_mongo)]


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 0
    fields = ("sf_field", "mongo_field", "sf_type", "conversion", "enabled")


@admin.register(ObjectMapping)
class ObjectMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "sf_object", "collection", "direction", "delete_mode", "enabled")
    list_filter = ("direction", "enabled")
    inlines = [FieldMappingInline]


@admin.register(CaptureCheckpoint)
class CaptureCheckpointAdmin(admin.ModelAdmin):
    list_display = ("mapping", "modstamp", "record_id", "backfill_done", "events_published", "lease_owner")
    readonly_fields = ("lease_owner", "lease_expires", "events_published")


@admin.register(SyncError)
class SyncErrorAdmin(admin.ModelAdmin):
    list_display = ("created_at", "mapping", "stage", "code", "record_key", "status")
    list_filter = ("status", "stage", "mapping")
    search_fields = ("record_key", "code", "message")


@admin.register(WorkerStatus)
class WorkerStatusAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "pid", "state", "last_beat")
