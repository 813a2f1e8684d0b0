from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from dashboard.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    fields = ("user", "name")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a token is issued or revoked, never edited

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        token, secret = ApiToken.issue(obj.user, obj.name)
        obj.pk = token.pk
        messages.warning(request, f"API token for {obj.user}: {secret} — copy it now, it is not shown again.")
