"""Admin saves and deletions of connections and mappings, written to the audit trail.

Hooked into the admin's own change log (log_addition / log_change / log_deletions), which Django
calls once a save has succeeded, with its summary of the inline rows (field mappings) that changed.
Each field of the row itself is recorded with its old and new value, except encrypted fields
(passwords, tokens, MongoDB URIs): for those only that they were replaced. The trail itself is
listed read-only in the admin.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from encrypted_model_fields.fields import EncryptedMixin

from connectors.models import AuditEntry, ObjectMapping

Changes = dict[str, dict[str, Any]]


def _shown(instance: models.Model, field: models.Field) -> Any:
    """A field's value as the audit keeps it: a related row by its name, the rest as stored."""
    if field.is_relation:
        related = getattr(instance, field.name, None)
        return str(related) if related is not None else None
    return field.value_from_object(instance)


def field_changes(before: models.Model | None, after: models.Model) -> Changes:
    """Per changed field: `{"from", "to"}`, or `{"secret": True}` for an encrypted one (no value)."""
    changes: Changes = {}
    for field in after._meta.concrete_fields:
        if field.primary_key or not field.editable:
            continue
        old = _shown(before, field) if before is not None else None
        new = _shown(after, field)
        if old == new or (before is None and new in (None, "")):
            continue
        changes[field.name] = {"secret": True} if isinstance(field, EncryptedMixin) else {"from": old, "to": new}
    return changes


def _mapping_name(obj: models.Model) -> str:
    if isinstance(obj, ObjectMapping):
        return obj.name
    mapping = getattr(obj, "mapping", None)
    return mapping.name if isinstance(mapping, ObjectMapping) else ""


class AuditedAdmin:
    """Mix into a ModelAdmin (before admin.ModelAdmin) to audit its saves and deletions."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = type(obj).objects.filter(pk=obj.pk).first() if change and obj.pk else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        obj._audit_changes = field_changes(before, obj)

    def _audit(self, request: HttpRequest, obj: Any, action: str, message: Any) -> None:
        details = {"fields": getattr(obj, "_audit_changes", {}), "summary": message}
        AuditEntry.record(request.user, AuditEntry.Via.ADMIN, action, f"{obj._meta.verbose_name} {obj}",
                          mapping=_mapping_name(obj), details=details)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, obj, AuditEntry.Action.ADD, message)
        return super().log_addition(request, obj, message)  # type: ignore[misc]

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, obj, AuditEntry.Action.CHANGE, message)
        return super().log_change(request, obj, message)  # type: ignore[misc]

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            self._audit(request, obj, AuditEntry.Action.DELETE, [])
        return super().log_deletions(request, queryset)  # type: ignore[misc]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The trail, read-only (the console's /audit/ page shows it too): nobody edits history."""

    list_display = ("at", "user", "via", "action", "mapping", "target")
    list_filter = ("action", "via", "mapping")
    search_fields = ("user", "target", "record_key", "record_alias")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
