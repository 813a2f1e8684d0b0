"""Admin for connections and mappings. Secrets are write-only: never rendered back."""
from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from connectors.admin_audit import AuditedAdmin
from connectors.admin_mapping_tools import MappingToolsMixin, SchemaDriftFilter, accept_schema_changes, check_schema_now
from connectors.mappings import cdc_support
from connectors.mappings.mapping_validation import check_mapping
from connectors.models import (
    CaptureCheckpoint,
    EventRelay,
    FieldMapping,
    KafkaCluster,
    MongoTarget,
    ObjectMapping,
    SalesforceOrg,
    SchemaDrift,
    SyncError,
    WorkerStatus,
)
from connectors.operations import connection_check


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
            super().clean()
            data = self.cleaned_data
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
            try:
                ok, line = check(row)
            except Exception as exc:  # noqa: BLE001 - one row's surprise must not hide the others' lines
                ok, line = False, f"the check itself failed ({type(exc).__name__}: {exc})"
            modeladmin.message_user(request, f"{row}: {line}", messages.SUCCESS if ok else messages.ERROR)

    action.short_description = "Test connection"  # type: ignore[attr-defined]
    action.__name__ = "test_connection"
    return action


@admin.register(SalesforceOrg)
class SalesforceOrgAdmin(AuditedAdmin, admin.ModelAdmin):
    form = secret_form(SalesforceOrg, ("password", "security_token", "client_secret"))
    list_display = ("name", "login_url", "auth_flow", "username", "api_version")
    actions = [test_connection_action(connection_check.check_salesforce)]


@admin.register(KafkaCluster)
class KafkaClusterAdmin(AuditedAdmin, admin.ModelAdmin):
    form = secret_form(KafkaCluster, ("sasl_password",))
    list_display = ("name", "bootstrap_servers", "topic_prefix", "partitions")
    actions = [test_connection_action(connection_check.check_kafka)]


@admin.register(MongoTarget)
class MongoTargetAdmin(AuditedAdmin, admin.ModelAdmin):
    form = secret_form(MongoTarget, ("uri",))
    list_display = ("name", "database")
    actions = [test_connection_action(connection_check.check_mongo)]


class FieldMappingFormSet(forms.BaseInlineFormSet):
    """Checks the mapping's field mappings against Salesforce's describe (see
    connectors.mappings.mapping_validation); Salesforce being unreachable warns but does not block."""

    request: HttpRequest | None = None

    def clean(self) -> None:
        super().clean()
        mapping = self.instance
        if any(self.errors) or not mapping.org_id or not mapping.sf_object:
            return
        rows = {form.instance.sf_field: form for form in self.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE")}
        check = check_mapping(mapping, [form.instance for form in rows.values()])
        if check.warning and self.request is not None:
            messages.warning(self.request, check.warning)
        for problem in check.problems:
            form = rows[problem.sf_field]
            form.add_error(problem.attribute if problem.attribute in form.fields else None, problem.message)
        if check.problems:
            raise forms.ValidationError([problem.message for problem in check.problems])


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    formset = FieldMappingFormSet
    extra = 0
    fields = ("sf_field", "mongo_field", "sf_type", "conversion", "sf_writable", "enabled")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.request = request  # type: ignore[attr-defined]  # a class made for this request
        return formset


class ObjectMappingForm(forms.ModelForm):
    class Meta:
        model = ObjectMapping
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        org, sf_object = cleaned.get("org"), cleaned.get("sf_object")
        if cleaned.get("capture_mode") == ObjectMapping.CaptureMode.CDC and org and sf_object:
            try:
                supported = cdc_support.publishes_change_events(org, sf_object)
            except cdc_support.PubSubError as exc:
                raise forms.ValidationError(f"Change Data Capture cannot be checked: {exc}") from None
            if not supported:
                self.add_error("capture_mode", f"{org.name} publishes no change events for {sf_object} "
                                               f"({cdc_support.change_event_topic(sf_object)}): select the object "
                                               "in Setup > Change Data Capture, or capture by polling.")
        return cleaned


@admin.register(ObjectMapping)
class ObjectMappingAdmin(AuditedAdmin, MappingToolsMixin, admin.ModelAdmin):
    form = ObjectMappingForm
    list_display = ("name", "sf_object", "collection", "direction", "delete_mode", "enabled", "schema_drift")
    list_filter = ("direction", "enabled", SchemaDriftFilter)
    inlines = [FieldMappingInline]
    actions = [accept_schema_changes, check_schema_now]


class EventRelayForm(forms.ModelForm):
    class Meta:
        model = EventRelay
        fields = "__all__"

    def clean_channel(self) -> str:
        channel = self.cleaned_data["channel"].strip()
        if not re.fullmatch(r"/event/\w+__e", channel):
            raise forms.ValidationError("A platform event channel looks like /event/Order_Update__e.")
        return channel


@admin.register(EventRelay)
class EventRelayAdmin(AuditedAdmin, admin.ModelAdmin):
    form = EventRelayForm
    list_display = ("name", "channel", "collection", "enabled", "events_relayed", "events_stored", "last_event_at")
    readonly_fields = ("replay_id", "events_relayed", "events_stored", "last_event_at")


@admin.register(SchemaDrift)
class SchemaDriftAdmin(admin.ModelAdmin):
    list_display = ("mapping", "field", "kind", "old_type", "new_type", "detected_at", "accepted", "accepted_at")
    list_filter = ("accepted", "kind", "mapping")
    readonly_fields = ("mapping", "field", "kind", "old_type", "new_type", "detected_at", "accepted", "accepted_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drift is found by checks, not typed in


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


# The alert rules, destinations and alerts (their module imports secret_form from here).
from connectors import admin_alerts  # noqa: E402,F401
