"""The audit trail: who did what to the sync, through which door, with which values.

It lives beside the sync's own state rather than in the dashboard because the connectors write to
it too (admin saves of connections and mappings) and a record's timeline reads it, and the
connectors never import the dashboard. Entries are append-only and keep names as text (user,
mapping), so a trail outlives the user or mapping it speaks of. Secret values are never stored:
an encrypted field of a connection is recorded as changed, without its value.

The model also carries the console's two custom permissions (see connectors.roles).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AuditQuerySet(models.QuerySet):
    def matching(self, *, user: str = "", action: str = "", mapping: str = "", record: str = "",
                 since: datetime | None = None, until: datetime | None = None) -> AuditQuerySet:
        """The entries that pass every filter given (empty ones are left out); `until` is exclusive."""
        rows = self
        for name, value in (("user", user), ("action", action), ("mapping", mapping)):
            if value:
                rows = rows.filter(**{name: value})
        if record:
            rows = rows.filter(Q(record_key=record) | Q(record_alias=record))
        if since is not None:
            rows = rows.filter(at__gte=since)
        if until is not None:
            rows = rows.filter(at__lt=until)
        return rows

    def for_record(self, mapping: str, ids: Iterable[str]) -> AuditQuerySet:
        """What people did to one record, known by any of `ids`, oldest first (for its timeline)."""
        ids = list(ids)
        return self.filter(Q(record_key__in=ids) | Q(record_alias__in=ids), mapping=mapping).order_by("at", "id")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        PAUSE = "pause", "Paused a mapping"
        RESUME = "resume", "Resumed a mapping"
        BACKFILL = "backfill", "Queued a backfill"
        RECONCILE = "reconcile", "Queued a reconcile"
        RESOLVE = "resolve", "Resolved a conflict"
        RETRY = "retry", "Retried an error"
        DISCARD = "discard", "Discarded an error"
        ADD = "add", "Added in the admin"
        CHANGE = "change", "Changed in the admin"
        DELETE = "delete", "Deleted in the admin"

    class Via(models.TextChoices):
        CONSOLE = "console", "Console"
        API = "api", "REST API"
        ADMIN = "admin", "Admin"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.CharField(max_length=150, db_index=True, help_text="The username, kept as text.")
    via = models.CharField(max_length=10, choices=Via.choices)
    action = models.CharField(max_length=12, choices=Action.choices, db_index=True)
    mapping = models.CharField(max_length=100, blank=True, db_index=True, help_text="The mapping's name, if any.")
    target = models.CharField(max_length=200, help_text="What was acted on, e.g. 'conflict 12' or 'mongo target prod'.")
    record_key = models.CharField(max_length=100, blank=True, db_index=True,
                                  help_text="The record concerned: its Salesforce Id, or its MongoDB _id.")
    record_alias = models.CharField(max_length=100, blank=True, db_index=True,
                                    help_text="The record's other id, when both are known.")
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        default_permissions = ("view",)  # written by the product only, never edited
        permissions = [
            ("view_console", "Can read the console, the REST API and the live status"),
            ("operate_sync", "Can pause, resume, backfill, reconcile, resolve conflicts and retry or discard errors"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.user} {self.get_action_display().lower()}: {self.target}"

    @classmethod
    def record(cls, user: Any, via: str, action: str, target: str, *, mapping: str = "", record_key: str = "",
               record_alias: str = "", details: dict[str, Any] | None = None) -> AuditEntry:
        """Write one entry; `user` is a user object or a name."""
        name = user.get_username() if hasattr(user, "get_username") else str(user)
        return cls.objects.create(user=name, via=via, action=action, target=target, mapping=mapping,
                                  record_key=record_key or record_alias,
                                  record_alias=record_alias if record_key else "", details=details or {})
