"""The project's one NinjaAPI: /api/v1, staff only, by session (with CSRF) or API token."""
from __future__ import annotations

from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.security import HttpBearer, SessionAuth

from connectors.conflict_queue import ResolutionError
from connectors.error_queue import NotRetryable
from connectors.records import ReadOnlyMapping
from dashboard import events_api, records_api
from dashboard.api import router
from dashboard.models import ApiToken


class StaffSession(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_staff else None


class StaffToken(HttpBearer):
    """`Authorization: Bearer <token>`, a token created in the admin for a staff user."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = ApiToken.user_for(token)
        return user if user is not None and user.is_staff else None


api = NinjaAPI(
    title="Salesforce ⇄ MongoDB sync",
    version="1",
    auth=[StaffToken(), StaffSession()],
    urls_namespace="api-v1",
    docs_decorator=staff_member_required,
)
api.add_router("/", router)
api.add_router("/", records_api.router)
api.add_router("/", events_api.router)


@api.exception_handler(ResolutionError)
def unresolvable(request: HttpRequest, exc: ResolutionError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=422)


@api.exception_handler(NotRetryable)
def not_retryable(request: HttpRequest, exc: NotRetryable) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=409)



@api.exception_handler(ReadOnlyMapping)
def read_only_mapping(request: HttpRequest, exc: ReadOnlyMapping) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=409)
